//! The performance targets the lead checks, computed from the recorded figures. A target comparing two servers
//! is met only when every comparable pair (same workload case, same fsync mode) meets it.

use crate::record::Records;
use crate::report::fmt;

/// Whether a target is met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every compared figure meets it.
    Met,
    /// At least one compared figure misses it.
    NotMet,
    /// A figure it needs was not recorded.
    NotMeasured,
}

impl Status {
    /// The label shown in the report.
    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "✅ met",
            Status::NotMet => "❌ not met",
            Status::NotMeasured => "— not measured",
        }
    }
}

/// One evaluated target.
#[derive(Clone, Debug)]
pub struct Target {
    /// What is required.
    pub name: String,
    /// The figures it was decided on.
    pub detail: String,
    /// The verdict.
    pub status: Status,
}

/// Errors in a figure make it suspect: say so next to it.
fn errors_mark(recs: &Records, server: &str, mode: &str, case: &str) -> &'static str {
    let errors = recs.num(server, mode, case, "errors").unwrap_or(0.0);
    let cut = recs.num(server, mode, case, "cut_short").unwrap_or(0.0);
    if errors > 0.0 || cut > 0.0 {
        " ⚠"
    } else {
        ""
    }
}

/// `ours ÷ peer ≥ factor` for every case and every fsync mode both servers ran.
fn ratio_target(recs: &Records, name: &str, cases: &[String], metric: &str, peer: &str, factor: f64) -> Target {
    let mut parts = Vec::new();
    let mut all_met = true;
    for case in cases {
        for mode in ["fsync", "nofsync", "-"] {
            let (Some(ours), Some(theirs)) = (recs.num("ours", mode, case, metric), recs.num(peer, mode, case, metric))
            else {
                continue;
            };
            let ratio = if theirs > 0.0 { ours / theirs } else { f64::INFINITY };
            all_met &= ratio >= factor;
            let fsync = match mode {
                "fsync" => " fsync on",
                "nofsync" => " fsync off",
                _ => "",
            };
            parts.push(format!(
                "{case}{fsync}: {}{} ÷ {}{} = ×{}",
                fmt(ours),
                errors_mark(recs, "ours", mode, case),
                fmt(theirs),
                errors_mark(recs, peer, mode, case),
                fmt(ratio)
            ));
        }
    }
    let status = match (parts.is_empty(), all_met) {
        (true, _) => Status::NotMeasured,
        (false, true) => Status::Met,
        (false, false) => Status::NotMet,
    };
    let detail =
        if parts.is_empty() { format!("needs ours and {peer} in the same fsync mode") } else { parts.join("; ") };
    Target { name: name.to_owned(), detail, status }
}

/// What ×10 the original leaves per upload at one client without fsync, against the floor measured in the same
/// run (the bare exchanges) plus our storage alone: empty when either the original or the floor is missing.
fn w2_one_client_budget(recs: &Records) -> String {
    let per_upload_us =
        |server: &str| recs.num(server, "nofsync", "W2/c1", "per_s").filter(|r| *r > 0.0).map(|r| 1e6 / r);
    let (Some(original), Some(floor)) = (per_upload_us("tussi"), per_upload_us("floor")) else { return String::new() };
    let budget = original / 10.0;
    let mut detail = format!(
        "; one client without fsync: ×10 leaves {} µs per upload, the bare exchanges take {} µs (no-HTTP floor)",
        fmt(budget),
        fmt(floor)
    );
    let mut needed = floor;
    if let Some(storage) = per_upload_us("storage") {
        needed += storage;
        detail += &format!(" and our storage alone {} µs: {} µs together", fmt(storage), fmt(needed));
    }
    if needed > budget {
        detail += ", more than ×10 leaves";
    }
    detail
}

/// With fsync: what ×10 the original needs against the new files this disk makes durable per second with as many
/// writers as clients (`tus-bench durable`, measured in the same run), for every concurrency both were measured at.
/// At one client the upload also waits for its exchanges, so the no-HTTP floor is added to the file's time there.
fn w2_fsync_limits(recs: &Records) -> String {
    let mut parts = Vec::new();
    for case in recs.cases(|c| c.starts_with("W2/c")) {
        let rate = |server: &str| recs.num(server, "fsync", &case, "per_s").filter(|r| *r > 0.0);
        let (Some(original), Some(files)) = (rate("tussi"), rate("durable")) else { continue };
        let clients = case.trim_start_matches("W2/c");
        let needed = 10.0 * original;
        let mut part = format!(
            "with fsync at {clients} client(s) ×10 needs {} uploads/s, and {clients} writer(s) make {} new files \
             durable per second (each written and fsynced on its own, no directory sync)",
            fmt(needed),
            fmt(files)
        );
        let floor = recs.num("floor", "nofsync", "W2/c1", "per_s").filter(|r| *r > 0.0);
        match floor {
            Some(floor) if clients == "1" => {
                let (budget, file, exchanges) = (1e6 / needed, 1e6 / files, 1e6 / floor);
                part += &format!(
                    ": ×10 leaves {} µs per upload, one such file takes {} µs and the bare exchanges {} µs",
                    fmt(budget),
                    fmt(file),
                    fmt(exchanges)
                );
                if file + exchanges > budget {
                    part += ", more than ×10 leaves";
                }
            }
            _ if needed > files => part += ": more than one fsync of a new file per upload allows",
            _ => {}
        }
        parts.push(part);
    }
    parts.iter().map(|part| format!("; {part}")).collect()
}

/// Every target, in the order of the brief.
pub fn evaluate(recs: &Records) -> Vec<Target> {
    let mut targets = Vec::new();

    let dd = recs.num("disk", "dsync", "W1", "mib_per_s");
    let ours_w1 = recs.num("ours", "fsync", "W1", "mib_per_s");
    targets.push(match (ours_w1, dd) {
        (Some(ours), Some(dd)) if dd > 0.0 => Target {
            name: "W1 ≥ 70 % of the dd limit (fsync on)".to_owned(),
            detail: format!(
                "{} MiB/s{} ÷ dd {} MiB/s = {:.0} %",
                fmt(ours),
                errors_mark(recs, "ours", "fsync", "W1"),
                fmt(dd),
                ours / dd * 100.0
            ),
            status: if ours / dd >= 0.70 { Status::Met } else { Status::NotMet },
        },
        _ => Target {
            name: "W1 ≥ 70 % of the dd limit (fsync on)".to_owned(),
            detail: "needs ours W1 with fsync and the dd figure".to_owned(),
            status: Status::NotMeasured,
        },
    });
    let w1 = ["W1".to_owned()];
    let mut w1_ratio = ratio_target(recs, "W1 ≥ 3× the original tussi", &w1, "mib_per_s", "tussi", 3.0);
    let ceiling = recs.num("ceiling", "nofsync", "W1", "mib_per_s");
    if let (Some(ceiling), Some(original)) = (ceiling, recs.num("tussi", "nofsync", "W1", "mib_per_s")) {
        if original > 0.0 {
            let bound = ceiling / original;
            let beyond = if bound < 3.0 { ": ×3 without fsync is above that ceiling" } else { "" };
            w1_ratio.detail += &format!(
                "; no-HTTP ceiling {} MiB/s = ×{} the original without fsync{beyond}",
                fmt(ceiling),
                fmt(bound)
            );
        }
    }
    targets.push(w1_ratio);

    let w2 = recs.cases(|c| c.starts_with("W2/c"));
    let mut w2_original =
        ratio_target(recs, "W2 ≥ 10× the original tussi (every concurrency)", &w2, "per_s", "tussi", 10.0);
    w2_original.detail += &w2_one_client_budget(recs);
    w2_original.detail += &w2_fsync_limits(recs);
    targets.push(w2_original);
    targets.push(ratio_target(recs, "W2 ≥ 1.5× rustus (every concurrency)", &w2, "per_s", "rustus", 1.5));

    let w3 = ["W3".to_owned()];
    targets.push(ratio_target(recs, "W3 HEAD/s ≥ 2× rustus", &w3, "per_s", "rustus", 2.0));

    let rss: Vec<(String, f64)> = ["fsync", "nofsync"]
        .iter()
        .filter_map(|m| Some((m.to_string(), recs.num("ours", m, "W4", "peak_rss_mib")?)))
        .collect();
    let worst = rss.iter().map(|(_, v)| *v).fold(f64::NAN, f64::max);
    targets.push(Target {
        name: "W4 peak RSS of ours ≤ 64 MiB".to_owned(),
        detail: if rss.is_empty() {
            "needs ours W4".to_owned()
        } else {
            rss.iter()
                .map(|(m, v)| {
                    format!(
                        "fsync {}: {} MiB{}",
                        if m == "fsync" { "on" } else { "off" },
                        fmt(*v),
                        errors_mark(recs, "ours", m, "W4")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        },
        status: if rss.is_empty() {
            Status::NotMeasured
        } else if worst <= 64.0 {
            Status::Met
        } else {
            Status::NotMet
        },
    });
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(text: &str) -> Records {
        Records::parse(&text.replace(" | ", "\t"))
    }

    #[test]
    fn w2_names_the_one_client_budget_against_the_floor() {
        let base = "tussi | nofsync | W2/c1 | per_s | 400\nours | nofsync | W2/c1 | per_s | 3000\n";
        let w2 = |text: &str| evaluate(&recs(text)).into_iter().find(|t| t.name.starts_with("W2 ≥ 10×")).unwrap();
        assert!(!w2(base).detail.contains("floor"), "no floor measured, none named");
        let floor = format!("{base}floor | nofsync | W2/c1 | per_s | 5000\n");
        assert!(
            w2(&floor).detail.ends_with("×10 leaves 250 µs per upload, the bare exchanges take 200 µs (no-HTTP floor)"),
            "{}",
            w2(&floor).detail
        );
        let both = format!("{floor}storage | nofsync | W2/c1 | per_s | 10000\n");
        assert!(
            w2(&both).detail.ends_with("and our storage alone 100 µs: 300 µs together, more than ×10 leaves"),
            "{}",
            w2(&both).detail
        );
    }

    #[test]
    fn w2_names_the_disk_floor_with_fsync() {
        let w2 = |text: &str| evaluate(&recs(text)).into_iter().find(|t| t.name.starts_with("W2 ≥ 10×")).unwrap();
        let base = "tussi | fsync | W2/c1 | per_s | 200\nours | fsync | W2/c1 | per_s | 700\n\
                    tussi | fsync | W2/c8 | per_s | 200\nours | fsync | W2/c8 | per_s | 2100\n";
        assert!(!w2(base).detail.contains("durable"), "no disk floor measured, none named");
        let files = format!("{base}durable | fsync | W2/c1 | per_s | 1000\ndurable | fsync | W2/c8 | per_s | 2500\n");
        let detail = w2(&files).detail;
        assert!(
            detail.contains(
                "; with fsync at 1 client(s) ×10 needs 2000 uploads/s, and 1 writer(s) make 1000 new files durable per \
                 second (each written and fsynced on its own, no directory sync): more than one fsync of a new file \
                 per upload allows"
            ),
            "{detail}"
        );
        assert!(detail.ends_with("8 writer(s) make 2500 new files durable per second (each written and fsynced on its own, no directory sync)"), "{detail}");
        let with_floor = w2(&format!("{files}floor | nofsync | W2/c1 | per_s | 4000\n")).detail;
        assert!(
            with_floor.contains(
                "no directory sync): ×10 leaves 500 µs per upload, one such file takes 1000 µs and the \
                 bare exchanges 250 µs, more than ×10 leaves;"
            ),
            "{with_floor}"
        );
    }

    #[test]
    fn ratios_need_the_same_mode_and_every_case() {
        let r = recs(
            "ours | fsync | W2/c1 | per_s | 1000\nours | fsync | W2/c8 | per_s | 5000\n\
             tussi | fsync | W2/c1 | per_s | 100\ntussi | fsync | W2/c8 | per_s | 600\n\
             ours | nofsync | W2/c1 | per_s | 3000\nrustus | nofsync | W2/c1 | per_s | 1000\n",
        );
        let all = evaluate(&r);
        let w2_tussi = all.iter().find(|t| t.name.starts_with("W2 ≥ 10×")).unwrap();
        assert_eq!(w2_tussi.status, Status::NotMet, "{}", w2_tussi.detail); // c8 is only ×8.33
        let w2_rustus = all.iter().find(|t| t.name.starts_with("W2 ≥ 1.5×")).unwrap();
        assert_eq!(w2_rustus.status, Status::Met, "{}", w2_rustus.detail);
        let w3 = all.iter().find(|t| t.name.starts_with("W3")).unwrap();
        assert_eq!(w3.status, Status::NotMeasured);
    }

    #[test]
    fn w1_names_the_ceiling_against_the_original() {
        let w1 = |text: &str| evaluate(&recs(text)).into_iter().find(|t| t.name.starts_with("W1 ≥ 3×")).unwrap();
        let base = "ours | nofsync | W1 | mib_per_s | 2000\ntussi | nofsync | W1 | mib_per_s | 1000\n";
        let low = w1(&format!("{base}ceiling | nofsync | W1 | mib_per_s | 2500\n"));
        assert_eq!(low.status, Status::NotMet);
        assert!(
            low.detail.ends_with(
                "no-HTTP ceiling 2500 MiB/s = ×2.50 the original without fsync: ×3 without fsync is above that ceiling"
            ),
            "{}",
            low.detail
        );
        let high = w1(&format!("{base}ceiling | nofsync | W1 | mib_per_s | 3500\n"));
        assert!(high.detail.ends_with("= ×3.50 the original without fsync"), "{}", high.detail);
        assert!(!w1(base).detail.contains("ceiling"), "no ceiling measured, none named");
    }

    #[test]
    fn dd_and_rss() {
        let r = recs(
            "disk | dsync | W1 | mib_per_s | 1000\nours | fsync | W1 | mib_per_s | 750\n\
             ours | fsync | W4 | peak_rss_mib | 40\nours | nofsync | W4 | peak_rss_mib | 70\n",
        );
        let all = evaluate(&r);
        assert_eq!(all[0].status, Status::Met);
        assert_eq!(all[1].status, Status::NotMeasured);
        assert_eq!(all.last().unwrap().status, Status::NotMet);
    }
}
