//! Serving from one single-threaded runtime per thread, with connections handed out in turn.
//!
//! On tokio's multi-thread runtime a request's tasks wake each other across its worker threads (the connection,
//! the body, the file pool), and every such wake-up is a cross-thread hand-off: at 8 clients of small uploads that
//! is a large share of the server's CPU. A thread whose runtime serves its own connections, start
//! to end, hands off nothing but the file work. What it gives up is stealing: a busy thread's connections wait for
//! it, which is why the acceptor deals connections out in turn rather than letting the threads race for them.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot, watch};
use tus_hyper::{Listener, ServeOptions, Store, TusApp};

use crate::{connection, runtime};

/// How [`serve_on_threads`] lays out its threads.
#[derive(Clone, Copy, Debug)]
pub struct Threads {
    /// Threads that serve connections, each with a single-threaded runtime (at least 1).
    pub serving: usize,
    /// Threads for file work, shared out between the serving threads' blocking pools (each gets at least 1).
    pub io: usize,
}

impl Threads {
    /// One serving thread per CPU, and `io` threads for file work (see `StoreConfig::io_threads`).
    pub fn per_cpu(io: usize) -> Threads {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Threads { serving: cpus, io }
    }
}

/// Serves `app` on `listener` from [`Threads::serving`] threads, each running a single-threaded tokio runtime of
/// its own; the caller's runtime only accepts connections and deals them out in turn. When `shutdown` completes,
/// accepting stops and every thread drains its requests (see [`tus_hyper::serve`]) before this returns.
///
/// Fails only if a thread or its runtime cannot be started; the threads started before are stopped again.
pub async fn serve_on_threads<S: Store>(
    listener: tokio::net::TcpListener,
    app: Arc<TusApp<S>>,
    threads: Threads,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let serving = threads.serving.max(1);
    let io_per_thread = threads.io.div_ceil(serving).max(1);
    let (stop, stopped) = watch::channel(());
    let mut inboxes = Vec::with_capacity(serving);
    let mut finished = Vec::with_capacity(serving);
    for index in 0..serving {
        let (inbox, connections) = mpsc::unbounded_channel();
        let (done, done_rx) = oneshot::channel::<()>();
        let (app, mut stopped) = (app.clone(), stopped.clone());
        let tokio_runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().max_blocking_threads(io_per_thread).build()?;
        std::thread::Builder::new().name(format!("tus-serve-{index}")).spawn(move || {
            let stop = async move {
                let _ = stopped.changed().await;
            };
            tokio_runtime.block_on(tus_hyper::serve(Handed(connections), app, runtime(), options, stop));
            drop(done);
        })?;
        inboxes.push(inbox);
        finished.push(done_rx);
    }
    let mut shutdown = std::pin::pin!(shutdown);
    let mut turn = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.as_mut() => break,
        };
        match accepted.and_then(|(stream, peer)| Ok((stream.into_std()?, peer))) {
            Ok(connection) => {
                // A thread that is gone has stopped serving; the others go on.
                let _ = inboxes[turn].send(connection);
                turn = (turn + 1) % serving;
            }
            Err(error) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    drop((stop, inboxes));
    for done in finished {
        let _ = done.await;
    }
    Ok(())
}

/// The connections dealt to one serving thread, registered with its runtime as they are taken.
struct Handed(mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>);

impl Listener for Handed {
    type Io = TokioIo<tokio::net::TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let Some((stream, peer)) = self.0.recv().await else {
            // The acceptor has stopped; the shutdown signal ends the serve loop.
            return std::future::pending().await;
        };
        Ok((connection(tokio::net::TcpStream::from_std(stream)?), peer))
    }
}
