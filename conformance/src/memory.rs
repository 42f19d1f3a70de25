//! The in-memory runner: scenarios answered by `tus-proto` and its model store, without sockets.
//!
//! Each raw request is parsed the way an HTTP server would frame it, driven through the protocol core's reference
//! driver loop, and the answer turned back into a raw response. Wire-only scenarios (stalls, concurrency, server
//! timeouts) are not applicable here.

use std::time::SystemTime;

use tus_proto::model::MemoryStore;
use tus_proto::{HookOutcome, Interruption, RequestHead, Server};

use crate::client::{AfterCut, ClientError, Framing, RawRequest, Response};
use crate::headers::Headers;
use crate::transport::Transport;
use crate::url::Url;

/// Answers requests with a `tus_proto::Server` over a [`MemoryStore`].
#[derive(Debug)]
pub struct ProtoTransport {
    server: Server,
    store: MemoryStore,
}

impl ProtoTransport {
    /// A transport over `server` with an empty store.
    pub fn new(server: Server) -> ProtoTransport {
        ProtoTransport { server, store: MemoryStore::new() }
    }

    /// The store, to inspect what was committed.
    pub fn store(&mut self) -> &mut MemoryStore {
        &mut self.store
    }
}

/// What an HTTP server answers to a request it cannot even parse.
fn bad_request(reason: &str) -> Response {
    let mut headers = Headers::default();
    headers.push("Content-Type", "text/plain");
    Response {
        version: "HTTP/1.1".into(),
        status: 400,
        reason: "Bad Request".into(),
        headers,
        body: reason.as_bytes().to_vec(),
        interim: Vec::new(),
        keep_alive: false,
    }
}

impl Transport for ProtoTransport {
    fn send(&mut self, _url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
        let mut builder = http::Request::builder().method(req.method.as_bytes()).uri(req.target.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        let framing_listed =
            req.header_value("content-length").is_some() || req.header_value("transfer-encoding").is_some();
        builder = match &req.framing {
            Framing::Length(n) => builder.header("content-length", *n),
            Framing::Chunked { .. } if !framing_listed => builder.header("transfer-encoding", "chunked"),
            Framing::Auto
                if !framing_listed
                    && (!req.body.is_empty() || ["POST", "PATCH", "PUT"].contains(&req.method.as_str())) =>
            {
                builder.header("content-length", req.body.len())
            }
            _ => builder,
        };
        let Ok(request) = builder.body(()) else { return Ok(bad_request("malformed request head")) };
        let (parts, ()) = request.into_parts();
        let (body, complete) = req.delivered_body();
        let cut = (!complete).then_some(Interruption::ClientGone);
        let chunks: Vec<&[u8]> = body.chunks(req.delivery.piece.unwrap_or(64 * 1024).max(1)).collect();
        let head = RequestHead::from_parts(&parts);
        let answer = self.store.handle(&self.server, head, &chunks, cut, |_| HookOutcome::accept(), SystemTime::now());
        if let Some((sent, AfterCut::Close)) = req.delivery.cut {
            return Err(ClientError::CutOff(sent));
        }
        let (response, _events) = answer.into_http();
        let mut headers = Headers::default();
        for (name, value) in response.headers() {
            headers.push(name.as_str(), value.to_str().unwrap_or_default());
        }
        let body = if parts.method == http::Method::HEAD { Vec::new() } else { response.body().as_bytes().to_vec() };
        if !body.is_empty() {
            headers.push("Content-Length", &body.len().to_string());
        }
        Ok(Response {
            version: "HTTP/1.1".into(),
            status: response.status().as_u16(),
            reason: response.status().canonical_reason().unwrap_or_default().into(),
            headers,
            body,
            interim: Vec::new(),
            keep_alive: true,
        })
    }

    fn name(&self) -> &str {
        "memory"
    }
}
