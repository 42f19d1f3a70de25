//! Results and their renderings: a verdict table grouped by level, JSON, and JUnit XML; plus the exit status.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::client::{ClientError, RawRequest, Response};
use crate::context::ServerInfo;
use crate::transport::TlsUse;

/// Response body bytes kept in an [`Exchange`].
pub(crate) const DUMP_BODY_LIMIT: usize = 1024;
/// Exchanges kept per scenario (the last ones).
pub(crate) const DUMP_EXCHANGES_LIMIT: usize = 50;

/// The verdict of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The rule held.
    Pass,
    /// A MUST (core or advertised extension) was broken.
    Fail,
    /// A SHOULD or recommended practice was not followed.
    Warn,
    /// Does not apply (extension not offered, precondition refused, wire-only).
    #[serde(rename = "n/a")]
    NotApplicable,
    /// An observation where the specification leaves the server free.
    Info,
    /// The scenario could not be carried out (setup failed).
    Error,
}

impl Verdict {
    /// Short label for tables.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "warn",
            Verdict::NotApplicable => "n/a",
            Verdict::Info => "info",
            Verdict::Error => "ERROR",
        }
    }
}

/// The result of one scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScenarioResult {
    /// Scenario id.
    pub id: String,
    /// Scenario title.
    pub title: String,
    /// Clause checked.
    pub clause: String,
    /// The sentence(s) of the protocol text the scenario tests, word for word.
    pub quote: String,
    /// Level label.
    pub level: String,
    /// Sort key of the level (MUST first).
    #[serde(skip)]
    pub rank: u8,
    /// Verdict.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
    /// Time taken.
    pub duration_ms: u64,
    /// For a timing-based scenario that was run a second time: what the first attempt gave (`FAIL: …`). The
    /// verdict is the second attempt's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried: Option<String>,
    /// The requests sent and the responses received, kept only when the verdict is FAIL, warn or ERROR (at most
    /// the last 50 exchanges; requests sent on connections a scenario opens itself are not recorded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<Exchange>,
}

/// One request a scenario sent and what came back, for finding out why it did not pass.
///
/// Credentials are redacted: the values of `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie` and
/// of fields whose name mentions a token, a key, a secret or a password. Bodies are not kept for requests (only
/// their length) and only up to 1 KiB for responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// The request line, e.g. `PATCH /files/abc?token=x HTTP/1.1`.
    pub request: String,
    /// The request's header lines as written (including the framing header the client adds).
    pub request_headers: Vec<(String, String)>,
    /// Length of the request body (payload, before framing).
    pub request_body_bytes: usize,
    /// Status of the response; None when none came (see `error`).
    pub status: Option<u16>,
    /// Reason phrase of the response.
    pub reason: String,
    /// The response's header fields.
    pub response_headers: Vec<(String, String)>,
    /// The start of the response body (lossy UTF-8, at most 1 KiB).
    pub response_body: String,
    /// Length of the whole response body.
    pub response_body_bytes: usize,
    /// Why no response came (timeout, connection closed, cut off on purpose).
    pub error: Option<String>,
}

impl Exchange {
    /// Records a request and its outcome.
    pub(crate) fn record(req: &RawRequest, outcome: &Result<Response, ClientError>) -> Exchange {
        let head = String::from_utf8_lossy(&req.head_bytes()).to_string();
        let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
        let request = lines.next().unwrap_or_default().to_string();
        let request_headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap_or((l, ""));
                (n.to_string(), redact(n, v.trim()))
            })
            .collect();
        let mut x = Exchange {
            request,
            request_headers,
            request_body_bytes: req.body.len(),
            status: None,
            reason: String::new(),
            response_headers: Vec::new(),
            response_body: String::new(),
            response_body_bytes: 0,
            error: None,
        };
        match outcome {
            Ok(resp) => {
                x.status = Some(resp.status);
                x.reason.clone_from(&resp.reason);
                x.response_headers = resp.headers.iter().map(|(n, v)| (n.to_string(), redact(n, v))).collect();
                let shown = &resp.body[..resp.body.len().min(DUMP_BODY_LIMIT)];
                x.response_body = String::from_utf8_lossy(shown).to_string();
                x.response_body_bytes = resp.body.len();
            }
            Err(e) => x.error = Some(e.to_string()),
        }
        x
    }
}

/// The value of a header field as shown in reports: credentials replaced (an authorization scheme is kept).
fn redact(name: &str, value: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let secret = ["authorization", "proxy-authorization", "cookie", "set-cookie"].contains(&lower.as_str())
        || ["token", "key", "secret", "password", "session"].iter().any(|w| lower.contains(w));
    if !secret || value.is_empty() {
        return value.to_string();
    }
    match value.split_once(' ') {
        Some((scheme, _)) if lower.ends_with("authorization") => format!("{scheme} <redacted>"),
        _ => "<redacted>".to_string(),
    }
}

/// How many MUST-level scenarios were exercised: their verdict is pass or FAIL (n/a and ERROR are not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// MUST-level scenarios selected (core, and extensions whether advertised or not).
    pub must: usize,
    /// Of those, exercised.
    pub must_exercised: usize,
    /// Core MUST scenarios selected.
    pub core: usize,
    /// Of those, exercised.
    pub core_exercised: usize,
    /// Core MUST scenarios that work on an upload (they create one through the creation extension) selected.
    pub core_upload: usize,
    /// Of those, exercised.
    pub core_upload_exercised: usize,
}

impl Coverage {
    /// Whether the core protocol went untested: core MUST scenarios working on an upload were selected but none
    /// was exercised (creation not advertised, or no upload could be created). The exit status is then 3.
    pub fn core_unexercised(&self) -> bool {
        self.core_upload > 0 && self.core_upload_exercised == 0
    }
}

/// What became of the uploads the suite created, once the scenarios were done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cleanup {
    /// Distinct uploads the suite created (every `201` with a `Location` it received).
    pub created: usize,
    /// Deleted with `DELETE` (2xx).
    pub removed: usize,
    /// Already gone when deleted (404 or 410: a scenario deleted it, or the server removed it).
    pub already_gone: usize,
    /// Could not be deleted (another status, or no answer).
    pub failed: usize,
    /// The uploads that could not be deleted, each with why (`http://…/files/abc: 403`).
    pub not_deleted: Vec<String>,
    /// Why no `DELETE` was sent at all (uploads kept on request, or termination not offered).
    pub skipped: Option<String>,
}

/// The results of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Version of tus-conformance that ran.
    pub suite_version: String,
    /// When the run started (RFC 3339, UTC, e.g. `2026-11-23T09:41:07Z`).
    pub timestamp: String,
    /// Base URL tested.
    pub target: String,
    /// Transport name.
    pub transport: String,
    /// Data probe used, if any.
    pub probe: Option<String>,
    /// How server certificates were checked, when the run spoke TLS or was told not to check them.
    pub tls: Option<TlsUse>,
    /// What the server advertised.
    pub server: ServerInfo,
    /// One line per selected scenario, in run order.
    pub results: Vec<ScenarioResult>,
    /// How many MUST-level scenarios were exercised.
    pub coverage: Coverage,
    /// What became of the uploads the suite created.
    pub cleanup: Cleanup,
    /// Total time.
    pub duration_ms: u64,
}

/// Verdict counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passes.
    pub pass: usize,
    /// Failures.
    pub fail: usize,
    /// Warnings.
    pub warn: usize,
    /// Not applicable.
    pub not_applicable: usize,
    /// Observations.
    pub info: usize,
    /// Errors.
    pub error: usize,
}

impl Report {
    /// The result of a scenario by id.
    pub fn get(&self, id: &str) -> Option<&ScenarioResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// The verdict of a scenario by id.
    pub fn verdict(&self, id: &str) -> Option<Verdict> {
        self.get(id).map(|r| r.verdict)
    }

    /// The scenarios that are not green (FAIL, warn or error), one line each: id, verdict, what happened. Empty when
    /// every scenario passed or had nothing to check (n/a, info): what a project's own test asserts.
    pub fn not_green(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
            .map(|r| format!("{} {:?}: {}", r.id, r.verdict, r.detail))
            .collect()
    }

    /// Verdict counts.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.results {
            match r.verdict {
                Verdict::Pass => c.pass += 1,
                Verdict::Fail => c.fail += 1,
                Verdict::Warn => c.warn += 1,
                Verdict::NotApplicable => c.not_applicable += 1,
                Verdict::Info => c.info += 1,
                Verdict::Error => c.error += 1,
            }
        }
        c
    }

    /// Process exit status: 1 on any FAIL (with `strict`, also on SHOULD warnings and on errors); otherwise 3
    /// when the core protocol could not be exercised ([`Coverage::core_unexercised`]); otherwise 0. (The command
    /// line tool uses 2 for a server it cannot reach and for bad arguments.)
    pub fn exit_code(&self, strict: bool) -> i32 {
        let bad = self.results.iter().any(|r| {
            r.verdict == Verdict::Fail
                || (strict && (r.verdict == Verdict::Error || (r.verdict == Verdict::Warn && r.level == "SHOULD")))
        });
        if bad {
            1
        } else if self.coverage.core_unexercised() {
            3
        } else {
            0
        }
    }

    /// The human-readable table, grouped by level, with the coverage and cleanup lines ([`Report::text`]
    /// without the exchanges).
    pub fn table(&self) -> String {
        self.text(false)
    }

    /// The human-readable report; with `verbose`, followed by the exchanges (requests and responses) of every
    /// scenario whose verdict is FAIL, warn or ERROR.
    pub fn text(&self, verbose: bool) -> String {
        let mut out = String::new();
        let s = &self.server;
        let _ = writeln!(
            out,
            "tus-conformance {} against {} ({}), {}",
            self.suite_version, self.target, self.transport, self.timestamp
        );
        let _ = writeln!(
            out,
            "OPTIONS: {}; Tus-Version: {}; Tus-Extension: {}{}; Tus-Max-Size: {}",
            s.options_status.map_or("-".to_string(), |c| c.to_string()),
            or_dash(&s.versions.join(",")),
            or_dash(&s.extensions.join(",")),
            if s.extensions_overridden { " (given by the user)" } else { "" },
            s.max_size.map_or("-".to_string(), |m| m.to_string()),
        );
        if matches!(s.options_status, Some(401 | 403 | 407)) {
            let _ = writeln!(out, "OPTIONS was refused: does the server want credentials? (--header)");
        }
        if let Some(p) = &self.probe {
            let _ = writeln!(out, "data probe: {p}");
        }
        if let Some(warning) = self.tls_warning() {
            let _ = writeln!(out, "{warning}");
        } else if let Some(tls) = &self.tls {
            let _ = writeln!(out, "TLS: server certificates {}", tls.certificates);
        }
        let width = self.results.iter().map(|r| r.id.len()).max().unwrap_or(10);
        let mut sorted: Vec<&ScenarioResult> = self.results.iter().collect();
        sorted.sort_by_key(|r| (r.rank, r.level.clone()));
        let mut current: Option<&str> = None;
        for r in sorted {
            if current != Some(r.level.as_str()) {
                let _ = writeln!(out, "\n== {} ==", r.level);
                current = Some(r.level.as_str());
            }
            let _ = writeln!(out, "{:<5} {:<width$}  {}", r.verdict.label(), r.id, one_line(&r.detail, 160));
            if matches!(r.verdict, Verdict::Fail | Verdict::Warn) && !r.quote.is_empty() {
                // The rule broken, in the words of the protocol, under the line that says how.
                let _ = writeln!(out, "{:<5} {:<width$}  > \"{}\"", "", "", one_line(&r.quote, 400));
            }
        }
        let c = self.counts();
        let _ = writeln!(
            out,
            "\n{} passed, {} failed, {} warnings, {} n/a, {} info, {} errors ({} ms)",
            c.pass, c.fail, c.warn, c.not_applicable, c.info, c.error, self.duration_ms
        );
        let retried: Vec<&str> = self.results.iter().filter(|r| r.retried.is_some()).map(|r| r.id.as_str()).collect();
        if !retried.is_empty() {
            let _ = writeln!(
                out,
                "run twice (timing-based, the first attempt did not pass; verdicts are the second's): {}",
                retried.join(", ")
            );
        }
        let v = &self.coverage;
        let _ = writeln!(
            out,
            "MUST: {} of {} exercised (core: {} of {}; n/a and errors do not count)",
            v.must_exercised, v.must, v.core_exercised, v.core
        );
        if v.core_unexercised() {
            let _ = writeln!(
                out,
                "the core MUSTs could not be exercised: none of the {} scenarios working on an upload ran (creation \
                 not advertised, or no upload could be created); exit status 3",
                v.core_upload
            );
        }
        let _ = writeln!(out, "{}", self.cleanup_line());
        if let Some(warning) = self.tls_warning() {
            // Repeated at the end, where a reader of a long table looks first.
            let _ = writeln!(out, "{warning}");
        }
        if verbose {
            self.write_exchanges(&mut out);
        }
        out
    }

    /// The warning of a run that did not check server certificates: verdicts about a server that may not have
    /// been the one meant.
    fn tls_warning(&self) -> Option<String> {
        let tls = self.tls.as_ref().filter(|t| !t.verified)?;
        Some(format!(
            "WARNING: TLS SERVER CERTIFICATES WERE NOT VERIFIED (--insecure): {}; the server answering may not be \
             the one named in the URL",
            tls.certificates
        ))
    }

    fn cleanup_line(&self) -> String {
        let k = &self.cleanup;
        match &k.skipped {
            _ if k.created == 0 => "cleanup: the suite created no uploads".to_string(),
            Some(why) => format!("cleanup: {} uploads created, none deleted: {why}", k.created),
            None => {
                let mut line = format!(
                    "cleanup: {} uploads created; {} deleted, {} already gone, {} could not be deleted",
                    k.created, k.removed, k.already_gone, k.failed
                );
                if !k.not_deleted.is_empty() {
                    let shown: Vec<&str> = k.not_deleted.iter().take(5).map(String::as_str).collect();
                    let more = k.not_deleted.len().saturating_sub(shown.len());
                    let _ = write!(line, " ({}{})", shown.join(", "), if more > 0 { ", …" } else { "" });
                }
                line
            }
        }
    }

    fn write_exchanges(&self, out: &mut String) {
        let failing: Vec<&ScenarioResult> = self.results.iter().filter(|r| !r.exchanges.is_empty()).collect();
        if failing.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n== exchanges of the scenarios that did not pass ==");
        for r in failing {
            let _ = writeln!(out, "\n-- {} ({}): {}", r.id, r.verdict.label(), one_line(&r.detail, 300));
            for x in &r.exchanges {
                let _ = writeln!(out, "> {}", printable(&x.request));
                for (n, v) in &x.request_headers {
                    let _ = writeln!(out, "> {}: {}", printable(n), printable(v));
                }
                if x.request_body_bytes > 0 {
                    let _ = writeln!(out, "> ({} body bytes)", x.request_body_bytes);
                }
                match (x.status, &x.error) {
                    (Some(status), _) => {
                        let _ = writeln!(out, "< {status} {}", printable(&x.reason));
                        for (n, v) in &x.response_headers {
                            let _ = writeln!(out, "< {}: {}", printable(n), printable(v));
                        }
                        if x.response_body_bytes > 0 {
                            let _ = writeln!(out, "<");
                            for line in x.response_body.lines() {
                                let _ = writeln!(out, "< {}", printable(line));
                            }
                            if x.response_body_bytes > DUMP_BODY_LIMIT {
                                let _ = writeln!(out, "< ({} body bytes in all)", x.response_body_bytes);
                            }
                        }
                    }
                    (None, Some(e)) => {
                        let _ = writeln!(out, "! {e}");
                    }
                    (None, None) => {}
                }
                out.push('\n');
            }
        }
    }

    /// The report as pretty JSON.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct WithCounts<'a> {
            #[serde(flatten)]
            report: &'a Report,
            counts: Counts,
        }
        serde_json::to_string_pretty(&WithCounts { report: self, counts: self.counts() })
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The report as JUnit XML: one test case per scenario, failures for FAIL, errors for ERROR, skipped for n/a;
    /// warnings and observations pass with their detail in `system-out`.
    pub fn junit(&self) -> String {
        let c = self.counts();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuite name=\"tus-conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            self.results.len(),
            c.fail,
            c.error,
            c.not_applicable,
            self.duration_ms as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "  <properties><property name=\"target\" value=\"{}\"/><property name=\"suite_version\" value=\"{}\"/>\
             <property name=\"timestamp\" value=\"{}\"/><property name=\"tls\" value=\"{}\"/></properties>",
            xml(&self.target),
            xml(&self.suite_version),
            xml(&self.timestamp),
            xml(&self.tls.as_ref().map_or("none".to_string(), |t| t.certificates.clone()))
        );
        for r in &self.results {
            let _ = write!(
                out,
                "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                xml(&r.level),
                xml(&r.id),
                r.duration_ms as f64 / 1000.0
            );
            let msg = if r.quote.is_empty() {
                format!("{} [{}]", r.detail, r.clause)
            } else {
                format!("{} [{}: \"{}\"]", r.detail, r.clause, r.quote)
            };
            match r.verdict {
                Verdict::Fail => {
                    let _ = write!(out, "<failure message=\"{}\">{}</failure>", xml(&one_line(&msg, 300)), xml(&msg));
                }
                Verdict::Error => {
                    let _ = write!(out, "<error message=\"{}\">{}</error>", xml(&one_line(&msg, 300)), xml(&msg));
                }
                Verdict::NotApplicable => {
                    let _ = write!(out, "<skipped message=\"{}\"/>", xml(&msg));
                }
                Verdict::Pass | Verdict::Warn | Verdict::Info => {
                    let _ = write!(out, "<system-out>{}: {}</system-out>", r.verdict.label(), xml(&msg));
                }
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("</testsuite>\n");
        out
    }
}

/// Formats a time as RFC 3339 in UTC with whole seconds (`1970-01-01T00:00:00Z`).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, for dates after 1970).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// Control characters (but tab) shown as `\xNN`, so that a dump cannot mangle the terminal.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\t' {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// `s` on one line (control characters as spaces), cut to `max` characters with an ellipsis.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Escapes text for XML attributes and content (control characters other than tab/newline are dropped).
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(ch),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, level: &str, rank: u8, verdict: Verdict) -> ScenarioResult {
        ScenarioResult {
            id: id.into(),
            title: "t".into(),
            clause: "c".into(),
            quote: "The Server MUST do it.".into(),
            level: level.into(),
            rank,
            verdict,
            detail: "status 400 <x> & \"y\"".into(),
            duration_ms: 3,
            retried: None,
            exchanges: Vec::new(),
        }
    }

    fn report(results: Vec<ScenarioResult>) -> Report {
        Report {
            suite_version: "0.0.0".into(),
            timestamp: "1970-01-01T00:00:00Z".into(),
            target: "http://h/files/".into(),
            transport: "wire".into(),
            probe: None,
            tls: None,
            server: ServerInfo::default(),
            results,
            coverage: Coverage::default(),
            cleanup: Cleanup::default(),
            duration_ms: 10,
        }
    }

    #[test]
    fn exit_codes() {
        let warn = report(vec![result("a", "SHOULD", 2, Verdict::Warn), result("b", "MUST", 0, Verdict::Pass)]);
        assert_eq!(warn.exit_code(false), 0);
        assert_eq!(warn.exit_code(true), 1);
        let rec = report(vec![result("a", "RECOMMENDED", 3, Verdict::Warn)]);
        assert_eq!(rec.exit_code(true), 0);
        let mut fail = report(vec![result("a", "MUST", 0, Verdict::Fail)]);
        assert_eq!(fail.exit_code(false), 1);
        // Core not exercised: 3, unless something failed.
        let unexercised = Coverage { core: 3, core_exercised: 3, core_upload: 5, ..Coverage::default() };
        fail.coverage = unexercised;
        assert_eq!(fail.exit_code(false), 1);
        let mut na = report(vec![result("a", "MUST", 0, Verdict::NotApplicable)]);
        na.coverage = unexercised;
        assert_eq!(na.exit_code(false), 3);
        assert_eq!(na.exit_code(true), 3);
        na.coverage.core_upload_exercised = 1;
        assert_eq!(na.exit_code(false), 0);
    }

    #[test]
    fn unverified_tls_is_loud() {
        let mut r = report(Vec::new());
        assert!(!r.table().contains("TLS"));
        r.tls = Some(TlsUse { verified: true, certificates: "checked against X".into(), used: true });
        assert!(r.table().contains("TLS: server certificates checked against X\n"));
        assert!(!r.table().contains("WARNING"));
        r.tls = Some(TlsUse { verified: false, certificates: "NOT VERIFIED (insecure)".into(), used: true });
        let table = r.table();
        assert_eq!(table.matches("WARNING: TLS SERVER CERTIFICATES WERE NOT VERIFIED").count(), 2, "{table}");
        let json: serde_json::Value = serde_json::from_str(&r.json()).expect("valid JSON");
        assert_eq!(json["tls"]["verified"], false);
    }

    #[test]
    fn cleanup_lines() {
        let mut r = report(Vec::new());
        r.cleanup = Cleanup { created: 3, removed: 1, already_gone: 1, failed: 1, ..Cleanup::default() };
        r.cleanup.not_deleted = vec!["http://h/files/a: 403".into()];
        assert!(r.table().contains(
            "cleanup: 3 uploads created; 1 deleted, 1 already gone, 1 could not be deleted (http://h/files/a: 403)"
        ));
        r.cleanup = Cleanup { created: 2, skipped: Some("kept on request (--keep)".into()), ..Cleanup::default() };
        assert!(r.table().contains("cleanup: 2 uploads created, none deleted: kept on request (--keep)"));
    }

    #[test]
    fn timestamps() {
        use std::time::Duration;
        let at = |s: u64| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(at(1_798_761_600), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn exchanges_are_recorded_redacted_and_bounded() {
        let req = RawRequest::new("PATCH", "/files/a?token=t")
            .header("Host", "h")
            .header("Authorization", "Bearer s3cret")
            .header("X-Api-Key", "k3y")
            .header("X-Tenant", "t1")
            .body(b"hello".to_vec());
        let mut headers = crate::headers::Headers::default();
        headers.push("Set-Cookie", "sid=abc");
        headers.push("Upload-Offset", "5");
        let resp = Response {
            version: "HTTP/1.1".into(),
            status: 409,
            reason: "Conflict".into(),
            headers,
            body: vec![b'x'; 3000],
            interim: Vec::new(),
            keep_alive: true,
        };
        let x = Exchange::record(&req, &Ok(resp));
        assert_eq!(x.request, "PATCH /files/a?token=t HTTP/1.1");
        let shown: Vec<String> = x.request_headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        assert_eq!(
            shown,
            [
                "Host: h",
                "Authorization: Bearer <redacted>",
                "X-Api-Key: <redacted>",
                "X-Tenant: t1",
                "Content-Length: 5"
            ]
        );
        assert_eq!((x.status, x.response_body.len(), x.response_body_bytes), (Some(409), 1024, 3000));
        assert_eq!(x.response_headers[0].1, "<redacted>");
        let failed = Exchange::record(&req, &Err(ClientError::Timeout("reading the response")));
        assert_eq!((failed.status, failed.error.as_deref()), (None, Some("timed out reading the response")));

        let mut r = report(vec![result("must-one", "MUST", 0, Verdict::Fail)]);
        r.results[0].exchanges = vec![x, failed];
        assert!(!r.table().contains("exchanges"));
        let text = r.text(true);
        assert!(text.contains("== exchanges of the scenarios that did not pass =="), "{text}");
        assert!(text.contains("> PATCH /files/a?token=t HTTP/1.1\n> Host: h\n"), "{text}");
        assert!(text.contains("> (5 body bytes)\n< 409 Conflict\n< Set-Cookie: <redacted>\n< Upload-Offset: 5\n"));
        assert!(text.contains("< (3000 body bytes in all)"));
        assert!(text.contains("! timed out reading the response"));
        assert!(!text.contains("s3cret") && !text.contains("k3y"));
        let json: serde_json::Value = serde_json::from_str(&r.json()).expect("valid JSON");
        assert_eq!(json["results"][0]["exchanges"][0]["status"], 409);
        assert_eq!(json["results"][0]["exchanges"][1]["error"], "timed out reading the response");
    }

    #[test]
    fn renderings() {
        let r = report(vec![
            result("must-one", "MUST", 0, Verdict::Fail),
            result("info-one", "INFO", 4, Verdict::Info),
            result("ext-one", "MUST (creation)", 1, Verdict::NotApplicable),
        ]);
        let table = r.table();
        let must = table.find("== MUST ==").expect("MUST group");
        let info = table.find("== INFO ==").expect("INFO group");
        assert!(must < info);
        assert!(table.contains("FAIL  must-one"));
        // The quote goes under FAIL and warn lines only.
        assert_eq!(table.matches("> \"The Server MUST do it.\"").count(), 1, "{table}");
        assert!(table.contains("0 passed, 1 failed, 0 warnings, 1 n/a, 1 info, 0 errors"));
        assert!(table.contains("MUST: 0 of 0 exercised"));
        assert!(table.contains("cleanup: the suite created no uploads"));
        let json: serde_json::Value = serde_json::from_str(&r.json()).expect("valid JSON");
        assert_eq!(json["suite_version"], "0.0.0");
        assert_eq!(json["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(json["target"], "http://h/files/");
        assert!(json["results"][0].get("exchanges").is_none());
        assert_eq!(json["results"][0]["verdict"], "fail");
        assert_eq!(json["results"][1]["quote"], "The Server MUST do it.");
        assert_eq!(json["results"][2]["verdict"], "n/a");
        assert_eq!(json["counts"]["fail"], 1);
        let junit = r.junit();
        assert!(junit.contains("failures=\"1\""));
        assert!(junit.contains("<skipped"));
        assert!(junit.contains("&lt;x&gt; &amp; &quot;y&quot;"));
        assert!(!junit.contains("<x>"));
    }
}
