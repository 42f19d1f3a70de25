//! tussi's own server for the suite's tests: tus-hyper's `TusApp` over its `MemoryStore`, served by hyper on a real
//! socket on 127.0.0.1 — plain, or behind TLS (tokio-rustls) — honest, or with one deliberate [`Flaw`]: a rewrite
//! of requests or responses between the socket and the app that breaks one rule of the protocol, the way real
//! servers get them wrong.
//!
//! The flaws live outside the app on purpose: the app stays tussi's real one, and each flaw is one small,
//! readable change of what goes in or comes out.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use http::{Method, Request, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tus_conformance::{DataProbe, Url};
use tus_hyper::tus_proto::UploadId;
use tus_hyper::{BoxError, MemoryStore, PeerAddr, Runtime, TusApp, TusService};

/// `Tus-Max-Size` of the test server.
pub const MAX_SIZE: u64 = 1_000_000;

/// One deliberate mistake of the server, each against one rule of tus 1.0.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// None: tussi as it is.
    None,
    /// core: `Cache-Control: no-store` is left out of HEAD responses (caches may serve a stale offset).
    HeadCacheable,
    /// core: `Tus-Resumable` is left out of every response.
    NoTusResumable,
    /// creation: `Upload-Length: 0` is refused with 400, as if the length were missing.
    ZeroLengthRefused,
    /// creation-with-upload: the body of a POST is dropped (the app sees an empty creation request), yet the
    /// extension stays advertised.
    CreationBodyDropped,
    /// creation-defer-length: HEAD leaves out `Upload-Defer-Length: 1` while the length is not known.
    DeferLengthForgotten,
    /// termination: DELETE is answered 204 by the flaw, and the upload stays as it was.
    DeleteKeepsUpload,
    /// checksum: `Upload-Checksum` is dropped before the app sees it: every chunk is accepted unchecked (what
    /// rustus 0.5.10 does).
    ChecksumUnchecked,
    /// checksum-trailer: the trailers of chunked bodies are dropped, so a trailer checksum is never checked.
    TrailersIgnored,
    /// concatenation: a final upload is assembled from its parts in reverse order; the echo of `Upload-Concat`
    /// on HEAD is turned back into the order the client sent, so only the bytes show it.
    ConcatReversed,
    /// concatenation-unfinished: HEAD of a final upload whose parts are not all complete leaves out
    /// `Upload-Length` (the server computes it only once it assembles).
    UnfinishedFinalWithoutLength,
    /// expiration: `Upload-Expires` is left out of every response, while expiration stays advertised.
    ExpiresForgotten,
}

/// Every flaw (not [`Flaw::None`]).
pub const FLAWS: [Flaw; 11] = [
    Flaw::HeadCacheable,
    Flaw::NoTusResumable,
    Flaw::ZeroLengthRefused,
    Flaw::CreationBodyDropped,
    Flaw::DeferLengthForgotten,
    Flaw::DeleteKeepsUpload,
    Flaw::ChecksumUnchecked,
    Flaw::TrailersIgnored,
    Flaw::ConcatReversed,
    Flaw::UnfinishedFinalWithoutLength,
    Flaw::ExpiresForgotten,
];

/// TLS for [`Server::start_tls`].
pub type TlsConfig = Arc<tokio_rustls::rustls::ServerConfig>;

/// A running server; stopped when dropped (its connections are dropped with its runtime).
pub struct Server {
    /// `http://127.0.0.1:PORT/files/` (or `https://`).
    pub url: String,
    /// The app's store, to read back what it holds.
    pub store: MemoryStore,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// tussi with `flaw`, over plain HTTP.
    pub fn start(flaw: Flaw) -> Server {
        Server::start_with(flaw, None)
    }

    /// Honest tussi behind TLS with this configuration.
    pub fn start_tls(tls: TlsConfig) -> Server {
        Server::start_with(Flaw::None, Some(tls))
    }

    fn start_with(flaw: Flaw, tls: Option<TlsConfig>) -> Server {
        let store = MemoryStore::new();
        let app = TusApp::builder(store.clone())
            .base_path("/files")
            .max_size(MAX_SIZE)
            // Short, so that the suite's stalled bodies end quickly; the default would hold them for a minute.
            .body_read_timeout(Duration::from_secs(2))
            // The TLS layer below is a TLS-terminating proxy in process: it tells the app the scheme clients use
            // (X-Forwarded-Proto), so that absolute Locations say https.
            .trusted_proxies(["127.0.0.1"])
            .build()
            .expect("app");
        let service = TusService::new(Arc::new(app), Runtime::new(TokioExecutor::new(), TokioTimer::new()));
        let flawed = Flawed { service, flaw };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                loop {
                    let (tcp, peer) = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok(accepted) => accepted,
                            Err(_) => continue,
                        },
                    };
                    let (flawed, acceptor) = (flawed.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        match acceptor {
                            // A client that refuses the certificate ends the handshake: nothing to serve.
                            Some(acceptor) => {
                                if let Ok(stream) = acceptor.accept(tcp).await {
                                    serve_connection(TokioIo::new(stream), flawed, peer, true).await;
                                }
                            }
                            None => serve_connection(TokioIo::new(tcp), flawed, peer, false).await,
                        }
                    });
                }
            });
        });
        Server { url: format!("{scheme}://{addr}/files/"), store, stop: Some(stop), thread: Some(thread) }
    }

    /// Reads what the store holds for an upload URL.
    pub fn probe(&self) -> MemoryProbe {
        MemoryProbe(self.store.clone())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves one connection from `peer`; with `tls`, as a TLS-terminating proxy would: every request says it came
/// over https (`X-Forwarded-Proto`, replacing any the client sent).
async fn serve_connection<I>(io: I, flawed: Flawed, peer: SocketAddr, tls: bool)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let flawed = flawed.clone();
        request.extensions_mut().insert(PeerAddr(peer));
        if tls {
            request.headers_mut().insert("x-forwarded-proto", HeaderValue::from_static("https"));
        }
        async move { Ok::<_, Infallible>(flawed.handle(request).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
}

/// The committed bytes of an upload, read from the store in process (the id is the URL's last segment).
pub struct MemoryProbe(pub MemoryStore);

impl DataProbe for MemoryProbe {
    fn read(&self, url: &Url, len: u64) -> Option<Vec<u8>> {
        let id: UploadId = url.last_segment().parse().ok()?;
        let mut data = self.0.committed_bytes(id)?;
        data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Some(data)
    }

    fn describe(&self) -> String {
        "tussi's MemoryStore, read in process".into()
    }
}

type Reply = http::Response<Full<Bytes>>;
type AnyBody = UnsyncBoxBody<Bytes, BoxError>;

/// tussi's service with a flaw in front of it.
#[derive(Clone)]
struct Flawed {
    service: TusService<MemoryStore>,
    flaw: Flaw,
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An answer the flaw gives instead of the app.
fn reply(status: StatusCode) -> Reply {
    let mut response = Reply::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response.headers_mut().insert("tus-resumable", HeaderValue::from_static("1.0.0"));
    response
}

/// `final;a b c` with the URLs in reverse order; anything else unchanged.
fn reverse_final(value: &str) -> String {
    match value.strip_prefix("final;") {
        Some(urls) => {
            format!("final;{}", urls.split(' ').filter(|u| !u.is_empty()).rev().collect::<Vec<_>>().join(" "))
        }
        None => value.to_string(),
    }
}

fn set(headers: &mut http::HeaderMap, name: &'static str, value: &str) {
    headers.insert(HeaderName::from_static(name), HeaderValue::from_str(value).expect("header value"));
}

impl Flawed {
    async fn handle(self, request: Request<Incoming>) -> Reply {
        let method = header(request.headers(), "x-http-method-override")
            .map(|m| m.trim().to_ascii_uppercase())
            .unwrap_or_else(|| request.method().as_str().to_string());
        let (mut parts, body) = request.into_parts();
        let mut body: AnyBody = body.map_err(BoxError::from).boxed_unsync();
        match (self.flaw, method.as_str()) {
            (Flaw::ChecksumUnchecked, "PATCH") => {
                parts.headers.remove("upload-checksum");
            }
            (Flaw::TrailersIgnored, "PATCH") => body = WithoutTrailers(body).boxed_unsync(),
            (Flaw::DeleteKeepsUpload, "DELETE") => return reply(StatusCode::NO_CONTENT),
            (Flaw::ZeroLengthRefused, "POST") if header(&parts.headers, "upload-length") == Some("0") => {
                return reply(StatusCode::BAD_REQUEST)
            }
            (Flaw::CreationBodyDropped, "POST") => {
                body = Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
                parts.headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            }
            (Flaw::ConcatReversed, "POST") => {
                if let Some(value) = header(&parts.headers, "upload-concat").map(reverse_final) {
                    set(&mut parts.headers, "upload-concat", &value);
                }
            }
            _ => {}
        }
        let request = Request::from_parts(parts, body);
        let mut response = match hyper::service::Service::call(&self.service, request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let headers = response.headers_mut();
        let head = method == Method::HEAD.as_str();
        match self.flaw {
            Flaw::HeadCacheable if head => {
                headers.remove("cache-control");
            }
            Flaw::NoTusResumable => {
                headers.remove("tus-resumable");
            }
            Flaw::DeferLengthForgotten if head => {
                headers.remove("upload-defer-length");
            }
            Flaw::UnfinishedFinalWithoutLength if head => {
                let unfinished_final = header(headers, "upload-concat").is_some_and(|c| c.starts_with("final;"))
                    && !headers.contains_key("upload-offset");
                if unfinished_final {
                    headers.remove("upload-length");
                }
            }
            Flaw::ConcatReversed if head => {
                if let Some(value) = header(headers, "upload-concat").map(reverse_final) {
                    set(headers, "upload-concat", &value);
                }
            }
            Flaw::ExpiresForgotten => {
                headers.remove("upload-expires");
            }
            _ => {}
        }
        response
    }
}

/// A body without its trailers: they end the body as if none had been sent.
struct WithoutTrailers(AnyBody);

impl Body for WithoutTrailers {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.0).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) if frame.is_trailers() => Poll::Ready(None),
            other => other,
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}
