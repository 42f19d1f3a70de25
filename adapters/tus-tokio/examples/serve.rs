//! Serves http://HOST:PORT/files/ on tokio.
//!
//! `cargo run -p tus-tokio --example tokio-serve -- --host 127.0.0.1 --port 8080 --upload-dir D --completed-dir C`
//!
//! With `--dest-dir`, it also runs the original tussi's lifespan pattern: a worker that claims finished uploads
//! and saves them there under their names, and an hourly janitor (`tus_tokio::deliver_finished`, `janitor`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tus_tokio::tus_storage::InlineWrites;
use tus_tokio::{JanitorConfig, ServeOptions, StoreConfig, TusApp};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    #[arg(long, default_value = "uploads")]
    upload_dir: PathBuf,
    #[arg(long)]
    completed_dir: Option<PathBuf>,
    /// Claim finished uploads and save them here (the file worker).
    #[arg(long)]
    dest_dir: Option<PathBuf>,
    #[arg(long)]
    max_size: Option<u64>,
    #[arg(long)]
    no_fsync: bool,
    /// Make changes durable with one shared `syncfs` of the filesystem (see `StoreConfig::syncfs`).
    #[arg(long)]
    syncfs: bool,
    /// Read upload records for HEAD inline instead of on the I/O pool (see `AsyncFileStore::inline_reads`).
    #[arg(long)]
    inline_reads: bool,
    /// With --no-fsync, where small creations and PATCHes run: never, while-fast or always inline (see
    /// `AsyncFileStore::inline_writes`); `--inline-writes` alone means always.
    #[arg(long, value_name = "MODE", default_value_t = InlineWrites::WhileFast, num_args = 0..=1,
          default_missing_value = "always")]
    inline_writes: InlineWrites,
    /// Bytes gathered per storage write.
    #[arg(long, default_value_t = tus_tokio::tus_hyper::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Memory for batches, shared by all requests.
    #[arg(long, default_value_t = tus_tokio::tus_hyper::DEFAULT_BATCH_MEMORY)]
    batch_memory: usize,
    /// Threads for file work (tokio's blocking pool); default: `StoreConfig::io_threads` (32 with fsync, 2 per CPU
    /// without).
    #[arg(long)]
    io_threads: Option<usize>,
    /// Serve from this many threads, each with a single-threaded runtime, connections dealt out in turn (see
    /// `tus_tokio::serve_on_threads`); 0: from one multi-thread runtime (`tus_tokio::serve`). Default: one per CPU.
    #[arg(long)]
    serving_threads: Option<usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let args = Args::parse();
    let completed = args.completed_dir.clone().unwrap_or_else(|| args.upload_dir.join(".completed"));
    let mut config = StoreConfig::new(&args.upload_dir, &completed);
    config.fsync = !args.no_fsync;
    config.syncfs = args.syncfs;
    let io_threads = args.io_threads.unwrap_or_else(|| config.io_threads());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(io_threads).build()?;
    runtime.block_on(serve(args, config, io_threads))
}

async fn serve(args: Args, config: StoreConfig, io_threads: usize) -> Result<(), Box<dyn std::error::Error>> {
    let threads = match args.serving_threads {
        Some(0) => None,
        Some(serving) => Some(tus_tokio::Threads { serving, io: io_threads }),
        None => Some(tus_tokio::Threads::per_cpu(io_threads)),
    };
    let store = tus_tokio::file_store(config)?
        .inline_reads(args.inline_reads)
        .inline_writes(args.inline_writes)
        .inline_writes_at_once(threads.map_or(1, |threads| threads.serving));
    let mut builder =
        TusApp::builder(store).base_path("/files").batch_size(args.batch_size).batch_memory(args.batch_memory);
    if let Some(max) = args.max_size {
        builder = builder.max_size(max);
    }
    let app = Arc::new(builder.build()?);

    if let Some(dest) = args.dest_dir.clone() {
        // The lifespan pattern: finished uploads saved under their names, expired ones swept every hour.
        let forever = std::future::pending::<()>;
        tokio::spawn(tus_tokio::deliver_finished(app.clone(), tus_tokio::runtime(), dest, forever()));
        let hourly = Duration::from_secs(3600);
        tokio::spawn(tus_tokio::janitor(
            app.clone(),
            tus_tokio::runtime(),
            hourly,
            JanitorConfig::default(),
            forever(),
        ));
    }

    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    eprintln!("serving http://{}/files/", listener.local_addr()?);
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    match threads {
        None => tus_tokio::serve(listener, app, ServeOptions::default(), shutdown).await,
        Some(threads) => tus_tokio::serve_on_threads(listener, app, threads, ServeOptions::default(), shutdown).await?,
    }
    Ok(())
}
