//! Helpers shared by the integration tests: stores in temporary directories, deterministic data, child processes.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use tus_proto::{Metadata, UploadId};
use tus_storage::{FileStore, StoreConfig, UploadWriter};

/// The environment variable that turns a test binary's `child` test into a child process of another test.
pub const CHILD_ROLE: &str = "TUS_STORAGE_CHILD";

pub struct Dirs {
    pub root: tempfile::TempDir,
}

impl Dirs {
    pub fn new() -> Dirs {
        Dirs { root: tempfile::tempdir().unwrap() }
    }
    pub fn uploads(&self) -> PathBuf {
        self.root.path().join("uploads")
    }
    pub fn completed(&self) -> PathBuf {
        self.root.path().join("completed")
    }
    pub fn config(&self) -> StoreConfig {
        config_in(self.root.path())
    }
    pub fn store(&self) -> FileStore {
        FileStore::new(self.config()).unwrap()
    }
}

pub fn config_in(root: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(root.join("uploads"), root.join("completed"));
    config.release_timeout = Duration::from_millis(500);
    config
}

/// Lists the file names in a directory, sorted.
/// The names in `dir`, sorted, without `.ended` (where the store remembers ended uploads).
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != ".ended")
        .collect();
    names.sort();
    names
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The byte of upload `seed` at `pos`: pseudo-random and never zero (preallocated space reads as zeros).
pub fn pattern_byte(seed: u64, pos: u64) -> u8 {
    let word = splitmix(seed ^ splitmix(pos / 8)).to_le_bytes();
    word[(pos % 8) as usize].max(1)
}

pub fn pattern(seed: u64, start: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pattern_byte(seed, start + i)).collect()
}

/// The first position where `data` (starting at `start`) differs from the pattern.
pub fn first_mismatch(seed: u64, start: u64, data: &[u8]) -> Option<u64> {
    data.iter().enumerate().find(|&(i, &b)| b != pattern_byte(seed, start + i as u64)).map(|(i, _)| start + i as u64)
}

/// A small PRNG for test decisions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn from_time() -> Rng {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64;
        Rng(nanos ^ u64::from(std::process::id()) << 32)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix(self.0)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
}

/// Creates an upload of `length` bytes whose metadata carries its pattern seed.
pub fn create(store: &FileStore, length: Option<u64>, seed: u64) -> (UploadWriter, UploadId) {
    let metadata = Metadata::from_iter([("seed", seed.to_string()), ("filename", format!("{seed}.bin"))]);
    store.create_with(length, metadata, Metadata::new(), SystemTime::now()).unwrap()
}

/// Writes the pattern over `start..end` in batches of at most `batch` bytes.
pub fn write_pattern(writer: &mut UploadWriter, seed: u64, start: u64, end: u64, batch: usize) {
    let mut at = start;
    while at < end {
        let n = batch.min((end - at) as usize);
        writer.write_at(at, &pattern(seed, at, n)).unwrap();
        at += n as u64;
    }
}

/// A child process running this test binary's `child` test with `role`.
pub fn child_process(role: &str, envs: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--ignored", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_ROLE, role)
        .stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// Lines of a child's stdout that start with `RESULT `, without the prefix.
pub fn results(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout).lines().filter_map(|l| l.strip_prefix("RESULT ")).map(str::to_owned).collect()
}
