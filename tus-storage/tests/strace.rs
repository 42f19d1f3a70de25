//! The system calls of a creation, a commit and a finalisation, seen by `strace` (Debian package `strace`).
//!
//! Skipped with a message when `strace` is missing or cannot trace here, except under `CI=true`, where that fails.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use tus_storage::FileStore;

#[test]
#[ignore = "child process entry point, run by the other tests"]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE) else { return };
    assert_eq!(role, "traced");
    let root = PathBuf::from(std::env::var("TUS_TEST_ROOT").unwrap());
    let store = FileStore::new(config_in(&root)).unwrap();
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

#[test]
fn creation_write_and_finalise_under_strace() {
    if let Err(why) = strace_usable() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{why}: required in CI");
        println!("SKIPPED creation_write_and_finalise_under_strace: {why}");
        return;
    }
    let dirs = Dirs::new();
    let trace = dirs.root.path().join("trace.txt");
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .args([
            "-e",
            "trace=openat,fallocate,flock,pwrite64,fadvise64,fdatasync,fsync,rename,renameat,renameat2,unlink",
        ])
        .arg(exe)
        .args(["child", "--exact", "--ignored", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_ROLE, "traced")
        .env("TUS_TEST_ROOT", dirs.root.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = results(&out.stdout).pop().expect("the child names its upload");
    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains("resumed>") || l.contains(" = ")).collect();
    let find = |what: &dyn Fn(&str) -> bool, after: usize| -> usize {
        lines
            .iter()
            .skip(after)
            .position(|l| what(l))
            .map(|i| i + after)
            .unwrap_or_else(|| panic!("expected call not found after line {after} in trace:\n{}", lines.join("\n")))
    };
    let data = format!("uploads/{id}\"");
    let meta_tmp = format!("uploads/{id}.meta.tmp\"");
    let created = find(&|l| l.contains("openat(") && l.contains(&data) && l.contains("O_EXCL"), 0);
    let locked = find(&|l| l.contains("flock(") && l.contains("LOCK_EX|LOCK_NB") && l.ends_with("= 0"), created);
    let allocated = find(&|l| l.contains("fallocate(") && l.contains(", 4194304)") && l.ends_with("= 0"), locked);
    let data_synced = find(&|l| l.contains("fdatasync("), allocated);
    // The creation record is written in place (no temporary file, no rename), synced, then its directory.
    let record = format!("uploads/{id}.meta\"");
    let record_created = find(&|l| l.contains("openat(") && l.contains(&record) && l.contains("O_CREAT"), data_synced);
    let creation_synced = find(&|l| l.contains("fsync("), record_created);
    let creation_dir_synced = find(&|l| l.contains("fsync("), creation_synced + 1);
    let written = find(&|l| l.contains("pwrite64("), creation_dir_synced);
    let synced = find(&|l| l.contains("fdatasync("), written);
    let record_synced = find(&|l| l.contains("fsync("), synced);
    let committed =
        find(&|l| l.contains("rename") && l.contains(&meta_tmp) && l.contains(&format!("{id}.meta\"")), record_synced);
    let dir_synced = find(&|l| l.contains("fsync("), committed);
    // Writeback starts once 1 MiB has gathered (512 KiB before the first commit never did), one range at a time.
    let early = |l: &str| l.contains("fadvise64(") && l.contains("POSIX_FADV_DONTNEED");
    assert!(!lines[..dir_synced].iter().any(|l| early(l)), "no writeback started for 512 KiB:\n{text}");
    let mut kicked = dir_synced;
    for from in [1 << 19, 3 << 19, 5 << 19] {
        kicked = find(&|l| early(l) && l.contains(&format!(", {from}, 1048576, ")), kicked);
    }
    let final_synced = find(&|l| l.contains("fdatasync("), kicked);
    assert_eq!(lines.iter().filter(|l| early(l)).count(), 3, "the last 512 KiB wait for the commit:\n{text}");
    // Finalisation: the completed record in place and synced (with its directory) before the data is renamed in.
    let completed_record = find(
        &|l| l.contains("openat(") && l.contains(&format!("completed/{id}.meta\"")) && l.contains("O_CREAT"),
        final_synced,
    );
    let completed_synced = find(&|l| l.contains("fsync("), completed_record);
    let completed_dir_synced = find(&|l| l.contains("fsync("), completed_synced + 1);
    let published = find(
        &|l| l.contains("rename") && l.contains(&data) && l.contains(&format!("completed/{id}\"")),
        completed_dir_synced,
    );
    assert!(!text.contains(".tmp.meta"), "no temporary completed record any more:\n{text}");
    let unlinked = find(&|l| l.contains("unlink") && l.contains(&format!("uploads/{id}.meta\"")), published);
    let _ = find(&|l| l.contains("flock(") && l.contains("LOCK_UN"), unlinked); // unlock only after everything
    println!("trace order ok: create {created}, flock {locked}, fallocate {allocated}, fdatasync {synced}, commit {committed}, publish {published}");
}
