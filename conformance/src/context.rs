//! The running state of one scenario: the server's advertised capabilities, variables captured by earlier steps,
//! the transport, the data probe, notes for the report, the scenario's time budget, the exchanges it made, and
//! what the whole run shares (the headers sent with every request, the uploads created so far).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::client::{ClientError, Framing, RawRequest, Response, Timeouts};
use crate::probe::DataProbe;
use crate::report::{Exchange, DUMP_EXCHANGES_LIMIT};
use crate::runner::Config;
use crate::scenario::{RequestSpec, Target};
use crate::transport::{Transport, WireTransport};
use crate::url::Url;

/// What the server advertised through OPTIONS (or what the user said it supports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerInfo {
    /// Status of the OPTIONS response, if one came.
    pub options_status: Option<u16>,
    /// `Tus-Version` elements.
    pub versions: Vec<String>,
    /// `Tus-Extension` elements, lower-cased.
    pub extensions: Vec<String>,
    /// `Tus-Max-Size`, if advertised and numeric.
    pub max_size: Option<u64>,
    /// `Tus-Checksum-Algorithm` elements.
    pub checksum_algorithms: Vec<String>,
    /// Whether `extensions` came from the user rather than from OPTIONS.
    pub extensions_overridden: bool,
}

impl ServerInfo {
    /// Whether the extension is offered.
    pub fn has(&self, extension: &str) -> bool {
        self.extensions.iter().any(|e| e.eq_ignore_ascii_case(extension))
    }
}

/// Time bounds of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Connection timeouts.
    pub timeouts: Timeouts,
    /// Upper bound of one scenario.
    pub budget: Duration,
    /// How long a resume may take while a stale request is still open before it counts as not served.
    pub stall_wait: Duration,
    /// How long to watch a stalled connection for the server closing it.
    pub server_timeout_wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeouts: Timeouts::default(),
            budget: Duration::from_secs(30),
            stall_wait: Duration::from_secs(10),
            server_timeout_wait: Duration::from_secs(15),
        }
    }
}

/// What a data check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataCheck {
    /// The stored bytes are the expected ones.
    Match,
    /// They differ (the text says where).
    Mismatch(String),
    /// No probe, or the probe could not read the upload.
    Unknown,
}

/// State of one running scenario.
pub struct Ctx<'a> {
    /// The base URL (creation endpoint).
    pub base: &'a Url,
    /// What the server advertised.
    pub server: &'a ServerInfo,
    /// Time bounds.
    pub settings: &'a Settings,
    transport: &'a mut dyn Transport,
    probe: Option<&'a dyn DataProbe>,
    headers: &'a [(String, String)],
    created: &'a mut Vec<Url>,
    vars: BTreeMap<String, String>,
    notes: Vec<String>,
    exchanges: Vec<Exchange>,
    deadline: Instant,
}

impl<'a> Ctx<'a> {
    /// A fresh context for a run of `config`; the budget starts now. Uploads created through it are added to
    /// `created` (the run's list, also used to derive unknown upload URLs).
    pub fn new(
        config: &'a Config,
        server: &'a ServerInfo,
        transport: &'a mut dyn Transport,
        probe: Option<&'a dyn DataProbe>,
        created: &'a mut Vec<Url>,
    ) -> Ctx<'a> {
        let settings = &config.settings;
        let deadline = Instant::now() + settings.budget;
        let mut vars = BTreeMap::new();
        if let Some(max) = server.max_size {
            vars.insert("max_size".to_string(), max.to_string());
            vars.insert("max_size_plus_one".to_string(), max.saturating_add(1).to_string());
        }
        Ctx {
            base: &config.base,
            server,
            settings,
            transport,
            probe,
            headers: &config.headers,
            created,
            vars,
            notes: Vec::new(),
            exchanges: Vec::new(),
            deadline,
        }
    }

    /// The exchanges made through [`Ctx::send`] so far (the last 50), handing them over.
    pub fn take_exchanges(&mut self) -> Vec<Exchange> {
        std::mem::take(&mut self.exchanges)
    }

    /// A captured variable.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Sets a variable.
    pub fn set_var(&mut self, name: &str, value: String) {
        self.vars.insert(name.to_string(), value);
    }

    /// Adds a note to the scenario's report line.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// The notes so far.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Time left in the scenario budget.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Direct socket access, if the transport is the wire.
    pub fn wire(&self) -> Option<&WireTransport> {
        self.transport.wire()
    }

    /// The data probe, if any.
    pub fn probe(&self) -> Option<&dyn DataProbe> {
        self.probe
    }

    /// Fills `{var}` templates.
    pub fn expand(&self, template: &str) -> Result<String, String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or_else(|| format!("unclosed template in {template:?}"))?;
            let name = &rest[start + 1..start + end];
            out.push_str(self.var(name).ok_or_else(|| format!("no value for {{{name}}}"))?);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The URL a target designates.
    pub fn resolve(&self, target: &Target) -> Result<Url, String> {
        match target {
            Target::Base => Ok(self.base.clone()),
            Target::Var(name) => {
                let v = self.var(name).ok_or_else(|| format!("no URL captured as {name}"))?;
                Url::parse(v).map_err(|e| e.to_string())
            }
            Target::Unknown => Ok(match self.created.first() {
                Some(upload) => upload.sibling(&fresh_uuid()),
                None => self.base.child(&fresh_uuid()),
            }),
        }
    }

    /// A request for `url` with its `Host` and the run's extra headers ([`Config::headers`]), nothing else.
    pub fn raw(&self, method: &str, url: &Url) -> RawRequest {
        with_headers(RawRequest::new(method, &url.target).header("Host", url.authority()), self.headers)
    }

    /// Turns a request spec into the raw request it describes (with `Host`, the run's extra headers and
    /// `Tus-Resumable`).
    pub fn build(&self, spec: &RequestSpec) -> Result<(Url, RawRequest), String> {
        let url = self.resolve(&spec.target)?;
        let mut raw = self.raw(&spec.method, &url);
        if let Some(v) = &spec.tus_resumable {
            raw = raw.header("Tus-Resumable", v);
        }
        for (name, value) in &spec.headers {
            raw = raw.header(name, self.expand(value)?);
        }
        raw.body = spec.body.clone();
        raw.framing = spec.framing.clone();
        raw.delivery = spec.delivery.clone();
        Ok((url, raw))
    }

    /// Sends a raw request, within the scenario budget. The exchange is recorded for the report, and an upload
    /// it created (a POST answered 201 with a `Location`) is added to the run's list.
    pub fn send(&mut self, url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
        if self.remaining().is_zero() {
            return Err(ClientError::Timeout("(scenario budget used up)"));
        }
        let outcome = self.transport.send(url, req);
        if let Ok(resp) = &outcome {
            if resp.status == 201 && req.effective_method().eq_ignore_ascii_case("POST") {
                if let Some(upload) = resp.header("location").and_then(|l| url.join(l).ok()) {
                    if !self.created.contains(&upload) {
                        self.created.push(upload);
                    }
                }
            }
        }
        if self.exchanges.len() >= DUMP_EXCHANGES_LIMIT {
            self.exchanges.remove(0);
        }
        self.exchanges.push(Exchange::record(req, &outcome));
        outcome
    }

    /// Builds and sends a request spec.
    pub fn request(&mut self, spec: &RequestSpec) -> Result<(Url, Response), String> {
        let (url, raw) = self.build(spec)?;
        let resp = self.send(&url, &raw).map_err(|e| format!("{} {}: {e}", raw.method, url.target))?;
        Ok((url, resp))
    }

    /// Creates an upload of `length` bytes and returns its absolute URL.
    pub fn create(&mut self, length: u64) -> Result<Url, String> {
        let spec = RequestSpec::new("POST", Target::Base).header("Upload-Length", &length.to_string());
        let (url, resp) = self.request(&spec)?;
        if resp.status != 201 {
            return Err(format!("creating an upload: POST answered {}", resp.status));
        }
        let loc = resp.header("location").ok_or("creating an upload: 201 without Location")?;
        url.join(loc).map_err(|e| e.to_string())
    }

    /// HEADs an upload: the status and the `Upload-Offset` (if present and numeric).
    pub fn head(&mut self, url: &Url) -> Result<(u16, Option<u64>), String> {
        let raw = self.head_request(url);
        let resp = self.send(url, &raw).map_err(|e| format!("HEAD: {e}"))?;
        Ok((resp.status, resp.header("upload-offset").and_then(parse_uint)))
    }

    /// A HEAD request for `url`.
    pub fn head_request(&self, url: &Url) -> RawRequest {
        self.raw("HEAD", url).header("Tus-Resumable", "1.0.0")
    }

    /// A well-formed PATCH of `body` at `offset` (Content-Length framing).
    pub fn patch_request(&self, url: &Url, offset: u64, body: &[u8]) -> RawRequest {
        let mut r = self
            .raw("PATCH", url)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(body.to_vec());
        r.framing = Framing::Auto;
        r
    }

    /// Compares stored bytes with the probe.
    pub fn check_data(&self, url: &Url, at: u64, expected: &[u8]) -> DataCheck {
        let Some(probe) = self.probe else { return DataCheck::Unknown };
        let Some(stored) = probe.read(url, at + expected.len() as u64) else { return DataCheck::Unknown };
        let start = usize::try_from(at).unwrap_or(usize::MAX).min(stored.len());
        let got = &stored[start..];
        if got.len() < expected.len() {
            return DataCheck::Mismatch(format!(
                "only {} of {} bytes stored from offset {at}",
                got.len(),
                expected.len()
            ));
        }
        match got.iter().zip(expected).position(|(a, b)| a != b) {
            None => DataCheck::Match,
            Some(i) => DataCheck::Mismatch(format!("stored byte at offset {} differs", at + i as u64)),
        }
    }
}

/// Appends header fields to a request.
pub(crate) fn with_headers(mut req: RawRequest, headers: &[(String, String)]) -> RawRequest {
    for (name, value) in headers {
        req = req.header(name, value);
    }
    req
}

/// Parses a non-negative integer made of ASCII digits only.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A random-looking version-4 UUID (time, process id and a counter; not cryptographic).
pub(crate) fn fresh_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32) ^ COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut next = || {
        // splitmix64
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// Deterministic test data of `len` bytes, different for each `seed`.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(u32::from(seed) * 97) as u8 ^ seed).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_well_formed_and_distinct() {
        let a = fresh_uuid();
        let b = fresh_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn uint_parsing_is_strict() {
        assert_eq!(parse_uint("42"), Some(42));
        assert_eq!(parse_uint(" 7 "), Some(7));
        assert_eq!(parse_uint("+5"), None);
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("1_000"), None);
        assert_eq!(parse_uint(""), None);
    }

    #[test]
    fn patterns_differ_by_seed() {
        assert_ne!(pattern(64, 1), pattern(64, 2));
        assert_eq!(pattern(64, 1), pattern(64, 1));
    }
}
