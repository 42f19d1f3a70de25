//! Real TUS clients (tus-js-client 4.3, tuspy 1.1) upload to every runtime; the finished files are checked by
//! sha256. The clients are installed on first use, at the versions pinned in conformance/scripts/deps/ (npm ci and
//! pip), by `conformance/scripts/peers.sh install tus-js-client|tuspy` into `target/tus-peers/`, where the peer
//! tests' installs live too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use tussi_e2e::{Options, TestServer, ALL};

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// `peers.sh install CLIENT` (once per checkout: the script keeps what it installed and locks while it installs)
/// and the value of the `NAME=` line it prints.
fn install(client: &str, name: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/scripts/peers.sh");
    let out = run(Command::new("bash").arg(script).args(["install", client]));
    let value = out.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("no {name} in {out}"));
    PathBuf::from(value)
}

/// The directory whose `node_modules` holds tus-js-client.
fn node_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| install("tus-js-client", "NODE_PREFIX="))
}

/// The python of a venv with tuspy.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| install("tuspy", "PYTHON="))
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

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
        let output = run(Command::new("node")
            .arg(clients_dir().join("upload.mjs"))
            .arg(&server.url)
            .args(&specs)
            .env("TUS_NODE_PREFIX", node_prefix()));
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
        let output = run(Command::new(python()).arg(clients_dir().join("upload.py")).arg(&server.url).args(&specs));
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
        let output = run(Command::new("node")
            .arg(clients_dir().join("upload.mjs"))
            .arg("--interrupt")
            .arg(&server.url)
            .arg(format!("{}:262144", big.path.display()))
            .env("TUS_NODE_PREFIX", node_prefix()));
        let line = output.lines().find(|l| l.starts_with('{')).expect("a result line");
        assert_eq!(field(line, "url"), field(line, "firstUrl"), "{rt:?}: resumed the same upload, not a new one");
        let before: u64 =
            line.split("\"offsetBefore\":").nth(1).and_then(|s| s.trim_end_matches('}').parse().ok()).expect("offset");
        assert!(before > 0 && before < 10 * 1024 * 1024 + 1, "{rt:?}: interrupted part-way (offset {before})");
        check_uploads(&server, &output, &samples, 1, &format!("tus-js-client resume on {rt:?}"));
    }
}
