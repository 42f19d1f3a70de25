//! Shared helpers of the end-to-end tests.
//!
//! - Real TUS clients (clients.rs, everyday.rs, checksum.rs, concat.rs): client processes run under a deadline and
//!   are killed by their PID past it; the clients are installed once per checkout by
//!   `conformance/scripts/peers.sh install tus-js-client|tuspy` (pinned versions, into `target/tus-peers/`).
//! - The raw HTTP/1.1 client of the socket-level tests: [`request`] builds a request, [`exchange`] sends it on a new
//!   connection and reads the [`Reply`]; [`connect`] and [`read_reply`] for tests that write a request in pieces or
//!   read more than one response. Every connection has read and write timeouts, given by the caller.
//! - Test data and waiting: [`pattern`], [`wait_until`].
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Runs `command` to completion or until `timeout`, when it is killed (by its PID, through the child handle) and
/// this panics. Returns (success, stdout, stderr). Output is read on threads so a chatty child cannot block on a full
/// pipe.
pub(crate) fn run_bounded(command: &mut Command, timeout: Duration) -> (bool, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let out = read_on_a_thread(child.stdout.take().expect("stdout"));
    let err = read_on_a_thread(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().expect("stdout reader"), err.join().expect("stderr reader"));
    match status {
        Some(status) => (status.success(), out, err),
        None => panic!("{command:?} still running after {timeout:?}: killed\nstdout: {out}\nstderr: {err}"),
    }
}

/// Runs `command` as [`run_bounded`] does and returns its stdout; panics (showing its output) when it fails.
pub(crate) fn run(command: &mut Command, timeout: Duration) -> String {
    let (ok, out, err) = run_bounded(command, timeout);
    assert!(ok, "{command:?} failed:\nstdout: {out}\nstderr: {err}");
    out
}

/// Reads `stream` to its end on a thread of its own.
fn read_on_a_thread(mut stream: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
}

/// `peers.sh install CLIENT` (once per checkout: the script keeps what it installed and locks while it installs)
/// and the value of the `NAME=` line it prints.
pub(crate) fn install(client: &str, name: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/scripts/peers.sh");
    // A first install downloads from npm / PyPI: allow it time.
    let out = run(Command::new("bash").arg(script).args(["install", client]), Duration::from_secs(900));
    let value = out.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("no {name} in {out}"));
    PathBuf::from(value)
}

/// The directory whose `node_modules` holds tus-js-client.
pub(crate) fn node_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| install("tus-js-client", "NODE_PREFIX="))
}

/// The python of a venv with tuspy.
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| install("tuspy", "PYTHON="))
}

/// The client scripts (`adapters/e2e/clients/`).
pub(crate) fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

// ---------------------------------------------------------------------------------------------------------------
// Raw HTTP/1.1

/// A response as read off the socket.
pub(crate) struct Reply {
    /// The response head as read (status line and headers), for messages.
    pub(crate) head: String,
    pub(crate) status: u16,
    /// Header names lower-cased.
    pub(crate) headers: HashMap<String, String>,
    /// The body, its framing (`Content-Length` or chunked) undone, as text (bodies here are short reasons).
    pub(crate) body: String,
}

impl Reply {
    /// A header by its lower-case name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// `Upload-Offset`, if present.
    pub(crate) fn offset(&self) -> Option<u64> {
        self.header("upload-offset").map(|v| v.parse().expect("numeric Upload-Offset"))
    }

    /// The upload id at the end of `Location`, if present.
    pub(crate) fn id(&self) -> Option<String> {
        self.header("location").map(|l| l.rsplit('/').next().expect("id").to_owned())
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .finish()
    }
}

/// A new connection to `addr` whose reads and writes time out after `timeout`.
pub(crate) fn connect(addr: SocketAddr, timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(timeout)).expect("read timeout");
    stream.set_write_timeout(Some(timeout)).expect("write timeout");
    stream
}

/// A request with `Host`, the TUS header and `Connection: close`, then `headers`, and `body` as it is: its framing
/// (`Content-Length` or `Transfer-Encoding`) is the caller's.
pub(crate) fn request(method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// `Content-Type: application/offset+octet-stream`, as a header for [`request`].
pub(crate) fn octets() -> (&'static str, String) {
    ("Content-Type", "application/offset+octet-stream".to_owned())
}

/// Sends `request` on a new connection (reads and writes time out after `timeout`) and reads the response; panics
/// when there is none. A request starting with `HEAD ` is answered without a body.
pub(crate) fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Reply {
    let mut stream = connect(addr, timeout);
    stream.write_all(request).expect("send the request");
    read_reply(&mut stream, request.starts_with(b"HEAD ")).unwrap_or_else(|e| panic!("reading the response: {e}"))
}

/// Reads one response from `stream`: its head, then its body by its framing (`Content-Length`, chunked, or up to
/// the end of the connection); none for a `HEAD` request, a 1xx, 204 or 304. Reads no further than the response,
/// so the stream can carry on (after a `100 Continue`, say).
pub(crate) fn read_reply(stream: &mut TcpStream, head_request: bool) -> io::Result<Reply> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection closed before the response head ended: {:?}", String::from_utf8_lossy(&raw)),
            ));
        }
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("status line {status_line:?}")))?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if head_request || status < 200 || status == 204 || status == 304 {
        Vec::new()
    } else if headers.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(stream)?
    } else if let Some(length) = headers.get("content-length") {
        let length = length.parse().map_err(|_| invalid(format!("Content-Length {length:?}")))?;
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        stream.read_to_end(&mut body)?;
        body
    };
    Ok(Reply { head, status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// A chunked body, its chunks joined; the trailer section is read and dropped.
fn read_chunked(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(stream)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("chunk size line {line:?}")))?;
        if size == 0 {
            while !read_line(stream)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        stream.read_exact(&mut body[start..])?;
        read_line(stream)?;
    }
}

/// One line, without its CRLF.
fn read_line(stream: &mut TcpStream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in a chunked body"));
        }
        line.push(byte[0]);
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// `POST /files/` of an upload of `length`; asserts 201 and returns the new upload's id.
pub(crate) fn create(addr: SocketAddr, length: u64, timeout: Duration) -> String {
    let reply = exchange(addr, &request("POST", "/files/", &[("Upload-Length", length.to_string())], b""), timeout);
    assert_eq!(reply.status, 201, "creation: {reply:?}");
    reply.id().expect("Location")
}

/// `HEAD /files/<id>`; asserts 204 and returns `Upload-Offset`.
pub(crate) fn head_offset(addr: SocketAddr, id: &str, timeout: Duration) -> u64 {
    let reply = exchange(addr, &request("HEAD", &format!("/files/{id}"), &[], b""), timeout);
    assert_eq!(reply.status, 204, "HEAD: {reply:?}");
    reply.offset().expect("Upload-Offset in HEAD")
}

/// The head of a `PATCH` at `offset` with a body of `length` bytes (to follow).
pub(crate) fn patch_head(id: &str, offset: u64, length: usize) -> Vec<u8> {
    let headers = [("Upload-Offset", offset.to_string()), octets(), ("Content-Length", length.to_string())];
    request("PATCH", &format!("/files/{id}"), &headers, b"")
}

/// Waits (at most 10 s) until `HEAD` reports `expected` (the commit of a broken-off body happens just after the
/// disconnect); returns the last offset seen.
pub(crate) fn wait_for_offset(addr: SocketAddr, id: &str, expected: u64, timeout: Duration) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let offset = head_offset(addr, id, timeout);
        if offset == expected || Instant::now() > deadline {
            return offset;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Test data and waiting

/// `len` pseudo-random bytes (xorshift64*), different for every `seed` and without a period that a chunk could
/// hide in: a chunk stored or assembled at the wrong place, or a checksum of the wrong chunk, shows.
pub(crate) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Waits (at most `timeout`, looking every 20 ms) until `done` holds; whether it did.
pub(crate) fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
