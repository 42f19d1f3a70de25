//! tussi mounted in axum under /files/, behind a bearer-token check, with a worker that collects finished uploads
//! and an hourly janitor: what an application embedding tussi needs (the README's "Embedding" section).
//!
//! `TOKEN=secret cargo run -p tus-tokio --example axum -- 127.0.0.1:8080`, then upload with
//! `Authorization: Bearer secret`; requests without it get 401 before they reach TUS. Uploads are kept under
//! `$TUSSI_DIR` (default: a directory under the system's temporary directory), finished files land in its `done/`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tus_tokio::{Claim as _, JanitorConfig, PeerAddr, Store as _, StoreConfig, TusApp, TusService};

async fn require_token(request: Request, next: Next) -> Result<Response, StatusCode> {
    let expected = std::env::var("TOKEN").unwrap_or_else(|_| "secret".into());
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| token == expected);
    // OPTIONS stays open so that clients can discover the server.
    if authorized || request.method() == axum::http::Method::OPTIONS {
        Ok(next.run(request).await)
    } else {
        Err(StatusCode::UNAUTHORIZED)
    }
}

/// Hands the connection's address to tussi, for its trusted-proxy check.
async fn peer_addr(mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        request.extensions_mut().insert(PeerAddr(addr));
    }
    next.run(request).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    let dir = std::env::var_os("TUSSI_DIR").map_or_else(|| std::env::temp_dir().join("tussi-axum-example"), Into::into);
    let store = tus_tokio::file_store(StoreConfig::new(dir.join("uploads"), dir.join("completed")))?;
    // axum strips /files before the service sees the path: mounted_at puts it back into Location.
    let app = Arc::new(TusApp::builder(store).mounted_at("/files").build()?);
    let tus = TusService::new(app.clone(), tus_tokio::runtime());

    // Collect finished uploads: each is claimed by one worker, saved, and removed from the store.
    let (worker, done) = (app.clone(), dir.join("done"));
    std::fs::create_dir_all(&done)?;
    tokio::spawn(async move {
        loop {
            match worker.store().claim(Duration::from_secs(60)).await {
                Ok(Some(mut upload)) => {
                    // The record's `filename` is client input: tussi-cli's `sanitize_filename` shows how to use
                    // it safely. The id is always a safe name.
                    let saved = upload.save(done.join(upload.id().to_string())).await;
                    if let Err(error) = saved.and(upload.finish().await) {
                        eprintln!("collecting an upload failed: {error}");
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    eprintln!("claim failed: {error}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    // Sweep abandoned uploads every hour.
    let janitor = app.clone();
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(Duration::from_secs(3600));
        loop {
            hourly.tick().await;
            let swept = janitor.store().sweep(&JanitorConfig::default(), SystemTime::now()).await;
            if !swept.removed.is_empty() {
                eprintln!("janitor removed {} uploads", swept.removed.len());
            }
        }
    });

    let router = Router::new()
        .nest_service("/files", tus)
        .layer(middleware::from_fn(require_token))
        .layer(middleware::from_fn(peer_addr));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("serving http://{}/files/ (bearer token required)", listener.local_addr()?);
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
