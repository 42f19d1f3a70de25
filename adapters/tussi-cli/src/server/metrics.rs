//! `--metrics ADDR`: the Prometheus text format at `GET /metrics`, on a listener of its own (so that the upload
//! port can stay public while the metrics stay internal).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tus_tokio::tus_hyper::prometheus_client::encoding::text::encode;
use tus_tokio::tus_hyper::prometheus_client::registry::Registry;

/// Serves `registry` on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, registry: Arc<Registry>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let registry = registry.clone();
        tokio::spawn(async move {
            if let Err(error) = tokio::time::timeout(Duration::from_secs(10), answer(stream, &registry)).await {
                tracing::debug!(%error, "metrics request timed out");
            }
        });
    }
}

/// One request per connection: `GET /metrics` gets the metrics, anything else 404.
async fn answer(mut stream: TcpStream, registry: &Registry) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let wanted = head.starts_with(b"GET /metrics ") || head.starts_with(b"GET /metrics?");
    let (status, content_type, body) = if wanted {
        let mut text = String::new();
        match encode(&mut text, registry) {
            Ok(()) => ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", text),
            Err(_) => ("500 Internal Server Error", "text/plain", "encoding failed\n".to_owned()),
        }
    } else {
        ("404 Not Found", "text/plain", "not found\n".to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}
