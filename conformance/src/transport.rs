//! How scenarios reach a server: the [`Transport`] trait, and [`WireTransport`] over TCP.
//!
//! A transport turns one [`RawRequest`] into one [`Response`]. The wire transport sends it with the raw client
//! (reusing a keep-alive connection when it can); an in-memory transport (for example the protocol core plus a
//! memory store) can parse the same bytes and answer without sockets. Scenarios that need real sockets (stalls,
//! concurrent connections, server timeouts) ask for [`Transport::wire`] and are "not applicable" without it.

use std::time::Duration;

use crate::client::{AfterCut, ClientError, Connection, RawRequest, Response, Timeouts};
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
}

/// The over-the-wire transport: one raw HTTP/1.1 connection at a time, kept alive between requests.
#[derive(Debug)]
pub struct WireTransport {
    timeouts: Timeouts,
    keep_alive: bool,
    idle: Option<(String, Connection)>,
}

impl WireTransport {
    /// A wire transport with these timeouts; `keep_alive` reuses connections between plain requests.
    pub fn new(timeouts: Timeouts, keep_alive: bool) -> WireTransport {
        WireTransport { timeouts, keep_alive, idle: None }
    }

    /// The timeouts of new connections.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Opens a fresh connection to the server of `url`.
    pub fn connect(&self, url: &Url) -> Result<Connection, ClientError> {
        Connection::open(&url.authority(), self.timeouts)
    }

    /// Opens a fresh connection with a different I/O timeout (for deliberately long waits).
    pub fn connect_with(&self, url: &Url, io: Duration) -> Result<Connection, ClientError> {
        Connection::open(&url.authority(), Timeouts { io, ..self.timeouts })
    }
}

impl Transport for WireTransport {
    fn send(&mut self, url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
        let authority = url.authority();
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
}
