//! Result records: one figure per line, `SERVER<TAB>MODE<TAB>CASE<TAB>METRIC<TAB>VALUE`, appended by each
//! workload run and read back by the report. Run parameters and machine facts use server `run`, mode `-`.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

/// Record "servers" that are not servers: the run's parameters, the machine's own limits (dd, W1's ceiling, W2's
/// floor, W2's disk floor with fsync) and our storage measured without HTTP.
const NOT_SERVERS: [&str; 6] = ["run", "disk", "ceiling", "floor", "durable", "storage"];

/// One figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// `ours`, `tussi`, `tus-node`, `rustus`, `disk` (dd), `ceiling` (`tus-bench ceiling`), `floor`
    /// (`tus-bench floor`), `durable` (`tus-bench durable`), `storage` (tus-storage's `small_uploads` example) or
    /// `run`.
    pub server: String,
    /// `fsync`, `nofsync`, `dsync` (the dd limit), `one-cpu` (the floor pinned to one CPU) or `-` (not
    /// applicable).
    pub mode: String,
    /// Workload case, e.g. `W2/c8`, `W5/10000/W3`.
    pub case: String,
    /// Metric name, e.g. `per_s`, `p99_ms`.
    pub metric: String,
    /// The value (a number, or text such as an error message).
    pub value: String,
}

/// Everything one benchmark run recorded.
#[derive(Clone, Debug, Default)]
pub struct Records {
    /// In file order; a later record overrides an earlier one with the same key.
    pub rows: Vec<Record>,
}

/// Replaces tabs and line breaks, which would break the record format.
fn clean(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

/// Appends records to `path` (created if needed).
pub fn append(path: &Path, records: &[Record]) -> io::Result<()> {
    let mut out = String::new();
    for r in records {
        let fields = [&r.server, &r.mode, &r.case, &r.metric, &r.value].map(|f| clean(f));
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    OpenOptions::new().create(true).append(true).open(path)?.write_all(out.as_bytes())
}

impl Records {
    /// Parses the record format; malformed lines are skipped.
    pub fn parse(text: &str) -> Records {
        let rows = text
            .lines()
            .filter_map(|line| {
                let mut f = line.splitn(5, '\t');
                let mut next = || f.next().map(str::to_owned);
                Some(Record { server: next()?, mode: next()?, case: next()?, metric: next()?, value: next()? })
            })
            .collect();
        Records { rows }
    }

    /// The last value recorded under this key.
    pub fn text(&self, server: &str, mode: &str, case: &str, metric: &str) -> Option<&str> {
        self.rows
            .iter()
            .rev()
            .find(|r| r.server == server && r.mode == mode && r.case == case && r.metric == metric)
            .map(|r| r.value.as_str())
    }

    /// The last value under this key, as a number.
    pub fn num(&self, server: &str, mode: &str, case: &str, metric: &str) -> Option<f64> {
        self.text(server, mode, case, metric)?.trim().parse().ok()
    }

    /// A run parameter or machine fact (`run`, `-`, `param`, KEY).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.text("run", "-", "param", key)
    }

    /// The distinct (server, mode) pairs with a record in a case accepted by `case`, servers in `order` first.
    pub fn rows_for(&self, order: &[&str], case: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for r in &self.rows {
            if !NOT_SERVERS.contains(&r.server.as_str()) && case(&r.case) {
                let pair = (r.server.clone(), r.mode.clone());
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
        }
        let rank = |s: &str| order.iter().position(|o| *o == s).unwrap_or(order.len());
        let mode_rank = |m: &str| ["fsync", "nofsync", "-"].iter().position(|o| *o == m).unwrap_or(3);
        pairs.sort_by_key(|(s, m)| (rank(s), mode_rank(m)));
        pairs
    }

    /// The distinct cases accepted by `case` that a server ran (not a machine limit alone), in first-seen order.
    pub fn cases(&self, case: impl Fn(&str) -> bool) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for r in &self.rows {
            if !NOT_SERVERS.contains(&r.server.as_str()) && case(&r.case) && !found.contains(&r.case) {
                found.push(r.case.clone());
            }
        }
        found
    }
}

/// A record builder for one workload run.
#[derive(Clone, Debug)]
pub struct Tags {
    /// See [`Record::server`].
    pub server: String,
    /// See [`Record::mode`].
    pub mode: String,
    /// See [`Record::case`].
    pub case: String,
}

impl Tags {
    /// A record of `metric` = `value` under these tags.
    pub fn record(&self, metric: &str, value: impl ToString) -> Record {
        Record {
            server: self.server.clone(),
            mode: self.mode.clone(),
            case: self.case.clone(),
            metric: metric.to_owned(),
            value: value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_last_wins() {
        let dir = std::env::temp_dir().join(format!("tus-bench-record-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let tags = Tags { server: "ours".into(), mode: "fsync".into(), case: "W1".into() };
        append(&dir, &[tags.record("mib_per_s", 1.5), tags.record("first_error", "a\tb\nc")]).unwrap();
        append(&dir, &[tags.record("mib_per_s", 2.5)]).unwrap();
        let records = Records::parse(&std::fs::read_to_string(&dir).unwrap());
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(records.num("ours", "fsync", "W1", "mib_per_s"), Some(2.5));
        assert_eq!(records.text("ours", "fsync", "W1", "first_error"), Some("a b c"));
        assert_eq!(records.rows_for(&["ours"], |c| c == "W1"), vec![("ours".to_owned(), "fsync".to_owned())]);
        let limits = Records::parse("floor\tnofsync\tW2/c1\tper_s\t9\nours\tfsync\tW2/c8\tper_s\t1\n");
        assert_eq!(limits.cases(|c| c.starts_with("W2/")), vec!["W2/c8".to_owned()], "a limit alone is no case");
    }
}
