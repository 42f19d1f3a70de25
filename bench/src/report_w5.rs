//! Report sections: W5 (how cost grows with the number of uploads already present) and the CPU use of client and
//! server per workload.

use std::fmt::Write;

use crate::record::Records;
use crate::report::{fmt, mode_label, server_label, SERVER_ORDER};

/// Prefill levels (`W5/N/...`), ascending.
fn levels(recs: &Records) -> Vec<u64> {
    let mut found: Vec<u64> =
        recs.cases(|c| c.starts_with("W5/")).iter().filter_map(|c| c.split('/').nth(1)?.parse().ok()).collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// W2 concurrencies used under W5, ascending.
fn w5_concurrencies(recs: &Records) -> Vec<u64> {
    let mut found: Vec<u64> = recs
        .cases(|c| c.starts_with("W5/") && c.contains("/W2/c"))
        .iter()
        .filter_map(|c| c.rsplit_once("/c")?.1.parse().ok())
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// The W5 table: per server and fsync mode, W2 uploads/s and W3 HEAD/s with N uploads already present, each with
/// its ratio to the same figure on an empty directory (W2 / W3).
pub fn render(out: &mut String, recs: &Records, flag: &mut dyn FnMut(&str, &str, &str) -> &'static str) {
    let levels = levels(recs);
    let _ = writeln!(
        out,
        "## W5 — cost growth with uploads already present\n\nThe upload directory is first filled with N unfinished \
         uploads (POST only, {} clients); then W2 and W3 run again. `(N of empty)` = figure ÷ the same server's \
         figure on an empty directory (W2, W3 above): 1.00 means no slowdown.\n",
        recs.param("w5_fill_conc").unwrap_or("?")
    );
    if levels.is_empty() {
        out.push_str("_Not run._\n\n");
        return;
    }
    let conc = w5_concurrencies(recs);
    out.push_str("| server | fsync | present |");
    for c in &conc {
        let _ = write!(out, " W2 uploads/s, {c} client(s) |");
    }
    out.push_str(" W3 HEAD/s | W3 p99 ms | fill rate (POST/s) |\n|---|---|---:|");
    out.push_str(&"---:|".repeat(conc.len() + 3));
    out.push('\n');
    let rows = recs.rows_for(&SERVER_ORDER, |c| c.starts_with("W5/"));
    for (server, mode) in &rows {
        for n in &levels {
            let _ = write!(out, "| {} | {} | {n} |", server_label(server), mode_label(server, mode));
            let mut cell = |case: String, metric: &str, base: Option<(&str, String)>| -> String {
                let Some(value) = recs.num(server, mode, &case, metric) else { return "—".to_owned() };
                let mut text = fmt(value);
                if let Some((base_mode, base_case)) = base {
                    if let Some(empty) = recs.num(server, base_mode, &base_case, metric).filter(|v| *v > 0.0) {
                        let _ = write!(text, " ({} of empty)", fmt(value / empty));
                    }
                }
                text.push_str(flag(server, mode, &case));
                text
            };
            for c in &conc {
                let text = cell(format!("W5/{n}/W2/c{c}"), "per_s", Some((mode.as_str(), format!("W2/c{c}"))));
                let _ = write!(out, " {text} |");
            }
            let head = cell(format!("W5/{n}/W3"), "per_s", Some(("-", "W3".to_owned())));
            let p99 = cell(format!("W5/{n}/W3"), "p99_ms", None);
            let fill = cell(format!("W5/{n}/prefill"), "per_s", None);
            let _ = writeln!(out, " {head} | {p99} | {fill} |");
        }
    }
    out.push('\n');
}

/// CPU seconds of the load generator and of the server tree for every workload run, to show whether the client
/// could have been the bottleneck, and the share of the machine's CPU time the hypervisor took meanwhile.
pub fn cpu_section(out: &mut String, recs: &Records) {
    out.push_str(
        "## CPU use per workload\n\n<details><summary>client (tus-bench) and server CPU seconds, wall seconds, \
         TCP connections opened, CPU time stolen by the hypervisor</summary>\n\n| server | fsync | case | wall s | \
         client CPU s | server CPU s | connections | stolen % |\n|---|---|---|---:|---:|---:|---:|---:|\n",
    );
    let mut seen: Vec<(&str, &str, &str)> = Vec::new();
    for r in recs.rows.iter().filter(|r| r.metric == "secs") {
        let key = (r.server.as_str(), r.mode.as_str(), r.case.as_str());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let get = |metric: &str| recs.num(key.0, key.1, key.2, metric).map_or("—".to_owned(), fmt);
        let connects = recs.text(key.0, key.1, key.2, "connects").unwrap_or("—");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            key.0,
            key.1,
            key.2,
            get("secs"),
            get("client_cpu_s"),
            get("server_cpu_s"),
            connects,
            get("stolen_pct")
        );
    }
    out.push_str("\n</details>\n");
}
