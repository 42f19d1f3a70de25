//! `tussi-server`: a TUS 1.0.0 resumable-upload server on tokio that saves finished uploads into a destination
//! directory. See `tussi-server --help`, and the modules: [`cli`] (options), [`prompt`] (start-up questions),
//! [`worker`] (file workers and janitor), [`access_log`] (`--access-log`).

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
use tus_tokio::tus_hyper::tus_proto::{Cors, Event};
use tus_tokio::tus_hyper::tus_storage::{JanitorConfig, StoreConfig};
use tus_tokio::tus_hyper::{ServeOptions, TusApp};
use tus_tokio::Threads;

use crate::cli::{Given, ServerArgs};
use crate::prompt::Prompter;

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
    if !args.no_prompt && std::io::stdin().is_terminal() {
        if let Err(e) = ask(&mut args, given) {
            eprintln!("tussi-server: reading the answers failed: {e}");
            return ExitCode::from(2);
        }
    }
    // File work runs on tokio's blocking pool, sized for the disk (see `StoreConfig::io_threads`); the bound also
    // caps the memory hundreds of concurrent uploads would otherwise spread over as many threads.
    let io_threads = store_config(&args).io_threads();
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(io_threads).build() {
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
    let total = [given.upload_dir, given.dest_dir, given.host, given.port].iter().filter(|g| !**g).count();
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
    if !given.upload_dir {
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
    config.remove_assembled_parts = !args.keep_partials;
    config
}

async fn run(args: ServerArgs) -> Result<(), BoxError> {
    let config = store_config(&args);
    let completed = config.completed_dir.clone();
    // One single-threaded runtime per CPU serves the connections (see `tus_tokio::serve_on_threads`), each free to
    // run a small write inline; this runtime accepts them and runs the file workers and the janitor.
    let threads = Threads::per_cpu(config.io_threads());
    let store = tus_tokio::file_store(config)
        .map_err(context("cannot open the upload store"))?
        .inline_reads(args.inline_reads)
        .inline_writes(args.inline_writes)
        .inline_writes_at_once(threads.serving);
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
    if let Some(cors) = cors(&args) {
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
    let app = Arc::new(builder.build().map_err(context("invalid configuration"))?);
    let partial = worker::prepare_dest(&args.dest_dir)?;

    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(context(format_args!("cannot listen on {}:{}", args.host, args.port)))?;
    let port = listener.local_addr().map_err(context("cannot read the listening address"))?.port();
    banner(&args, &completed, port);
    let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    if !loopback && args.max_size.is_none() {
        tracing::warn!(
            "listening on {} with no --max-size and no authentication: anyone who reaches it can fill the disk",
            args.host
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..args.workers {
        let task = worker::file_worker(n, app.clone(), args.dest_dir.clone(), partial.clone(), stop_rx.clone());
        tasks.spawn(task);
    }
    let mut janitor_config = JanitorConfig::default();
    janitor_config.stale_upload_age = Duration::from_secs(args.stale_upload_age);
    janitor_config.completed_file_age = Duration::from_secs(args.completed_file_age);
    janitor_config.ended_upload_age = Duration::from_secs(args.stale_upload_age);
    let interval = Duration::from_secs(args.janitor_interval);
    tasks.spawn(worker::janitor(app.clone(), interval, janitor_config, stop_rx));

    let mut options = ServeOptions::default();
    options.shutdown_grace = Duration::from_secs(args.shutdown_timeout);
    let served = tus_tokio::serve_on_threads(listener, app, threads, options, shutdown_signal()).await;
    served.map_err(context("cannot start the serving threads"))?;
    tracing::info!("shutting down");
    if let Some(task) = metrics_task {
        task.abort();
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
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

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn banner(args: &ServerArgs, completed: &Path, port: u16) {
    let host = if args.host.contains(':') { format!("[{}]", args.host) } else { args.host.clone() };
    let shown = |p: &Path| -> PathBuf { std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()) };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\ntussi-server serving http://{host}:{port}{BASE_PATH}/\n\n  Uploads:    {}\n  Completed:  {}\n  Dest:       {}\n  Workers:    {}\n\nPress Ctrl-C to stop.\n",
        shown(&args.upload_dir).display(),
        shown(completed).display(),
        shown(&args.dest_dir).display(),
        args.workers,
    );
    let _ = out.flush();
}
