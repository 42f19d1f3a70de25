//! The conformance suite in another project's `cargo test`: copy this file to your `tests/` directory, add
//! `tus-conformance` to your `[dev-dependencies]`, and put your own server where tussi's is.
//!
//! Two ways to run it:
//!
//! - **Against a URL** ([`against_a_url`]): your server listens on a socket (started by the test, as here, or
//!   already running: set `TUS_CONFORMANCE_URL`), and the suite talks HTTP/1.1 to it over TCP, TLS for `https://`
//!   URLs. Every scenario can run, the network faults included.
//! - **Against a service in memory** ([`against_a_service_in_memory`]): no socket at all. A [`Transport`] hands
//!   each request of the suite to your service as an `http::Request` and turns the `http::Response` back; here
//!   that is tussi's hyper service, but any `tower`/`hyper` service is called the same way. Fast and
//!   deterministic; the scenarios that need real sockets (stalls, concurrent connections) are "n/a".
//!
//! In this workspace the file runs with the crate's tests (`cargo test -p tus-conformance --example
//! in_your_tests`); `cargo run -p tus-conformance --example in_your_tests [URL]` prints the reports.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tus_conformance::client::AfterCut;
use tus_conformance::headers::Headers;
use tus_conformance::{
    run, scenarios, ClientError, Config, RawRequest, Report, Response, Timeouts, Transport, Url, Verdict, WireTransport,
};
use tus_hyper::{MemoryStore, Runtime, TusApp, TusService};

/// Your server. Here: tussi's hyper service over its in-memory store.
fn my_service() -> TusService<MemoryStore> {
    let app = TusApp::builder(MemoryStore::new()).base_path("/files").max_size(1 << 20).build().expect("app");
    TusService::new(Arc::new(app), Runtime::new(TokioExecutor::new(), TokioTimer::new()))
}

/// What a project's test asserts: no MUST broken, no SHOULD ignored, the core protocol exercised.
fn assert_conformant(report: &Report) {
    let broken: Vec<String> = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
        // The detail says what happened; the quote, which sentence of the protocol it breaks.
        .map(|r| format!("{} ({}): {}\n    \"{}\"", r.id, r.level, r.detail, r.quote))
        .collect();
    assert!(broken.is_empty(), "not conformant:\n{}\n\n{}", broken.join("\n"), report.text(true));
    // 0: no MUST broken; 1: a FAIL (with `strict`, also a SHOULD warning or an error); 3: the core protocol could
    // not be exercised at all (no upload could be created).
    assert_eq!(report.exit_code(true), 0);
}

/// Serves `service` on 127.0.0.1 from a background runtime; returns its creation URL.
fn serve_in_background(service: TusService<MemoryStore>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/files/", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("tokio");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((tcp, _)) = listener.accept().await {
                let service = service.clone();
                tokio::spawn(async move {
                    let io = TokioIo::new(tcp);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
    });
    url
}

/// The suite over the wire: against `TUS_CONFORMANCE_URL` if set, else against [`my_service`] started on a socket.
#[test]
fn against_a_url() {
    let url = std::env::var("TUS_CONFORMANCE_URL").unwrap_or_else(|_| serve_in_background(my_service()));
    let mut config = Config::new(Url::parse(&url).expect("a valid http:// or https:// URL"));
    // Credentials, if your server wants them, go with every request:
    // config.add_header("Authorization: Bearer …").expect("a valid header");
    config.skip = vec!["fault-server-timeout".into()]; // an observation that waits up to 15 s; nothing to assert
    let mut wire = WireTransport::new(Timeouts::default(), true); // https: `.with_tls(Tls::with_ca_file(…)?)`
    let report = run(&config, &mut wire, None, &scenarios::all()).expect("the server answers OPTIONS");
    println!("{}", report.table());
    assert_conformant(&report);
    assert_eq!(report.verdict("fault-concurrent-patch"), Some(Verdict::Pass), "the wire-only scenarios ran");
}

/// The suite in memory: each request goes straight to the service, without a socket.
#[test]
fn against_a_service_in_memory() {
    let mut transport = InMemory::new(my_service());
    // The URL only names the server in the report and resolves relative Locations: nothing connects to it.
    let config = Config::new(Url::parse("http://tussi.test/files/").expect("url"));
    let report = run(&config, &mut transport, None, &scenarios::all()).expect("the suite ran");
    println!("{}", report.table());
    assert_conformant(&report);
    assert_eq!(report.verdict("fault-concurrent-patch"), Some(Verdict::NotApplicable), "needs real sockets");
    assert_eq!(report.verdict("checksum-mismatch-460"), Some(Verdict::Pass));
}

/// A [`Transport`] over an HTTP service in memory: each raw request of the suite becomes an `http::Request` with
/// the body a server would have received, the service answers it on a private runtime, and the answer becomes the
/// suite's [`Response`].
struct InMemory<S> {
    service: S,
    runtime: tokio::runtime::Runtime,
}

impl<S> InMemory<S> {
    fn new(service: S) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
        InMemory { service, runtime }
    }
}

impl<S, B> Transport for InMemory<S>
where
    S: hyper::service::Service<http::Request<CutBody>, Response = http::Response<B>, Error = Infallible>,
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    fn send(&mut self, _url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
        // The body as framed on the wire (Content-Length, chunked), up to where a cut-off request stopped.
        let (body, complete) = req.delivered_body();
        let mut request = http::Request::builder().method(req.method.as_str()).uri(req.target.as_str());
        // The header lines exactly as the client writes them, with the framing header it adds (Content-Length,
        // Transfer-Encoding): a server decides on those before it reads a byte of the body.
        let head = req.head_bytes();
        for line in head.split(|&b| b == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                request = request.header(&line[..colon], line[colon + 1..].trim_ascii());
            }
        }
        let sent = body.len();
        let body = CutBody { data: Some(Bytes::from(body)), broken: !complete };
        let request = request.body(body).map_err(|e| ClientError::Malformed(format!("request: {e}")))?;
        let response = self.runtime.block_on(async {
            let Ok(response) = self.service.call(request).await;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map(|b| b.to_bytes());
            (parts, body)
        });
        if let Some((_, AfterCut::Close)) = req.delivery.cut {
            // The client went away: it never reads the answer.
            return Err(ClientError::CutOff(sent));
        }
        let (parts, body) = response;
        let mut headers = Headers::default();
        for (name, value) in &parts.headers {
            headers.push(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
        }
        Ok(Response {
            version: "HTTP/1.1".into(),
            status: parts.status.as_u16(),
            reason: parts.status.canonical_reason().unwrap_or_default().into(),
            headers,
            body: body.map_err(|e| ClientError::Malformed(format!("response body: {e:?}")))?.to_vec(),
            interim: Vec::new(),
            keep_alive: true,
        })
    }

    fn name(&self) -> &str {
        "in memory"
    }
}

/// A request body: its bytes, then either the end or, for a request the client cut off, an error (what a server
/// sees when the connection drops mid-body).
struct CutBody {
    data: Option<Bytes>,
    broken: bool,
}

impl Body for CutBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(data) = self.data.take().filter(|d| !d.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if std::mem::take(&mut self.broken) {
            return Poll::Ready(Some(Err(std::io::ErrorKind::ConnectionReset.into())));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(Bytes::is_empty) && !self.broken
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.data, self.broken) {
            (Some(data), false) => SizeHint::with_exact(data.len() as u64),
            (None, false) => SizeHint::with_exact(0),
            (data, true) => {
                let mut hint = SizeHint::new();
                hint.set_lower(data.as_ref().map_or(0, |d| d.len() as u64));
                hint
            }
        }
    }
}

/// `cargo run --example in_your_tests [URL]`: both runs, with their reports; panics when one is not conformant.
fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| serve_in_background(my_service()));
    let config = Config::new(Url::parse(&url).expect("URL"));
    let mut wire = WireTransport::new(Timeouts::default(), true);
    let over_the_wire = run(&config, &mut wire, None, &scenarios::all()).expect("the server answers OPTIONS");
    println!("{}", over_the_wire.table());
    let mut memory = InMemory::new(my_service());
    let config = Config::new(Url::parse("http://tussi.test/files/").expect("url"));
    let in_memory = run(&config, &mut memory, None, &scenarios::all()).expect("the suite ran");
    println!("{}", in_memory.table());
    assert_conformant(&over_the_wire);
    assert_conformant(&in_memory);
}
