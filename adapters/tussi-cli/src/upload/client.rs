//! A small blocking TUS 1.0.0 client (core protocol and creation) over `ureq`: one request per call, the same extra
//! headers on every request, https through rustls (feature `tls`, on by default), errors sorted into those worth
//! retrying and those that are not.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use ureq::http::{HeaderMap, Response};
use ureq::Body;

const TUS_RESUMABLE: &str = "1.0.0";

/// What went wrong with one request.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// No answer: the connection failed, broke or timed out. Worth retrying.
    Transport(String),
    /// No secure connection: TLS is not built in, the server's certificate is not trusted, or the server does not
    /// speak TLS. Not worth retrying.
    Tls(String),
    /// The server answered with an unexpected status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The response body (the server's reason), shortened.
        reason: String,
    },
    /// The server answered, but not as TUS says (a missing or malformed header).
    Protocol(String),
}

impl ClientError {
    /// Whether trying again later may help: no answer, a server error (5xx), 408 Request Timeout, 423 Locked
    /// (another request still holds the upload) or 429 Too Many Requests. Not: TLS failures, other 4xx answers
    /// (409 is recovered by its caller), answers that are not TUS.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            ClientError::Transport(_) => true,
            ClientError::Status { status, .. } => *status >= 500 || matches!(status, 408 | 423 | 429),
            ClientError::Tls(_) | ClientError::Protocol(_) => false,
        }
    }

    /// The HTTP status, if the server answered.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Transport(e) => write!(f, "{e}"),
            ClientError::Tls(e) => write!(f, "TLS: {e}"),
            ClientError::Status { status, reason } => {
                let name = ureq::http::StatusCode::from_u16(*status).ok().and_then(|s| s.canonical_reason());
                write!(f, "HTTP {status}")?;
                if let Some(name) = name {
                    write!(f, " {name}")?;
                }
                if !reason.is_empty() {
                    write!(f, ": {reason}")?;
                }
                if matches!(status, 401 | 403) {
                    write!(f, " (credentials missing or refused: --header 'Authorization: ...' sends them)")?;
                }
                Ok(())
            }
            ClientError::Protocol(e) => write!(f, "unexpected answer: {e}"),
        }
    }
}

/// What a HEAD request says about an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UploadInfo {
    /// Bytes the server has.
    pub(crate) offset: u64,
    /// The declared length, when the server says.
    pub(crate) length: Option<u64>,
}

/// A TUS client: one `ureq` agent, connections kept alive between requests.
pub(crate) struct Client {
    agent: ureq::Agent,
    /// Sent with every request (`--header`), checked by the command line.
    headers: Vec<(String, String)>,
}

impl Client {
    /// A client with bounded connect and response timeouts that sends `headers` with every request and trusts
    /// the CA certificates of the PEM file `ca_cert` instead of the built-in roots. The error says why `ca_cert`
    /// cannot be used.
    pub(crate) fn new(headers: &[(String, String)], ca_cert: Option<&Path>) -> Result<Client, String> {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_recv_body(Some(Duration::from_secs(30)))
            .user_agent(concat!("tussi-upload/", env!("CARGO_PKG_VERSION")));
        let config = tls::configure(config, ca_cert)?.build();
        Ok(Client { agent: config.into(), headers: headers.to_vec() })
    }

    /// Adds the `--header` headers and `Tus-Resumable` to a request.
    fn with_headers<B>(&self, mut request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request.header("Tus-Resumable", TUS_RESUMABLE)
    }

    /// Creates an upload of `length` bytes with `metadata` (`Upload-Metadata` pairs, values raw); returns the
    /// `Location` header as sent.
    pub(crate) fn create(
        &self,
        endpoint: &str,
        length: u64,
        metadata: &[(String, String)],
    ) -> Result<String, ClientError> {
        let mut request = self.with_headers(self.agent.post(endpoint)).header("Upload-Length", length.to_string());
        if !metadata.is_empty() {
            request = request.header("Upload-Metadata", encode_metadata(metadata));
        }
        let response = check(request.send_empty())?;
        header(response.headers(), "Location")
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Protocol("201 without a Location header".into()))
    }

    /// Asks for the upload's offset (and length).
    pub(crate) fn head(&self, url: &str) -> Result<UploadInfo, ClientError> {
        let response = check(self.with_headers(self.agent.head(url)).call())?;
        let headers = response.headers();
        let offset = number(headers, "Upload-Offset")?
            .ok_or_else(|| ClientError::Protocol("HEAD answer without Upload-Offset".into()))?;
        Ok(UploadInfo { offset, length: number(headers, "Upload-Length")? })
    }

    /// Sends `data` at `offset`; returns the server's new offset.
    pub(crate) fn patch(&self, url: &str, offset: u64, data: &[u8]) -> Result<u64, ClientError> {
        let result = self
            .with_headers(self.agent.patch(url))
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .send(data);
        let response = check(result)?;
        number(response.headers(), "Upload-Offset")?
            .ok_or_else(|| ClientError::Protocol("PATCH answer without Upload-Offset".into()))
    }
}

/// Turns a transport error or a status other than 2xx into a [`ClientError`].
fn check(result: Result<Response<Body>, ureq::Error>) -> Result<Response<Body>, ClientError> {
    let mut response = result.map_err(transport)?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let reason = response.body_mut().with_config().limit(4096).read_to_string().unwrap_or_default();
    let reason: String = reason.trim().chars().take(200).collect();
    Err(ClientError::Status { status, reason })
}

fn transport(error: ureq::Error) -> ClientError {
    match error {
        ureq::Error::BadUri(uri) => ClientError::Protocol(format!("bad URL {uri}")),
        ureq::Error::TlsRequired => ClientError::Tls(tls::UNAVAILABLE.into()),
        ureq::Error::Tls(why) => ClientError::Tls(why.into()),
        other => tls::classify(other).unwrap_or_else(|other| ClientError::Transport(other.to_string())),
    }
}

/// The agent's configuration being built.
type Builder = ureq::config::ConfigBuilder<ureq::typestate::AgentScope>;

/// TLS through rustls (ring, webpki roots): the agent's configuration, and rustls's errors told apart.
#[cfg(feature = "tls")]
mod tls {
    use std::path::Path;

    use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};

    use super::{Builder, ClientError};

    /// Why an https:// URL cannot be used (not with this build).
    pub(super) const UNAVAILABLE: &str = "the connection could not be secured";

    /// The TLS settings: the built-in webpki roots, or only the CA certificates of the PEM file `ca_cert`.
    pub(super) fn configure(config: Builder, ca_cert: Option<&Path>) -> Result<Builder, String> {
        let Some(path) = ca_cert else {
            return Ok(config);
        };
        let pem = std::fs::read(path).map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?;
        let mut certs = Vec::new();
        for item in parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => certs.push(cert),
                Ok(_) => {}
                Err(e) => return Err(format!("--ca-cert {} is not a PEM file: {e}", path.display())),
            }
        }
        if certs.is_empty() {
            return Err(format!("--ca-cert {} holds no certificate (PEM, BEGIN CERTIFICATE)", path.display()));
        }
        let tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&certs)).build();
        Ok(config.tls_config(tls))
    }

    /// A TLS failure, or the error back: rustls's errors come as ureq's own or inside its I/O errors.
    pub(super) fn classify(error: ureq::Error) -> Result<ClientError, ureq::Error> {
        match error {
            ureq::Error::Rustls(e) => Ok(describe(&e)),
            ureq::Error::Pem(e) => Ok(ClientError::Tls(format!("bad PEM data: {e}"))),
            ureq::Error::Io(e) => match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(rustls_error) => Ok(describe(rustls_error)),
                None => Err(ureq::Error::Io(e)),
            },
            other => Err(other),
        }
    }

    fn describe(error: &rustls::Error) -> ClientError {
        ClientError::Tls(match error {
            rustls::Error::InvalidCertificate(why) => format!(
                "the server's certificate is not accepted ({why:?}); for a private CA, pass its certificate with \
                 --ca-cert FILE"
            ),
            rustls::Error::InvalidMessage(_) => {
                format!("the server does not speak TLS ({error}); for a plain-HTTP server use an http:// URL")
            }
            other => format!("the handshake failed: {other}"),
        })
    }
}

/// Without TLS: an https:// URL fails at once, and so does `--ca-cert`.
#[cfg(not(feature = "tls"))]
mod tls {
    use std::path::Path;

    use super::{Builder, ClientError};

    /// Why an https:// URL cannot be used.
    pub(super) const UNAVAILABLE: &str =
        "https:// URLs need TLS, and this tussi-upload was built without it (the `tls` feature, on by default)";

    /// `--ca-cert` is refused.
    pub(super) fn configure(config: Builder, ca_cert: Option<&Path>) -> Result<Builder, String> {
        match ca_cert {
            Some(_) => Err(format!("--ca-cert: {UNAVAILABLE}")),
            None => Ok(config),
        }
    }

    /// Nothing to tell apart.
    pub(super) fn classify(error: ureq::Error) -> Result<ClientError, ureq::Error> {
        Err(error)
    }
}

/// Whether this build can use https:// URLs; the text says why not.
pub(crate) fn https_unavailable() -> Option<&'static str> {
    (!cfg!(feature = "tls")).then_some(tls::UNAVAILABLE)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// A header holding a non-negative integer (ASCII digits only), if present.
fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>, ClientError> {
    match header(headers, name) {
        None => Ok(None),
        Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().map(Some).map_err(|_| ClientError::Protocol(format!("{name} {text:?} out of range")))
        }
        Some(text) => Err(ClientError::Protocol(format!("{name} {text:?} is not a number"))),
    }
}

/// `Upload-Metadata`: `key base64(value)` pairs joined by commas; a key with an empty value is sent alone.
pub(crate) fn encode_metadata(pairs: &[(String, String)]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    pairs
        .iter()
        .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k} {}", engine.encode(v)) })
        .collect::<Vec<_>>()
        .join(",")
}

/// Resolves a `Location` header against the URL of the request that received it (absolute, `//host/...`,
/// `/path` and relative forms).
pub(crate) fn resolve_location(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(network_path) = location.strip_prefix("//") {
        return format!("{scheme}://{network_path}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{scheme}://{authority}{dir}{location}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_encoding() {
        let pairs = vec![("filename".to_owned(), "a b.txt".to_owned()), ("flag".to_owned(), String::new())];
        assert_eq!(encode_metadata(&pairs), "filename YSBiLnR4dA==,flag");
    }

    #[test]
    fn locations_resolve() {
        let base = "http://127.0.0.1:8080/files/";
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let full = format!("http://127.0.0.1:8080/files/{id}");
        assert_eq!(resolve_location(base, &full), full);
        assert_eq!(resolve_location(base, &format!("/files/{id}")), full);
        assert_eq!(resolve_location(base, id), full);
        assert_eq!(resolve_location("http://h:1/files", id), format!("http://h:1/{id}"));
        assert_eq!(resolve_location("https://h", "/x"), "https://h/x");
        assert_eq!(resolve_location("https://h/a/b", "//other/y"), "https://other/y");
    }

    #[test]
    fn retry_classes() {
        let status = |status| ClientError::Status { status, reason: String::new() };
        assert!(ClientError::Transport("reset".into()).retryable());
        assert!(status(500).retryable() && status(503).retryable() && status(423).retryable());
        assert!(status(408).retryable() && status(429).retryable());
        for status in [400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 460] {
            assert!(!ClientError::Status { status, reason: String::new() }.retryable(), "{status}");
        }
        assert!(!ClientError::Protocol("x".into()).retryable());
        assert!(!ClientError::Tls("x".into()).retryable());
        assert!(transport(ureq::Error::TlsRequired).to_string().starts_with("TLS: "));
        assert!(status(401).to_string().contains("--header"));
        assert_eq!(status(409).to_string(), "HTTP 409 Conflict");
    }
}
