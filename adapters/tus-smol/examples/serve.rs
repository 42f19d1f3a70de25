//! Serves http://HOST:PORT/files/ on smol.
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
        eprintln!("serving http://{}/files/", listener.local_addr()?);
        tus_smol::serve(listener, app, ServeOptions::default(), std::future::pending()).await;
        Ok(())
    })
}
