//! The suite through an in-memory [`Transport`]: a small model TUS server written to the letter of tus 1.0.0
//! answers raw requests without sockets. Every applicable scenario must pass against it (the suite must not
//! call a correct server wrong), and wire-only scenarios must be "not applicable".

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tus_conformance::headers::Headers;
use tus_conformance::{run, scenarios, AfterCut, ClientError, Config, RawRequest, Response, Transport, Url, Verdict};

const MAX: u64 = 1_000_000;

#[derive(Default)]
struct Upload {
    length: Option<u64>,
    data: Vec<u8>,
    metadata: Option<String>,
}

#[derive(Default)]
struct Model {
    uploads: HashMap<String, Upload>,
    next: u64,
}

fn header<'a>(req: &'a RawRequest, name: &str) -> Option<&'a str> {
    req.header_value(name).and_then(|v| std::str::from_utf8(v).ok()).map(str::trim)
}

fn digits(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

fn response(status: u16, headers: &[(&str, String)]) -> Response {
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
    fn handle(&mut self, req: &RawRequest) -> Response {
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

#[test]
fn a_correct_server_passes_every_applicable_scenario_in_memory() {
    let mut model = Model::default();
    let config = Config::new(Url::parse("http://tus.invalid/files/").expect("url"));
    let report = run(&config, &mut model, None, &scenarios::all()).expect("report");
    assert_eq!(report.transport, "memory-model");
    let all = scenarios::all();
    assert_eq!(report.results.len(), all.len());
    for r in &report.results {
        let wire_only = all.iter().any(|s| s.id == r.id && s.wire_only());
        // Extensions the model does not advertise: their scenarios must say so.
        let unoffered = ["checksum", "checksum-trailer", "concatenation", "concatenation-unfinished", "expiration"]
            .iter()
            .any(|e| r.detail == format!("server does not offer the {e} extension"));
        let ok = if wire_only || unoffered {
            r.verdict == Verdict::NotApplicable
        } else if r.level == "INFO" {
            r.verdict == Verdict::Info
        } else {
            r.verdict == Verdict::Pass
        };
        assert!(ok, "{} ({}): {:?} {}\n\n{}", r.id, r.level, r.verdict, r.detail, report.table());
    }
    assert_eq!(report.exit_code(true), 0);
    // The model's relative Location was resolved, and the extension scenarios really ran.
    assert_eq!(report.verdict("termination-delete"), Some(Verdict::Pass));
    assert_eq!(report.verdict("defer-length-flow"), Some(Verdict::Pass));
    assert_eq!(report.verdict("creation-413-max-size"), Some(Verdict::Pass));
    assert!(report.get("core-patch-chunked").expect("ran").detail.contains("PATCH 204 (offset 12)"));
    // Disconnects are simulated in memory too: the model keeps the 96 KiB that arrived.
    assert_eq!(report.verdict("fault-disconnect-keeps-data"), Some(Verdict::Pass));
    assert!(report.get("fault-disconnect-offset-bounds").expect("ran").detail.contains("HEAD offset 98304"));
}

#[test]
fn a_broken_server_is_caught() {
    /// The model, except that it ignores Upload-Offset mismatches and forgets Cache-Control.
    struct Sloppy(Model);
    impl Transport for Sloppy {
        fn send(&mut self, url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
            let mut req = req.clone();
            if req.effective_method().eq_ignore_ascii_case("PATCH") {
                let id = req.target.trim_start_matches("/files/").to_string();
                let current = self.0.uploads.get(&id).map_or(0, |u| u.data.len());
                for (n, v) in &mut req.headers {
                    if n.eq_ignore_ascii_case("upload-offset") {
                        *v = current.to_string().into_bytes();
                    }
                }
            }
            let mut resp = self.0.send(url, &req)?;
            let kept = resp.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("cache-control"));
            let mut h = Headers::default();
            for (n, v) in kept {
                h.push(n, v);
            }
            resp.headers = h;
            Ok(resp)
        }
        fn name(&self) -> &str {
            "sloppy"
        }
    }
    let mut sloppy = Sloppy(Model::default());
    let mut config = Config::new(Url::parse("http://tus.invalid/files/").expect("url"));
    config.only = vec!["core-*".into()];
    let report = run(&config, &mut sloppy, None, &scenarios::all()).expect("report");
    assert_eq!(report.verdict("core-patch-409"), Some(Verdict::Fail));
    assert_eq!(report.verdict("core-head-cache-control"), Some(Verdict::Fail));
    assert_eq!(report.verdict("core-head-offset"), Some(Verdict::Pass));
    assert_eq!(report.exit_code(false), 1);
}
