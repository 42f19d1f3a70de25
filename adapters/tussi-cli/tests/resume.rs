//! Resuming: an uploader killed (SIGKILL) mid-way finishes on a rerun with --yes, from where the server is, not
//! from zero; a rerun without --yes (no terminal) or for a modified file starts a new upload instead.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{lines, test_data, upload, wait_bounded, wait_for_file, Server, UPLOAD};
use tussi_cli::state::ProgressState;

const SIZE: usize = 3 << 20;

/// Starts a throttled upload of `file` (256 KiB/s, 32 KiB chunks), waits until it reports at least 20 %, then
/// kills it with SIGKILL. Returns the offset of the last progress line seen.
fn start_and_kill(work: &Path, url: &str, file: &str) -> u64 {
    let mut child = Command::new(UPLOAD)
        .current_dir(work)
        .args(["--url", url, "--file", file, "--chunk-size", "32k", "--throttle", "256k"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tussi-upload");
    let out = lines(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    while seen < SIZE as u64 / 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = out.recv_timeout(left) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no progress within 30 s (last offset {seen})");
        };
        eprintln!("[upload] {line}");
        if let Some(rest) = line.strip_prefix("progress: ") {
            let fraction = rest.split_whitespace().nth(1).unwrap();
            seen = fraction.split('/').next().unwrap().parse().unwrap();
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = wait_bounded(&mut child, Duration::from_secs(10)).expect("killed uploader exits");
    assert!(status.code().is_none(), "it was killed, not finished: {status:?}");
    assert!(seen < SIZE as u64, "the upload finished before it could be killed");
    seen
}

/// The offset in "Resuming NAME at offset N of M bytes".
fn resumed_at(stdout: &str) -> Option<u64> {
    let line = stdout.lines().find(|l| l.starts_with("Resuming "))?;
    line.split(" at offset ").nth(1)?.split_whitespace().next()?.parse().ok()
}

#[test]
fn killed_upload_resumes_with_yes() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let work = tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let data = test_data(SIZE, 3);
    fs::write(work.join("big.bin"), &data).unwrap();

    let seen = start_and_kill(&work, &server.url, "big.bin");
    let state = ProgressState::load(&work.join("tus-progress.txt")).unwrap().expect("progress file kept");
    assert!(state.upload_url.starts_with(&server.url), "{state:?}");

    let run = upload(&work, &["--url", &server.url, "--file", "big.bin", "--yes"], Duration::from_secs(60));
    assert_eq!(run.code(), 0);
    let offset = resumed_at(&run.stdout).expect("the rerun resumed");
    assert!(offset >= seen && offset < SIZE as u64, "resumed at {offset}, had seen {seen}");
    assert!(!run.stdout.contains("Upload started"), "{}", run.stdout);
    assert!(run.stdout.contains(&state.upload_url), "same upload URL");
    assert!(!work.join("tus-progress.txt").exists());

    let saved = server.dest.join("big.bin");
    assert!(wait_for_file(&saved, Duration::from_secs(15)));
    assert!(fs::read(&saved).unwrap() == data, "the server's file differs");
}

#[test]
fn no_resume_without_yes_or_for_a_modified_file() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let work = tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("big.bin"), test_data(SIZE, 4)).unwrap();

    // stdin is not a terminal and there is no --yes: a new upload, from zero.
    start_and_kill(&work, &server.url, "big.bin");
    let first = ProgressState::load(&work.join("tus-progress.txt")).unwrap().unwrap();
    let run = upload(&work, &["--url", &server.url, "--file", "big.bin"], Duration::from_secs(60));
    assert_eq!(run.code(), 0);
    assert!(run.stderr.contains("without --yes"), "{}", run.stderr);
    assert!(run.stdout.contains("Upload started") && resumed_at(&run.stdout).is_none(), "{}", run.stdout);
    assert!(!run.stdout.contains(&first.upload_url));

    // The file changed since the state was saved: not resumed, even with --yes.
    start_and_kill(&work, &server.url, "big.bin");
    std::thread::sleep(Duration::from_millis(20));
    let changed = test_data(SIZE, 5);
    fs::write(work.join("big.bin"), &changed).unwrap();
    let run = upload(&work, &["--url", &server.url, "--file", "big.bin", "--yes"], Duration::from_secs(60));
    assert_eq!(run.code(), 0);
    assert!(run.stderr.contains("the file was modified since"), "{}", run.stderr);
    assert!(run.stdout.contains("Upload started"), "{}", run.stdout);
    // Two finished uploads of big.bin: the second one holds the changed content.
    let second = server.dest.join("big_1.bin");
    assert!(wait_for_file(&second, Duration::from_secs(15)));
    assert!(fs::read(&second).unwrap() == changed);
}

#[test]
fn asks_before_resuming_in_a_terminal_and_shows_a_bar() {
    use rexpect::session::spawn_command;

    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let work = tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let data = test_data(SIZE, 6);
    fs::write(work.join("big.bin"), &data).unwrap();
    start_and_kill(&work, &server.url, "big.bin");

    let mut command = Command::new(UPLOAD);
    command.current_dir(&work).args(["--url", &server.url, "--file", "big.bin"]).env_remove("TUSSI_YES");
    // Every expectation fails after 30 s instead of hanging.
    let mut session = spawn_command(command, Some(30_000)).expect("spawn tussi-upload in a pty");
    session.exp_string("Resume the upload of big.bin at http://127.0.0.1:").unwrap();
    session.exp_string("? [y/N] ").unwrap();
    session.send_line("y").unwrap();
    session.exp_string("Resuming big.bin at offset ").unwrap();
    // The bar: name, bar, bytes of total, speed, ETA.
    session.exp_string("big.bin [").unwrap();
    session.exp_string("/3.00 MiB").unwrap();
    session.exp_string("ETA").unwrap();
    session.exp_string("Upload complete: big.bin (3145728 bytes)").unwrap();
    session.exp_eof().unwrap();

    let saved = server.dest.join("big.bin");
    assert!(wait_for_file(&saved, Duration::from_secs(15)));
    assert!(fs::read(&saved).unwrap() == data);
}
