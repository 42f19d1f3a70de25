//! A real browser against `tussi-server`: Uppy 6 with its Tus plugin (default options, only `endpoint` set) in
//! headless Chromium, on a page whose origin is not the server's, so every request is cross-origin: preflights,
//! `Access-Control-Allow-Origin`, exposed `Location` and `Upload-Offset`, exactly as a site embedding Uppy needs.
//!
//! - Files of 1, 7 and 30 MiB go up together; each lands in the dest dir under its name with the same bytes (the
//!   driver compares sha256, this test the bytes).
//! - A 30 MiB file is removed by the user mid-upload: Uppy aborts the PATCH and sends DELETE to the upload URL.
//!   Afterwards HEAD answers 404 or 410 and nothing of that upload is left in the upload dir or the dest dir.
//! - No console message mentions CORS, no request failed (but the aborted PATCH), Uppy reports no failure.
//!
//! The browser side is `adapters/e2e/browser/` (the page, the Node driver `uppy.mjs`, pinned npm packages that
//! `install.sh` installs with `npm ci` into `target/tus-peers/browser`). Chromium is the system's (`apt-get install
//! chromium`, as CI does); without it this test fails, it does not skip. The driver bounds the browser run
//! itself and this test kills the driver by its PID if it overstays.

mod common;

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use common::{run_bounded, test_data, wait_for_file, Server};
use serde_json::Value;

const MIB: usize = 1 << 20;

/// The driver's own limit on the whole browser run (`--timeout`); the test waits a little longer before killing it.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/browser")
}

/// What `install.sh` reports: the directory with the driver's `node_modules`, and the browser to launch.
struct Installed {
    node_prefix: String,
    chromium: String,
}

/// Runs `install.sh` (npm ci once per pin change, under a lock; checks Chromium). Its failure — above all a missing
/// Chromium — fails the test with the script's own explanation.
fn install() -> Installed {
    let script = browser_dir().join("install.sh");
    let output = Command::new("bash").arg(&script).stdin(Stdio::null()).output().expect("run install.sh");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the browser test cannot run: {} failed ({}):\n{stdout}{stderr}",
        script.display(),
        output.status
    );
    let value = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("install.sh printed no {name}: {stdout}"))
            .to_owned()
    };
    Installed { node_prefix: value("NODE_PREFIX="), chromium: value("CHROMIUM=") }
}

/// What the driver printed.
struct DriverRun {
    status: ExitStatus,
    /// Its JSON lines, one per file and a last `"scenario": "summary"`.
    lines: Vec<Value>,
    stdout: String,
}

/// Runs the Node driver with `args`, killed (SIGTERM, then SIGKILL; by its PID) if it outlives its own timeout.
/// SIGTERM lets puppeteer close Chromium; Chromium also exits by itself when the driver's pipe to it closes.
fn run_driver(installed: &Installed, args: &[&str]) -> DriverRun {
    let timeout = DRIVER_TIMEOUT.as_secs().to_string();
    let run = run_bounded(
        Command::new("node")
            .arg(browser_dir().join("uppy.mjs"))
            .args(args)
            .args(["--timeout", &timeout])
            .env("TUS_BROWSER_PREFIX", &installed.node_prefix)
            .env("CHROMIUM", &installed.chromium),
        "node (the CI installs nodejs)",
        DRIVER_TIMEOUT + Duration::from_secs(30),
        Duration::from_secs(10),
    )
    .unwrap_or_else(|| panic!("the browser driver overstayed its own {DRIVER_TIMEOUT:?} limit and was killed"));
    eprintln!("[browser] exit {:?}\n{}{}", run.status.code(), run.stdout, run.stderr);
    let lines = run.stdout.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    DriverRun { status: run.status, lines, stdout: run.stdout }
}

impl DriverRun {
    fn scenario(&self, name: &str) -> Vec<&Value> {
        self.lines.iter().filter(|line| line["scenario"] == name).collect()
    }
}

/// The status code of a HEAD on `url` (`http://host:port/path`), from a raw socket with timeouts.
fn head_status(url: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http URL: {url}"));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect to {authority}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "HEAD {path} HTTP/1.1\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in the answer to HEAD {url}: {answer:?}"))
}

/// Every path under `dir`, recursively (the upload dir holds `.completed/`, the dest dir `.tussi-partial/`).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

#[test]
fn uppy_in_chromium_uploads_across_origins_and_a_removed_upload_is_terminated() {
    let installed = install();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();

    // One name with spaces, as users' files have. Only printable ASCII: the server refuses other `filename`s
    // (400), as the original tussi does.
    let uploads = [("uppy-1MiB.bin", MIB, 1), ("holiday photos 7MiB.bin", 7 * MIB, 2), ("uppy-30MiB.bin", 30 * MIB, 3)];
    let removed_name = "uppy-removed-30MiB.bin";
    let mut args = vec!["--endpoint".to_owned(), server.url.clone(), "--dest".to_owned(), path_arg(&server.dest)];
    for (name, len, seed) in uploads {
        fs::write(src.join(name), test_data(len, seed)).unwrap();
        args.extend(["--upload".to_owned(), path_arg(&src.join(name))]);
    }
    fs::write(src.join(removed_name), test_data(30 * MIB, 4)).unwrap();
    args.extend(["--remove".to_owned(), path_arg(&src.join(removed_name))]);

    let run = run_driver(&installed, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let summary = run.scenario("summary").pop().cloned().unwrap_or(Value::Null);
    assert!(
        run.status.success() && summary["ok"] == true,
        "the browser run failed ({}): {}\n(the browser console, failed requests and the server's responses are \
         printed above)",
        run.status,
        serde_json::to_string_pretty(&summary["problems"]).unwrap_or_else(|_| run.stdout.clone())
    );
    assert_eq!(summary["cors_errors"], 0);
    assert!(
        summary["preflights"].as_u64().unwrap_or(0) > 0,
        "no CORS preflight was answered: the page and the server were not on different origins? {summary}"
    );

    // Every finished file, as the driver saw it (sha256 of what it gave the browser and of the dest file) and as
    // this test sees it (the dest file's bytes).
    let done = run.scenario("upload");
    for (name, len, seed) in uploads {
        let line = done.iter().find(|line| line["file"] == name).unwrap_or_else(|| panic!("no result for {name}"));
        assert_eq!(line["ok"], true, "{line}");
        assert_eq!(line["sha256"], line["dest_sha256"], "{line}");
        let saved = server.dest.join(name);
        assert!(wait_for_file(&saved, Duration::from_secs(10)), "{} is missing", saved.display());
        assert!(fs::read(&saved).unwrap() == test_data(len, seed), "{} differs from what was sent", saved.display());
    }

    // The removed upload: terminated on the server, and gone from disk. The driver waited for the DELETE's 204, so
    // anything still there now is left behind, not in progress.
    let removal = run.scenario("remove").pop().cloned().expect("no result for the removed upload");
    assert_eq!(removal["ok"], true, "{removal}");
    let url = removal["upload_url"].as_str().unwrap_or_else(|| panic!("no upload URL: {removal}"));
    let status = head_status(url);
    assert!(status == 404 || status == 410, "HEAD {url} after the DELETE answered {status}, not 404 or 410");
    let id = url.trim_end_matches('/').rsplit('/').next().unwrap();
    let left: Vec<_> = walk(&server.uploads)
        .into_iter()
        .chain(walk(&server.dest))
        .filter(|path| {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            (file.starts_with(id) || file.starts_with(removed_name)) && !is_tombstone(path)
        })
        .collect();
    assert!(left.is_empty(), "the removed upload {id} left {left:?}");
}

/// Whether `path` is the store's memory that an upload ended (`<upload dir>/.ended/<id>`, one short line such as
/// `deleted`, which lets HEAD answer 410): a note about the upload, none of its data.
fn is_tombstone(path: &Path) -> bool {
    let in_ended = path.parent().and_then(Path::file_name).is_some_and(|dir| dir == ".ended");
    in_ended && fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.len() <= 64)
}

/// A path as a command-line argument (the temp dir's path is UTF-8 here; the names above are).
fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}
