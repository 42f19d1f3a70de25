//! The system calls of a creation, a commit and a finalisation, seen by `strace` (Debian package `strace`).
//!
//! Skipped with a message when `strace` is missing or cannot trace here, except under `CI=true`, where that fails.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use tus_storage::FileStore;

#[test]
#[ignore = "child process entry point, run by the other tests"]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE) else { return };
    let root = PathBuf::from(std::env::var("TUS_TEST_ROOT").unwrap());
    let mut config = config_in(&root);
    config.syncfs = match role.as_str() {
        "traced" => false,
        "traced-syncfs" => true,
        other => panic!("unknown role {other}"),
    };
    let store = FileStore::new(config).unwrap();
    let (mut writer, id) = create(&store, Some(1 << 22), 1);
    write_pattern(&mut writer, 1, 0, 1 << 19, 1 << 18);
    writer.commit(1 << 19, false).unwrap();
    write_pattern(&mut writer, 1, 1 << 19, 1 << 22, 1 << 20);
    writer.commit(1 << 22, true).unwrap();
    println!("RESULT {id}");
}

fn strace_usable() -> Result<(), String> {
    let probe = Command::new("strace").args(["-f", "-e", "trace=none", "true"]).stderr(Stdio::null()).status();
    match probe {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("strace cannot trace here ({status})")),
        Err(e) => Err(format!("strace not available ({e}); install the Debian package `strace`")),
    }
}

/// One system call of the trace, pieced together when `strace -f` split it between threads.
#[derive(Debug)]
struct Call {
    /// The call's name and arguments, as printed.
    text: String,
    /// Its return value, as printed.
    result: String,
    /// The path the call's first argument (a file descriptor) names, when it names one.
    fd_path: Option<String>,
    /// Line numbers where it started and ended.
    start: usize,
    end: usize,
}

/// Parses `strace -f -qq` output: joins `<unfinished ...>` / `<... resumed>` halves per thread, and follows file
/// descriptors through `open`, `openat`, `fcntl(F_DUPFD_CLOEXEC)` and `close` so that syncs on helper threads (on
/// duplicated descriptors) name their files, and names relative to a directory descriptor (`openat(9, "x", ..)`)
/// read as full paths (`openat("/dir/x", ..)`).
fn parse(text: &str) -> Vec<Call> {
    let mut open: HashMap<String, (String, usize)> = HashMap::new(); // thread -> unfinished call
    let mut fds: HashMap<String, String> = HashMap::new();
    let mut calls = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let Some((thread, rest)) = line.split_once(' ') else { continue };
        let rest = rest.trim_start();
        let (text, result, start) = if let Some(head) = rest.strip_suffix("<unfinished ...>") {
            open.insert(thread.to_string(), (head.trim_end().to_string(), line_no));
            continue;
        } else if rest.starts_with("<...") {
            let Some((head, start)) = open.remove(thread) else { continue };
            let tail = rest.split_once("resumed>").map_or("", |(_, tail)| tail);
            let (args, result) = tail.rsplit_once(" = ").unwrap_or((tail, ""));
            (format!("{head}{}", args.trim()), result.trim().to_string(), start)
        } else {
            let (call, result) = rest.rsplit_once(" = ").unwrap_or((rest, ""));
            (call.trim().to_string(), result.trim().to_string(), line_no)
        };
        let text = resolve_relative(&text, &fds);
        let fd_arg = text.split_once('(').and_then(|(_, args)| args.split([',', ')']).next()).map(str::trim);
        let fd_path = fd_arg.and_then(|fd| fds.get(fd)).cloned();
        let number = result.split(' ').next().unwrap_or("").to_string();
        if (text.starts_with("openat(") || text.starts_with("open(")) && number.parse::<u32>().is_ok() {
            if let Some(path) = text.split('"').nth(1) {
                fds.insert(number.clone(), path.to_string());
            }
        } else if text.starts_with("fcntl(") && text.contains("F_DUPFD") {
            if let Some(path) = &fd_path {
                fds.insert(number.clone(), path.clone());
            }
        } else if text.starts_with("close(") {
            fds.remove(fd_arg.unwrap_or(""));
        }
        calls.push(Call { text, result, fd_path, start, end: line_no });
    }
    calls
}

/// Replaces every `FD, "name"` argument whose `FD` names an open directory with `"DIR/name"`.
fn resolve_relative(text: &str, fds: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(quote) = rest.find(", \"") {
        let before = &rest[..quote];
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let fd = &before[before.len() - digits..];
        let starts_argument = before[..before.len() - digits].ends_with(['(', ' ']);
        match fds.get(fd).filter(|_| digits > 0 && starts_argument) {
            Some(dir) => {
                out.push_str(&before[..before.len() - digits]);
                out.push('"');
                out.push_str(dir);
                out.push('/');
            }
            None => {
                out.push_str(before);
                out.push_str(", \"");
            }
        }
        rest = &rest[quote + 3..];
    }
    out.push_str(rest);
    out
}

/// Runs the child as `role` under strace in `dirs`; returns the upload's id and the trace, or `None` (said) when
/// strace cannot run here outside CI.
fn run_traced(dirs: &Dirs, role: &str, test: &str) -> Option<(String, String)> {
    if let Err(why) = strace_usable() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{why}: required in CI");
        println!("SKIPPED {test}: {why}");
        return None;
    }
    let trace = dirs.root.path().join("trace.txt");
    let exe = std::env::current_exe().unwrap();
    let traced = "open,openat,close,fcntl,fallocate,flock,pwritev,fadvise64,fdatasync,fsync,syncfs,rename,renameat,\
                  renameat2,unlink,unlinkat";
    let out = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .args(["-e", &format!("trace={traced}")])
        .arg(exe)
        .args(["child", "--exact", "--ignored", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_ROLE, role)
        .env("TUS_TEST_ROOT", dirs.root.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = results(&out.stdout).pop().expect("the child names its upload");
    Some((id, std::fs::read_to_string(&trace).unwrap()))
}

/// A parsed trace of the child's upload, with the paths of its files.
struct Trace {
    text: String,
    calls: Vec<Call>,
    root: String,
}

impl Trace {
    fn new(dirs: &Dirs, text: String) -> Trace {
        let calls = parse(&text);
        Trace { text, calls, root: dirs.root.path().to_str().unwrap().to_string() }
    }

    /// The full path of `rel` under the test's root.
    fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }

    /// The first call after `after` (by start) that matches; panics with the trace when there is none.
    fn find(&self, what: &dyn Fn(&Call) -> bool, after: usize) -> &Call {
        let text = &self.text;
        self.calls
            .iter()
            .filter(|c| c.start > after && what(c))
            .min_by_key(|c| c.start)
            .unwrap_or_else(|| panic!("expected call not found after line {after} in trace:\n{text}"))
    }
}

/// Whether `c` is the system call `call` naming `file`.
fn names(c: &Call, call: &str, file: &str) -> bool {
    c.text.starts_with(call) && c.text.contains(&format!("\"{file}\""))
}

#[test]
fn creation_write_and_finalise_under_strace() {
    let dirs = Dirs::new();
    let Some((id, text)) = run_traced(&dirs, "traced", "creation_write_and_finalise_under_strace") else { return };
    let trace = Trace::new(&dirs, text);
    let (calls, text) = (&trace.calls, &trace.text);
    let path = |rel: &str| trace.path(rel);
    let find = |what: &dyn Fn(&Call) -> bool, after: usize| trace.find(what, after);
    let (uploads, completed) = (path("uploads"), path("completed"));
    let (data, record) = (path(&format!("uploads/{id}")), path(&format!("uploads/{id}.meta")));
    let (tmp, completed_record) = (path(&format!("uploads/{id}.meta.tmp")), path(&format!("completed/{id}.meta")));
    let syncs = |c: &Call, file: &str| {
        let sync = c.text.starts_with("fsync(") || c.text.starts_with("fdatasync(");
        sync && c.fd_path.as_deref() == Some(file) && c.result == "0"
    };

    // Creation: data file created and locked, preallocated; record in place; then record and directory synced
    // (side by side) before the first write. The empty data file is not (the first commit syncs it).
    let created = find(&|c| names(c, "openat(", &data) && c.text.contains("O_EXCL"), 0);
    let locked = find(&|c| c.text.starts_with("flock(") && c.text.contains("LOCK_EX|LOCK_NB"), created.end);
    let allocated =
        find(&|c| c.text.starts_with("fallocate(") && c.text.contains(", 4194304") && c.result == "0", locked.end);
    let record_created = find(&|c| names(c, "openat(", &record) && c.text.contains("O_CREAT"), allocated.end);
    let first_write = find(&|c| c.text.starts_with("pwritev("), record_created.end);
    for file in [&record, &uploads] {
        let synced = find(&|c| syncs(c, file), allocated.end);
        assert!(synced.start > record_created.end && synced.end < first_write.start, "creation sync of {file}");
    }
    assert!(find(&|c| syncs(c, &data), 0).start > first_write.end, "no sync of the empty data file:\n{text}");

    // A commit: data and temporary record synced before the rename, the directory after it.
    let renamed = find(&|c| c.text.starts_with("rename") && c.text.contains(&format!("\"{tmp}\"")), first_write.end);
    for file in [&data, &tmp] {
        let synced = find(&|c| syncs(c, file), first_write.end);
        assert!(synced.end < renamed.start, "commit sync of {file} before the rename");
    }
    let dir_synced = find(&|c| syncs(c, &uploads), renamed.end);

    // Writeback starts once 1 MiB has gathered (512 KiB before the first commit never did), one range at a time.
    let early = |c: &Call| c.text.starts_with("fadvise64(") && c.text.contains("POSIX_FADV_DONTNEED");
    assert!(!calls.iter().any(|c| early(c) && c.start < dir_synced.end), "no writeback started for 512 KiB:\n{text}");
    let mut kicked = dir_synced.end;
    for from in [1 << 19, 3 << 19, 5 << 19] {
        kicked = find(&|c| early(c) && c.text.contains(&format!(", {from}, 1048576, ")), kicked).end;
    }
    assert_eq!(calls.iter().filter(|c| early(c)).count(), 3, "the last 512 KiB wait for the commit:\n{text}");

    // Finalisation: the completed record in place; it and the data are durable before the data is renamed in; the
    // directory is synced once, after, for both names; the staging record goes; the lock is released last.
    let completed_created = find(&|c| names(c, "openat(", &completed_record) && c.text.contains("O_CREAT"), kicked);
    let published = find(
        &|c| {
            c.text.starts_with("rename")
                && c.text.contains(&format!("\"{data}\", \"{}\"", path(&format!("completed/{id}"))))
        },
        completed_created.end,
    );
    for file in [&data, &completed_record] {
        let synced = find(&|c| syncs(c, file), kicked);
        assert!(synced.end < published.start, "finalisation sync of {file} before the data is published");
    }
    let dir_synced = find(&|c| syncs(c, &completed), kicked);
    assert!(dir_synced.start > published.end, "one sync of the completed directory, after the rename:\n{text}");
    assert!(!text.contains(".tmp.meta"), "no temporary completed record any more:\n{text}");
    let unlinked = find(&|c| names(c, "unlink", &record), published.end);
    // Until the completed names are durable, the staging record stays: it is what a crash's repair finishes from.
    assert!(unlinked.start > dir_synced.end, "staging record removed only after the directory sync:\n{text}");
    let unlocked = find(&|c| c.text.starts_with("flock(") && c.text.contains("LOCK_UN"), unlinked.end);
    println!(
        "trace order ok: create {}, fallocate {}, commit rename {}, publish {}, unlock {}",
        created.start, allocated.start, renamed.start, published.start, unlocked.start
    );
}

/// With `StoreConfig::syncfs`, the same steps in the same order, each group of syncs one `syncfs` and no `fsync`
/// or `fdatasync` at all.
#[test]
fn the_same_order_with_syncfs() {
    let dirs = Dirs::new();
    let Some((id, text)) = run_traced(&dirs, "traced-syncfs", "the_same_order_with_syncfs") else { return };
    let trace = Trace::new(&dirs, text);
    let (calls, text) = (&trace.calls, &trace.text);
    let path = |rel: &str| trace.path(rel);
    let find = |what: &dyn Fn(&Call) -> bool, after: usize| trace.find(what, after);
    let (data, record) = (path(&format!("uploads/{id}")), path(&format!("uploads/{id}.meta")));
    let (tmp, completed_record) = (path(&format!("uploads/{id}.meta.tmp")), path(&format!("completed/{id}.meta")));
    let syncfs = |c: &Call| c.text.starts_with("syncfs(") && c.result == "0";
    assert!(
        !calls.iter().any(|c| c.text.starts_with("fsync(") || c.text.starts_with("fdatasync(")),
        "no per-file sync with syncfs:\n{text}"
    );

    // Creation: record in place, then one syncfs, before the first write.
    let record_created = find(&|c| names(c, "openat(", &record) && c.text.contains("O_CREAT"), 0);
    let created_synced = find(&syncfs, record_created.end);
    let first_write = find(&|c| c.text.starts_with("pwritev("), 0);
    assert!(created_synced.end < first_write.start, "the creation is durable before the first write:\n{text}");

    // A commit: the temporary record written, a syncfs (data and record), the rename, a syncfs (the rename).
    let tmp_created = find(&|c| names(c, "openat(", &tmp) && c.text.contains("O_CREAT"), first_write.end);
    let before_rename = find(&syncfs, tmp_created.end);
    let renamed = find(&|c| c.text.starts_with("rename") && c.text.contains(&format!("\"{tmp}\"")), tmp_created.end);
    assert!(before_rename.end < renamed.start, "data and record durable before the rename:\n{text}");
    let after_rename = find(&syncfs, renamed.end);

    // Finalisation: completed record in place, a syncfs, the data renamed in, a syncfs, then the staging record goes.
    let completed_created =
        find(&|c| names(c, "openat(", &completed_record) && c.text.contains("O_CREAT"), after_rename.end);
    let before_publish = find(&syncfs, completed_created.end);
    let published = find(
        &|c| {
            c.text.starts_with("rename")
                && c.text.contains(&format!("\"{data}\", \"{}\"", path(&format!("completed/{id}"))))
        },
        completed_created.end,
    );
    assert!(before_publish.end < published.start, "data and completed record durable before publishing:\n{text}");
    let after_publish = find(&syncfs, published.end);
    let unlinked = find(&|c| names(c, "unlink", &record), published.end);
    assert!(unlinked.start > after_publish.end, "staging record removed only after the names are durable:\n{text}");
    println!(
        "syncfs order ok: {} syncfs calls; create {}, commit rename {}, publish {}",
        calls.iter().filter(|c| syncfs(c)).count(),
        record_created.start,
        renamed.start,
        published.start
    );
}
