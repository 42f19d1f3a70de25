//! Process figures from Linux `/proc`: peak RSS (`VmHWM`) and CPU time of a process and all its descendants, so
//! multi-process servers are measured whole.

use std::fs;

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on every mainstream Linux ABI).
const USER_HZ: f64 = 100.0;

/// The fields after the `(comm)` of `/proc/PID/stat` (the command name may contain spaces and parentheses).
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// `root` and every live descendant of it.
pub fn tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            // Fields after comm: state, ppid, ...
            if let Some(ppid) = stat_fields(&pid.to_string()).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    // Breadth-first; bounded by the number of processes.
    while i < found.len() && i <= parents.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|&&(_, pp)| pp == parent).map(|&(p, _)| p));
        i += 1;
    }
    found
}

/// A `kB` field of `/proc/PID/status` (e.g. `VmHWM`), in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
}

/// Peak resident set size (`VmHWM`) of `root` plus that of each live descendant, in KiB; `None` when `root` is
/// gone.
pub fn tree_peak_rss_kib(root: u32) -> Option<u64> {
    let own = status_kib(root, "VmHWM")?;
    Some(own + tree(root).iter().skip(1).filter_map(|&pid| status_kib(pid, "VmHWM")).sum::<u64>())
}

/// User plus system CPU seconds of one process (`self` for this one).
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let fields = stat_fields(pid)?;
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after comm.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// CPU seconds of `root` and its live descendants (plus what their reaped children used).
pub fn tree_cpu_seconds(root: u32) -> Option<f64> {
    let mut total = 0.0;
    let mut any = false;
    for pid in tree(root) {
        let Some(fields) = stat_fields(&pid.to_string()) else { continue };
        let ticks: f64 = fields.iter().skip(11).take(4).filter_map(|f| f.parse::<f64>().ok()).sum();
        total += ticks / USER_HZ;
        any = true;
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_this_process() {
        let me = std::process::id();
        let kib = tree_peak_rss_kib(me).expect("own VmHWM");
        assert!(kib > 100, "{kib} KiB");
        assert!(tree(me).contains(&me));
        assert!(cpu_seconds("self").is_some());
        assert!(tree_cpu_seconds(me).is_some());
        assert_eq!(tree_peak_rss_kib(u32::MAX), None);
    }

    #[test]
    fn finds_children() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("sleep");
        let found = tree(std::process::id()).contains(&child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found);
    }
}
