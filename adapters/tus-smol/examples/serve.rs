//! Serves http://HOST:PORT/files/ on smol; with `--dest-dir`, also the lifespan pattern: a file worker
//! saving finished uploads there under their names, and an hourly janitor.
//!
//! `cargo run -p tus-smol --example smol-serve -- --host 127.0.0.1 --port 8080 --upload-dir D --completed-dir C`

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use tus_smol::tus_hyper::tus_storage::StoreConfig;
use tus_smol::tus_hyper::{ServeOptions, TusApp};

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
    /// Claim finished uploads and save them here under their names (the file worker), and sweep hourly.
    #[arg(long)]
    dest_dir: Option<PathBuf>,
    #[arg(long)]
    max_size: Option<u64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let completed = args.completed_dir.clone().unwrap_or_else(|| args.upload_dir.join(".completed"));
    let store = tus_smol::file_store(StoreConfig::new(&args.upload_dir, &completed))?;
    let mut builder = TusApp::builder(store).base_path("/files");
    if let Some(max) = args.max_size {
        builder = builder.max_size(max);
    }
    let app = Arc::new(builder.build()?);
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
        if let Some(dest) = args.dest_dir.clone() {
            // The lifespan pattern: finished uploads saved under their names, expired ones swept every hour.
            let (runtime, hourly) = (tus_smol::runtime(), std::time::Duration::from_secs(3600));
            let worker = tus_smol::deliver_finished(app.clone(), runtime.clone(), dest, std::future::pending());
            let janitor = tus_smol::janitor(app.clone(), runtime, hourly, Default::default(), std::future::pending());
            smol::spawn(worker).detach();
            smol::spawn(janitor).detach();
        }
        eprintln!("serving http://{}/files/", listener.local_addr()?);
        tus_smol::serve(listener, app, ServeOptions::default(), std::future::pending()).await;
        Ok(())
    })
}
