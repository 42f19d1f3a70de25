//! Process figures from Linux `/proc`: peak RSS (`VmHWM`) and CPU time of a process and all its descendants, so
//! multi-process servers are measured whole; and the machine's CPU time stolen by the hypervisor (`/proc/stat`),
//! which says how much a run on a shared VM was disturbed.

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

/// The machine's CPU time so far, all CPUs together, in clock ticks (first line of `/proc/stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineCpu {
    /// user + nice + system + idle + iowait + irq + softirq + steal (guest time is already inside user).
    pub total: u64,
    /// Time a virtual CPU wanted to run but the hypervisor ran something else.
    pub steal: u64,
}

impl MachineCpu {
    /// The counters now; `None` off Linux or when `/proc/stat` cannot be parsed.
    pub fn now() -> Option<MachineCpu> {
        Self::parse(&fs::read_to_string("/proc/stat").ok()?)
    }

    /// Parses the aggregate `cpu` line of a `/proc/stat` text. Kernels before 2.6.11 have no steal field.
    pub fn parse(stat: &str) -> Option<MachineCpu> {
        let line = stat.lines().find(|l| l.split_whitespace().next() == Some("cpu"))?;
        let ticks: Vec<u64> = line.split_whitespace().skip(1).take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
        (ticks.len() == 8).then(|| MachineCpu { total: ticks.iter().sum(), steal: ticks[7] })
    }

    /// Percent of all CPU time between `self` (earlier) and `later` that the hypervisor took; `None` when no
    /// time passed or the counters went backwards.
    pub fn stolen_percent_until(self, later: MachineCpu) -> Option<f64> {
        let total = later.total.checked_sub(self.total).filter(|t| *t > 0)?;
        let steal = later.steal.checked_sub(self.steal)?;
        Some(100.0 * steal as f64 / total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_a_share_of_all_cpu_time() {
        let before = MachineCpu::parse("cpu  10 0 10 70 5 0 0 5 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n").unwrap();
        assert_eq!(before, MachineCpu { total: 100, steal: 5 });
        let after = MachineCpu { total: 300, steal: 55 };
        assert_eq!(before.stolen_percent_until(after), Some(25.0));
        assert_eq!(before.stolen_percent_until(before), None, "no time passed");
        assert_eq!(after.stolen_percent_until(before), None, "backwards");
        assert_eq!(MachineCpu::parse("cpu  1 2 3 4 5 6 7\n"), None, "no steal field");
        assert_eq!(MachineCpu::parse("cpu  1 2 3 x 5 6 7 8\n"), None);
        assert!(MachineCpu::now().is_some(), "this machine's /proc/stat");
    }

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
