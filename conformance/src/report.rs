//! Results and their renderings: a verdict table grouped by level, JSON, and JUnit XML; plus the exit status.

use std::fmt::Write as _;

use serde::Serialize;

use crate::context::ServerInfo;

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
}

/// The results of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Base URL tested.
    pub target: String,
    /// Transport name.
    pub transport: String,
    /// Data probe used, if any.
    pub probe: Option<String>,
    /// What the server advertised.
    pub server: ServerInfo,
    /// One line per selected scenario, in run order.
    pub results: Vec<ScenarioResult>,
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

    /// Process exit status: 1 on any failure; with `strict`, also on SHOULD warnings and errors.
    pub fn exit_code(&self, strict: bool) -> i32 {
        let bad = self.results.iter().any(|r| {
            r.verdict == Verdict::Fail
                || (strict && (r.verdict == Verdict::Error || (r.verdict == Verdict::Warn && r.level == "SHOULD")))
        });
        i32::from(bad)
    }

    /// The human-readable table, grouped by level.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let s = &self.server;
        let _ = writeln!(out, "tus-conformance against {} ({})", self.target, self.transport);
        let _ = writeln!(
            out,
            "OPTIONS: {}; Tus-Version: {}; Tus-Extension: {}{}; Tus-Max-Size: {}",
            s.options_status.map_or("-".to_string(), |c| c.to_string()),
            or_dash(&s.versions.join(",")),
            or_dash(&s.extensions.join(",")),
            if s.extensions_overridden { " (given by the user)" } else { "" },
            s.max_size.map_or("-".to_string(), |m| m.to_string()),
        );
        if let Some(p) = &self.probe {
            let _ = writeln!(out, "data probe: {p}");
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
        }
        let c = self.counts();
        let _ = writeln!(
            out,
            "\n{} passed, {} failed, {} warnings, {} n/a, {} info, {} errors ({} ms)",
            c.pass, c.fail, c.warn, c.not_applicable, c.info, c.error, self.duration_ms
        );
        out
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
        let _ = writeln!(out, "  <properties><property name=\"target\" value=\"{}\"/></properties>", xml(&self.target));
        for r in &self.results {
            let _ = write!(
                out,
                "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                xml(&r.level),
                xml(&r.id),
                r.duration_ms as f64 / 1000.0
            );
            let msg = format!("{} [{}]", r.detail, r.clause);
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

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

fn one_line(s: &str, max: usize) -> String {
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
            level: level.into(),
            rank,
            verdict,
            detail: "status 400 <x> & \"y\"".into(),
            duration_ms: 3,
        }
    }

    fn report(results: Vec<ScenarioResult>) -> Report {
        Report {
            target: "http://h/files/".into(),
            transport: "wire".into(),
            probe: None,
            server: ServerInfo::default(),
            results,
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
        let fail = report(vec![result("a", "MUST", 0, Verdict::Fail)]);
        assert_eq!(fail.exit_code(false), 1);
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
        assert!(table.contains("0 passed, 1 failed, 0 warnings, 1 n/a, 1 info, 0 errors"));
        let json: serde_json::Value = serde_json::from_str(&r.json()).expect("valid JSON");
        assert_eq!(json["results"][0]["verdict"], "fail");
        assert_eq!(json["results"][2]["verdict"], "n/a");
        assert_eq!(json["counts"]["fail"], 1);
        let junit = r.junit();
        assert!(junit.contains("failures=\"1\""));
        assert!(junit.contains("<skipped"));
        assert!(junit.contains("&lt;x&gt; &amp; &quot;y&quot;"));
        assert!(!junit.contains("<x>"));
    }
}
