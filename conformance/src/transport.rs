//! How scenarios reach a server: the [`Transport`] trait, and [`WireTransport`] over TCP.
//!
//! A transport turns one [`RawRequest`] into one [`Response`]. The wire transport sends it with the raw client
//! (reusing a keep-alive connection when it can); an in-memory transport (for example the protocol core plus a
//! memory store) can parse the same bytes and answer without sockets. Scenarios that need real sockets (stalls,
//! concurrent connections, server timeouts) ask for [`Transport::wire`] and are "not applicable" without it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::client::{AfterCut, ClientError, Connection, RawRequest, Response, Timeouts};
use crate::tls::Tls;
use crate::url::Url;

/// Something that can answer raw requests.
pub trait Transport {
    /// Sends `req` to the server of `url` (the request target is already in `req`) and returns the response.
    ///
    /// A request cut off with [`AfterCut::Close`] returns [`ClientError::CutOff`] once the cut is done: the
    /// server must have seen the disconnect (an in-memory transport aborts the body there).
    fn send(&mut self, url: &Url, req: &RawRequest) -> Result<Response, ClientError>;

    /// Direct socket access for wire-only scenarios; `None` for in-memory transports.
    fn wire(&self) -> Option<&WireTransport> {
        None
    }

    /// A short name for reports (`wire`, `memory`).
    fn name(&self) -> &str;

    /// How server certificates were checked, when the run used TLS or certificates are not checked at all
    /// (then always, so that it cannot go unnoticed); None otherwise.
    fn tls(&self) -> Option<TlsUse> {
        None
    }
}

/// How the run used TLS, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsUse {
    /// Whether server certificates were checked (false with `--insecure`).
    pub verified: bool,
    /// How they were checked (`checked against the Mozilla root certificates (webpki-roots)`, …).
    pub certificates: String,
    /// Whether any connection of the run spoke TLS.
    pub used: bool,
}

/// The over-the-wire transport: one raw HTTP/1.1 connection at a time, kept alive between requests; TLS for
/// `https://` URLs, with certificates checked as its [`Tls`] says (by default against the Mozilla roots).
#[derive(Debug)]
pub struct WireTransport {
    timeouts: Timeouts,
    keep_alive: bool,
    tls: Tls,
    used_tls: AtomicBool,
    idle: Option<(String, Connection)>,
}

impl WireTransport {
    /// A wire transport with these timeouts; `keep_alive` reuses connections between plain requests. Server
    /// certificates of `https://` URLs are checked against the Mozilla root certificates ([`Tls::default`]).
    pub fn new(timeouts: Timeouts, keep_alive: bool) -> WireTransport {
        WireTransport { timeouts, keep_alive, tls: Tls::default(), used_tls: AtomicBool::new(false), idle: None }
    }

    /// The same transport, checking server certificates as `tls` says (a private CA, or no check at all).
    pub fn with_tls(mut self, tls: Tls) -> WireTransport {
        self.tls = tls;
        self
    }

    /// How server certificates are checked.
    pub fn tls_config(&self) -> &Tls {
        &self.tls
    }

    /// The timeouts of new connections.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Opens a fresh connection to the server of `url` (TLS for `https://`).
    pub fn connect(&self, url: &Url) -> Result<Connection, ClientError> {
        self.connect_with(url, self.timeouts.io)
    }

    /// Opens a fresh connection with a different I/O timeout (for deliberately long waits).
    pub fn connect_with(&self, url: &Url, io: Duration) -> Result<Connection, ClientError> {
        if url.https {
            self.used_tls.store(true, Ordering::Relaxed);
        }
        Connection::open_url(url, Timeouts { io, ..self.timeouts }, &self.tls)
    }
}

impl Transport for WireTransport {
    fn send(&mut self, url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
        // Connections are told apart by scheme too: a plain and a TLS connection to one port are not the same.
        let authority = url.origin();
        let plain = req.delivery.cut.is_none();
        if plain && self.keep_alive {
            if let Some((a, mut conn)) = self.idle.take() {
                if a == authority {
                    match conn.exchange(req) {
                        Ok(resp) => {
                            if resp.keep_alive {
                                self.idle = Some((authority, conn));
                            }
                            return Ok(resp);
                        }
                        // The server closed the idle connection before reading: retry on a new one.
                        Err(ClientError::Closed(0)) | Err(ClientError::Io(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if let Some((_, AfterCut::Stall)) = req.delivery.cut {
            return Err(ClientError::Unsupported("stalled requests need a direct connection".into()));
        }
        let mut conn = self.connect(url)?;
        let resp = conn.exchange(req)?;
        if plain && self.keep_alive && resp.keep_alive {
            self.idle = Some((authority, conn));
        }
        Ok(resp)
    }

    fn wire(&self) -> Option<&WireTransport> {
        Some(self)
    }

    fn name(&self) -> &str {
        "wire"
    }

    fn tls(&self) -> Option<TlsUse> {
        let used = self.used_tls.load(Ordering::Relaxed);
        (used || !self.tls.verifies()).then(|| TlsUse {
            verified: self.tls.verifies(),
            certificates: self.tls.describe().to_string(),
            used,
        })
    }
}
