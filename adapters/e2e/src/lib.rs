//! Starts a tussi server on a real socket, on any of the three runtimes, for end-to-end tests.

#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tus_hyper::tus_proto::Event;
pub use tus_hyper::tus_storage::InlineWrites;
use tus_hyper::tus_storage::{StoreConfig, UploadRecord};
use tus_hyper::{BoxError, Claim as _, ServeOptions, Store, TusApp, TusAppBuilder};

/// The async runtimes tussi runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    /// `tus-tokio`
    Tokio,
    /// `tus-tokio`'s `serve_on_threads`: two threads, each with a single-threaded runtime
    TokioThreads,
    /// `tus-smol`
    Smol,
    /// `tus-async-std` (with the `async-std` feature only)
    #[cfg(feature = "async-std")]
    AsyncStd,
}

/// Every runtime, for tests that run once per runtime (async-std only with the `async-std` feature).
#[cfg(not(feature = "async-std"))]
pub const ALL: [Rt; 3] = [Rt::Tokio, Rt::TokioThreads, Rt::Smol];
/// Every runtime, for tests that run once per runtime.
#[cfg(feature = "async-std")]
pub const ALL: [Rt; 4] = [Rt::Tokio, Rt::TokioThreads, Rt::Smol, Rt::AsyncStd];

/// Options of a test server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Body read timeout.
    pub body_read_timeout: Duration,
    /// Time a new request waits for a stale one to let go.
    pub release_timeout: Duration,
    /// `max_size`.
    pub max_size: Option<u64>,
    /// `max_chunk_size` (largest PATCH body); `None` leaves the app's default.
    pub max_chunk_size: Option<u64>,
    /// Runs a file worker next to the server, as an embedding does (README): it claims every finished upload,
    /// saves its data and record as [`TestServer::claimed_file`] and `.meta`, and ends the claim, so the upload is
    /// gone from the store. Off by default: finished uploads then stay unclaimed under `completed/`.
    pub worker: bool,
    /// fsync on commit.
    pub fsync: bool,
    /// `AsyncFileStore::inline_writes` (effective only without fsync).
    pub inline_writes: InlineWrites,
    /// Limits of the HTTP layer (header read timeout, shutdown grace).
    pub serve: ServeOptions,
    /// Records every lifecycle event the app delivers (through its `on_event` hook), in order, for
    /// [`TestServer::events`]. Off by default: no hook is set.
    pub record_events: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            body_read_timeout: Duration::from_secs(10),
            release_timeout: Duration::from_secs(3),
            max_size: Some(1 << 30),
            max_chunk_size: None,
            worker: false,
            fsync: false,
            inline_writes: InlineWrites::default(),
            serve: ServeOptions::default(),
            record_events: false,
        }
    }
}

/// A running server; stopped (gracefully) when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT/files/`
    pub url: String,
    /// The listening address.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    events: Arc<Mutex<Vec<Event>>>,
    stop: Option<async_channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server of runtime `rt` on 127.0.0.1 and a free port, storing under a new temporary directory.
    pub fn start(rt: Rt, options: Options) -> TestServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = StoreConfig::new(dir.path().join("uploads"), dir.path().join("completed"));
        config.fsync = options.fsync;
        config.release_timeout = options.release_timeout;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = std_listener.local_addr().expect("local address");
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let (serve, inline) = (options.serve, options.inline_writes);
        let claimed = dir.path().join("claimed");
        if options.worker {
            std::fs::create_dir_all(&claimed).expect("claimed directory");
        }
        let worker = options.worker.then_some(claimed);
        let events = Arc::new(Mutex::new(Vec::new()));
        let thread = match rt {
            Rt::Tokio | Rt::TokioThreads => {
                let app = Arc::new(
                    configure(
                        &options,
                        &events,
                        TusApp::builder(tus_tokio::file_store(config).expect("store").inline_writes(inline)),
                    )
                    .build()
                    .expect("app"),
                );
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .expect("tokio");
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
                        let worker_app = app.clone();
                        let serving = async move {
                            if rt == Rt::TokioThreads {
                                let threads = tus_tokio::Threads { serving: 2, io: 4 };
                                tus_tokio::serve_on_threads(listener, app, threads, serve, shutdown)
                                    .await
                                    .expect("threads");
                            } else {
                                tus_tokio::serve(listener, app, serve, shutdown).await;
                            }
                        };
                        with_worker(worker, worker_app, serving).await;
                    });
                })
            }
            Rt::Smol => {
                let app = Arc::new(
                    configure(
                        &options,
                        &events,
                        TusApp::builder(tus_smol::file_store(config).expect("store").inline_writes(inline)),
                    )
                    .build()
                    .expect("app"),
                );
                std::thread::spawn(move || {
                    smol::block_on(async move {
                        let listener = smol::net::TcpListener::try_from(std_listener).expect("smol listener");
                        let serving = tus_smol::serve(listener, app.clone(), serve, shutdown);
                        with_worker(worker, app, serving).await;
                    });
                })
            }
            #[cfg(feature = "async-std")]
            Rt::AsyncStd => {
                let app = Arc::new(
                    configure(
                        &options,
                        &events,
                        TusApp::builder(tus_async_std::file_store(config).expect("store").inline_writes(inline)),
                    )
                    .build()
                    .expect("app"),
                );
                std::thread::spawn(move || {
                    async_std::task::block_on(async move {
                        let listener = async_std::net::TcpListener::from(std_listener);
                        let serving = tus_async_std::serve(listener, app.clone(), serve, shutdown);
                        with_worker(worker, app, serving).await;
                    });
                })
            }
        };
        TestServer { url: format!("http://{addr}/files/"), addr, dir, events, stop: Some(stop), thread: Some(thread) }
    }

    /// The storage root (with `uploads/` and `completed/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where a finished upload's data lands.
    pub fn completed_file(&self, id: &str) -> PathBuf {
        self.dir.path().join("completed").join(id)
    }

    /// The record of a finished upload.
    pub fn completed_record(&self, id: &str) -> Option<UploadRecord> {
        UploadRecord::from_file(self.dir.path().join("completed").join(format!("{id}.meta"))).ok()
    }

    /// Where the file worker ([`Options::worker`]) saves a claimed upload's data; its record is saved next to it
    /// with `.meta` appended, after the data.
    pub fn claimed_file(&self, id: &str) -> PathBuf {
        self.dir.path().join("claimed").join(id)
    }

    /// The record the file worker saved for a claimed upload.
    pub fn claimed_record(&self, id: &str) -> Option<UploadRecord> {
        UploadRecord::from_file(self.dir.path().join("claimed").join(format!("{id}.meta"))).ok()
    }

    /// The lifecycle events delivered so far, in order ([`Options::record_events`]; none without it).
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").clone()
    }
}

/// Runs `serving` and, with a destination, the file worker next to it until `serving` returns (the worker's pending
/// claim is then dropped, which hands nothing out).
async fn with_worker<S: Store>(dest: Option<PathBuf>, app: Arc<TusApp<S>>, serving: impl Future<Output = ()>) {
    match dest {
        Some(dest) => smol::future::or(serving, file_worker(app, dest)).await,
        None => serving.await,
    }
}

/// The README's file worker: claim the oldest finished upload, save data then record, end the claim.
async fn file_worker<S: Store>(app: Arc<TusApp<S>>, dest: PathBuf) {
    loop {
        match app.store().claim(Duration::from_millis(500)).await {
            Ok(Some(mut done)) => {
                let name = done.id().to_string();
                let saved = match done.save(dest.join(&name)).await {
                    Ok(()) => done.save_record(dest.join(format!("{name}.meta"))).await,
                    Err(error) => Err(error),
                };
                if let Err(error) = saved {
                    eprintln!("test server's file worker: saving {name} failed: {error}");
                }
                if let Err(error) = done.finish().await {
                    eprintln!("test server's file worker: ending the claim of {name} failed: {error}");
                }
            }
            Ok(None) => {}
            Err(error) => {
                eprintln!("test server's file worker: {error}");
                // async-io's timer runs on any of the runtimes.
                smol::Timer::after(Duration::from_millis(200)).await;
            }
        }
    }
}

fn configure<S: Store>(
    options: &Options,
    events: &Arc<Mutex<Vec<Event>>>,
    builder: TusAppBuilder<S>,
) -> TusAppBuilder<S> {
    let mut builder = builder.base_path("/files").body_read_timeout(options.body_read_timeout);
    if options.record_events {
        let events = events.clone();
        builder = builder.on_event(move |event: Event| {
            events.lock().expect("events").push(event);
            std::future::ready(Ok::<(), BoxError>(()))
        });
    }
    if let Some(max) = options.max_size {
        builder = builder.max_size(max);
    }
    if let Some(max) = options.max_chunk_size {
        builder = builder.max_chunk_size(max);
    }
    builder
}

impl TestServer {
    /// Asks the server to shut down gracefully and waits until its serve loop has returned.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
