//! `tussi-server`: a TUS 1.0.0 resumable-upload server on tokio that saves finished uploads into a destination
//! directory. Uploads in progress live on the filesystem (`tus_tokio::file_store`) or, with `--store
//! s3://bucket/prefix`, in object storage (`tus_bucket::BucketStore`); [`serve`] runs either. See `tussi-server
//! --help`, and the modules: [`cli`] (options), [`prompt`] (start-up questions), [`worker`] (file workers and
//! janitor), [`access_log`] (`--access-log`).

#![forbid(unsafe_code)]

mod access_log;
mod cli;
mod metrics;
mod prompt;
mod worker;

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory as _, FromArgMatches as _};
use tokio::sync::watch;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};
use tus_bucket::{BucketConfig, BucketStore};
use tus_tokio::tus_hyper::tus_proto::{Cors, Event};
use tus_tokio::tus_hyper::tus_storage::{JanitorConfig, StoreConfig};
use tus_tokio::tus_hyper::{ServeOptions, TusApp};
use tus_tokio::{Store, Threads};

use crate::cli::{Given, ServerArgs, StoreUrl};
use crate::prompt::Prompter;
use crate::worker::Background;

/// The path the endpoint is served at.
const BASE_PATH: &str = "/files";

fn main() -> ExitCode {
    let matches = ServerArgs::command().get_matches();
    let mut args = match ServerArgs::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    init_logging(args.access_log);
    let given = Given::from_matches(&matches);
    if args.store.is_some() && (given.upload_dir || args.completed_dir.is_some()) {
        tracing::warn!("--upload-dir and --completed-dir are not used with --store");
    }
    if !args.no_prompt && std::io::stdin().is_terminal() {
        if let Err(e) = ask(&mut args, given) {
            eprintln!("tussi-server: reading the answers failed: {e}");
            return ExitCode::from(2);
        }
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if args.store.is_none() {
        // File work runs on tokio's blocking pool, sized for the disk (see `StoreConfig::io_threads`); the bound
        // also caps the memory hundreds of concurrent uploads would otherwise spread over as many threads.
        builder.max_blocking_threads(store_config(&args).io_threads());
    } else if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        // Serving a bucket waits on the network, not the CPU: one thread moved 170 MiB/s at a tenth of its time
        // (bench W6), and a second one ran no faster but kept a malloc heap of its own (13 MiB more at the peak of
        // 100 concurrent uploads). More instances scale it; TOKIO_WORKER_THREADS=N gives one instance more threads.
        builder.worker_threads(1);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tussi-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    // Blocking-pool threads still waiting for a finished upload notice the cancellation within half a second.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => {
            println!("tussi-server stopped.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tussi-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`); with `access_log`, also one line per request.
fn init_logging(access_log: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter);
    let access = access_log
        .then(|| access_log::AccessLog.with_filter(tracing_subscriber::filter::filter_fn(access_log::wanted)));
    tracing_subscriber::registry().with(fmt).with(access).init();
}

/// Asks for the prompted settings not given as options, on the terminal.
fn ask(args: &mut ServerArgs, given: Given) -> std::io::Result<()> {
    // Object storage has no upload dir to ask for.
    let ask_upload_dir = !given.upload_dir && args.store.is_none();
    let total = [!ask_upload_dir, given.dest_dir, given.host, given.port].iter().filter(|g| !**g).count();
    if total == 0 {
        return Ok(());
    }
    let mut prompter = Prompter::new(std::io::stdin().lock(), std::io::stderr());
    eprintln!("\ntussi-server — TUS 1.0.0 resumable uploads. Press Enter to keep a value.\n");
    let mut n = 0;
    let mut label = |name: &str| {
        n += 1;
        format!("{n}/{total} {name:<10}")
    };
    if ask_upload_dir {
        args.upload_dir = prompter.ask::<String>(&label("Upload dir"), args.upload_dir.display().to_string())?.into();
    }
    if !given.dest_dir {
        args.dest_dir = prompter.ask::<String>(&label("Dest dir"), args.dest_dir.display().to_string())?.into();
    }
    if !given.host {
        args.host = prompter.ask(&label("Host"), args.host.clone())?;
    }
    if !given.port {
        args.port = prompter.ask(&label("Port"), args.port)?;
    }
    eprintln!();
    Ok(())
}

/// An error with what was being done.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn context<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> BoxError {
    move |e| format!("{what}: {e}").into()
}

/// The CORS policy from the command line: any origin unless told otherwise, as tusd does.
fn cors(args: &ServerArgs) -> Option<Cors> {
    if args.no_cors {
        return None;
    }
    let cors = match args.cors_origins.as_slice() {
        [] => Cors::any_origin(),
        [any] if any == "*" => Cors::any_origin(),
        origins => Cors::origins(origins.iter().cloned()),
    };
    Some(cors.allow_credentials(args.cors_credentials).max_age(Duration::from_secs(args.cors_max_age)))
}

/// The store's settings from the command line.
fn store_config(args: &ServerArgs) -> StoreConfig {
    let completed = args.completed_dir.clone().unwrap_or_else(|| args.upload_dir.join(".completed"));
    let mut config = StoreConfig::new(&args.upload_dir, &completed);
    config.fsync = !args.no_fsync;
    config.syncfs = args.syncfs;
    config.remove_assembled_parts = !args.keep_partials;
    config
}

async fn run(args: ServerArgs) -> Result<(), BoxError> {
    match &args.store {
        None => run_on_files(&args).await,
        Some(StoreUrl::S3(url)) => run_on_bucket(&args, url).await,
    }
}

/// Serves uploads kept on the filesystem, with tussi's own file workers (compatible with the Python original's)
/// and janitor.
async fn run_on_files(args: &ServerArgs) -> Result<(), BoxError> {
    let config = store_config(args);
    let place = [("Uploads", shown(&args.upload_dir)), ("Completed", shown(&config.completed_dir))];
    // One single-threaded runtime per CPU serves the connections (see `tus_tokio::serve_on_threads`), each free to
    // run a small write inline; this runtime accepts them and runs the file workers and the janitor.
    let threads = Threads::per_cpu(config.io_threads());
    let store = tus_tokio::file_store(config)
        .map_err(context("cannot open the upload store"))?
        .inline_reads(args.inline_reads)
        .inline_writes(args.inline_writes)
        .inline_writes_at_once(threads.serving);
    serve(args, store, &place, Serving::OnThreads(threads), worker::spawn_file_tasks).await
}

/// Serves uploads kept in an S3 bucket, with the library's workers and janitor.
async fn run_on_bucket(args: &ServerArgs, url: &str) -> Result<(), BoxError> {
    let mut config = BucketConfig::default();
    config.remove_assembled_parts = !args.keep_partials;
    if args.workers > 0 {
        let partial = worker::prepare_dest(&args.dest_dir)?;
        config.worker_name = Some(worker::worker_name(&partial)?);
    }
    let store =
        BucketStore::s3_from_env(url, config).map_err(context(format_args!("cannot open the object store {url}")))?;
    // object_store's HTTP client drives each pooled connection on the runtime that opened it: on one runtime per
    // serving thread, a connection opened by one thread would serve the others only while that thread runs.
    // Requests to the bucket wait on the network, not the CPU, so this runtime serves them all.
    serve(args, store, &[("Uploads", url.to_owned())], Serving::Here, worker::spawn_store_tasks).await
}

/// Where [`serve`] runs the connections.
enum Serving {
    /// One single-threaded runtime per thread (`tus_tokio::serve_on_threads`).
    OnThreads(Threads),
    /// The caller's multi-thread runtime (`tus_tokio::serve`).
    Here,
}

/// Starts the background tasks of a store: its workers and janitor, told to stop by the channel.
type SpawnTasks<S> = fn(Arc<TusApp<S>>, &Background, watch::Receiver<bool>, &mut tokio::task::JoinSet<()>);

/// Serves `store` with every option of the command line until Ctrl-C or SIGTERM, with the background tasks that
/// `spawn_tasks` starts; `place` names where the uploads are, for the banner.
async fn serve<S: Store>(
    args: &ServerArgs,
    store: S,
    place: &[(&str, String)],
    serving: Serving,
    spawn_tasks: SpawnTasks<S>,
) -> Result<(), BoxError> {
    let (app, metrics) = build_app(args, store).await?;
    let app = Arc::new(app);
    let partial = worker::prepare_dest(&args.dest_dir)?;
    let listener = listen(args).await?;
    let port = listener.local_addr().map_err(context("cannot read the listening address"))?.port();
    let shutdown = shutdown_signal();
    banner(args, place, port);

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    spawn_tasks(app.clone(), &background(args, partial), stop_rx, &mut tasks);

    let mut options = ServeOptions::default();
    options.shutdown_grace = Duration::from_secs(args.shutdown_timeout);
    match serving {
        Serving::OnThreads(threads) => {
            let served = tus_tokio::serve_on_threads(listener, app, threads, options, shutdown).await;
            served.map_err(context("cannot start the serving threads"))?;
        }
        Serving::Here => tus_tokio::serve(listener, app, options, shutdown).await,
    }
    tracing::info!("shutting down");
    if let Some(task) = metrics {
        task.abort();
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// The app for `store` with the protocol options of the command line, and the task serving its metrics (when
/// `--metrics` asks for them).
async fn build_app<S: Store>(
    args: &ServerArgs,
    store: S,
) -> Result<(TusApp<S>, Option<tokio::task::JoinHandle<()>>), BoxError> {
    let mut builder = TusApp::builder(store)
        .base_path(BASE_PATH)
        // What the server promises in Upload-Expires is what the janitor does.
        .expire_after(Duration::from_secs(args.stale_upload_age))
        .max_metadata_size(args.max_metadata_size)
        .trusted_proxies(args.trusted_proxies.iter().cloned())
        .on_event(on_event);
    if let Some(max) = args.max_size {
        builder = builder.max_size(max);
    }
    if let Some(max) = args.max_chunk_size {
        builder = builder.max_chunk_size(max);
    }
    if let Some(cors) = cors(args) {
        builder = builder.cors(cors);
    }
    if !args.health_path.is_empty() {
        builder = builder.health_path(args.health_path.clone());
    }
    let mut metrics_task = None;
    if let Some(addr) = &args.metrics {
        let mut registry = tus_tokio::tus_hyper::prometheus_client::registry::Registry::default();
        builder = builder.metrics(tus_tokio::tus_hyper::Metrics::register(&mut registry));
        let listener = tokio::net::TcpListener::bind(addr.as_str())
            .await
            .map_err(context(format_args!("cannot listen for metrics on {addr}")))?;
        let bound = listener.local_addr().map_err(context("cannot read the metrics address"))?;
        tracing::info!("metrics at http://{bound}/metrics");
        metrics_task = Some(tokio::spawn(metrics::serve(listener, Arc::new(registry))));
    }
    let app = builder.build().map_err(context("invalid configuration"))?;
    Ok((app, metrics_task))
}

/// The listener on `--host` and `--port`; warns when it is reachable from other machines with no size limit.
async fn listen(args: &ServerArgs) -> Result<tokio::net::TcpListener, BoxError> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(context(format_args!("cannot listen on {}:{}", args.host, args.port)))?;
    let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    if !loopback && args.max_size.is_none() {
        tracing::warn!(
            "listening on {} with no --max-size and no authentication: anyone who reaches it can fill the disk",
            args.host
        );
    }
    Ok(listener)
}

/// The background tasks' settings from the command line; `partial` is the dest dir's staging directory.
fn background(args: &ServerArgs, partial: PathBuf) -> Background {
    let mut janitor = JanitorConfig::default();
    janitor.stale_upload_age = Duration::from_secs(args.stale_upload_age);
    janitor.completed_file_age = Duration::from_secs(args.completed_file_age);
    janitor.ended_upload_age = Duration::from_secs(args.stale_upload_age);
    Background {
        workers: args.workers,
        dest: args.dest_dir.clone(),
        partial,
        janitor_interval: Duration::from_secs(args.janitor_interval),
        janitor,
    }
}

/// Logs lifecycle events.
async fn on_event(event: Event) -> Result<(), tus_tokio::tus_hyper::BoxError> {
    match &event {
        Event::Created { upload } => tracing::debug!(upload = %upload.id, length = ?upload.length, "created"),
        Event::Progress { upload, bytes_written } => {
            tracing::debug!(upload = %upload.id, bytes = *bytes_written, offset = upload.offset, "progress");
        }
        Event::Completed { upload } => tracing::info!(upload = %upload.id, bytes = upload.offset, "upload finished"),
        Event::Failed { id, error } => tracing::warn!(upload = %id, "storage failure: {error}"),
        Event::Terminated { id } => tracing::info!(upload = %id, "upload terminated by the client"),
        other => tracing::debug!(event = ?other, "event"),
    }
    Ok(())
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed by this call, not at the first poll: a
/// signal sent as soon as the banner is out must stop the server cleanly, not kill it (the default action).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let watch = |kind, name: &'static str| {
        let installed = signal(kind);
        async move {
            match installed {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(e) => {
                    tracing::warn!("cannot watch {name}: {e}");
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    let (interrupt, terminate) = (watch(SignalKind::interrupt(), "SIGINT"), watch(SignalKind::terminate(), "SIGTERM"));
    async move {
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
    }
}

/// `path` made absolute for the banner (as given if that fails).
fn shown(path: &Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

/// Prints where the server listens, where the uploads are (`place`: label and location) and go.
fn banner(args: &ServerArgs, place: &[(&str, String)], port: u16) {
    let host = if args.host.contains(':') { format!("[{}]", args.host) } else { args.host.clone() };
    let mut text = format!("\ntussi-server serving http://{host}:{port}{BASE_PATH}/\n\n");
    let dest = shown(&args.dest_dir);
    let workers = args.workers.to_string();
    let lines = place.iter().map(|(label, value)| (*label, value)).chain([("Dest", &dest), ("Workers", &workers)]);
    for (label, value) in lines {
        text.push_str(&format!("  {:<12}{value}\n", format!("{label}:")));
    }
    text.push_str("\nPress Ctrl-C to stop.\n");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}
