//! A minimal blocking HTTP/1.1 client for TUS: one keep-alive connection, reused buffers, bodies written straight
//! from a shared static buffer. It speaks just enough HTTP for TUS servers: `Content-Length`, chunked and
//! read-to-close response bodies, `Connection: close`, interim 1xx responses.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Socket read and write timeout: a stuck server fails a request instead of hanging a worker.
pub const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Bodies up to this size are copied behind the request head and sent in one write.
const SMALL_BODY: usize = 16 * 1024;

/// Where a TUS endpoint lives: `http://AUTHORITY/PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port`, also sent as `Host`.
    pub authority: String,
    /// The creation path, e.g. `/files/`.
    pub path: String,
}

impl Endpoint {
    /// Parses an `http://host:port/path` URL (no https: the benchmark is loopback only).
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("not an http:// URL: {url}"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("no host in {url}"));
        }
        let authority = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
        Ok(Endpoint { authority, path: path.to_owned() })
    }

    /// The request target for a `Location` header: absolute URLs (`http://h/p`, `//h/p`) give their path (the
    /// server is assumed to be this one), absolute paths are kept, relative references are resolved against the
    /// endpoint path's directory.
    pub fn resolve(&self, location: &str) -> String {
        let location = location.trim();
        let without_scheme = location
            .strip_prefix("http://")
            .or_else(|| location.strip_prefix("https://"))
            .or_else(|| location.strip_prefix("//"));
        if let Some(rest) = without_scheme {
            return match rest.find('/') {
                Some(i) => rest[i..].to_owned(),
                None => "/".to_owned(),
            };
        }
        if location.starts_with('/') {
            return location.to_owned();
        }
        let dir = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
        let mut target = if dir.is_empty() { "/".to_owned() } else { dir.to_owned() };
        target.push_str(location.trim_start_matches("./"));
        target
    }
}

/// The parts of a response the benchmark looks at. `Location` is kept in [`Conn::location`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Upload-Offset`, when present and numeric.
    pub upload_offset: Option<u64>,
    /// Whether a `Location` header was present (its value is in [`Conn::location`]).
    pub has_location: bool,
}

/// One keep-alive connection with its buffers, reused across requests.
pub struct Conn {
    authority: String,
    stream: Option<TcpStream>,
    head: Vec<u8>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The `Location` of the last response that had one.
    pub location: String,
    /// Connections opened so far (1 for a well-behaved keep-alive server).
    pub connects: u64,
}

/// How a response body is delimited.
enum Body {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Conn {
    /// A connection to `authority` (`host:port`), opened lazily by the first request.
    pub fn new(authority: &str) -> Conn {
        Conn {
            authority: authority.to_owned(),
            stream: None,
            head: Vec::with_capacity(SMALL_BODY + 1024),
            buf: vec![0; 16 * 1024],
            start: 0,
            end: 0,
            location: String::new(),
            connects: 0,
        }
    }

    /// `POST path` with `Upload-Length: length` (TUS creation).
    pub fn post(&mut self, path: &str, length: u64) -> io::Result<Response> {
        self.exchange(b"POST", path, |h| write!(h, "Upload-Length: {length}\r\nContent-Length: 0\r\n"), &[], 0)
    }

    /// `PATCH path` at `offset` with a body of `len` bytes, taken cyclically from `source`.
    pub fn patch(&mut self, path: &str, offset: u64, source: &[u8], len: u64) -> io::Result<Response> {
        self.exchange(
            b"PATCH",
            path,
            |h| {
                write!(
                    h,
                    "Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {len}\r\n"
                )
            },
            source,
            len,
        )
    }

    /// `HEAD path`.
    pub fn head(&mut self, path: &str) -> io::Result<Response> {
        self.exchange(b"HEAD", path, |_| Ok(()), &[], 0)
    }

    /// Sends one request and reads its response. A request on a reused connection that fails before any response
    /// byte arrived (the server closed an idle connection) is sent once more on a fresh connection.
    fn exchange(
        &mut self,
        method: &[u8],
        path: &str,
        headers: impl Fn(&mut Vec<u8>) -> io::Result<()>,
        source: &[u8],
        len: u64,
    ) -> io::Result<Response> {
        self.head.clear();
        self.head.extend_from_slice(method);
        write!(self.head, " {path} HTTP/1.1\r\nHost: {}\r\nTus-Resumable: 1.0.0\r\n", self.authority)?;
        headers(&mut self.head)?;
        self.head.extend_from_slice(b"\r\n");
        let small = len as usize <= SMALL_BODY && (len == 0 || len as usize <= source.len());
        if small {
            self.head.extend_from_slice(&source[..len as usize]);
        }
        for attempt in 0..2 {
            let reused = self.stream.is_some();
            let mut got_bytes = false;
            match self.try_exchange(method == b"HEAD", small, source, len, &mut got_bytes) {
                Ok(response) => return Ok(response),
                Err(error) => {
                    self.stream = None;
                    if !(reused && !got_bytes && attempt == 0) {
                        return Err(error);
                    }
                }
            }
        }
        unreachable!("the second attempt returns")
    }

    fn try_exchange(
        &mut self,
        is_head: bool,
        small: bool,
        source: &[u8],
        len: u64,
        got_bytes: &mut bool,
    ) -> io::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.authority)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(stream);
            self.connects += 1;
            self.start = 0;
            self.end = 0;
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(&self.head)?;
        if !small {
            if source.is_empty() {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty body source"));
            }
            let mut left = len;
            while left > 0 {
                let n = left.min(source.len() as u64) as usize;
                stream.write_all(&source[..n])?;
                left -= n as u64;
            }
        }
        loop {
            let (response, body, close) = self.read_head(got_bytes)?;
            if (100..200).contains(&response.status) {
                continue;
            }
            let body = if is_head || response.status == 204 || response.status == 304 { Body::None } else { body };
            let close = self.skip_body(body)? || close;
            if close {
                self.stream = None;
            }
            return Ok(response);
        }
    }

    /// Reads more bytes into the buffer (compacting it first); fails on EOF.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= 1 << 20 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "response head over 1 MiB"));
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let stream = self.stream.as_mut().ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        let n = stream.read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by the server"));
        }
        self.end += n;
        Ok(())
    }

    fn read_head(&mut self, got_bytes: &mut bool) -> io::Result<(Response, Body, bool)> {
        let head_end = loop {
            if let Some(i) = find(&self.buf[self.start..self.end], b"\r\n\r\n") {
                break self.start + i + 4;
            }
            self.fill()?;
            *got_bytes = true;
        };
        *got_bytes = true;
        let text = std::str::from_utf8(&self.buf[self.start..head_end])
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "response head is not UTF-8"))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status =
            status_line.split(' ').nth(1).and_then(|code| code.parse::<u16>().ok()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {status_line:?}"))
            })?;
        let mut response = Response { status, upload_offset: None, has_location: false };
        let mut body = Body::UntilClose;
        let mut close = status_line.starts_with("HTTP/1.0");
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let n = value.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
                body = if n == 0 { Body::None } else { Body::Length(n) };
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                if value.to_ascii_lowercase().contains("chunked") {
                    body = Body::Chunked;
                }
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("location") {
                self.location.clear();
                self.location.push_str(value);
                response.has_location = true;
            } else if name.eq_ignore_ascii_case("upload-offset") {
                response.upload_offset = value.parse().ok();
            }
        }
        self.start = head_end;
        // A body delimited by the end of the connection closes it: `skip_body` says so.
        Ok((response, body, close))
    }

    /// Consumes a response body; returns whether the connection must be closed after it.
    fn skip_body(&mut self, body: Body) -> io::Result<bool> {
        match body {
            Body::None => Ok(false),
            Body::Length(n) => self.skip(n).map(|()| false),
            Body::UntilClose => {
                self.start = self.end;
                while self.fill().is_ok() {
                    self.start = self.end;
                }
                Ok(true)
            }
            Body::Chunked => loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf[self.start..self.end], b"\r\n") {
                        break self.start + i;
                    }
                    self.fill()?;
                };
                let size_text = std::str::from_utf8(&self.buf[self.start..line_end]).unwrap_or("");
                let size_text = size_text.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size_text, 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
                self.start = line_end + 2;
                if size == 0 {
                    // Trailers (none expected) end with an empty line.
                    loop {
                        let line_end = loop {
                            if let Some(i) = find(&self.buf[self.start..self.end], b"\r\n") {
                                break self.start + i;
                            }
                            self.fill()?;
                        };
                        let empty = line_end == self.start;
                        self.start = line_end + 2;
                        if empty {
                            return Ok(false);
                        }
                    }
                }
                self.skip(size + 2)?;
            },
        }
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        loop {
            let available = (self.end - self.start) as u64;
            if available >= n {
                self.start += n as usize;
                return Ok(());
            }
            n -= available;
            self.start = self.end;
            self.fill()?;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let e = Endpoint::parse("http://127.0.0.1:8080/files/").unwrap();
        assert_eq!(e, Endpoint { authority: "127.0.0.1:8080".into(), path: "/files/".into() });
        assert_eq!(Endpoint::parse("http://localhost").unwrap().authority, "localhost:80");
        assert!(Endpoint::parse("https://x/").is_err());
    }

    #[test]
    fn resolves_relative_and_absolute_locations() {
        let e = Endpoint::parse("http://127.0.0.1:1/files/").unwrap();
        assert_eq!(e.resolve("http://127.0.0.1:1/files/abc"), "/files/abc");
        assert_eq!(e.resolve("https://other/files/abc"), "/files/abc");
        assert_eq!(e.resolve("//127.0.0.1:1/x/y"), "/x/y");
        assert_eq!(e.resolve("/files/abc "), "/files/abc");
        assert_eq!(e.resolve("abc"), "/files/abc");
        assert_eq!(e.resolve("./abc"), "/files/abc");
        let bare = Endpoint::parse("http://127.0.0.1:1/files").unwrap();
        assert_eq!(bare.resolve("files/abc"), "/files/abc");
    }
}
