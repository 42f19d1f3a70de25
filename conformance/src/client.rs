//! A raw, blocking HTTP/1.1 client over `std::net::TcpStream` (plain, or TLS through rustls for `https://` URLs,
//! see [`Tls`]), built to send what well-behaved clients never do.
//!
//! A [`RawRequest`] is written byte for byte: any method and target, header lines in the given order (duplicates,
//! odd bytes and missing `Host` included), a body framed by an honest or lying `Content-Length`, by chunked
//! encoding, or not at all, delivered in pieces with pauses, and optionally cut off after N bytes (then closed,
//! half-closed or left open). Responses are parsed leniently but completely: status line, headers (case-insensitive,
//! repeated names kept), interim 1xx responses (recorded, then skipped), and the body by `Content-Length`, chunked
//! coding or connection close. Every read and write is bounded by a deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use crate::headers::Headers;
use crate::tls::{Tls, TlsStream};
use crate::url::Url;

/// Largest response head accepted (status line plus headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest response body kept; larger bodies are an error (a TUS server never sends big bodies).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Time limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Bound for establishing the TCP connection.
    pub connect: Duration,
    /// Bound for each write, and for the whole response once the request is sent.
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(5), io: Duration::from_secs(10) }
    }
}

/// How the body is framed on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Framing {
    /// `Content-Length: <body length>` unless a `Content-Length` or `Transfer-Encoding` header is already listed;
    /// for an empty body, only on POST, PATCH and PUT (`Content-Length: 0`).
    #[default]
    Auto,
    /// `Content-Length: n`, whatever the body length (a lie when they differ).
    Length(u64),
    /// `Transfer-Encoding: chunked`, chunks of at most `chunk` bytes, then the given trailer fields.
    Chunked {
        /// Largest chunk size (0 means one chunk for the whole body).
        chunk: usize,
        /// Trailer fields sent after the last chunk.
        trailers: Vec<(String, Vec<u8>)>,
    },
    /// No framing header at all: the body bytes simply follow the head.
    Bare,
}

/// What to do once a cut-off body stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCut {
    /// Close the whole connection (no response is read).
    Close,
    /// Shut down the write side, then read whatever response comes.
    HalfClose,
    /// Leave the connection open and idle (a stalled client); only [`Connection`] users can do this.
    Stall,
}

/// How the body bytes are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Write the body in pieces of this many wire bytes (None: all at once).
    pub piece: Option<usize>,
    /// Pause between pieces.
    pub pause: Duration,
    /// Stop after this many body wire bytes, then do `after`.
    pub cut: Option<(usize, AfterCut)>,
}

/// One request, exactly as it will be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// Method token (any bytes are sent as given).
    pub method: String,
    /// Request target (origin-form path, `*`, or anything else).
    pub target: String,
    /// Protocol version on the request line.
    pub version: String,
    /// Header lines in order; duplicates are sent as duplicates.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body payload (before framing).
    pub body: Vec<u8>,
    /// Framing of the body.
    pub framing: Framing,
    /// Delivery plan of the body.
    pub delivery: Delivery,
}

impl RawRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, target: &str) -> RawRequest {
        RawRequest {
            method: method.to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            framing: Framing::Auto,
            delivery: Delivery::default(),
        }
    }

    /// Appends a header line.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> RawRequest {
        self.headers.push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> RawRequest {
        self.body = body.into();
        self
    }

    /// The method whose response rules apply: the `X-HTTP-Method-Override` value if present, else the method.
    pub fn effective_method(&self) -> String {
        self.header_value("x-http-method-override")
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .unwrap_or_else(|| self.method.clone())
    }

    /// The first header value with this name (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// The head bytes: request line, header lines (plus the framing header) and the empty line.
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        match &self.framing {
            Framing::Auto => {
                let has =
                    self.header_value("content-length").is_some() || self.header_value("transfer-encoding").is_some();
                let wants = !self.body.is_empty()
                    || ["POST", "PATCH", "PUT"].iter().any(|m| m.eq_ignore_ascii_case(&self.method));
                if !has && wants {
                    out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
                }
            }
            Framing::Length(n) => out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes()),
            Framing::Chunked { .. } => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Framing::Bare => {}
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The body bytes as they go on the wire (chunk-encoded when chunked).
    pub fn body_wire(&self) -> Vec<u8> {
        match &self.framing {
            Framing::Chunked { chunk, trailers } => {
                let size = if *chunk == 0 { self.body.len().max(1) } else { *chunk };
                let mut out = Vec::with_capacity(self.body.len() + 64);
                for piece in self.body.chunks(size) {
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n");
                for (name, value) in trailers {
                    out.extend_from_slice(name.as_bytes());
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(value);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"\r\n");
                out
            }
            _ => self.body.clone(),
        }
    }
}

impl RawRequest {
    /// What a server would receive as the body payload, for in-memory transports: the wire bytes up to the cut,
    /// de-chunked when chunked, limited by a `Content-Length` framing. The flag says whether the body is complete
    /// (all declared bytes, or the last chunk, arrived).
    pub fn delivered_body(&self) -> (Vec<u8>, bool) {
        let wire = self.body_wire();
        let sent = self.delivery.cut.map_or(wire.len(), |(n, _)| n.min(wire.len()));
        let wire = &wire[..sent];
        match &self.framing {
            Framing::Chunked { .. } => dechunk(wire),
            Framing::Length(n) => {
                let n = usize::try_from(*n).unwrap_or(usize::MAX);
                (wire[..n.min(wire.len())].to_vec(), wire.len() >= n)
            }
            Framing::Auto | Framing::Bare => (wire.to_vec(), sent == self.body.len()),
        }
    }
}

/// Decodes as much of a chunked body as is there; the flag says whether the last chunk arrived.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(rest, b"\r\n") else { return (out, false) };
        let line = String::from_utf8_lossy(&rest[..eol]);
        let Ok(size) = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16) else {
            return (out, false);
        };
        rest = &rest[eol + 2..];
        if size == 0 {
            return (out, true);
        }
        let take = size.min(rest.len());
        out.extend_from_slice(&rest[..take]);
        if take < size {
            return (out, false);
        }
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

/// An interim (1xx) response seen before the final one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interim {
    /// Status code (100..=199).
    pub status: u16,
    /// Its header fields.
    pub headers: Headers,
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Version on the status line (`HTTP/1.1`).
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// Header fields (and trailers of a chunked body, appended).
    pub headers: Headers,
    /// Body bytes (decoded when chunked).
    pub body: Vec<u8>,
    /// Interim responses received before this one.
    pub interim: Vec<Interim>,
    /// Whether the connection can carry another request.
    pub keep_alive: bool,
}

impl Response {
    /// Shorthand for the first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum ClientError {
    /// The TCP connection could not be established.
    Connect(io::Error),
    /// The TLS handshake failed: a certificate that is not trusted, a server that does not speak TLS; the text
    /// says which and what to do about it.
    Tls(String),
    /// A socket error while writing or reading.
    Io(io::Error),
    /// A deadline passed; the text says during what.
    Timeout(&'static str),
    /// The server closed the connection before a complete response (bytes of response received so far).
    Closed(usize),
    /// The response could not be parsed.
    Malformed(String),
    /// The request was cut off and closed on purpose, so no response was read (body bytes sent).
    CutOff(usize),
    /// The transport cannot perform this request (for example a stall on an in-memory transport).
    Unsupported(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Connect(e) => write!(f, "connect failed: {e}"),
            ClientError::Tls(e) => write!(f, "TLS: {e}"),
            ClientError::Io(e) => write!(f, "socket error: {e}"),
            ClientError::Timeout(what) => write!(f, "timed out {what}"),
            ClientError::Closed(0) => write!(f, "connection closed without a response"),
            ClientError::Closed(n) => write!(f, "connection closed after {n} bytes of an incomplete response"),
            ClientError::Malformed(m) => write!(f, "malformed response: {m}"),
            ClientError::CutOff(n) => write!(f, "request cut off after {n} body bytes"),
            ClientError::Unsupported(m) => write!(f, "unsupported by this transport: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// What became of a connection that was watched for a while (see [`Connection::watch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// The server closed it (EOF or reset) after this long; any bytes it sent first are kept.
    Closed(Duration, Vec<u8>),
    /// Still open at the end of the watch; bytes received meanwhile are kept.
    Open(Vec<u8>),
}

/// The bytes of a connection: plain TCP, or TLS over TCP. Timeouts and shutdowns act on the TCP stream below.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stream::Plain(s) => f.debug_tuple("Plain").field(s).finish(),
            Stream::Tls(s) => f.debug_tuple("Tls").field(&s.sock).finish(),
        }
    }
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            // A server closing without close_notify is an end of stream here, as it is for plain TCP: the suite
            // frames responses itself and does not need TLS's truncation protection.
            Stream::Tls(s) => match s.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Stream::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
        }
    }

    /// Ends the write side: over TLS, close_notify first, so that the server sees a clean end of stream.
    fn shutdown_write(&mut self) -> io::Result<()> {
        if let Stream::Tls(s) = self {
            s.conn.send_close_notify();
            s.flush()?;
        }
        self.tcp().shutdown(Shutdown::Write)
    }
}

/// One TCP connection (plain or TLS) with a read buffer.
#[derive(Debug)]
pub struct Connection {
    stream: Stream,
    buf: Vec<u8>,
    received: usize,
    timeouts: Timeouts,
    peer: SocketAddr,
}

impl Connection {
    /// Connects to `authority` (`host:port`) over plain TCP, trying each resolved address within the connect
    /// timeout.
    pub fn open(authority: &str, timeouts: Timeouts) -> Result<Connection, ClientError> {
        let (stream, peer) = tcp_connect(authority, timeouts)?;
        Ok(Connection { stream: Stream::Plain(stream), buf: Vec::new(), received: 0, timeouts, peer })
    }

    /// Connects to the server of `url`: plain TCP for `http://`, TLS (checked as `tls` says, handshake done
    /// within the I/O timeout) for `https://`.
    pub fn open_url(url: &Url, timeouts: Timeouts, tls: &Tls) -> Result<Connection, ClientError> {
        if !url.https {
            return Connection::open(&url.authority(), timeouts);
        }
        let (tcp, peer) = tcp_connect(&url.authority(), timeouts)?;
        let stream = Stream::Tls(Box::new(tls.connect(&url.host, tcp)?));
        Ok(Connection { stream, buf: Vec::new(), received: 0, timeouts, peer })
    }

    /// Whether this connection speaks TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The address connected to.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Writes bytes (each write bounded by the I/O timeout).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout("writing the request"),
            _ => ClientError::Io(e),
        })
    }

    /// Shuts down the write side (the server sees end of stream).
    pub fn half_close(&mut self) -> Result<(), ClientError> {
        self.stream.shutdown_write().map_err(ClientError::Io)
    }

    /// Writes a request following its delivery plan. Returns the number of body wire bytes written; on a write
    /// error the bytes written before it are returned with the error (the server may have answered early).
    pub fn send(&mut self, req: &RawRequest) -> Result<usize, (usize, ClientError)> {
        self.write_all(&req.head_bytes()).map_err(|e| (0, e))?;
        let wire = req.body_wire();
        let limit = req.delivery.cut.map_or(wire.len(), |(n, _)| n.min(wire.len()));
        let piece = req.delivery.piece.filter(|&p| p > 0).unwrap_or(limit.max(1));
        let mut sent = 0;
        while sent < limit {
            if sent > 0 && !req.delivery.pause.is_zero() {
                thread::sleep(req.delivery.pause);
            }
            let end = (sent + piece).min(limit);
            self.write_all(&wire[sent..end]).map_err(|e| (sent, e))?;
            sent = end;
        }
        match req.delivery.cut {
            Some((_, AfterCut::HalfClose)) => self.half_close().map_err(|e| (sent, e))?,
            Some((_, AfterCut::Close)) => {
                // Abruptly, without TLS's close_notify: a client that went away.
                let _ = self.stream.tcp().shutdown(Shutdown::Both);
            }
            Some((_, AfterCut::Stall)) | None => {}
        }
        Ok(sent)
    }

    /// Sends a request and reads its response (bounded by the I/O timeout). A request cut off with
    /// [`AfterCut::Close`] yields [`ClientError::CutOff`]; with [`AfterCut::Stall`] it is unsupported here.
    pub fn exchange(&mut self, req: &RawRequest) -> Result<Response, ClientError> {
        if let Some((_, AfterCut::Stall)) = req.delivery.cut {
            return Err(ClientError::Unsupported("a stalled request needs Connection::send".into()));
        }
        match self.send(req) {
            Ok(sent) => {
                if let Some((_, AfterCut::Close)) = req.delivery.cut {
                    return Err(ClientError::CutOff(sent));
                }
            }
            Err((_, e)) => {
                // The server may have answered and closed before reading the body: try to read that answer.
                let deadline = Instant::now() + self.timeouts.io.min(Duration::from_secs(2));
                return self.read_response(&req.effective_method(), deadline).map_err(|_| e);
            }
        }
        let deadline = Instant::now() + self.timeouts.io;
        let mut resp = self.read_response(&req.effective_method(), deadline)?;
        if !req.effective_method().eq_ignore_ascii_case(&req.method) {
            // Framed by the override's rules (a HEAD has no body), which the server may not have followed:
            // never reuse the connection, so stray body bytes cannot be taken for the next response.
            resp.keep_alive = false;
        }
        Ok(resp)
    }

    /// Reads one complete response to a request made with `method`, skipping (and recording) 1xx responses.
    pub fn read_response(&mut self, method: &str, deadline: Instant) -> Result<Response, ClientError> {
        let mut interim = Vec::new();
        loop {
            let head = self.read_head(deadline)?;
            let (version, status, reason, headers) = parse_head(&head)?;
            if (100..200).contains(&status) && status != 101 {
                interim.push(Interim { status, headers });
                continue;
            }
            let mut keep_alive = (version.eq_ignore_ascii_case("HTTP/1.1")
                && !headers.has_token("connection", "close"))
                || headers.has_token("connection", "keep-alive");
            let no_body = method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 || status == 101;
            let mut headers = headers;
            let body = if no_body {
                Vec::new()
            } else if headers.has_token("transfer-encoding", "chunked") {
                let (body, trailers) = self.read_chunked(deadline)?;
                for (n, v) in trailers.iter() {
                    headers.push(n, v);
                }
                body
            } else if let Some(cl) = headers.get("content-length") {
                let n: usize =
                    cl.trim().parse().map_err(|_| ClientError::Malformed(format!("Content-Length {cl:?}")))?;
                if n > MAX_BODY {
                    return Err(ClientError::Malformed(format!("body of {n} bytes is too large")));
                }
                self.read_exact_body(n, deadline)?
            } else {
                keep_alive = false;
                self.read_to_close(deadline)?
            };
            return Ok(Response { version, status, reason, headers, body, interim, keep_alive });
        }
    }

    /// Watches an idle connection for up to `within`: did the server close it (and when)?
    pub fn watch(&mut self, within: Duration) -> Watch {
        let start = Instant::now();
        let deadline = start + within;
        let mut got = std::mem::take(&mut self.buf);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Watch::Open(got);
            }
            let _ = self.stream.tcp().set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))));
            let mut tmp = [0u8; 4096];
            match self.stream.read(&mut tmp) {
                Ok(0) => return Watch::Closed(start.elapsed(), got),
                Ok(n) => got.extend_from_slice(&tmp[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Watch::Closed(start.elapsed(), got),
            }
        }
    }

    /// Reads more bytes into the buffer; `Ok(false)` on end of stream.
    fn fill(&mut self, deadline: Instant, what: &'static str) -> Result<bool, ClientError> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout(what));
            }
            let wait = (deadline - now).min(self.timeouts.io).max(Duration::from_millis(1));
            self.stream.tcp().set_read_timeout(Some(wait)).map_err(ClientError::Io)?;
            let mut tmp = [0u8; 16 * 1024];
            match self.stream.read(&mut tmp) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    self.received += n;
                    return Ok(true);
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if self.received > 0 || !self.buf.is_empty() => return Err(ClientError::Io(e)),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(false),
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }

    fn read_head(&mut self, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let rest = self.buf.split_off(end + 4);
                let head = std::mem::replace(&mut self.buf, rest);
                return Ok(head);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ClientError::Malformed("response head too large".into()));
            }
            if looks_like_tls(&self.buf) {
                return Err(ClientError::Malformed(
                    "the server answered with TLS bytes: this port speaks https, the URL says http://".into(),
                ));
            }
            if !self.fill(deadline, "waiting for the response head")? {
                if looks_like_tls(&self.buf) {
                    continue;
                }
                return Err(ClientError::Closed(self.buf.len()));
            }
        }
    }

    fn read_line(&mut self, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let rest = self.buf.split_off(end + 2);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.truncate(end);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ClientError::Malformed("chunk line too long".into()));
            }
            if !self.fill(deadline, "reading a chunked body")? {
                return Err(ClientError::Closed(self.received));
            }
        }
    }

    fn read_exact_body(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        while self.buf.len() < n {
            if !self.fill(deadline, "reading the response body")? {
                return Err(ClientError::Closed(self.received));
            }
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    fn read_chunked(&mut self, deadline: Instant) -> Result<(Vec<u8>, Headers), ClientError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(deadline)?;
            let text = String::from_utf8_lossy(&line);
            let size_text = text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| ClientError::Malformed(format!("chunk size {size_text:?}")))?;
            if body.len() + size > MAX_BODY {
                return Err(ClientError::Malformed("chunked body too large".into()));
            }
            if size == 0 {
                let mut trailers = Headers::default();
                loop {
                    let line = self.read_line(deadline)?;
                    if line.is_empty() {
                        return Ok((body, trailers));
                    }
                    let (n, v) = split_field(&line)?;
                    trailers.push(&n, &v);
                }
            }
            let data = self.read_exact_body(size + 2, deadline)?;
            if &data[size..] != b"\r\n" {
                return Err(ClientError::Malformed("chunk not followed by CRLF".into()));
            }
            body.extend_from_slice(&data[..size]);
        }
    }

    fn read_to_close(&mut self, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        while self.fill(deadline, "reading a body delimited by close")? {
            if self.buf.len() > MAX_BODY {
                return Err(ClientError::Malformed("body too large".into()));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }
}

/// Whether a response starts like a TLS record (an alert or a handshake, TLS 1.0 to 1.3) rather than `HTTP/`: what a
/// TLS server answers to a plain HTTP request.
fn looks_like_tls(buf: &[u8]) -> bool {
    matches!(buf, [0x15 | 0x16, 0x03, 0x00..=0x04, ..])
}

/// Opens a TCP connection to `authority` with the timeouts set, trying each resolved address.
fn tcp_connect(authority: &str, timeouts: Timeouts) -> Result<(TcpStream, SocketAddr), ClientError> {
    let addrs = authority.to_socket_addrs().map_err(ClientError::Connect)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{authority} resolved to nothing"));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeouts.connect) {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(ClientError::Io)?;
                stream.set_write_timeout(Some(timeouts.io)).map_err(ClientError::Io)?;
                stream.set_read_timeout(Some(timeouts.io)).map_err(ClientError::Io)?;
                return Ok((stream, addr));
            }
            Err(e) => last = e,
        }
    }
    Err(ClientError::Connect(last))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split_field(line: &[u8]) -> Result<(String, String), ClientError> {
    let text = String::from_utf8_lossy(line);
    let (name, value) =
        text.split_once(':').ok_or_else(|| ClientError::Malformed(format!("header line without colon: {text:?}")))?;
    Ok((name.trim().to_string(), value.trim().to_string()))
}

/// Parses a response head (status line and header lines, CRLF-separated).
fn parse_head(head: &[u8]) -> Result<(String, u16, String, Headers), ClientError> {
    let head = head.strip_suffix(b"\r\n\r\n").unwrap_or(head);
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).to_string();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("").to_string();
    if !version.starts_with("HTTP/") {
        return Err(ClientError::Malformed(format!("status line {status_line:?}")));
    }
    let code = parts.next().unwrap_or("");
    let status = match code.parse::<u16>() {
        Ok(s) if code.len() == 3 && (100..=999).contains(&s) => s,
        _ => return Err(ClientError::Malformed(format!("status line {status_line:?}"))),
    };
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Headers::default();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            headers.continue_last(String::from_utf8_lossy(line).trim());
            continue;
        }
        let (n, v) = split_field(line)?;
        headers.push(&n, &v);
    }
    Ok((version, status, reason, headers))
}

/// Connects, sends one request and reads its response on a fresh connection.
pub fn one_shot(authority: &str, req: &RawRequest, timeouts: Timeouts) -> Result<Response, ClientError> {
    Connection::open(authority, timeouts)?.exchange(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_body_applies_cuts_and_chunking() {
        let mut r = RawRequest::new("PATCH", "/u").body(b"hello world".to_vec());
        assert_eq!(r.delivered_body(), (b"hello world".to_vec(), true));
        r.delivery.cut = Some((4, AfterCut::Close));
        assert_eq!(r.delivered_body(), (b"hell".to_vec(), false));
        r.framing = Framing::Chunked { chunk: 5, trailers: Vec::new() };
        r.delivery.cut = None;
        assert_eq!(r.delivered_body(), (b"hello world".to_vec(), true));
        r.delivery.cut = Some((13, AfterCut::Close)); // "5\r\nhello\r\n5\r\n " + nothing of the second chunk
        assert_eq!(r.delivered_body(), (b"hello".to_vec(), false));
        r.framing = Framing::Length(20);
        r.delivery.cut = None;
        assert_eq!(r.delivered_body(), (b"hello world".to_vec(), false));
        r.framing = Framing::Length(5);
        assert_eq!(r.delivered_body(), (b"hello".to_vec(), true));
    }
}
