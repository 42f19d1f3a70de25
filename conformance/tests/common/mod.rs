//! Shared helpers of the peer tests: start a peer server with scripts/peers.sh, stop it when dropped, and
//! compare verdicts.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tus_conformance::{Config, Report, Settings, Timeouts, Url, Verdict};

/// Tus-Max-Size the peers are started with.
pub const MAX_SIZE: u64 = 1_000_000;

/// A started peer, stopped (by its PID, through the script) when dropped.
pub struct Peer {
    peer: String,
    instance: String,
    /// Creation URL.
    pub url: String,
    /// Data directory of the peer.
    pub data: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/peers.sh")
}

impl Peer {
    /// Starts `peer` (tussi, tus-node) on 127.0.0.1.
    pub fn start(peer: &str, max_size: u64) -> Peer {
        let instance = format!("{peer}-test-{}", std::process::id());
        let out = Command::new("bash")
            .arg(script())
            .args(["start", peer, &max_size.to_string()])
            .env("PEER_INSTANCE", &instance)
            .output()
            .expect("run peers.sh");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "peers.sh start {peer} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("peers.sh printed no {name}: {stdout}"))
                .to_string()
        };
        Peer { peer: peer.to_string(), instance, url: field("URL="), data: PathBuf::from(field("DATA=")) }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", self.peer.as_str()])
            .env("PEER_INSTANCE", &self.instance)
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A configuration with short waits.
pub fn config(url: &str) -> Config {
    let mut c = Config::new(Url::parse(url).expect("peer URL"));
    c.settings = Settings {
        timeouts: Timeouts { connect: Duration::from_secs(5), io: Duration::from_secs(8) },
        budget: Duration::from_secs(25),
        stall_wait: Duration::from_secs(6),
        server_timeout_wait: Duration::from_secs(2),
    };
    c
}

/// Asserts the verdict of one scenario.
pub fn expect(report: &Report, id: &str, verdict: Verdict) {
    let r = report.get(id).unwrap_or_else(|| panic!("no result for {id}"));
    assert_eq!(r.verdict, verdict, "{id}: {}\n\n{}", r.detail, report.table());
}

/// Whether peer tests are skipped on purpose (TUS_CONFORMANCE_SKIP_PEERS set).
pub fn skipped() -> bool {
    let skip = std::env::var_os("TUS_CONFORMANCE_SKIP_PEERS").is_some();
    if skip {
        eprintln!("skipped: TUS_CONFORMANCE_SKIP_PEERS is set");
    }
    skip
}
