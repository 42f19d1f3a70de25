//! Real processes sharing the directories: concurrent writers and claimers, and writers killed with SIGKILL.
//!
//! Children are this test binary itself, running the ignored `child` test with a role in the environment.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use tus_proto::{FailureKind, UploadId};
use tus_storage::FileStore;

const ROOT: &str = "TUS_TEST_ROOT";

/// Entry point of the child processes; does nothing when run as a normal test.
#[test]
#[ignore = "child process entry point, run by the other tests"]
fn child() {
    let Ok(role) = std::env::var(CHILD_ROLE) else { return };
    let root = PathBuf::from(std::env::var(ROOT).unwrap());
    match role.as_str() {
        "writer" => writer_child(&root),
        "claimer" => claimer_child(&root),
        "killed-writer" => killed_writer_child(&root),
        "finisher" => finisher_child(&root),
        "slow-holder" => slow_holder_child(&root),
        other => panic!("unknown role {other}"),
    }
}

/// Reads `uploads.txt`: one `id seed length` per line.
fn read_plan(root: &Path) -> Vec<(UploadId, u64, u64)> {
    std::fs::read_to_string(root.join("uploads.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect()
}

/// Takes turns with the other writers on the same uploads: open (taking over), write a few batches while nobody
/// asks for the lock, sometimes "disconnect" without committing, commit, finalise at the end.
fn writer_child(root: &Path) {
    let store = FileStore::new(config_in(root)).unwrap();
    let plan = read_plan(root);
    let mut rng = Rng::from_time();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pending: Vec<_> = plan.clone();
    while !pending.is_empty() && Instant::now() < deadline {
        let i = rng.below(pending.len() as u64) as usize;
        let (id, seed, length) = pending[i];
        let (mut writer, state) = match store.open(id) {
            Ok(opened) => opened,
            Err(e) if e.kind() == FailureKind::Locked => continue,
            Err(e) if e.kind() == FailureKind::NotFound => {
                pending.swap_remove(i); // finished and already claimed
                continue;
            }
            Err(e) => panic!("open {id}: {e}"),
        };
        if state.finished {
            pending.swap_remove(i);
            continue;
        }
        let mut at = state.offset;
        for _ in 0..rng.range(1, 5) {
            if at == length || writer.release_requested() {
                break;
            }
            let n = rng.range(1, 96 * 1024).min(length - at);
            writer.write_at(at, &pattern(seed, at, n as usize)).unwrap();
            at += n;
            thread::sleep(Duration::from_millis(rng.below(3)));
        }
        if rng.below(6) == 0 {
            continue; // a client gone without a commit: the bytes do not count
        }
        let state = writer.commit(at, at == length).unwrap();
        println!("RESULT committed {id} {}", state.offset);
    }
    println!("RESULT done {}", pending.len());
}

/// Claims finished uploads until the writers are done and nothing is left, verifying every byte.
fn claimer_child(root: &Path) {
    let store = FileStore::new(config_in(root)).unwrap();
    let seeds: BTreeMap<UploadId, (u64, u64)> = read_plan(root).into_iter().map(|(id, s, l)| (id, (s, l))).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        let mut claim = match store.wait_for_file(Duration::from_millis(300)) {
            Ok(claim) => claim,
            Err(e) if e.is_timeout() => {
                if root.join("writers-done").exists() {
                    break;
                }
                continue;
            }
            Err(e) => panic!("claim: {e}"),
        };
        let (seed, length) = seeds[&claim.id()];
        let mut data = Vec::new();
        claim.data().read_to_end(&mut data).unwrap();
        let verdict = match (claim.record().length, first_mismatch(seed, 0, &data)) {
            (Some(l), None) if l == length && data.len() as u64 == length => "OK".to_owned(),
            (l, m) => format!("BAD length {l:?} size {} mismatch {m:?}", data.len()),
        };
        thread::sleep(Duration::from_millis(10)); // hold the claim for a while
        let id = claim.id();
        claim.save(root.join("dest").join(claim.name())).unwrap();
        claim.finish().unwrap();
        println!("RESULT claimed {id} {verdict}");
    }
}

fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("a child process did not end within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn writers_and_claimers_in_several_processes() {
    let dirs = Dirs::new();
    let root = dirs.root.path();
    std::fs::create_dir(root.join("dest")).unwrap();
    let store = dirs.store();
    let mut rng = Rng::from_time();
    let mut plan = String::new();
    let mut lengths = BTreeMap::new();
    for seed in 0..8u64 {
        let length = rng.range(0, 1 << 20);
        let (writer, id) = create(&store, Some(length), seed);
        drop(writer);
        plan.push_str(&format!("{id} {seed} {length}\n"));
        lengths.insert(id, (seed, length));
    }
    std::fs::write(root.join("uploads.txt"), plan).unwrap();
    let env = [(ROOT, root.display().to_string())];
    let spawn = |role: &str| child_process(role, &env).stdout(Stdio::piped()).spawn().unwrap();
    let writers: Vec<Child> = (0..3).map(|_| spawn("writer")).collect();
    let claimers: Vec<Child> = (0..2).map(|_| spawn("claimer")).collect();

    let mut commits = 0;
    for writer in writers {
        let out = wait_bounded(writer, Duration::from_secs(90));
        assert!(out.status.success(), "writer failed: {}", String::from_utf8_lossy(&out.stdout));
        let results = results(&out.stdout);
        assert_eq!(results.last().map(String::as_str), Some("done 0"), "a writer gave up: {results:?}");
        commits += results.iter().filter(|r| r.starts_with("committed")).count();
    }
    std::fs::write(root.join("writers-done"), b"").unwrap();
    let mut claimed: BTreeMap<UploadId, usize> = BTreeMap::new();
    for claimer in claimers {
        let out = wait_bounded(claimer, Duration::from_secs(120));
        assert!(out.status.success(), "claimer failed: {}", String::from_utf8_lossy(&out.stdout));
        for line in results(&out.stdout) {
            let fields: Vec<&str> = line.splitn(3, ' ').collect();
            assert_eq!(fields[2], "OK", "corrupt upload: {line}");
            *claimed.entry(fields[1].parse().unwrap()).or_default() += 1;
        }
    }
    println!("{commits} commits by 3 writer processes");
    assert!(commits >= lengths.len(), "{commits} commits");
    for (id, (seed, length)) in &lengths {
        assert_eq!(claimed.get(id), Some(&1), "upload {id} claimed {:?} times", claimed.get(id));
        let data = std::fs::read(root.join("dest").join(id.to_string())).unwrap();
        assert_eq!(data.len() as u64, *length);
        assert_eq!(first_mismatch(*seed, 0, &data), None);
    }
    assert!(names(&dirs.completed()).is_empty(), "{:?}", names(&dirs.completed()));
    let leftovers: Vec<String> = names(&dirs.uploads()).into_iter().filter(|n| !n.ends_with(".release")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Writes the upload named in the environment from its committed offset to its end, committing every batch.
fn killed_writer_child(root: &Path) {
    let mut config = config_in(root);
    config.syncfs = std::env::var_os("TUS_TEST_SYNCFS").is_some();
    let store = FileStore::new(config).unwrap();
    let id: UploadId = std::env::var("TUS_TEST_ID").unwrap().parse().unwrap();
    let seed: u64 = std::env::var("TUS_TEST_SEED").unwrap().parse().unwrap();
    let (mut writer, state) = store.open(id).unwrap();
    let length = state.length.unwrap();
    let mut rng = Rng::from_time();
    let mut at = state.offset;
    println!("RESULT started");
    while at < length {
        let n = rng.range(1, 256 * 1024).min(length - at);
        writer.write_at(at, &pattern(seed, at, n as usize)).unwrap();
        at += n;
        writer.commit(at, at == length).unwrap();
    }
}

#[test]
fn sigkill_at_random_points_never_loses_committed_bytes() {
    sigkill_rounds(false);
}

/// The same with `StoreConfig::syncfs` in the killed writers and in the store that checks after them.
#[test]
fn sigkill_at_random_points_with_syncfs() {
    sigkill_rounds(true);
}

fn sigkill_rounds(syncfs: bool) {
    let dirs = Dirs::new();
    let root = dirs.root.path();
    let mut config = dirs.config();
    config.syncfs = syncfs;
    let store = FileStore::new(config).unwrap();
    let mut rng = Rng::from_time();
    let mut current: Option<(UploadId, u64, u64)> = None;
    let (mut mid_upload, mut finished, mut last_offset) = (0, 0, 0);
    let started = Instant::now();
    for round in 0..50u64 {
        if started.elapsed() > Duration::from_secs(120) {
            break;
        }
        let (id, seed, length) = *current.get_or_insert_with(|| {
            let length = rng.range(1 << 20, 6 << 20);
            let (writer, id) = create(&store, Some(length), round);
            drop(writer);
            last_offset = 0;
            (id, round, length)
        });
        let mut env = vec![
            (ROOT, root.display().to_string()),
            ("TUS_TEST_ID", id.to_string()),
            ("TUS_TEST_SEED", seed.to_string()),
        ];
        if syncfs {
            env.push(("TUS_TEST_SYNCFS", "1".to_string()));
        }
        let mut proc = child_process("killed-writer", &env).stdout(Stdio::null()).spawn().unwrap();
        thread::sleep(Duration::from_millis(rng.range(5, 60)));
        proc.kill().unwrap(); // SIGKILL
        proc.wait().unwrap();

        // The lock died with the process: the upload opens at once, at a committed offset whose bytes are right.
        let (writer, state) = store.open(id).unwrap();
        assert!(state.offset >= last_offset, "offset went back: {} < {last_offset}", state.offset);
        last_offset = state.offset;
        if state.finished {
            drop(writer);
            let claim = store.wait_for_file(Duration::from_secs(1)).unwrap();
            assert_eq!(claim.id(), id);
            let data = std::fs::read(root.join("completed").join(id.to_string())).unwrap();
            assert_eq!(data.len() as u64, length);
            assert_eq!(first_mismatch(seed, 0, &data), None, "finished upload corrupt");
            finished += 1;
            current = None;
        } else {
            let data = std::fs::read(root.join("uploads").join(id.to_string())).unwrap();
            assert_eq!(data.len() as u64, length, "preallocated size");
            let committed = &data[..state.offset as usize];
            assert_eq!(first_mismatch(seed, 0, committed), None, "committed bytes wrong at round {round}");
            if state.offset > 0 {
                mid_upload += 1;
            }
        }
    }
    println!("SIGKILL rounds (syncfs: {syncfs}): {mid_upload} mid-upload with bytes committed, {finished} finished");
    assert!(mid_upload >= 5, "too few kills landed mid-upload ({mid_upload}): the test did not exercise anything");
}

/// Finishes one upload after a short pause.
fn finisher_child(root: &Path) {
    let store = FileStore::new(config_in(root)).unwrap();
    thread::sleep(Duration::from_millis(300));
    let (mut writer, id) = create(&store, Some(1000), 5);
    write_pattern(&mut writer, 5, 0, 1000, 300);
    writer.commit(1000, true).unwrap();
    println!("RESULT {id}");
}

#[test]
fn a_finish_in_another_process_wakes_the_waiter_at_once() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.claim_poll_interval = Duration::from_secs(30); // only inotify can wake it in time
    let store = FileStore::new(config).unwrap();
    let env = [(ROOT, dirs.root.path().display().to_string())];
    let started = Instant::now();
    let proc = child_process("finisher", &env).stdout(Stdio::piped()).spawn().unwrap();
    let claim = store.wait_for_file(Duration::from_secs(20)).unwrap();
    let waited = started.elapsed();
    let out = wait_bounded(proc, Duration::from_secs(20));
    assert_eq!(results(&out.stdout), [claim.id().to_string()]);
    assert!(waited < Duration::from_secs(5), "woken after {waited:?}");
}

/// Holds an upload, writing slowly and checking for release requests; after letting go it stays alive a while.
fn slow_holder_child(root: &Path) {
    let store = FileStore::new(config_in(root)).unwrap();
    let id: UploadId = std::env::var("TUS_TEST_ID").unwrap().parse().unwrap();
    let (mut writer, state) = store.open(id).unwrap();
    std::fs::write(root.join("holding"), b"").unwrap();
    let mut at = state.offset;
    while !writer.release_requested() {
        writer.write_at(at, &pattern(9, at, 1024)).unwrap();
        at += 1024;
        thread::sleep(Duration::from_millis(10));
    }
    writer.commit(at, false).unwrap();
    drop(writer);
    println!("RESULT released {at}");
    thread::sleep(Duration::from_secs(3));
}

#[test]
fn a_request_takes_over_from_a_writer_in_another_process() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.release_timeout = Duration::from_secs(3);
    let store = FileStore::new(config).unwrap();
    let (writer, id) = create(&store, Some(1 << 20), 9);
    drop(writer);
    let env = [(ROOT, dirs.root.path().display().to_string()), ("TUS_TEST_ID", id.to_string())];
    let proc = child_process("slow-holder", &env).stdout(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dirs.root.path().join("holding").exists() {
        assert!(Instant::now() < deadline, "the holder never started");
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let (_writer, state) = store.open(id).unwrap();
    let took = started.elapsed();
    let out = wait_bounded(proc, Duration::from_secs(20));
    let released = results(&out.stdout);
    assert_eq!(released, [format!("released {}", state.offset)], "we resume exactly at the holder's commit");
    assert!(state.offset > 0);
    assert!(took < Duration::from_secs(2), "take-over took {took:?}");
}
