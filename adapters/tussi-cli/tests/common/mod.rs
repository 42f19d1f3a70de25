//! Shared helpers of the end-to-end tests: start `tussi-server` on 127.0.0.1 and a free port (`--port 0`, read
//! back from the banner), run `tussi-upload` (or any program: `run_bounded`) with a time limit, wait for files with
//! a bound. Every process is stopped by its own PID; every wait is bounded.
#![allow(dead_code, unreachable_pub)]

pub mod nginx;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The `tussi-server` binary.
pub const SERVER: &str = env!("CARGO_BIN_EXE_tussi-server");
/// The `tussi-upload` binary.
pub const UPLOAD: &str = env!("CARGO_BIN_EXE_tussi-upload");

/// A running `tussi-server`, stopped with SIGTERM (then SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// The creation URL, `http://127.0.0.1:PORT/files/`.
    pub url: String,
    /// The upload dir.
    pub uploads: PathBuf,
    /// The dest dir.
    pub dest: PathBuf,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the server with its directories under `root`, no prompts, any free port, and `extra` options.
    pub fn start(root: &Path, extra: &[&str]) -> Server {
        let (uploads, dest) = (root.join("uploads"), root.join("dest"));
        let mut command = Command::new(SERVER);
        command
            .args(["--no-prompt", "--host", "127.0.0.1", "--port", "0", "--no-fsync"])
            .arg("--upload-dir")
            .arg(&uploads)
            .arg("--dest-dir")
            .arg(&dest)
            .args(extra);
        let mut server = Server::spawn(&mut command, dest);
        server.uploads = uploads;
        server
    }

    /// The lines the server logged to stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (at most 15 s) for the exit; returns the status and the rest of stdout.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let status = wait_bounded(&mut self.child, Duration::from_secs(15)).expect("tussi-server exits on SIGTERM");
        let rest: Vec<String> = self.stdout.try_iter().collect();
        (status, rest.join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            stop(&mut self.child, Duration::from_secs(10));
        }
    }
}

/// Forwards the lines of `stream` to a channel, from a thread.
pub fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for `child` at most `limit`; `None` if it is still running.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops `child` by its PID: SIGTERM, then SIGKILL if it still runs after `grace` (at once when `grace` is zero);
/// reaps it.
pub fn stop(child: &mut Child, grace: Duration) {
    if !grace.is_zero() {
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        if wait_bounded(child, grace).is_some() {
            return;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// What a finished process (`tussi-upload`, the browser driver) printed.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The exit code (panics on death by signal).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| panic!("killed by a signal: {self:?}"))
    }
}

/// Runs `command` with no stdin, its stdout and stderr read to their ends on two threads (a chatty child cannot
/// block on a full pipe), and waits for it at most `limit`. If it still runs then, it is stopped by its PID
/// ([`stop`] with `grace`) and the answer is `None`. `what` names the program when it cannot be started.
pub fn run_bounded(command: &mut Command, what: &str, limit: Duration, grace: Duration) -> Option<Run> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let out = read_on_a_thread(child.stdout.take().unwrap());
    let err = read_on_a_thread(child.stderr.take().unwrap());
    let Some(status) = wait_bounded(&mut child, limit) else {
        stop(&mut child, grace);
        return None;
    };
    Some(Run { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() })
}

/// Reads `stream` to its end on a thread of its own.
fn read_on_a_thread(mut stream: impl std::io::Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
}

/// Runs `tussi-upload` in `cwd` with `args` and no stdin, killed after `limit`.
pub fn upload(cwd: &Path, args: &[&str], limit: Duration) -> Run {
    let run = run_bounded(
        Command::new(UPLOAD).current_dir(cwd).args(args).env_remove("TUSSI_URL"),
        "tussi-upload",
        limit,
        Duration::ZERO,
    )
    .unwrap_or_else(|| panic!("tussi-upload did not finish within {limit:?}"));
    eprintln!("[upload {args:?}] exit {:?}\n{}{}", run.status.code(), run.stdout, run.stderr);
    run
}

/// Waits (at most `limit`) until `path` exists.
pub fn wait_for_file(path: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    path.exists()
}

/// `len` bytes of test data that differ by `seed`.
pub fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let mut data = vec![0; len];
    tussi_cli::source::fill_generated(seed, 0, &mut data);
    data
}

/// One raw HTTP/1.1 request to `server` on its own connection, with `Host`, `Tus-Resumable: 1.0.0` and
/// `Connection: close` added to `head` (its lines end in `\n`): the status and the whole response.
pub fn request(server: &Server, head: &str) -> (u16, String) {
    use std::io::Write as _;
    let authority = server.url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("URL");
    let mut stream = std::net::TcpStream::connect(authority).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = head.replace('\n', "\r\n");
    write!(stream, "{head}Host: {authority}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).expect("response");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, response)
}

/// A header's value in a raw response, by its lower-case name (hyper writes names lower-case).
pub fn header<'r>(response: &'r str, name: &str) -> Option<&'r str> {
    response.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

impl Server {
    /// Starts `command` (a `tussi-server` command line, e.g. with `--store`) and waits (at most 20 s) for the URL
    /// in its banner. For a command line of your own; [`Server::start`] builds the usual one. `dest` is its dest
    /// dir; it has no upload dir (`uploads` is empty).
    pub fn spawn(command: &mut Command, dest: PathBuf) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tussi-server");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr_pipe = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let log = stderr.clone();
        std::thread::spawn(move || {
            // Keep the server's logs visible in the test output, and for the test to read.
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                eprintln!("[server] {line}");
                log.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            match stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                        break url.to_owned();
                    }
                }
                Err(_) => {
                    stop(&mut child, Duration::ZERO);
                    panic!("tussi-server printed no URL within 20 s");
                }
            }
        };
        Server { child, url, uploads: PathBuf::new(), dest, stdout, stderr }
    }
}

/// Like [`request`], with `body` sent after the head (whose `Content-Length` is added): the status and the whole
/// response, read for at most 60 s (a large body goes on to the storage before the answer).
pub fn request_with_body(server: &Server, head: &str, body: &[u8]) -> (u16, String) {
    use std::io::Write as _;
    let authority = server.url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("URL");
    let mut stream = std::net::TcpStream::connect(authority).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = head.replace('\n', "\r\n");
    let length = body.len();
    write!(
        stream,
        "{head}Host: {authority}\r\nTus-Resumable: 1.0.0\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream.write_all(body).expect("send the body");
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).expect("response");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, response)
}
