//! A small model TUS server written to the letter of tus 1.0.0 (creation, creation-defer-length,
//! creation-with-upload, termination), answering raw requests without sockets, and a tiny HTTP/1.1 server that
//! puts any [`Transport`] on a loopback socket for the command-line tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tus_conformance::headers::Headers;
use tus_conformance::{AfterCut, ClientError, RawRequest, Response, Transport, Url};

pub const MAX: u64 = 1_000_000;

#[derive(Default)]
pub struct Upload {
    pub length: Option<u64>,
    pub data: Vec<u8>,
    pub metadata: Option<String>,
}

#[derive(Default)]
pub struct Model {
    /// Uploads by id.
    pub uploads: HashMap<String, Upload>,
    next: u64,
}

pub fn header<'a>(req: &'a RawRequest, name: &str) -> Option<&'a str> {
    req.header_value(name).and_then(|v| std::str::from_utf8(v).ok()).map(str::trim)
}

fn digits(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

pub fn response(status: u16, headers: &[(&str, String)]) -> Response {
    let mut h = Headers::default();
    h.push("Tus-Resumable", "1.0.0");
    for (n, v) in headers {
        h.push(n, v);
    }
    Response {
        version: "HTTP/1.1".into(),
        status,
        reason: String::new(),
        headers: h,
        body: Vec::new(),
        interim: Vec::new(),
        keep_alive: true,
    }
}

fn metadata_ok(raw: &str) -> bool {
    let mut keys = Vec::new();
    raw.split(',').all(|pair| {
        let pair = pair.trim();
        let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
        let ok = !k.is_empty() && !keys.contains(&k) && STANDARD.decode(v.trim()).is_ok();
        keys.push(k);
        ok
    })
}

impl Model {
    /// Answers one request.
    pub fn handle(&mut self, req: &RawRequest) -> Response {
        let method = req.effective_method().to_ascii_uppercase();
        if method == "OPTIONS" {
            return response(
                204,
                &[
                    ("Tus-Version", "1.0.0".into()),
                    ("Tus-Extension", "creation,creation-defer-length,creation-with-upload,termination".into()),
                    ("Tus-Max-Size", MAX.to_string()),
                ],
            );
        }
        if header(req, "tus-resumable") != Some("1.0.0") {
            return response(412, &[("Tus-Version", "1.0.0".into())]);
        }
        let (body, complete) = req.delivered_body();
        let path = req.target.split('?').next().unwrap_or("");
        let id = path.strip_prefix("/files/").filter(|s| !s.is_empty());
        match (method.as_str(), id) {
            ("POST", None) => self.create(req, body),
            ("HEAD", Some(id)) => match self.uploads.get(id) {
                None => response(404, &[]),
                Some(u) => {
                    let mut h = vec![("Upload-Offset", u.data.len().to_string()), ("Cache-Control", "no-store".into())];
                    match u.length {
                        Some(l) => h.push(("Upload-Length", l.to_string())),
                        None => h.push(("Upload-Defer-Length", "1".into())),
                    }
                    if let Some(m) = &u.metadata {
                        h.push(("Upload-Metadata", m.clone()));
                    }
                    response(200, &h)
                }
            },
            ("PATCH", Some(id)) => self.patch(req, id, body, complete),
            ("DELETE", Some(id)) => match self.uploads.remove(id) {
                Some(_) => response(204, &[]),
                None => response(404, &[]),
            },
            _ => response(405, &[]),
        }
    }

    fn create(&mut self, req: &RawRequest, body: Vec<u8>) -> Response {
        let length = match (header(req, "upload-length"), header(req, "upload-defer-length")) {
            (Some(l), None) => match digits(l) {
                Some(l) if l > MAX => return response(413, &[]),
                Some(l) => Some(l),
                None => return response(400, &[]),
            },
            (None, Some("1")) => None,
            _ => return response(400, &[]),
        };
        let metadata = header(req, "upload-metadata").map(str::to_string);
        if metadata.as_deref().is_some_and(|m| !metadata_ok(m)) {
            return response(400, &[]);
        }
        let with_data = header(req, "content-type") == Some("application/offset+octet-stream");
        if with_data && length.is_some_and(|l| body.len() as u64 > l) {
            return response(413, &[]);
        }
        self.next += 1;
        let id = format!("u{}", self.next);
        let data = if with_data { body } else { Vec::new() };
        let offset = data.len().to_string();
        self.uploads.insert(id.clone(), Upload { length, data, metadata });
        response(201, &[("Location", format!("/files/{id}")), ("Upload-Offset", offset)])
    }

    fn patch(&mut self, req: &RawRequest, id: &str, body: Vec<u8>, complete: bool) -> Response {
        let Some(u) = self.uploads.get_mut(id) else { return response(404, &[]) };
        if header(req, "content-type") != Some("application/offset+octet-stream") {
            return response(415, &[]);
        }
        let offsets: Vec<&[u8]> =
            req.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("upload-offset")).map(|(_, v)| &v[..]).collect();
        let Some(offset) = (offsets.len() == 1).then(|| digits(&String::from_utf8_lossy(offsets[0]))).flatten() else {
            return response(400, &[]);
        };
        if offset != u.data.len() as u64 {
            return response(409, &[("Upload-Offset", u.data.len().to_string())]);
        }
        if u.length.is_none() {
            u.length = header(req, "upload-length").and_then(digits);
        }
        if u.length.is_some_and(|l| offset + body.len() as u64 > l) {
            return response(413, &[]);
        }
        u.data.extend_from_slice(&body);
        if !complete {
            return response(400, &[("Upload-Offset", u.data.len().to_string())]);
        }
        response(204, &[("Upload-Offset", u.data.len().to_string())])
    }
}

impl Transport for Model {
    fn send(&mut self, _url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
        match req.delivery.cut {
            Some((n, AfterCut::Close)) => {
                self.handle(req);
                Err(ClientError::CutOff(n))
            }
            Some((_, AfterCut::Stall)) => Err(ClientError::Unsupported("stall".into())),
            _ => Ok(self.handle(req)),
        }
    }

    fn name(&self) -> &str {
        "memory-model"
    }
}

/// Serves `transport` over HTTP/1.1 on 127.0.0.1 (a thread per connection, keep-alive; bodies framed by
/// Content-Length or chunked coding); returns the base URL `http://127.0.0.1:PORT/files/`. Enough for the
/// suite's plain requests, not for its network-fault scenarios.
pub fn serve<T: Transport + Send + 'static>(transport: T) -> (String, Arc<Mutex<T>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shared = Arc::new(Mutex::new(transport));
    let server = shared.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let server = server.clone();
            thread::spawn(move || {
                let _ = connection(stream, &server);
            });
        }
    });
    (format!("http://{addr}/files/"), shared)
}

fn connection<T: Transport>(stream: TcpStream, server: &Mutex<T>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or("/"));
        let mut req = RawRequest::new(method, target);
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut field = String::new();
            reader.read_line(&mut field)?;
            let field = field.trim_end();
            if field.is_empty() {
                break;
            }
            let (name, value) = field.split_once(':').unwrap_or((field, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else {
                req = req.header(name, value);
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
                if size == 0 {
                    // Trailer fields, up to the empty line.
                    loop {
                        let mut t = String::new();
                        if reader.read_line(&mut t)? == 0 || t.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        }
        req.body = body;
        let url = Url::parse("http://127.0.0.1/").expect("url");
        let resp = server.lock().expect("model").send(&url, &req);
        let resp = resp.unwrap_or_else(|e| response(500, &[("X-Error", e.to_string())]));
        let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, resp.reason).into_bytes();
        for (n, v) in resp.headers.iter() {
            if !n.eq_ignore_ascii_case("content-length") {
                out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
            }
        }
        if method != "HEAD" {
            out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if method != "HEAD" {
            out.extend_from_slice(&resp.body);
        }
        writer.write_all(&out)?;
    }
}
