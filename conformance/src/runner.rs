//! Running scenarios: discover the server through OPTIONS, select scenarios, run each within its budget, turn
//! outcomes into verdicts according to the scenario's level, and delete the uploads the run created.

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::check::evaluate;
use crate::client::{AfterCut, ClientError, RawRequest};
use crate::context::{parse_uint, with_headers, Ctx, ServerInfo, Settings};
use crate::probe::DataProbe;
use crate::report::{one_line, rfc3339, Cleanup, Coverage, Exchange, Report, ScenarioResult, Verdict};
use crate::scenario::{Capture, Level, Outcome, Procedure, Requirement, Role, Scenario, Step, Target};
use crate::scenarios::CREATION;
use crate::transport::Transport;
use crate::url::Url;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// The creation endpoint, e.g. `http://127.0.0.1:8080/files/`.
    pub base: Url,
    /// Time bounds.
    pub settings: Settings,
    /// Only scenarios whose id matches one of these globs (`*`, `?`); empty: all.
    pub only: Vec<String>,
    /// Skip scenarios whose id matches one of these globs.
    pub skip: Vec<String>,
    /// Extensions to assume instead of those advertised through OPTIONS.
    pub extensions: Option<Vec<String>>,
    /// Header fields sent with every request of the run, right after `Host`: the OPTIONS discovery, every
    /// scenario request, the cleanup DELETEs (for example `Authorization: Bearer …`). [`Config::add_header`]
    /// checks them; pushed here directly, they are sent as they are.
    pub headers: Vec<(String, String)>,
    /// Leave the uploads the run created on the server. By default they are deleted after the scenarios when the
    /// server offers termination.
    pub keep: bool,
}

/// Header fields the suite sets (or leaves out) on purpose in its scenarios: not accepted as extra headers.
const RESERVED: [&str; 7] = [
    "host",
    "content-length",
    "transfer-encoding",
    "tus-resumable",
    "content-type",
    "x-http-method-override",
    "trailer",
];

impl Config {
    /// Defaults for a base URL.
    pub fn new(base: Url) -> Config {
        Config {
            base,
            settings: Settings::default(),
            only: Vec::new(),
            skip: Vec::new(),
            extensions: None,
            headers: Vec::new(),
            keep: false,
        }
    }

    /// Adds a header sent with every request, given as `Name: value` (as for `--header`). Refused: a name that is
    /// not an HTTP token, a value with control characters, and the fields the scenarios set themselves (`Host`,
    /// framing, `Content-Type`, `Tus-Resumable`, `X-HTTP-Method-Override`, `Trailer`, `Upload-*`).
    pub fn add_header(&mut self, line: &str) -> Result<(), String> {
        let (name, value) = line.split_once(':').ok_or_else(|| format!("header {line:?}: expected 'Name: value'"))?;
        let (name, value) = (name.trim(), value.trim());
        let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(tchar) {
            return Err(format!("header {line:?}: {name:?} is not a field name"));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("header {name}: the value has control characters"));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED.contains(&lower.as_str()) || lower.starts_with("upload-") {
            return Err(format!("header {name}: the suite sets this field itself in its scenarios"));
        }
        self.headers.push((name.to_string(), value.to_string()));
        Ok(())
    }

    /// Whether a scenario id is selected by `only` and `skip`.
    pub fn selects(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|g| glob_match(g, id)))
            && !self.skip.iter().any(|g| glob_match(g, id))
    }
}

/// Asks the server for its capabilities with OPTIONS on the base URL (without `Tus-Resumable`).
pub(crate) fn discover(config: &Config, transport: &mut dyn Transport) -> Result<ServerInfo, ClientError> {
    let base = &config.base;
    let req = with_headers(RawRequest::new("OPTIONS", &base.target).header("Host", base.authority()), &config.headers);
    let resp = transport.send(base, &req)?;
    let mut info = ServerInfo { options_status: Some(resp.status), ..ServerInfo::default() };
    if resp.status / 100 == 2 {
        info.versions = resp.headers.list("tus-version");
        info.extensions = resp.headers.list("tus-extension").iter().map(|e| e.to_ascii_lowercase()).collect();
        info.max_size = resp.header("tus-max-size").and_then(parse_uint);
        info.checksum_algorithms = resp.headers.list("tus-checksum-algorithm");
    }
    Ok(info)
}

/// Runs the selected scenarios and returns the report. Fails only if the server cannot be reached at all.
///
/// After the scenarios, every upload the run created is deleted when the server offers termination, unless
/// [`Config::keep`] is set ([`Report::cleanup`] says what became of them).
pub fn run(
    config: &Config,
    transport: &mut dyn Transport,
    probe: Option<&dyn DataProbe>,
    scenarios: &[Scenario],
) -> Result<Report, ClientError> {
    let started = Instant::now();
    let timestamp = rfc3339(SystemTime::now());
    let mut server = discover(config, transport)?;
    if let Some(ext) = &config.extensions {
        server.extensions = ext.iter().map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).collect();
        server.extensions_overridden = true;
    }
    let selected: Vec<&Scenario> = scenarios.iter().filter(|s| config.selects(s.id)).collect();
    let mut created: Vec<Url> = Vec::new();
    let mut results = Vec::new();
    for scenario in &selected {
        if created.is_empty() && uses_unknown(scenario) && server.has("creation") {
            // An unknown upload URL is made from a real one: create an upload to learn what they look like.
            let _ = Ctx::new(config, &server, transport, probe, &mut created).create(1);
        }
        results.push(run_one(config, &server, transport, probe, scenario, &mut created));
    }
    let coverage = coverage(&selected, &results);
    let cleanup = clean_up(config, &server, transport, &created);
    Ok(Report {
        suite_version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp,
        target: config.base.to_string(),
        transport: transport.name().to_string(),
        probe: probe.map(|p| p.describe()),
        tls: transport.tls(),
        server,
        results,
        coverage,
        cleanup,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// Whether a scenario sends a request to [`Target::Unknown`].
fn uses_unknown(scenario: &Scenario) -> bool {
    match &scenario.procedure {
        Procedure::Steps(steps) => steps.iter().any(|s| s.request.target == Target::Unknown),
        Procedure::Custom(_) => false,
    }
}

/// Counts the MUST-level scenarios that were exercised (pass or FAIL).
fn coverage(selected: &[&Scenario], results: &[ScenarioResult]) -> Coverage {
    let mut c = Coverage::default();
    for (s, r) in selected.iter().zip(results) {
        let exercised = usize::from(matches!(r.verdict, Verdict::Pass | Verdict::Fail));
        if matches!(s.level, Level::Must | Level::Extension(_)) {
            c.must += 1;
            c.must_exercised += exercised;
        }
        if s.level == Level::Must {
            c.core += 1;
            c.core_exercised += exercised;
            if s.requires.contains(&CREATION) {
                c.core_upload += 1;
                c.core_upload_exercised += exercised;
            }
        }
    }
    c
}

/// Deletes the uploads the run created (when the server offers termination and they are not to be kept).
fn clean_up(config: &Config, server: &ServerInfo, transport: &mut dyn Transport, created: &[Url]) -> Cleanup {
    let mut c = Cleanup { created: created.len(), ..Cleanup::default() };
    if created.is_empty() {
        return c;
    }
    if config.keep {
        c.skipped = Some("kept on request (--keep)".into());
        return c;
    }
    if !server.has("termination") {
        c.skipped = Some("the server does not offer termination".into());
        return c;
    }
    // Newest first: a concatenation's final goes before its partial uploads, which a server may keep while a
    // final needs them.
    let mut server_gone = false;
    for url in created.iter().rev() {
        let why = if server_gone {
            "not tried (the server could not be reached)".to_string()
        } else {
            let req =
                with_headers(RawRequest::new("DELETE", &url.target).header("Host", url.authority()), &config.headers)
                    .header("Tus-Resumable", "1.0.0");
            match transport.send(url, &req) {
                Ok(r) if r.status / 100 == 2 => {
                    c.removed += 1;
                    continue;
                }
                Ok(r) if r.status == 404 || r.status == 410 => {
                    c.already_gone += 1;
                    continue;
                }
                Ok(r) => r.status.to_string(),
                Err(e) => {
                    // Cannot connect: the server is gone, and the rest would fail the same way, each after the
                    // connect timeout.
                    server_gone = matches!(e, ClientError::Connect(_));
                    e.to_string()
                }
            }
        };
        c.failed += 1;
        c.not_deleted.push(format!("{url}: {why}"));
    }
    c
}

/// Runs one scenario (requirements checked first) and returns its result line. Uploads it creates are added to
/// `created`.
pub(crate) fn run_one(
    config: &Config,
    server: &ServerInfo,
    transport: &mut dyn Transport,
    probe: Option<&dyn DataProbe>,
    scenario: &Scenario,
    created: &mut Vec<Url>,
) -> ScenarioResult {
    let started = Instant::now();
    let mut retried = None;
    let (verdict, detail, exchanges) = match missing_requirement(scenario, server, transport.wire().is_some()) {
        Some(why) => (Verdict::NotApplicable, why, Vec::new()),
        None => {
            let mut attempt = attempt(config, server, transport, probe, scenario, created);
            if scenario.timing && matches!(attempt.0, Verdict::Fail | Verdict::Warn | Verdict::Error) {
                // Timing-based: one more try, with a fresh budget and a fresh upload, and the first attempt in the
                // report. A server that breaks the rule breaks it twice; a machine that was briefly too busy
                // to keep the timing does not turn the run red.
                retried = Some(format!("{}: {}", attempt.0.label(), attempt.1));
                attempt = attempt_again(config, server, transport, probe, scenario, created);
                attempt.1.push_str(&format!(
                    " (second attempt; the first gave {})",
                    retried.as_deref().map_or(String::new(), |r| one_line(r, 200))
                ));
            }
            attempt
        }
    };
    ScenarioResult {
        id: scenario.id.to_string(),
        title: scenario.title.to_string(),
        clause: scenario.clause.to_string(),
        quote: scenario.quote.to_string(),
        level: scenario.level.label(),
        rank: level_rank(scenario.level),
        verdict,
        detail,
        duration_ms: started.elapsed().as_millis() as u64,
        retried,
        exchanges,
    }
}

/// One run of a scenario: verdict, detail (with the notes), and the exchanges when it did not pass.
fn attempt(
    config: &Config,
    server: &ServerInfo,
    transport: &mut dyn Transport,
    probe: Option<&dyn DataProbe>,
    scenario: &Scenario,
    created: &mut Vec<Url>,
) -> (Verdict, String, Vec<Exchange>) {
    let mut ctx = Ctx::new(config, server, transport, probe, created);
    let outcome = match &scenario.procedure {
        Procedure::Steps(steps) => run_steps(&mut ctx, steps),
        Procedure::Custom(f) => f(&mut ctx),
    };
    let (verdict, mut detail) = judge(scenario.level, outcome);
    for note in ctx.notes() {
        detail.push_str("; ");
        detail.push_str(note);
    }
    let exchanges = match verdict {
        Verdict::Fail | Verdict::Warn | Verdict::Error => ctx.take_exchanges(),
        _ => Vec::new(),
    };
    (verdict, detail, exchanges)
}

/// [`attempt`] once more, after a pause that lets a busy server finish what the first attempt left it doing.
fn attempt_again(
    config: &Config,
    server: &ServerInfo,
    transport: &mut dyn Transport,
    probe: Option<&dyn DataProbe>,
    scenario: &Scenario,
    created: &mut Vec<Url>,
) -> (Verdict, String, Vec<Exchange>) {
    if transport.wire().is_some() {
        thread::sleep(RETRY_PAUSE);
    }
    attempt(config, server, transport, probe, scenario, created)
}

/// The pause before a timing-based scenario is run again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

fn missing_requirement(scenario: &Scenario, server: &ServerInfo, wire: bool) -> Option<String> {
    for r in &scenario.requires {
        match r {
            Requirement::Extension(e) if !server.has(e) => {
                return Some(format!("server does not offer the {e} extension"));
            }
            Requirement::MaxSize if server.max_size.is_none() => {
                return Some("server advertises no Tus-Max-Size".into());
            }
            Requirement::Wire if !wire => return Some("needs real sockets (wire-only)".into()),
            _ => {}
        }
    }
    None
}

/// Maps an outcome to a verdict according to the level.
pub(crate) fn judge(level: Level, outcome: Outcome) -> (Verdict, String) {
    match (outcome, level) {
        (Outcome::Pass(d), Level::Informational) | (Outcome::Observed(d), _) => (Verdict::Info, d),
        (Outcome::Violation(d), Level::Informational) => (Verdict::Info, d),
        (Outcome::Pass(d), _) => (Verdict::Pass, d),
        (Outcome::Violation(d), Level::Must | Level::Extension(_)) => (Verdict::Fail, d),
        (Outcome::Violation(d), Level::Should | Level::Recommended) => (Verdict::Warn, d),
        (Outcome::NotApplicable(d), _) => (Verdict::NotApplicable, d),
        (Outcome::Error(d), _) => (Verdict::Error, d),
    }
}

fn level_rank(level: Level) -> u8 {
    match level {
        Level::Must => 0,
        Level::Extension(_) => 1,
        Level::Should => 2,
        Level::Recommended => 3,
        Level::Informational => 4,
    }
}

/// Runs declarative steps in order; stops at the first step whose expectations fail.
pub(crate) fn run_steps(ctx: &mut Ctx<'_>, steps: &[Step]) -> Outcome {
    let mut trace: Vec<String> = Vec::new();
    for step in steps {
        if !step.delay.is_zero() {
            thread::sleep(step.delay.min(ctx.remaining()));
        }
        let (url, raw) = match ctx.build(&step.request) {
            Ok(x) => x,
            Err(e) => return Outcome::Error(e),
        };
        let label = if raw.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("x-http-method-override")) {
            format!("{} (override)", raw.method)
        } else {
            raw.method.clone()
        };
        let resp = match ctx.send(&url, &raw) {
            Ok(r) => r,
            Err(ClientError::CutOff(n)) if matches!(raw.delivery.cut, Some((_, AfterCut::Close))) => {
                trace.push(format!("{label} cut after {n} B"));
                continue;
            }
            Err(e) => {
                let msg = format!("{label}: {e}");
                return on_failure(step.role, msg, &trace);
            }
        };
        match resp.header("upload-offset") {
            Some(o) => trace.push(format!("{label} {} (offset {})", resp.status, o.trim())),
            None => trace.push(format!("{label} {}", resp.status)),
        }
        let failures = evaluate(ctx, &step.expect, &resp, &url);
        if !failures.is_empty() {
            return on_failure(step.role, format!("{label}: {}", failures.join(", ")), &trace);
        }
        let failures = evaluate(ctx, &step.checks, &resp, &url);
        if !failures.is_empty() {
            return on_failure(Role::Check, format!("{label}: {}", failures.join(", ")), &trace);
        }
        for c in &step.capture {
            match c {
                Capture::Location(var) => match resp.header("location").map(|l| url.join(l)) {
                    Some(Ok(u)) => ctx.set_var(var, u.to_string()),
                    Some(Err(e)) => return on_failure(step.role, format!("{label}: Location: {e}"), &trace),
                    None => return on_failure(step.role, format!("{label}: no Location"), &trace),
                },
                Capture::Header(name, var) => match resp.header(name) {
                    Some(v) => ctx.set_var(var, v.trim().to_string()),
                    None => return on_failure(step.role, format!("{label}: no {name}"), &trace),
                },
            }
        }
    }
    Outcome::Pass(trace.join(", "))
}

fn on_failure(role: Role, msg: String, trace: &[String]) -> Outcome {
    let context = if trace.is_empty() { String::new() } else { format!(" [after {}]", trace.join(", ")) };
    match role {
        Role::Setup => Outcome::Error(format!("setup failed: {msg}{context}")),
        Role::Gate => Outcome::NotApplicable(format!("precondition not met: {msg}{context}")),
        Role::Check => Outcome::Violation(format!("{msg}{context}")),
    }
}

/// Glob matching with `*` (any run) and `?` (one character).
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("core-*", "core-head-offset"));
        assert!(glob_match("*head*", "core-head-offset"));
        assert!(glob_match("core-hea?-offset", "core-head-offset"));
        assert!(!glob_match("creation-*", "core-head-offset"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acbx"));
    }

    #[test]
    fn verdicts_follow_levels() {
        let v = |level, outcome| judge(level, outcome).0;
        assert_eq!(v(Level::Must, Outcome::Violation("x".into())), Verdict::Fail);
        assert_eq!(v(Level::Extension("creation"), Outcome::Violation("x".into())), Verdict::Fail);
        assert_eq!(v(Level::Should, Outcome::Violation("x".into())), Verdict::Warn);
        assert_eq!(v(Level::Recommended, Outcome::Violation("x".into())), Verdict::Warn);
        assert_eq!(v(Level::Informational, Outcome::Violation("x".into())), Verdict::Info);
        assert_eq!(v(Level::Informational, Outcome::Pass("x".into())), Verdict::Info);
        assert_eq!(v(Level::Must, Outcome::Pass("x".into())), Verdict::Pass);
        assert_eq!(v(Level::Must, Outcome::NotApplicable("x".into())), Verdict::NotApplicable);
    }

    #[test]
    fn selection() {
        let mut c = Config::new(Url::parse("http://127.0.0.1:1/files/").expect("url"));
        assert!(c.selects("anything"));
        c.only = vec!["core-*".into()];
        c.skip = vec!["core-patch-*".into()];
        assert!(c.selects("core-head-offset"));
        assert!(!c.selects("core-patch-409"));
        assert!(!c.selects("creation-201"));
    }

    #[test]
    fn timing_based_scenarios_get_one_reported_retry() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn flaky(_: &mut Ctx<'_>) -> Outcome {
            match CALLS.fetch_add(1, Ordering::SeqCst) {
                0 => Outcome::Violation("too slow".into()),
                _ => Outcome::Pass("in time".into()),
            }
        }
        fn broken(_: &mut Ctx<'_>) -> Outcome {
            Outcome::Violation("never".into())
        }
        let server = tus_proto::Server::builder().base_path("/files").build().expect("server");
        let mut transport = crate::memory::ProtoTransport::new(server);
        let config = Config::new(Url::parse("http://h/files/").expect("url"));
        let (info, mut created) = (ServerInfo::default(), Vec::new());
        let mut one = |s: Scenario| run_one(&config, &info, &mut transport, None, &s, &mut created);

        let r = one(Scenario::custom("x-flaky", "t", "c", Level::Must, &[], flaky).timed());
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.detail);
        assert_eq!(r.retried.as_deref(), Some("FAIL: too slow"));
        assert!(r.detail.contains("second attempt; the first gave FAIL: too slow"), "{}", r.detail);
        let r = one(Scenario::custom("x-broken", "t", "c", Level::Must, &[], broken).timed());
        assert_eq!((r.verdict, r.retried.as_deref()), (Verdict::Fail, Some("FAIL: never")));
        // Only timing-based scenarios are retried.
        let r = one(Scenario::custom("x-plain", "t", "c", Level::Must, &[], broken));
        assert_eq!((r.verdict, r.retried), (Verdict::Fail, None));
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn extra_headers_are_checked() {
        let mut c = Config::new(Url::parse("http://127.0.0.1:1/files/").expect("url"));
        c.add_header("Authorization: Bearer abc: def").expect("valid");
        c.add_header("X-Tenant:t1").expect("valid");
        assert_eq!(c.headers, [("Authorization".into(), "Bearer abc: def".into()), ("X-Tenant".into(), "t1".into())]);
        for bad in ["no colon", ": v", "Bad Name: v", "X: a\rb", "Host: h", "tus-resumable: 1.0.0", "Upload-Offset: 0"]
        {
            assert!(c.add_header(bad).is_err(), "{bad}");
        }
        assert_eq!(c.headers.len(), 2);
    }
}
