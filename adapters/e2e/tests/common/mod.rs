//! Shared helpers of the tests that drive real TUS clients (clients.rs, everyday.rs): client processes run under a
//! deadline and are killed by their PID past it; the clients are installed once per checkout by
//! `conformance/scripts/peers.sh install tus-js-client|tuspy` (pinned versions, into `target/tus-peers/`).
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Runs `command` to completion or until `timeout`, when it is killed (by its PID, through the child handle) and
/// this panics. Returns (success, stdout, stderr). Output is read on threads so a chatty child cannot block on a full
/// pipe.
pub(crate) fn run_bounded(command: &mut Command, timeout: Duration) -> (bool, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let out = read_on_a_thread(child.stdout.take().expect("stdout"));
    let err = read_on_a_thread(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().expect("stdout reader"), err.join().expect("stderr reader"));
    match status {
        Some(status) => (status.success(), out, err),
        None => panic!("{command:?} still running after {timeout:?}: killed\nstdout: {out}\nstderr: {err}"),
    }
}

/// Runs `command` as [`run_bounded`] does and returns its stdout; panics (showing its output) when it fails.
pub(crate) fn run(command: &mut Command, timeout: Duration) -> String {
    let (ok, out, err) = run_bounded(command, timeout);
    assert!(ok, "{command:?} failed:\nstdout: {out}\nstderr: {err}");
    out
}

/// Reads `stream` to its end on a thread of its own.
fn read_on_a_thread(mut stream: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
}

/// `peers.sh install CLIENT` (once per checkout: the script keeps what it installed and locks while it installs)
/// and the value of the `NAME=` line it prints.
pub(crate) fn install(client: &str, name: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/scripts/peers.sh");
    // A first install downloads from npm / PyPI: allow it time.
    let out = run(Command::new("bash").arg(script).args(["install", client]), Duration::from_secs(900));
    let value = out.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("no {name} in {out}"));
    PathBuf::from(value)
}

/// The directory whose `node_modules` holds tus-js-client.
pub(crate) fn node_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| install("tus-js-client", "NODE_PREFIX="))
}

/// The python of a venv with tuspy.
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| install("tuspy", "PYTHON="))
}

/// The client scripts (`adapters/e2e/clients/`).
pub(crate) fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}
