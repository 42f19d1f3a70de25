//! Real TUS clients (tus-js-client 4.3, tuspy 1.1) upload to every runtime; the finished files are checked by
//! sha256. The clients are installed on first use, at the versions pinned in conformance/scripts/deps/ (npm ci and
//! pip), by `conformance/scripts/peers.sh install tus-js-client|tuspy` into `target/tus-peers/`, where the peer
//! tests' installs live too (common/mod.rs, shared with everyday.rs). Every client run is bounded and killed by its
//! PID past the bound.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{clients_dir, node_prefix, python, run};
use sha2::{Digest, Sha256};
use tussi_e2e::{Options, TestServer, ALL};

/// The bound on one client run (nine uploads of at most 10 MiB on loopback take seconds); past it the client is
/// killed by its PID.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

struct Sample {
    path: PathBuf,
    sha256: [u8; 32],
}

/// Files of 0 B, 1 B and 10 MiB + 1 B with a deterministic pattern.
fn samples(dir: &Path) -> Vec<Sample> {
    [0usize, 1, 10 * 1024 * 1024 + 1]
        .into_iter()
        .map(|size| {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 + i / 4093) as u8).collect();
            let path = dir.join(format!("sample-{size}.bin"));
            std::fs::write(&path, &data).expect("sample");
            Sample { path, sha256: Sha256::digest(&data).into() }
        })
        .collect()
}

/// Checks every JSON line's upload against its sample: finished on the server, same sha256, same name.
fn check_uploads(server: &TestServer, output: &str, samples: &[Sample], expected: usize, who: &str) {
    let mut checked = 0;
    for line in output.lines().filter(|l| l.starts_with('{')) {
        let url = field(line, "url");
        let file = field(line, "file");
        let id = url.rsplit('/').next().expect("id");
        let sample = samples.iter().find(|s| s.path.to_str() == Some(file.as_str())).expect("known sample");
        let stored =
            std::fs::read(server.completed_file(id)).unwrap_or_else(|e| panic!("{who}: {file} not finished: {e}"));
        let digest: [u8; 32] = Sha256::digest(&stored).into();
        assert_eq!(digest, sample.sha256, "{who}: {file} differs after upload ({line})");
        let record = server.completed_record(id).expect("record");
        let name = sample.path.file_name().and_then(|n| n.to_str());
        assert_eq!(record.metadata.get("filename"), name, "{who}: metadata");
        checked += 1;
    }
    assert_eq!(checked, expected, "{who}: uploads reported\n{output}");
}

/// The string value of `key` in a flat JSON line.
fn field(line: &str, key: &str) -> String {
    let start = line
        .find(&format!("\"{key}\": \""))
        .map(|i| i + key.len() + 5)
        .or_else(|| line.find(&format!("\"{key}\":\"")).map(|i| i + key.len() + 4))
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    line[start..].split('"').next().expect("value").to_owned()
}

fn specs(samples: &[Sample], chunks: &[usize]) -> Vec<String> {
    samples.iter().flat_map(|s| chunks.iter().map(move |c| format!("{}:{c}", s.path.display()))).collect()
}

#[test]
fn tus_js_client_uploads_to_every_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = samples(dir.path());
    let chunks = [65_536, 1_048_576, 4 * 1_048_576];
    let specs = specs(&samples, &chunks);
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let output = run(
            Command::new("node")
                .arg(clients_dir().join("upload.mjs"))
                .arg(&server.url)
                .args(&specs)
                .env("TUS_NODE_PREFIX", node_prefix()),
            CLIENT_TIMEOUT,
        );
        check_uploads(&server, &output, &samples, specs.len(), &format!("tus-js-client on {rt:?}"));
    }
}

#[test]
fn tuspy_uploads_to_every_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = samples(dir.path());
    let chunks = [65_536, 1_048_576, 4 * 1_048_576];
    let specs = specs(&samples, &chunks);
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let output = run(
            Command::new(python()).arg(clients_dir().join("upload.py")).arg(&server.url).args(&specs),
            CLIENT_TIMEOUT,
        );
        check_uploads(&server, &output, &samples, specs.len(), &format!("tuspy on {rt:?}"));
    }
}

#[test]
fn tus_js_client_resumes_an_interrupted_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = samples(dir.path());
    let big = &samples[2];
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let output = run(
            Command::new("node")
                .arg(clients_dir().join("upload.mjs"))
                .arg("--interrupt")
                .arg(&server.url)
                .arg(format!("{}:262144", big.path.display()))
                .env("TUS_NODE_PREFIX", node_prefix()),
            CLIENT_TIMEOUT,
        );
        let line = output.lines().find(|l| l.starts_with('{')).expect("a result line");
        assert_eq!(field(line, "url"), field(line, "firstUrl"), "{rt:?}: resumed the same upload, not a new one");
        let before: u64 =
            line.split("\"offsetBefore\":").nth(1).and_then(|s| s.trim_end_matches('}').parse().ok()).expect("offset");
        assert!(before > 0 && before < 10 * 1024 * 1024 + 1, "{rt:?}: interrupted part-way (offset {before})");
        check_uploads(&server, &output, &samples, 1, &format!("tus-js-client resume on {rt:?}"));
    }
}
