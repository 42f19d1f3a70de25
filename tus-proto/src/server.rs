//! The server: configuration, the first look at a request head, and routing to the method's steps.

use core::net::IpAddr;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::{HeaderValue, ALLOW, HOST};
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::checksum;
use crate::cors::{Cors, CorsPolicy};
use crate::parse::{self, Single};
use crate::proxy::{InvalidIpBlock, IpBlock};
use crate::response::{headers, Response};
use crate::step::Step;
use crate::{delete, head, patch, post, UploadId, TUS_VERSION};

/// Default life of an unfinished upload after its last write: one day.
pub const DEFAULT_EXPIRE_AFTER: Duration = Duration::from_secs(86_400);
/// Default limit of the raw `Upload-Metadata` header: 4096 bytes.
pub const DEFAULT_MAX_METADATA_SIZE: usize = 4096;

/// The head of an HTTP request, as the protocol core sees it: borrowed, never the body.
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    peer: Option<IpAddr>,
}

impl<'a> RequestHead<'a> {
    /// A head from its parts, with no known peer address.
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        RequestHead { method, uri, headers, peer: None }
    }

    /// The head of an `http` request.
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        RequestHead::new(&parts.method, &parts.uri, &parts.headers)
    }

    /// Sets the address of the connection's peer (used to decide whether it is a trusted proxy).
    pub fn with_peer(mut self, peer: Option<IpAddr>) -> Self {
        self.peer = peer;
        self
    }
}

/// Why a configuration was refused by [`ServerBuilder::build`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A trusted proxy entry is not an IP address or CIDR block.
    TrustedProxy(InvalidIpBlock),
    /// The base path is not an absolute URI path (`/files`).
    BasePath(String),
    /// `max_chunk_size` is zero.
    ZeroChunkSize,
    /// A CORS origin is not `scheme://host[:port]`.
    CorsOrigin(String),
    /// A CORS request header to allow is not a header name.
    CorsHeader(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TrustedProxy(e) => e.fmt(f),
            ConfigError::BasePath(p) => write!(f, "invalid base path {p:?}: expected an absolute URI path like /files"),
            ConfigError::ZeroChunkSize => f.write_str("max_chunk_size must be at least 1"),
            ConfigError::CorsOrigin(o) => write!(f, "invalid CORS origin {o:?}: expected scheme://host[:port]"),
            ConfigError::CorsHeader(h) => write!(f, "invalid CORS request header name {h:?}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Builds a [`Server`]; every option has the original tussi's default.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ServerBuilder {
    max_size: Option<u64>,
    max_chunk_size: Option<u64>,
    max_metadata_size: usize,
    trusted_proxies: Vec<String>,
    base_path: Option<(String, Mount)>,
    cors: Option<Cors>,
    expire_after: Option<Duration>,
}

/// How requests reach the endpoint at its base path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mount {
    /// Request paths include the base path (`/files/<id>`); anything else is 404.
    Direct,
    /// A router strips the base path first (`/<id>`); `Location` adds it back.
    Stripped,
}

impl ServerBuilder {
    /// Largest `Upload-Length` accepted (413 above it), advertised as `Tus-Max-Size`. Default: none.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Largest body of one PATCH (or of a POST with data), declared or streamed (413 above it). Default: none.
    ///
    /// Bodies are streamed to storage, never held whole, so no limit is needed to bound memory: this one only caps
    /// what a single request may send. (The original tussi had 10 MiB, because it read whole bodies into memory;
    /// tus-js-client sends a whole file in one PATCH by default.)
    pub fn max_chunk_size(mut self, bytes: u64) -> Self {
        self.max_chunk_size = Some(bytes);
        self
    }

    /// How long an unfinished upload lives after its last write (expiration): answers carry `Upload-Expires`, and a
    /// request for an upload past it gets 410. Default: one day, the janitor's default `stale_upload_age` — keep
    /// the two equal, so that what the server promises is what the janitor does.
    pub fn expire_after(mut self, age: Duration) -> Self {
        self.expire_after = Some(age);
        self
    }

    /// Uploads never expire: no `Upload-Expires`, and no expiration in `Tus-Extension` (for a server whose store
    /// is never swept).
    pub fn never_expire(mut self) -> Self {
        self.expire_after = None;
        self
    }

    /// Answers CORS preflights and adds CORS headers to every response (see [`Cors`]). Default: off, for
    /// applications that handle CORS in a layer of their own.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Largest raw `Upload-Metadata` header (400 above it). Default: 4096.
    pub fn max_metadata_size(mut self, bytes: usize) -> Self {
        self.max_metadata_size = bytes;
        self
    }

    /// Adds peers (IPs or CIDR blocks) whose `X-Forwarded-Proto` / `Forwarded: proto=` set the scheme of
    /// `Location`. Checked by [`build`](Self::build). The driver must then give each request's peer address
    /// ([`RequestHead::with_peer`]): a creation without one is answered 500 (with the cause in the log), rather
    /// than building `Location` as if no proxy had forwarded anything.
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_proxies.extend(proxies.into_iter().map(Into::into));
        self
    }

    /// The path of the endpoint (`/files`): POST creates at it, uploads live at `<base path>/<id>`, `Location` is
    /// built from it, and any other path is answered 404. Without a base path, the request path decides: `Location`
    /// is the POST path plus `/<id>`, and the id is the last path segment.
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        self.base_path = Some((path.into(), Mount::Direct));
        self
    }

    /// Like [`base_path`](Self::base_path), for a handler behind a router that strips the prefix before the
    /// request arrives (axum's `nest_service("/files", …)`): requests come as `/` and `/<id>`, and `Location` gets
    /// the prefix back.
    pub fn mounted_at(mut self, path: impl Into<String>) -> Self {
        self.base_path = Some((path.into(), Mount::Stripped));
        self
    }

    /// Checks the options and builds the server.
    pub fn build(self) -> Result<Server, ConfigError> {
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|p| IpBlock::parse(p.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ConfigError::TrustedProxy)?;
        let base_path = match self.base_path {
            None => None,
            Some((path, mount)) => {
                let valid = path.starts_with('/')
                    && !path.contains(['?', '#'])
                    && path.parse::<http::uri::PathAndQuery>().is_ok();
                if !valid {
                    return Err(ConfigError::BasePath(path));
                }
                Some((path.trim_end_matches('/').to_owned(), mount))
            }
        };
        if self.max_chunk_size == Some(0) {
            return Err(ConfigError::ZeroChunkSize);
        }
        let cors = self.cors.map(Cors::check).transpose()?;
        Ok(Server {
            max_size: self.max_size.map(|m| m.min(i64::MAX as u64)),
            max_chunk_size: self.max_chunk_size,
            max_metadata_size: self.max_metadata_size,
            trusted_proxies,
            base_path,
            cors,
            expire_after: self.expire_after,
        })
    }
}

/// A TUS 1.0.0 server (core, creation, creation-with-upload, creation-defer-length, termination), immutable and
/// shareable: [`begin`](Self::begin) starts the steps of one request, and [`finish`](Self::finish) completes its
/// final response.
#[derive(Clone, Debug)]
pub struct Server {
    pub(crate) max_size: Option<u64>,
    pub(crate) max_chunk_size: Option<u64>,
    pub(crate) max_metadata_size: usize,
    trusted_proxies: Vec<IpBlock>,
    base_path: Option<(String, Mount)>,
    cors: Option<CorsPolicy>,
    expire_after: Option<Duration>,
}

/// What a request path names.
enum Target<'p> {
    /// The endpoint itself, where POST creates uploads. Carries the path to build `Location` from.
    Collection(&'p str),
    /// One upload.
    Upload(UploadId),
    /// Anything else under the endpoint.
    Unknown,
}

impl Server {
    /// A builder with the defaults: no max size, no chunk limit, 4096 bytes of metadata, no trusted proxies, no
    /// CORS.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            max_size: None,
            max_chunk_size: None,
            max_metadata_size: DEFAULT_MAX_METADATA_SIZE,
            trusted_proxies: Vec::new(),
            base_path: None,
            cors: None,
            expire_after: Some(DEFAULT_EXPIRE_AFTER),
        }
    }

    /// The extensions this server offers, as in `Tus-Extension`.
    pub fn extensions(&self) -> &'static str {
        match self.expire_after {
            Some(_) => {
                "creation,creation-with-upload,creation-defer-length,termination,checksum,checksum-trailer,\
                 concatenation,concatenation-unfinished,expiration"
            }
            None => {
                "creation,creation-with-upload,creation-defer-length,termination,checksum,checksum-trailer,\
                 concatenation,concatenation-unfinished"
            }
        }
    }

    /// Completes the final response of a request (the one of [`Step::Respond`]): adds the CORS headers for the
    /// request's origin when CORS is on. Every response goes through here, refusals included, so that a page can
    /// read why it was refused.
    pub fn finish(&self, head: RequestHead<'_>, mut response: Response) -> Response {
        let expires = response.last_write.take().zip(self.expire_after).map(|(at, age)| at + age);
        if let Some(value) = expires.and_then(|at| HeaderValue::try_from(httpdate::fmt_http_date(at)).ok()) {
            response.headers_mut().insert(headers::UPLOAD_EXPIRES, value);
        }
        match &self.cors {
            Some(cors) => cors.apply(head.headers, response),
            None => response,
        }
    }

    /// Looks at a request head and returns the first step. `now` is the request time (stored as creation time).
    ///
    /// The request body is not looked at until a [`Receive`](crate::Receive) step asks for it.
    pub fn begin<U>(&self, head: RequestHead<'_>, now: SystemTime) -> Step<U> {
        let step = self.route(head, now);
        match step {
            // A response to HEAD has no body, whatever it says.
            Step::Respond(r) if head.method == Method::HEAD => Step::Respond(r.without_body()),
            step => step,
        }
    }

    fn route<U>(&self, head: RequestHead<'_>, now: SystemTime) -> Step<U> {
        if let Some(cors) = self.cors.as_ref().filter(|_| CorsPolicy::is_preflight(head.method, head.headers)) {
            return Step::Respond(cors.preflight());
        }
        // Not a TUS request at all (`GET /`, a health check of a load balancer): 404, not 412.
        if self.is_outside(head.uri.path()) {
            return Step::Respond(Response::refuse(StatusCode::NOT_FOUND, "not found"));
        }
        let method = match effective_method(head) {
            Ok(method) => method,
            Err(reason) => return Step::Respond(Response::refuse(StatusCode::BAD_REQUEST, reason)),
        };
        if method == Method::OPTIONS {
            return Step::Respond(self.options());
        }
        if let Err(response) = check_version(head.headers) {
            return Step::Respond(response);
        }
        let path = head.uri.path();
        match (self.target(path), method) {
            (Target::Collection(collection), Method::POST) => match self.location_base(head, collection) {
                Ok(location_base) => post::begin(self, head.headers, location_base, now),
                Err(response) => Step::Respond(response),
            },
            (Target::Upload(id), Method::HEAD) => head::begin(id, self.expired_before(now), self.collection_of(path)),
            (Target::Upload(id), Method::PATCH) => patch::begin(self, head.headers, id, self.expired_before(now)),
            (Target::Upload(id), Method::DELETE) => delete::begin(id),
            // Without a base path, a last segment that is not an id may still have been meant as one.
            (Target::Collection(_), Method::HEAD | Method::PATCH | Method::DELETE) if self.base_path.is_none() => {
                Step::Respond(Response::refuse(StatusCode::NOT_FOUND, "upload not found"))
            }
            (Target::Collection(_), _) => Step::Respond(not_allowed("OPTIONS, POST")),
            (Target::Upload(_), _) => Step::Respond(not_allowed("OPTIONS, HEAD, PATCH, DELETE")),
            (Target::Unknown, Method::HEAD | Method::PATCH | Method::DELETE) => {
                Step::Respond(Response::refuse(StatusCode::NOT_FOUND, "upload not found"))
            }
            (Target::Unknown, _) => Step::Respond(Response::refuse(StatusCode::NOT_FOUND, "not found")),
        }
    }

    /// Whether `path` lies outside the endpoint (its base path, when requests include it).
    fn is_outside(&self, path: &str) -> bool {
        match &self.base_path {
            Some((base, Mount::Direct)) => {
                !path.strip_prefix(base.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
            _ => false,
        }
    }

    /// The upload a URL of `Upload-Concat` names: an absolute URL or a path, of this endpoint.
    pub(crate) fn upload_at(&self, url: &str) -> Option<UploadId> {
        let path = if url.starts_with('/') {
            url.split(['?', '#']).next()?.to_owned()
        } else {
            url.parse::<Uri>().ok().filter(|u| u.scheme().is_some())?.path().to_owned()
        };
        let path = path.trim_end_matches('/');
        let last = match &self.base_path {
            Some((base, _)) => path.strip_prefix(base.as_str())?.strip_prefix('/')?,
            None => path.rsplit('/').next()?,
        };
        last.parse().ok()
    }

    /// The path of the collection an upload's request `path` is in, as clients see it (for the URLs of
    /// `Upload-Concat`).
    fn collection_of(&self, path: &str) -> String {
        match &self.base_path {
            Some((base, _)) => base.clone(),
            None => path.trim_end_matches('/').rsplit_once('/').map_or("", |(collection, _)| collection).to_owned(),
        }
    }

    /// Uploads last written before this have expired at `now`.
    fn expired_before(&self, now: SystemTime) -> Option<SystemTime> {
        self.expire_after.and_then(|age| now.checked_sub(age))
    }

    fn options(&self) -> Response {
        let mut response = Response::new(StatusCode::NO_CONTENT)
            .header(headers::TUS_VERSION, HeaderValue::from_static(TUS_VERSION))
            .header(headers::TUS_EXTENSION, HeaderValue::from_static(self.extensions()))
            .header(headers::TUS_CHECKSUM_ALGORITHM, HeaderValue::from_static(checksum::ALGORITHMS));
        response.headers_mut().remove(headers::TUS_RESUMABLE);
        match self.max_size {
            Some(max) => response.number(headers::TUS_MAX_SIZE, max),
            None => response,
        }
    }

    fn target<'p>(&'p self, path: &'p str) -> Target<'p> {
        match &self.base_path {
            Some((base, mount)) => {
                let relative = match mount {
                    Mount::Stripped => path,
                    Mount::Direct => match path.strip_prefix(base.as_str()) {
                        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
                        _ => return Target::Unknown,
                    },
                };
                match relative.trim_start_matches('/').trim_end_matches('/') {
                    "" => Target::Collection(base),
                    segment if !segment.contains('/') => segment.parse().map_or(Target::Unknown, Target::Upload),
                    _ => Target::Unknown,
                }
            }
            None => {
                let trimmed = path.trim_end_matches('/');
                let last = trimmed.rsplit('/').next().unwrap_or_default();
                last.parse().map_or(Target::Collection(trimmed), Target::Upload)
            }
        }
    }

    /// `scheme://host/collection` (or just the path when the request names no host): `Location` minus the id.
    fn location_base(&self, head: RequestHead<'_>, collection: &str) -> Result<String, Response> {
        let host = match parse::single(head.headers, &HOST) {
            Single::Repeated => return Err(Response::refuse(StatusCode::BAD_REQUEST, "Host appears more than once")),
            Single::Present(value) => {
                let authority = value
                    .to_str()
                    .ok()
                    .and_then(|s| s.parse::<http::uri::Authority>().ok())
                    .filter(|a| !a.as_str().contains('@'));
                match authority {
                    Some(a) => Some(a.as_str().to_owned()),
                    None => return Err(Response::refuse(StatusCode::BAD_REQUEST, "invalid Host header")),
                }
            }
            Single::Absent => head.uri.authority().map(|a| a.as_str().to_owned()),
        };
        // Trusting proxies without knowing who is asking would silently ignore their headers: refuse, loudly.
        if !self.trusted_proxies.is_empty() && head.peer.is_none() {
            return Err(Response::misconfigured(
                "trusted proxies are configured, but the driver gave no peer address (RequestHead::with_peer; with \
                 tus-hyper behind a router, insert a PeerAddr extension)",
            ));
        }
        Ok(match host {
            None => collection.to_owned(),
            Some(host) => {
                let scheme = crate::proxy::forwarded_scheme(&self.trusted_proxies, head.peer, head.headers)
                    .or_else(|| head.uri.scheme_str().filter(|s| *s == "https"))
                    .unwrap_or("http");
                format!("{scheme}://{host}{collection}")
            }
        })
    }
}

fn effective_method(head: RequestHead<'_>) -> Result<Method, &'static str> {
    // A HEAD request stays a HEAD, whatever it asks: its answer can carry no body (and it brings none). Routed as
    // a PATCH, a refusal after the first step (409, 413, ...) came back with a body.
    if head.method == Method::HEAD {
        return Ok(Method::HEAD);
    }
    match parse::single(head.headers, &headers::X_HTTP_METHOD_OVERRIDE) {
        Single::Absent => Ok(head.method.clone()),
        Single::Repeated => Err("X-HTTP-Method-Override appears more than once"),
        Single::Present(value) => {
            Method::from_bytes(value.as_bytes().trim_ascii()).map_err(|_| "invalid X-HTTP-Method-Override")
        }
    }
}

fn check_version(headers: &HeaderMap) -> Result<(), Response> {
    let supported = match parse::single(headers, &headers::TUS_RESUMABLE) {
        Single::Present(value) => parse::is_supported_version(value.as_bytes()),
        Single::Absent | Single::Repeated => false,
    };
    if supported {
        return Ok(());
    }
    Err(Response::refuse(StatusCode::PRECONDITION_FAILED, "Tus-Resumable must be 1.0.0")
        .header(headers::TUS_VERSION, HeaderValue::from_static(TUS_VERSION)))
}

fn not_allowed(allow: &'static str) -> Response {
    Response::refuse(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        .header(ALLOW, HeaderValue::from_static(allow))
}
