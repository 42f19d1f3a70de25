//! tussi-upload against the ORIGINAL Python tussi 3.1.0 (installed in a venv under target/ and started on
//! 127.0.0.1 by conformance/scripts/peers.sh, stopped by its PID through the same script). Needs python3 with venv
//! and PyPI; set TUS_CONFORMANCE_SKIP_PEERS to skip, as the conformance peer tests do.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{test_data, upload, wait_for_file};

/// A Python tussi started by peers.sh, stopped when dropped.
struct Peer {
    instance: String,
    url: String,
    data: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/scripts/peers.sh")
}

impl Peer {
    fn start() -> Peer {
        let instance = format!("tussi-cli-test-{}", std::process::id());
        let out = Command::new("bash")
            .arg(script())
            .args(["start", "tussi"])
            .env("PEER_INSTANCE", &instance)
            .output()
            .expect("run peers.sh");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "peers.sh start tussi failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("peers.sh printed no {name}: {stdout}"))
                .to_owned()
        };
        Peer { url: field("URL="), data: PathBuf::from(field("DATA=")), instance }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ =
            Command::new("bash").arg(script()).args(["stop", "tussi"]).env("PEER_INSTANCE", &self.instance).status();
        let _ = fs::remove_dir_all(&self.data);
    }
}

#[test]
fn uploads_to_the_original_python_tussi() {
    if std::env::var_os("TUS_CONFORMANCE_SKIP_PEERS").is_some() {
        eprintln!("skipped: TUS_CONFORMANCE_SKIP_PEERS is set");
        return;
    }
    let peer = Peer::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = test_data(600_003, 9);
    fs::write(tmp.path().join("photo.jpg"), &data).unwrap();
    let run = upload(
        tmp.path(),
        &["--url", &peer.url, "--file", "photo.jpg", "--chunk-size", "100k", "--metadata", "album=x"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code(), 0);
    let url = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Upload complete: photo.jpg (600003 bytes) at "))
        .unwrap_or_else(|| panic!("no completion line in {}", run.stdout));
    let id = url.trim_end_matches('/').rsplit('/').next().unwrap();

    // The original finalises into completed/<id> with completed/<id>.meta (written first).
    let finished = peer.data.join("completed").join(id);
    assert!(wait_for_file(&finished, Duration::from_secs(10)), "no {}", finished.display());
    assert!(fs::read(&finished).unwrap() == data, "the Python server's file differs");
    let record: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(peer.data.join("completed").join(format!("{id}.meta"))).unwrap())
            .unwrap();
    assert_eq!(record["metadata"]["filename"], "photo.jpg");
    assert_eq!(record["metadata"]["album"], "x");

    // A zero-length file needs the empty PATCH there (the original does not finish it at creation).
    fs::write(tmp.path().join("empty"), b"").unwrap();
    let run = upload(tmp.path(), &["--url", &peer.url, "--file", "empty"], Duration::from_secs(60));
    assert_eq!(run.code(), 0);
}
