//! The Markdown report (BENCHMARKS.md): machine and run facts, targets met or not, one table per workload with
//! absolute figures and, after each peer's figure, the ratio ours ÷ that peer in the same fsync mode.

use std::fmt::Write;

use crate::record::Records;
use crate::targets;

/// Servers in table order; `ours` is the one ratios are computed for. `base` is our server from another build
/// (`OURS_BASE_BIN`), for before-and-after runs of a change.
pub const SERVER_ORDER: [&str; 5] = ["ours", "base", "tussi", "tus-node", "rustus"];

/// The name of a server in tables.
pub fn server_label(server: &str) -> String {
    match server {
        "ours" => "**tussi (ours)**".to_owned(),
        "base" => "tussi, base build".to_owned(),
        "tussi" => "original tussi 3.1.0".to_owned(),
        "tus-node" => "@tus/server 2".to_owned(),
        "rustus" => "rustus 0.5.10".to_owned(),
        other => other.to_owned(),
    }
}

/// The fsync column of a server run in `mode`.
pub fn mode_label(server: &str, mode: &str) -> String {
    match (server, mode) {
        (_, "fsync") => "on".to_owned(),
        ("tus-node" | "rustus", "nofsync") => "off (never fsyncs)".to_owned(),
        (_, "nofsync") => "off".to_owned(),
        (_, "-") => "n/a".to_owned(),
        (_, other) => other.to_owned(),
    }
}

/// A figure with sensible precision.
pub fn fmt(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// One table column: a metric of a case, optionally followed by the ours ÷ peer ratio in peer rows; or, for a
/// text column, the recorded text as it is.
struct Col {
    case: String,
    metric: &'static str,
    header: String,
    ratio: bool,
    text: bool,
}

fn col(case: &str, metric: &'static str, header: impl Into<String>, ratio: bool) -> Col {
    Col { case: case.to_owned(), metric, header: header.into(), ratio, text: false }
}

fn text_col(case: &str, metric: &'static str, header: impl Into<String>) -> Col {
    Col { text: true, ..col(case, metric, header, false) }
}

/// A workload run during which the hypervisor took at least this share of the machine's CPU time (steal) is
/// marked as disturbed: on a shared VM such runs are slower by far more than their share.
const DISTURBED_STOLEN_PCT: f64 = 10.0;

/// Notes about failed, cut-short or disturbed runs, gathered while rendering tables.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    /// " ⚠" when the run of (server, mode, case) had errors or was cut short (noting why once), " ‡" when the
    /// hypervisor took at least [`DISTURBED_STOLEN_PCT`] of the CPU time during it, both, or "".
    fn flag(&mut self, recs: &Records, server: &str, mode: &str, case: &str) -> &'static str {
        let stolen = recs.num(server, mode, case, "stolen_pct").unwrap_or(0.0) >= DISTURBED_STOLEN_PCT;
        if stolen {
            self.add(format!(
                "‡: the hypervisor took at least {} % of the machine's CPU time during that run (steal in \
                 `/proc/stat`; each run's share is in the last section): a disturbed figure",
                fmt(DISTURBED_STOLEN_PCT)
            ));
        }
        let errors = recs.num(server, mode, case, "errors").unwrap_or(0.0);
        let cut = recs.num(server, mode, case, "cut_short").unwrap_or(0.0) > 0.0;
        if errors == 0.0 && !cut {
            return if stolen { " ‡" } else { "" };
        }
        let first = recs.text(server, mode, case, "first_error").unwrap_or("-");
        self.add(format!(
            "{server} (fsync {}) {case}: {errors} errors{}; first: {first}",
            mode_label(server, mode),
            if cut { ", cut short by the time or error limit" } else { "" }
        ));
        if stolen {
            " ⚠ ‡"
        } else {
            " ⚠"
        }
    }

    fn add(&mut self, note: String) {
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }
}

fn table(out: &mut String, recs: &Records, cols: &[Col], notes: &mut Notes) {
    let rows = recs.rows_for(&SERVER_ORDER, |case| cols.iter().any(|c| c.case == case));
    if rows.is_empty() {
        out.push_str("_Not run._\n\n");
        return;
    }
    let _ = write!(out, "| server | fsync |");
    for c in cols {
        let _ = write!(out, " {} |", c.header);
    }
    let _ = write!(out, "\n|---|---|{}\n", "---:|".repeat(cols.len()));
    for (server, mode) in &rows {
        let _ = write!(out, "| {} | {} |", server_label(server), mode_label(server, mode));
        for c in cols {
            if c.text {
                let _ = write!(out, " {} |", recs.text(server, mode, &c.case, c.metric).unwrap_or("—"));
                continue;
            }
            let cell = match value_of(recs, server, mode, &c.case, c.metric) {
                None => "—".to_owned(),
                Some(value) => {
                    let mut cell = fmt(value);
                    if c.ratio && server != "ours" {
                        if let Some(ours) = recs.num("ours", mode, &c.case, c.metric) {
                            if value > 0.0 {
                                let _ = write!(cell, " (×{})", fmt(ours / value));
                            }
                        }
                    }
                    cell.push_str(notes.flag(recs, server, mode, &c.case));
                    cell
                }
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

/// A recorded metric, or `pct_dd`: MiB/s as a percentage of the dd limit.
fn value_of(recs: &Records, server: &str, mode: &str, case: &str, metric: &str) -> Option<f64> {
    if metric == "pct_dd" {
        let dd = recs.num("disk", "dsync", "W1", "mib_per_s")?;
        return Some(recs.num(server, mode, case, "mib_per_s")? / dd * 100.0);
    }
    recs.num(server, mode, case, metric)
}

/// Sorted concurrency suffixes of the cases `PREFIX/cN`.
fn concurrencies(recs: &Records, prefix: &str) -> Vec<u64> {
    let mut found: Vec<u64> = recs
        .cases(|c| c.starts_with(prefix))
        .iter()
        .filter_map(|c| c.strip_prefix(prefix)?.strip_prefix("/c")?.parse().ok())
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn param<'a>(recs: &'a Records, key: &str) -> &'a str {
    recs.param(key).unwrap_or("?")
}

fn header(out: &mut String, recs: &Records) {
    let _ = writeln!(out, "# tussi benchmarks\n");
    let _ = writeln!(out, "Reproduce (from the repository root): `{}`\n", param(recs, "command"));
    if recs.param("quick") == Some("1") {
        out.push_str(
            "> **Quick smoke run** (`--quick`): reduced sizes, not the benchmark. Do not quote these figures.\n\n",
        );
    }
    let _ = writeln!(out, "- Date: {}", param(recs, "date"));
    let _ = writeln!(
        out,
        "- Machine: {} CPUs (`nproc`), {} memory, {}",
        param(recs, "nproc"),
        param(recs, "memory"),
        param(recs, "cpu")
    );
    let _ = writeln!(out, "- Disk of the data directories (`df -h`): `{}`", param(recs, "disk"));
    let _ = writeln!(out, "- Filesystem (`findmnt`, `/proc/fs/jbd2`): `{}`", param(recs, "filesystem"));
    let _ = writeln!(out, "- Kernel: {}; workspace commit: {}", param(recs, "kernel"), param(recs, "commit"));
    let _ = writeln!(
        out,
        "- Load average at start / end (a quiet machine shows about 0 at the start): {} / {}",
        param(recs, "loadavg"),
        param(recs, "loadavg_end")
    );
    stolen(out, recs);
    let _ = writeln!(out, "- Raw records: `{}`", param(recs, "records"));
    out.push_str(
        "- Method: each server runs alone on the machine and is restarted with an empty data directory for each \
         workload; the load generator (`tus-bench`: HTTP/1.1, keep-alive; uploads from one blocking thread per \
         connection, HEAD from one event loop) runs on the same machine, so client and server share the CPUs (CPU seconds of each are in the \
         last section). Uploads and bodies: POST with `Upload-Length`, then PATCHes from one static buffer. A data \
         directory of many small files is removed only at the end of the run: on ext4 without a journal every \
         inode allocation skips the inodes freed in the last minute, one by one, so a server started after \
         another's mass deletion would pay for it.\n",
    );
    if let Some(secs) = recs.param("settle_secs").filter(|s| *s != "0") {
        let _ = writeln!(
            out,
            "- Each W2 run starts {secs} s after the previous one ended (disk synced): inodes freed by one run (ours \
             removes a staging record per upload) would otherwise slow the inode allocations of the next."
        );
    }
    match recs.param("drop_caches") {
        Some("1") => out.push_str(
            "- Every server starts with the kernel's dentry, inode and page caches emptied (`sync; echo 3 > \
             /proc/sys/vm/drop_caches`): the files of earlier runs would otherwise lengthen the hash chains of every \
             later path lookup and inode creation, more so for a server that looks up more names per upload.\n",
        ),
        Some(_) => out.push_str(
            "- The kernel's caches were not emptied between servers (`/proc/sys/vm/drop_caches` not writable: not \
             root): the files of earlier runs slow later path lookups, so later servers may pay for earlier ones.\n",
        ),
        None => {}
    }
    out.push_str(
        "- Ratios: `(×N)` after a peer's figure is **ours ÷ that peer**, with ours in the same fsync mode (above 1: \
         ours is faster). ⚠ marks a run with errors or cut short, ‡ one the hypervisor disturbed (see Notes).\n\n",
    );
    out.push_str("| server | what | fsync |\n|---|---|---|\n");
    out.push_str(
        "| tussi (ours) | this workspace: `tus-tokio` example `tokio-serve` (release) | on by default; `--no-fsync` |\n",
    );
    out.push_str("| original tussi 3.1.0 | PyPI `tussi[cli]==3.1.0`, `TUSApp` under uvicorn (via `peers.sh`) | `FilesystemStorage(fsync=True)` by default |\n");
    out.push_str("| @tus/server 2 | npm `@tus/server@2` + `@tus/file-store@2` (via `peers.sh`) | never fsyncs |\n");
    out.push_str("| rustus 0.5.10 | `cargo install rustus --version 0.5.10` (via `peers.sh`) | never fsyncs |\n\n");
    if let Some(note) = recs.param("fsync_note") {
        let _ = writeln!(out, "Note: {note}\n");
    }
}

/// How much CPU time the hypervisor took (steal in `/proc/stat`): over the whole run, and in the workload run
/// that lost most. On a shared VM this is the plainest sign that a figure was disturbed.
fn stolen(out: &mut String, recs: &Records) {
    let worst = recs
        .rows
        .iter()
        .filter(|r| r.metric == "stolen_pct")
        .filter_map(|r| Some((r.value.parse::<f64>().ok()?, r)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let whole = recs.param("stolen_pct").and_then(|v| v.parse::<f64>().ok());
    if whole.is_none() && worst.is_none() {
        return;
    }
    out.push_str("- CPU time stolen by the hypervisor (steal in `/proc/stat`, all CPUs): ");
    match whole {
        Some(pct) => {
            let _ = write!(out, "{} % over the whole run", fmt(pct));
        }
        None => out.push_str("not measured over the whole run"),
    }
    if let Some((pct, r)) = worst {
        let _ = write!(out, "; at most {} % in one workload run ({} {} {})", fmt(pct), r.server, r.mode, r.case);
    }
    out.push_str("; each run's share is in the last section\n");
}

/// Renders the whole report.
pub fn render(recs: &Records) -> String {
    let mut out = String::new();
    let mut notes = Notes::default();
    header(&mut out, recs);

    out.push_str("## Targets\n\n| target | figures | status |\n|---|---|---|\n");
    for t in targets::evaluate(recs) {
        let _ = writeln!(out, "| {} | {} | {} |", t.name, t.detail, t.status.label());
    }
    out.push('\n');

    let _ = writeln!(
        out,
        "## W1 — one upload of {} MiB in {} MiB PATCHes\n",
        param(recs, "w1_mib"),
        param(recs, "w1_chunk_mib")
    );
    if let Some(runs) = recs.param("w1_runs").filter(|runs| *runs != "1") {
        let _ = writeln!(
            out,
            "Each server uploads {runs} times, each time freshly started on an empty data directory; the table \
             reports the fastest run and lists all. Writing into the page cache is several times slower when the \
             memory it gets was handed back to the hypervisor (free page reporting on this VM), so right before \
             each upload (and each ceiling run) a file of the same size is written and deleted: every run starts \
             with freshly freed memory. The fastest run is the server's own speed.\n"
        );
    }
    table(
        &mut out,
        recs,
        &[
            col("W1", "mib_per_s", "MiB/s", true),
            col("W1", "pct_dd", "% of dd limit", false),
            text_col("W1", "runs_mib_per_s", "each run, MiB/s"),
        ],
        &mut notes,
    );
    match recs.num("disk", "dsync", "W1", "mib_per_s") {
        Some(dd) => {
            let _ = writeln!(
                out,
                "Disk limit, same run and filesystem: `{}` → **{} MiB/s**.\n",
                param(recs, "dd_command"),
                fmt(dd)
            );
        }
        None => out.push_str("Disk limit: not measured.\n\n"),
    }
    if let Some(ceiling) = recs.num("ceiling", "nofsync", "W1", "mib_per_s") {
        let runs = recs.text("ceiling", "nofsync", "W1", "runs_mib_per_s").unwrap_or("?");
        let cpu = recs
            .num("ceiling", "nofsync", "W1", "server_cpu_s")
            .map_or(String::new(), |cpu| format!("; CPU of both sides in the fastest run {} s", fmt(cpu)));
        let _ = writeln!(
            out,
            "Ceiling without fsync, same run and filesystem: loopback TCP into the page cache with no HTTP (`tus-bench \
             ceiling`: one thread reads the socket, one writes the file) → **{} MiB/s** (each run: {runs}{cpu}). No \
             server in user space moves more at the same moment.\n",
            fmt(ceiling)
        );
    }

    let _ = writeln!(
        out,
        "## W2 — {} uploads of {} B (POST + PATCH each)\n\nuploads/s, and p99 of one whole upload in ms.\n",
        param(recs, "w2_count"),
        param(recs, "w2_size")
    );
    let conc = concurrencies(recs, "W2");
    let mut cols: Vec<Col> =
        conc.iter().map(|c| col(&format!("W2/c{c}"), "per_s", format!("{c} client(s)"), true)).collect();
    cols.extend(conc.iter().map(|c| col(&format!("W2/c{c}"), "p99_ms", format!("p99 ms, {c}"), false)));
    table(&mut out, recs, &cols, &mut notes);
    w2_rounds(&mut out, recs, &conc, &mut notes);
    w2_floor(&mut out, recs);
    w2_durable(&mut out, recs);

    let _ = writeln!(
        out,
        "## W3 — HEAD on one unfinished upload, {} clients for {} s\n",
        param(recs, "w3_conc"),
        param(recs, "w3_secs")
    );
    table(
        &mut out,
        recs,
        &[
            col("W3", "per_s", "HEAD/s", true),
            col("W3", "p50_ms", "p50 ms", false),
            col("W3", "p99_ms", "p99 ms", false),
        ],
        &mut notes,
    );

    let _ = writeln!(
        out,
        "## W4 — {} concurrent uploads of {} MiB in {} MiB PATCHes\n\nPeak RSS: `VmHWM` of the server process plus its \
         live children, read at the end (the server was started fresh for this workload).\n",
        param(recs, "w4_count"),
        param(recs, "w4_mib"),
        param(recs, "w4_chunk_mib")
    );
    table(
        &mut out,
        recs,
        &[
            col("W4", "mib_per_s", "MiB/s", true),
            col("W4", "peak_rss_mib", "peak RSS MiB", false),
            col("W4", "p99_ms", "p99 ms per upload", false),
        ],
        &mut notes,
    );

    crate::report_w5::render(&mut out, recs, &mut |server, mode, case| notes.flag(recs, server, mode, case));

    out.push_str("## Notes\n\n");
    if notes.0.iter().all(|note| note.starts_with('‡')) {
        out.push_str("No errors; no run was cut short.\n");
    }
    for note in &notes.0 {
        let _ = writeln!(out, "- {note}");
    }
    for skipped in recs.rows.iter().filter(|r| r.case == "skipped") {
        let _ = writeln!(out, "- {} was skipped: {}", skipped.server, skipped.value);
    }
    out.push('\n');
    crate::report_w5::cpu_section(&mut out, recs);
    out
}

/// Every round of W2 per server, when there were several: the table above reports the fastest clean one.
fn w2_rounds(out: &mut String, recs: &Records, conc: &[u64], notes: &mut Notes) {
    let Some(rounds) = recs.param("w2_rounds").filter(|rounds| *rounds != "1") else { return };
    let _ = writeln!(
        out,
        "W2 ran in {rounds} rounds (each round: every case for every server back to back, each on a fresh server); \
         the table reports each server's fastest round without errors, and this one lists every round in order, \
         uploads/s:\n"
    );
    let cols: Vec<Col> =
        conc.iter().map(|c| text_col(&format!("W2/c{c}"), "runs_per_s", format!("{c} client(s)"))).collect();
    table(out, recs, &cols, notes);
}

/// The one-client floor of W2 and our storage alone, measured in the same run, under the W2 table.
fn w2_floor(out: &mut String, recs: &Records) {
    let Some(floor) = recs.num("floor", "nofsync", "W2/c1", "per_s") else { return };
    let runs = recs.text("floor", "nofsync", "W2/c1", "runs_per_s").unwrap_or("?");
    let p50 = recs.num("floor", "nofsync", "W2/c1", "p50_ms").map_or("?".to_owned(), |ms| fmt(ms * 1000.0));
    let _ = write!(
        out,
        "Floor at one client, same run: an upload's two exchanges (the bytes of W2's POST and PATCH and of their \
         responses) over loopback with no HTTP and no files (`tus-bench floor`: one client thread, one responder \
         thread) → **{} uploads/s** (p50 {p50} µs per upload; each run: {runs})",
        fmt(floor)
    );
    if let Some(pinned) = recs.num("floor", "one-cpu", "W2/c1", "per_s") {
        let _ = write!(out, "; with both threads on one CPU (`taskset -c 0`) {} uploads/s", fmt(pinned));
        if pinned >= 2.0 * floor {
            out.push_str(": most of an exchange is waking a thread on the other, idle CPU");
        }
    }
    if let Some(storage) = recs.num("storage", "nofsync", "W2/c1", "per_s").filter(|s| *s > 0.0) {
        let _ = write!(
            out,
            ". Our storage alone, what a POST and a PATCH ask of the store without HTTP (`small_uploads`, one \
             thread, fsync off): {} uploads/s = {} µs per upload",
            fmt(storage),
            fmt(1e6 / storage)
        );
    }
    out.push_str(".\n\n");
}

/// The disk's floor of W2 with fsync, measured in the same run, under the W2 table.
fn w2_durable(out: &mut String, recs: &Records) {
    let mut writers: Vec<(u64, String)> = recs
        .rows
        .iter()
        .filter(|r| r.server == "durable" && r.mode == "fsync" && r.metric == "per_s")
        .filter_map(|r| {
            let clients = r.case.strip_prefix("W2/c")?.parse::<u64>().ok()?;
            let p50 = recs.num("durable", "fsync", &r.case, "p50_ms").map_or("?".to_owned(), |ms| fmt(ms * 1000.0));
            let rate = r.value.parse::<f64>().ok()?;
            Some((clients, format!("{clients} writer(s) {} files/s (p50 {p50} µs a file)", fmt(rate))))
        })
        .collect();
    if writers.is_empty() {
        return;
    }
    writers.sort_by_key(|(clients, _)| *clients);
    writers.dedup_by_key(|(clients, _)| *clients);
    let listed: Vec<String> = writers.into_iter().map(|(_, text)| text).collect();
    let _ = write!(
        out,
        "Disk floor with fsync, same run: new files of {} B written and fsynced, one after the other by each writer, \
         no directory sync (`tus-bench durable`) → {}. Both the original tussi and ours keep each upload in a new \
         file of its own (the layout they share); with fsync the original waits for one such sync per upload (its \
         data), ours for three sync phases (the new record and its directory entry; the data and the finished \
         record; their names in the completed directory).\n\n",
        param(recs, "w2_size"),
        listed.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_carry_ratios_in_the_same_mode_and_flag_errors() {
        let text = "run | - | param | w2_count | 10\n\
                    run | - | param | w2_rounds | 2\n\
                    disk | dsync | W1 | mib_per_s | 400\n\
                    ours | fsync | W1 | mib_per_s | 300\n\
                    ours | fsync | W1 | runs_mib_per_s | 250 / 300 / 280\n\
                    tussi | fsync | W1 | mib_per_s | 100\n\
                    ours | nofsync | W2/c8 | per_s | 3000\n\
                    ours | nofsync | W2/c8 | runs_per_s | 2900 / 3000\n\
                    rustus | nofsync | W2/c8 | per_s | 1000\n\
                    rustus | nofsync | W2/c8 | runs_per_s | 1000 / 0\n\
                    rustus | nofsync | W2/c8 | errors | 2\n\
                    rustus | nofsync | W2/c8 | first_error | POST answered 500\n\
                    ours | - | W5/100/W3 | per_s | 5\n\
                    ours | - | W3 | per_s | 10\n\
                    ceiling | nofsync | W1 | mib_per_s | 900\n\
                    ceiling | nofsync | W1 | runs_mib_per_s | 900 / 850\n\
                    floor | nofsync | W2/c1 | per_s | 5000\n\
                    floor | nofsync | W2/c1 | p50_ms | 0.150\n\
                    floor | nofsync | W2/c1 | runs_per_s | 4000 / 5000\n\
                    floor | one-cpu | W2/c1 | per_s | 50000\n\
                    storage | nofsync | W2/c1 | per_s | 10000\n\
                    durable | fsync | W2/c8 | per_s | 2500\n\
                    durable | fsync | W2/c1 | per_s | 1250\n\
                    durable | fsync | W2/c1 | p50_ms | 0.780\n";
        let report = render(&Records::parse(&text.replace(" | ", "\t")));
        assert!(report.contains("| original tussi 3.1.0 | on | 100 (×3.00) | 25.0 | — |"), "{report}");
        assert!(report.contains("| **tussi (ours)** | on | 300 | 75.0 | 250 / 300 / 280 |"), "{report}");
        assert!(report.contains("| rustus 0.5.10 | off (never fsyncs) | 1000 (×3.00) ⚠ |"), "{report}");
        assert!(report.contains("rustus (fsync off (never fsyncs)) W2/c8: 2 errors; first: POST answered 500"));
        assert!(report.contains("5.00 (0.50 of empty)"), "{report}");
        assert!(
            report.contains("| W1 ≥ 3× the original tussi | W1 fsync on: 300 ÷ 100 = ×3.00 | ✅ met |"),
            "{report}"
        );
        assert!(report.contains("W2 ran in 2 rounds"), "{report}");
        assert!(report.contains("| **tussi (ours)** | off | 2900 / 3000 |"), "{report}");
        assert!(report.contains("| rustus 0.5.10 | off (never fsyncs) | 1000 / 0 |"), "{report}");
        assert!(report.contains("## W4") && report.contains("_Not run._"));
        assert!(report.contains("→ **900 MiB/s** (each run: 900 / 850)"), "{report}");
        assert!(!report.contains("| ceiling |"), "the ceiling is no server row: {report}");
        assert!(report.contains("→ **5000 uploads/s** (p50 150 µs per upload; each run: 4000 / 5000)"), "{report}");
        assert!(report.contains("(`taskset -c 0`) 50000 uploads/s: most of an exchange is waking"), "{report}");
        assert!(report.contains("10000 uploads/s = 100 µs per upload."), "{report}");
        assert!(!report.contains("| floor |") && !report.contains("| storage |"), "no server rows: {report}");
        assert!(
            report.contains(
                "(`tus-bench durable`) → 1 writer(s) 1250 files/s (p50 780 µs a file), 8 writer(s) 2500 files/s (p50 ? \
                 µs a file)."
            ),
            "in order of writers: {report}"
        );
        assert!(!report.contains("| durable |"), "no server row: {report}");
    }

    #[test]
    fn names_the_cpu_time_the_hypervisor_took() {
        let quiet = render(&Records::parse("ours\tfsync\tW2/c1\tsecs\t1\n"));
        assert!(!quiet.contains("stolen by the hypervisor ("), "nothing measured, nothing said: {quiet}");
        let text = "run | - | param | stolen_pct | 4.5\n\
                    ours | fsync | W2/c1 | secs | 10\n\
                    ours | fsync | W2/c1 | stolen_pct | 2.5\n\
                    ours | fsync | W2/c1 | per_s | 1000\n\
                    ours | nofsync | W2/c8 | per_s | 1000\n\
                    rustus | nofsync | W2/c8 | per_s | 3000\n\
                    rustus | nofsync | W2/c8 | secs | 3\n\
                    rustus | nofsync | W2/c8 | stolen_pct | 31.0\n";
        let report = render(&Records::parse(&text.replace(" | ", "\t")));
        assert!(
            report.contains("4.50 % over the whole run; at most 31.0 % in one workload run (rustus nofsync W2/c8)"),
            "{report}"
        );
        assert!(report.contains("| ours | fsync | W2/c1 | 10.0 | — | — | — | 2.50 |"), "{report}");
        assert!(report.contains("(×0.33) ‡ |"), "rustus' W2/c8 is marked disturbed: {report}");
        assert!(report.contains("- ‡: the hypervisor took at least 10.0 %"), "{report}");
        assert!(!report.contains("| 1000 ‡"), "ours at 2.5 % is not marked: {report}");
        assert!(report.contains("No errors; no run was cut short."), "a disturbed run is no error: {report}");
    }
}
