//! tussi-upload for real endpoints: `--header` on every request, https (a TLS fake server with a test CA, `--ca-cert`),
//! failures that cannot mend fail at once (TLS to a plain-HTTP port, an untrusted certificate, refused headers), and
//! the hint how to resume when the server goes away or the upload is interrupted with Ctrl-C.
//!
//! The fake TUS server here (std::net, a thread per connection, plain or rustls) records every request head, can
//! answer one PATCH with a 503, and can go away after a number of PATCHes — then come back on the same port with
//! what it stored.

mod common;

use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{lines, run_bounded, test_data, upload, wait_bounded, Server, UPLOAD};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A test CA (ECDSA P-256, valid 2020–2120), to pass with `--ca-cert`. Test material only.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBcTCCARegAwIBAgIBATAKBggqhkjOPQQDAjAfMR0wGwYDVQQDDBR0dXNzaS11
cGxvYWQgdGVzdCBDQTAgFw0yMDAxMDEwMDAwMDBaGA8yMTIwMDEwMTAwMDAwMFow
HzEdMBsGA1UEAwwUdHVzc2ktdXBsb2FkIHRlc3QgQ0EwWTATBgcqhkjOPQIBBggq
hkjOPQMBBwNCAASEJ+dqAgVXKR37uqF9wQhdU94iZu6c9NpH4ET/zhTd+FT9ROho
5r7Rq1RQQq5EPiukQK6QtEqTMnYLQCjcIKy7o0IwQDAPBgNVHRMBAf8EBTADAQH/
MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUWCPnQBOnv4WeaQ9UAOS1Kn9juNkw
CgYIKoZIzj0EAwIDSAAwRQIgfJUw6y7d6MGegnhvmCRE0jVu1wqxIjoXuXdwr/tE
2PQCIQD2MpXFLhNw+CbSiboTyfKuQqtiCrPWXLfRc+fcJDSKlg==
-----END CERTIFICATE-----
";

/// The server certificate issued by [`CA_PEM`] for 127.0.0.1 and localhost (serverAuth, valid 2020–2120).
const SERVER_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBtzCCAV2gAwIBAgIBAjAKBggqhkjOPQQDAjAfMR0wGwYDVQQDDBR0dXNzaS11
cGxvYWQgdGVzdCBDQTAgFw0yMDAxMDEwMDAwMDBaGA8yMTIwMDEwMTAwMDAwMFow
FDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
opppVSzTGK6POS9gFIWrGqoncpAlZ9Mb+LXvxd1xBwFqswpoLGmhFD7VnP0udc38
oKBp3+cBLZVqClooiqBHNKOBkjCBjzAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQE
AwIHgDATBgNVHSUEDDAKBggrBgEFBQcDATAaBgNVHREEEzARhwR/AAABgglsb2Nh
bGhvc3QwHQYDVR0OBBYEFAMk3/l92ZkhiyLa3DKItQVShP3sMB8GA1UdIwQYMBaA
FFgj50ATp7+FnmkPVADktSp/Y7jZMAoGCCqGSM49BAMCA0gAMEUCIDWGaNbc4e+h
jZrskoeatW8TR3SUM9YC/TITGsu7AO8vAiEAkxxIQcUDgamom6KZrkw9KFI6IyN3
s+Ynd2BiPT+jCnA=
-----END CERTIFICATE-----
";

/// The key of [`SERVER_PEM`] (PKCS#8). Test material only: it guards nothing.
const SERVER_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdJb0ATDKTo6T38gY
9h+gZt4vNKUvmzDPD8MjSrjqY/+hRANCAASimmlVLNMYro85L2AUhasaqidykCVn
0xv4te/F3XEHAWqzCmgsaaEUPtWc/S51zfygoGnf5wEtlWoKWiiKoEc0
-----END PRIVATE KEY-----
";

/// One request the fake received: the method and the header fields, names in lower case.
#[derive(Clone, Debug)]
struct Head {
    method: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// The fake's upload and its script.
#[derive(Default)]
struct Fake {
    length: u64,
    data: Vec<u8>,
    heads: Vec<Head>,
    patches: usize,
    /// PATCH number `n` (1-based) is answered 503 without storing anything.
    fail_patch: Option<usize>,
    /// After PATCH number `n` was answered, the server goes away: the connection is closed, the port too.
    gone_after: Option<usize>,
    gone: bool,
}

/// A running fake on 127.0.0.1, plain HTTP or TLS.
struct FakeServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Serves `fake` on `addr` (port 0: any free port) until stopped or gone; TLS with the test certificate when
    /// `tls`.
    fn start(addr: &str, fake: Arc<Mutex<Fake>>, tls: bool) -> FakeServer {
        let listener = TcpListener::bind(addr).expect("bind the fake server");
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let tls = tls.then(server_tls_config);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (fake, stop) = (fake.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && !fake.lock().unwrap().gone {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (fake, tls) = (fake.clone(), tls.clone());
                            std::thread::spawn(move || {
                                stream.set_nonblocking(false).unwrap();
                                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                                let _ = match tls {
                                    Some(config) => {
                                        let connection = rustls::ServerConnection::new(config).unwrap();
                                        handle(rustls::StreamOwned::new(connection, stream), &fake)
                                    }
                                    None => handle(stream, &fake),
                                };
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        FakeServer { addr, stop, thread: Some(thread) }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/files/", self.addr)
    }

    /// Waits (at most 10 s) until the server went away by its script.
    fn wait_gone(mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.thread.as_ref().unwrap().is_finished() {
            assert!(Instant::now() < deadline, "the fake server did not go away");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.thread.take().unwrap().join().unwrap();
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn server_tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(SERVER_PEM.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// Answers the requests of one connection like a TUS server with one upload, `/files/abc`.
fn handle<S: Read + Write>(stream: S, fake: &Mutex<Fake>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let method = line.split_whitespace().next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut field = String::new();
            reader.read_line(&mut field)?;
            if field.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = field.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let head = Head { method: method.clone(), headers };
        let number = |name: &str| -> u64 { head.values(name).first().and_then(|v| v.parse().ok()).unwrap_or(0) };
        let mut body = vec![0; number("content-length") as usize];
        reader.read_exact(&mut body)?;

        let mut fake = fake.lock().unwrap();
        fake.heads.push(head.clone());
        let mut close = false;
        let response = match method.as_str() {
            "POST" => {
                fake.length = number("upload-length");
                "HTTP/1.1 201 Created\r\nLocation: /files/abc\r\nTus-Resumable: 1.0.0\r\nContent-Length: 0\r\n\r\n"
                    .to_owned()
            }
            "HEAD" => format!(
                "HTTP/1.1 200 OK\r\nUpload-Offset: {}\r\nUpload-Length: {}\r\nTus-Resumable: 1.0.0\r\n\
                 Content-Length: 0\r\n\r\n",
                fake.data.len(),
                fake.length
            ),
            "PATCH" => {
                fake.patches += 1;
                let offset = number("upload-offset");
                if fake.fail_patch == Some(fake.patches) {
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy".to_owned()
                } else if offset != fake.data.len() as u64 {
                    format!("HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\nUpload-Offset: {}\r\n\r\n", fake.data.len())
                } else {
                    fake.data.extend_from_slice(&body);
                    if fake.gone_after == Some(fake.patches) {
                        fake.gone = true;
                        close = true;
                    }
                    format!(
                        "HTTP/1.1 204 No Content\r\nUpload-Offset: {}\r\nTus-Resumable: 1.0.0\r\n\r\n",
                        fake.data.len()
                    )
                }
            }
            _ => "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n".to_owned(),
        };
        drop(fake);
        let stream = reader.get_mut();
        stream.write_all(response.as_bytes())?;
        stream.flush()?;
        if close {
            return Ok(());
        }
    }
}

/// A work directory with `f.bin` of `len` bytes; returns the directory and the data.
fn work_with_file(len: usize, seed: u64) -> (tempfile::TempDir, Vec<u8>) {
    let work = tempfile::tempdir().unwrap();
    let data = test_data(len, seed);
    std::fs::write(work.path().join("f.bin"), &data).unwrap();
    (work, data)
}

#[test]
fn headers_are_sent_with_every_request() {
    let fake = Arc::new(Mutex::new(Fake { fail_patch: Some(1), ..Fake::default() }));
    let server = FakeServer::start("127.0.0.1:0", fake.clone(), false);
    let (work, data) = work_with_file(1, 1);
    let url = server.url("http");
    let args = ["--url", &url, "--file", "f.bin", "-H", "Authorization: Bearer s3cret", "--header", "X-Trace:  42 "];
    let run = upload(work.path(), &args, Duration::from_secs(30));
    assert_eq!(run.code(), 0, "{run:?}");
    drop(server);

    let fake = fake.lock().unwrap();
    assert!(fake.data == data);
    // POST, PATCH (503), HEAD, PATCH: every one with both headers, once, and tussi-upload's own.
    let methods: Vec<&str> = fake.heads.iter().map(|h| h.method.as_str()).collect();
    assert_eq!(methods, ["POST", "PATCH", "HEAD", "PATCH"]);
    for head in &fake.heads {
        assert_eq!(head.values("authorization"), ["Bearer s3cret"], "{head:?}");
        assert_eq!(head.values("x-trace"), ["42"], "{head:?}");
        assert_eq!(head.values("tus-resumable"), ["1.0.0"], "{head:?}");
    }
}

#[test]
fn the_header_from_the_environment_is_sent_and_kept_out_of_help() {
    let fake = Arc::new(Mutex::new(Fake::default()));
    let server = FakeServer::start("127.0.0.1:0", fake.clone(), false);
    let (work, _) = work_with_file(10, 2);
    let mut command = Command::new(UPLOAD);
    command
        .current_dir(work.path())
        .args(["--url", &server.url("http"), "--file", "f.bin"])
        .env("TUSSI_HEADER", "Authorization: Bearer from-env");
    let run = run_bounded(&mut command, "tussi-upload", Duration::from_secs(30), Duration::ZERO).expect("finishes");
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(fake.lock().unwrap().heads.iter().all(|h| h.values("authorization") == ["Bearer from-env"]));

    let mut help = Command::new(UPLOAD);
    help.arg("--help").env("TUSSI_HEADER", "Authorization: Bearer from-env");
    let run = run_bounded(&mut help, "tussi-upload --help", Duration::from_secs(10), Duration::ZERO).unwrap();
    assert_eq!(run.code(), 0);
    assert!(run.stdout.contains("--header <NAME: VALUE>"), "{}", run.stdout);
    assert!(!run.stdout.contains("from-env"), "the token shows in --help: {}", run.stdout);
}

#[test]
fn malformed_and_own_headers_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:9/files/"; // never contacted
    for (header, why) in [
        ("Authorization Bearer x", "expected 'NAME: VALUE'"),
        ("Bad Name: x", "is not a header name"),
        ("Upload-Offset: 0", "tussi-upload sets the header Upload-Offset itself"),
        ("tus-resumable: 1.0.0", "sets the header tus-resumable itself"),
        ("Content-Type: text/plain", "sets the header Content-Type itself"),
        ("Content-Length: 1", "sets the header Content-Length itself"),
    ] {
        let run = upload(work.path(), &["--url", url, "--size", "1", "--header", header], Duration::from_secs(10));
        assert_eq!(run.code(), 2, "{header:?}: {run:?}");
        assert!(run.stderr.contains(why), "{header:?}: {}", run.stderr);
    }
}

#[test]
#[cfg(feature = "tls")]
fn https_to_a_plain_http_port_fails_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let url = server.url.replacen("http://", "https://", 1);
    let started = Instant::now();
    let run = upload(tmp.path(), &["--url", &url, "--size", "1k"], Duration::from_secs(30));
    // Five retries would take 0.5 + 1 + 2 + 4 + 8 s.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.contains("TLS: the server does not speak TLS"), "{}", run.stderr);
    assert!(run.stderr.contains("use an http:// URL"), "{}", run.stderr);
    assert!(!run.stderr.contains("retry"), "{}", run.stderr);
    assert!(!tmp.path().join("tus-progress.txt").exists());
}

#[test]
#[cfg(feature = "tls")]
fn https_upload_to_a_server_with_a_private_ca() {
    let fake = Arc::new(Mutex::new(Fake::default()));
    let server = FakeServer::start("127.0.0.1:0", fake.clone(), true);
    let url = server.url("https");
    let (work, data) = work_with_file(100_000, 3);

    // The built-in roots do not know the test CA: refused at once, with what to do.
    let started = Instant::now();
    let run = upload(work.path(), &["--url", &url, "--file", "f.bin"], Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.contains("the server's certificate is not accepted"), "{}", run.stderr);
    assert!(run.stderr.contains("--ca-cert"), "{}", run.stderr);
    assert!(!run.stderr.contains("retry"), "{}", run.stderr);
    assert!(fake.lock().unwrap().heads.is_empty());

    std::fs::write(work.path().join("ca.pem"), CA_PEM).unwrap();
    let args = ["--url", &url, "--file", "f.bin", "--ca-cert", "ca.pem", "--chunk-size", "32k", "-H", "X-Key: k"];
    let run = upload(work.path(), &args, Duration::from_secs(30));
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(run.stdout.contains(&format!("Upload complete: f.bin (100000 bytes) at {url}abc")), "{}", run.stdout);
    let fake = fake.lock().unwrap();
    assert!(fake.data == data, "the fake server's bytes differ");
    assert_eq!(fake.heads.len(), 5, "POST and four PATCHes: {:?}", fake.heads);
    assert!(fake.heads.iter().all(|h| h.values("x-key") == ["k"]));
}

#[test]
#[cfg(feature = "tls")]
fn a_ca_file_that_is_not_pem_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("ca.pem"), "not a certificate\n").unwrap();
    let url = "https://127.0.0.1:9/files/"; // never contacted
    let run = upload(work.path(), &["--url", url, "--size", "1", "--ca-cert", "ca.pem"], Duration::from_secs(10));
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("holds no certificate"), "{}", run.stderr);
    let run = upload(work.path(), &["--url", url, "--size", "1", "--ca-cert", "missing.pem"], Duration::from_secs(10));
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("cannot read --ca-cert missing.pem"), "{}", run.stderr);
}

#[test]
#[cfg(not(feature = "tls"))]
fn https_needs_the_tls_feature() {
    let work = tempfile::tempdir().unwrap();
    let url = "https://127.0.0.1:9/files/"; // never contacted
    let run = upload(work.path(), &["--url", url, "--size", "1"], Duration::from_secs(10));
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("this tussi-upload was built without it"), "{}", run.stderr);
}

#[test]
fn server_gone_mid_upload_tells_how_to_resume_and_the_same_command_does() {
    let fake = Arc::new(Mutex::new(Fake { gone_after: Some(3), ..Fake::default() }));
    let server = FakeServer::start("127.0.0.1:0", fake.clone(), false);
    let addr = server.addr.to_string();
    let url = server.url("http");
    let (work, data) = work_with_file(10_000, 4);
    let args = ["--url", &url, "--file", "f.bin", "--chunk-size", "1000", "--retries", "1"];

    let run = upload(work.path(), &args, Duration::from_secs(30));
    server.wait_gone();
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.contains("failed after 1 retries"), "{}", run.stderr);
    let hint = "To resume the upload, run the same command again with --yes (or answer y when it asks) from this \
                directory: it goes on from what the server has (the upload is remembered in tus-progress.txt).";
    assert!(run.stderr.contains(hint), "{}", run.stderr);
    assert!(work.path().join("tus-progress.txt").exists());
    assert_eq!(fake.lock().unwrap().data.len(), 3000);

    // The server is back (same address, what it stored): the same command with --yes goes on from 3000.
    fake.lock().unwrap().gone = false;
    fake.lock().unwrap().gone_after = None;
    let _server = FakeServer::start(&addr, fake.clone(), false);
    let mut again = args.to_vec();
    again.push("--yes");
    let run = upload(work.path(), &again, Duration::from_secs(30));
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(run.stdout.contains("Resuming f.bin at offset 3000 of 10000 bytes"), "{}", run.stdout);
    assert!(fake.lock().unwrap().data == data);
    assert!(!work.path().join("tus-progress.txt").exists());
}

#[test]
fn refusals_do_not_tell_to_resume() {
    // A 4xx other than 409/423/408/429 fails at once, without the hint: the same command would meet it again.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/files/", listener.local_addr().unwrap());
    let answers = std::thread::spawn(move || {
        let mut methods = Vec::new();
        for status in ["201 Created\r\nLocation: /files/abc", "403 Forbidden"] {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut field = String::new();
                reader.read_line(&mut field).unwrap();
                if field.trim().is_empty() {
                    break;
                }
                if let Some(value) = field.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink()).unwrap();
            methods.push(request_line.split_whitespace().next().unwrap().to_owned());
            let response = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno");
            reader.get_mut().write_all(response.as_bytes()).unwrap();
        }
        methods
    });
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = upload(work.path(), &["--url", &url, "--size", "10"], Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(answers.join().unwrap(), ["POST", "PATCH"]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.contains("HTTP 403 Forbidden: no (credentials missing or refused"), "{}", run.stderr);
    assert!(!run.stderr.contains("retry") && !run.stderr.contains("To resume"), "{}", run.stderr);
}

#[test]
fn ctrl_c_tells_how_to_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let (work, data) = work_with_file(1 << 20, 5);
    let args = ["--url", server.url.as_str(), "--file", "f.bin", "--chunk-size", "16k", "--throttle", "256k", "--yes"];
    let mut child = Command::new(UPLOAD)
        .current_dir(work.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tussi-upload");
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    // The first progress line: the upload is under way.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match out.recv_timeout(left) {
            Ok(line) if line.starts_with("progress: ") => break,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no progress within 20 s");
            }
        }
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let status = status.expect("tussi-upload exits on Ctrl-C");
    let stderr: Vec<String> = err.iter().collect();
    assert_eq!(status.code(), Some(130), "{stderr:?}");
    assert_eq!(stderr[0], "tussi-upload: interrupted.", "{stderr:?}");
    assert!(
        stderr[1].starts_with("To resume the upload, run the same command again from this directory"),
        "{stderr:?}"
    );

    let run = upload(work.path(), &args, Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(run.stdout.contains("Resuming f.bin at offset "), "{}", run.stdout);
    let saved = server.dest.join("f.bin");
    assert!(common::wait_for_file(&saved, Duration::from_secs(15)));
    assert!(std::fs::read(&saved).unwrap() == data);
}
