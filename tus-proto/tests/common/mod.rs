//! Shared helpers: build request heads, drive them through the model store.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Request};
use tus_proto::model::MemoryStore;
use tus_proto::{CreateHook, HookOutcome, Interruption, RequestHead, Response, Server, UploadId};

pub const NOW: Duration = Duration::from_secs(1_795_470_219);

pub struct Harness {
    pub server: Server,
    pub store: MemoryStore,
    pub peer: Option<std::net::IpAddr>,
}

pub fn harness() -> Harness {
    with_server(Server::builder().max_size(1000).max_chunk_size(100).base_path("/files").build().unwrap())
}

pub fn with_server(server: Server) -> Harness {
    Harness { server, store: MemoryStore::new(), peer: None }
}

pub fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

impl Harness {
    pub fn send_full(
        &mut self,
        parts: &http::request::Parts,
        body: &[&[u8]],
        cut: Option<Interruption>,
        hook: impl FnOnce(&CreateHook) -> HookOutcome,
    ) -> Response {
        let head = RequestHead::from_parts(parts).with_peer(self.peer);
        let response = self.store.handle(&self.server, head, body, cut, hook, SystemTime::UNIX_EPOCH + NOW);
        check_invariants(parts, &response);
        response
    }

    pub fn send(&mut self, method: &str, uri: &str, headers: &[(&str, &str)], body: &[&[u8]]) -> Response {
        let parts = head(method, uri, headers);
        self.send_full(&parts, body, None, |_| HookOutcome::accept())
    }

    /// POST /files with a length, returns the id.
    pub fn create(&mut self, length: u64) -> UploadId {
        let length = length.to_string();
        let r =
            self.send("POST", "/files", &[("host", "h"), ("tus-resumable", "1.0.0"), ("upload-length", &length)], &[]);
        assert_eq!(r.status(), 201, "{}", r.body());
        let location = r.headers()["location"].to_str().unwrap();
        location.rsplit('/').next().unwrap().parse().unwrap()
    }

    pub fn patch(&mut self, id: UploadId, offset: u64, body: &[&[u8]]) -> Response {
        let uri = format!("/files/{id}");
        let offset = offset.to_string();
        let len: usize = body.iter().map(|c| c.len()).sum();
        let len = len.to_string();
        self.send(
            "PATCH",
            &uri,
            &[
                ("tus-resumable", "1.0.0"),
                ("content-type", "application/offset+octet-stream"),
                ("upload-offset", &offset),
                ("content-length", &len),
            ],
            body,
        )
    }

    pub fn head_of(&mut self, id: UploadId) -> Response {
        self.send("HEAD", &format!("/files/{id}"), &[("tus-resumable", "1.0.0")], &[])
    }
}

/// Rules every response keeps, whatever the request.
pub fn check_invariants(parts: &http::request::Parts, response: &Response) {
    let h: &HeaderMap = response.headers();
    assert!(!h.contains_key("content-length"), "the core never sets Content-Length");
    let status = response.status().as_u16();
    if status >= 400 && parts.method != Method::HEAD {
        assert!(!response.body().is_empty(), "error {status} without a reason");
        assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    }
    if parts.method == Method::HEAD {
        assert!(response.body().is_empty(), "HEAD answered with a body");
    }
    // Only the answers to OPTIONS (the capabilities, with Tus-Extension, or a CORS preflight) go without
    // Tus-Resumable.
    let options = h.contains_key("tus-extension") || h.contains_key("access-control-allow-methods");
    assert_eq!(h.contains_key("tus-resumable"), !options);
}

pub fn header<'r>(response: &'r Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}
