//! `tussi-server` behind Debian's nginx, configured by `docs/nginx.conf` itself: the documented file is what runs
//! here, with only its address, its upstream and its scheme substituted (see [`config`]). Uploads pass through it
//! whole, streamed, and resumable after a cut; `Location` carries the public scheme and address.
//!
//! Needs the `nginx` binary (Debian's `nginx` package; `.ci/run` installs it): without it the tests fail rather
//! than pass unchecked. nginx runs as a foreground child of the test with every file it writes under a temporary
//! directory, so it needs no root paths and no service manager.

mod common;

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use sha1::{Digest as _, Sha1};

use common::nginx::{keep_files_in, replace_once, Nginx};
use common::{test_data, wait_for_file, Server};

/// The documented configuration, compiled in: editing the doc reruns these tests.
const DOC: &str = include_str!("../../../docs/nginx.conf");

const MIB: usize = 1024 * 1024;

/// `filename` metadata: `nginx.bin`, base64.
const FILENAME: &str = "filename bmdpbnguYmlu";

/// The test's nginx.conf: `docs/nginx.conf` with
/// - `listen 80;` → this test's address (a free port on 127.0.0.1),
/// - the upstream `127.0.0.1:8080` → the address of the `tussi-server` started for the test,
/// - `$scheme` → `https`: nginx listens on plain HTTP here, and the literal stands for the TLS listener of a
///   production setup (where `$scheme` is `https`), so that the test proves tussi takes its `Location` scheme
///   from what nginx forwards rather than from the connection it sees (plain HTTP either way);
/// - and, right inside `http {`, test-only lines that keep every file nginx writes under `dir` (Debian's build
///   defaults to /var/log/nginx and /var/lib/nginx, which a non-root test cannot write).
fn config(doc: &str, listen: &str, upstream: &str, dir: &Path) -> String {
    let conf = replace_once(doc, "listen 80;", &format!("listen {listen};"));
    let conf = replace_once(&conf, "proxy_pass http://127.0.0.1:8080;", &format!("proxy_pass http://{upstream};"));
    let uses_scheme = conf.lines().any(|line| !line.trim_start().starts_with('#') && line.contains("$scheme"));
    assert!(uses_scheme, "docs/nginx.conf should forward $scheme");
    let conf = conf.replace("$scheme", "https");
    keep_files_in(&conf, dir, None)
}

/// nginx with `doc` (the doc file, perhaps edited) made into a config by [`config`], in front of `server`, with its
/// files under `dir`.
fn start_nginx(doc: &str, server: &Server, dir: &Path) -> Nginx {
    let upstream = server.url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("URL");
    let nginx = Nginx::start(dir, |listen| config(doc, listen, upstream, dir));
    eprintln!("[nginx] in front of {upstream}");
    nginx
}

/// One request on its own connection: `head` (lines ending in `\n`) with `Host`, `Tus-Resumable: 1.0.0` and
/// `Connection: close` added, then `body`; the status and the whole response.
fn exchange(authority: &str, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = send(authority, head, body);
    read_response(&mut stream)
}

/// Connects and writes `head` and `body`, leaving the connection open.
fn send(authority: &str, head: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = head.replace('\n', "\r\n");
    write!(stream, "{head}Host: {authority}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n").unwrap();
    stream.write_all(body).expect("write the body");
    stream
}

fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    (status.unwrap_or_else(|| panic!("no status line in {response:?}")), response)
}

/// A header's value in a raw response, by name, whatever its case.
fn header<'r>(response: &'r str, name: &str) -> Option<&'r str> {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// POSTs a new upload of `length` bytes through nginx (sending `extra` header lines too) and checks `Location`:
/// the public scheme and address, the path tussi serves. Returns the path.
fn create(nginx: &Nginx, length: usize, extra: &str) -> String {
    let (status, response) =
        exchange(&nginx.authority, &format!("POST /files/ HTTP/1.1\nUpload-Length: {length}\n{extra}"), b"");
    assert_eq!(status, 201, "{response}");
    let location = header(&response, "location").unwrap_or_else(|| panic!("no Location: {response}"));
    let public = format!("https://{}/files/", nginx.authority);
    assert!(location.starts_with(&public), "Location {location:?} should start with {public:?}:\n{response}");
    location[location.find("/files/").unwrap()..].to_owned()
}

fn head_offset(nginx: &Nginx, path: &str) -> usize {
    let (status, response) = exchange(&nginx.authority, &format!("HEAD {path} HTTP/1.1\n"), b"");
    assert_eq!(status, 204, "{response}");
    header(&response, "upload-offset").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{response}"))
}

fn patch_head(path: &str, offset: usize, length: usize) -> String {
    format!(
        "PATCH {path} HTTP/1.1\nUpload-Offset: {offset}\nContent-Type: application/offset+octet-stream\n\
         Content-Length: {length}\n"
    )
}

/// Waits (at most 20 s) for the worker to save the finished upload as `dest/nginx.bin`, and compares it with
/// `data` by SHA-1.
fn assert_saved(server: &Server, data: &[u8]) {
    let saved = server.dest.join("nginx.bin");
    assert!(wait_for_file(&saved, Duration::from_secs(20)), "{} never appeared", saved.display());
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&saved).map_or(0, |m| m.len()) != data.len() as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (expected, got) = (Sha1::digest(data), Sha1::digest(std::fs::read(&saved).unwrap()));
    assert_eq!(format!("{got:x}"), format!("{expected:x}"), "sha1 of {}", saved.display());
    eprintln!("[test] {} ({} bytes) has sha1 {got:x}, as sent", saved.display(), data.len());
}

#[test]
fn uploads_stream_through_nginx_and_location_names_the_public_https_address() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &["--trusted-proxy", "127.0.0.1", "--access-log"]);
    std::fs::create_dir(root.path().join("nginx")).unwrap();
    let nginx = start_nginx(DOC, &server, &root.path().join("nginx"));

    // The client's own claims about the scheme do not get through: nginx replaces both headers.
    let length = 28 * MIB;
    let path = create(
        &nginx,
        length,
        &format!("Upload-Metadata: {FILENAME}\nX-Forwarded-Proto: http\nForwarded: for=192.0.2.1;proto=http\n"),
    );
    let id = path.rsplit('/').next().unwrap();
    let data = test_data(length, 7);

    // 24 MiB in one PATCH. Half-way through, the client holds back the rest until tussi has the first 8 MiB on
    // disk: nginx streams the body as it comes (with request buffering it would pass on nothing before the end).
    let first = 24 * MIB;
    let mut patch = send(&nginx.authority, &patch_head(&path, 0, first), &data[..first / 2]);
    let stored = server.uploads.join(id);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut start = vec![0; 8 * MIB];
        let on_disk = File::open(&stored).and_then(|mut f| f.read_exact(&mut start)).is_ok();
        if on_disk && start == data[..8 * MIB] {
            break;
        }
        assert!(Instant::now() < deadline, "tussi has not got the first 8 MiB while the client waits: nginx buffers");
        std::thread::sleep(Duration::from_millis(50));
    }
    patch.write_all(&data[first / 2..first]).expect("write the rest of the body");
    let (status, response) = read_response(&mut patch);
    assert_eq!(status, 204, "{response}");
    assert_eq!(header(&response, "upload-offset"), Some(first.to_string().as_str()), "{response}");
    assert_eq!(head_offset(&nginx, &path), first);

    // The rest as a chunked body (data of unknown length): streamed too, thanks to proxy_http_version 1.1.
    let mut chunked = Vec::new();
    for chunk in data[first..].chunks(64 * 1024) {
        write!(chunked, "{:x}\r\n", chunk.len()).unwrap();
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, response) = exchange(
        &nginx.authority,
        &format!(
            "PATCH {path} HTTP/1.1\nUpload-Offset: {first}\nContent-Type: application/offset+octet-stream\n\
             Transfer-Encoding: chunked\n"
        ),
        &chunked,
    );
    assert_eq!(status, 204, "{response}");
    assert_eq!(header(&response, "upload-offset"), Some(length.to_string().as_str()), "{response}");
    // No HEAD on the finished upload here: while the worker moves it into the dest dir, tussi answers 404 for a
    // moment (the data and record leave the completed dir before the upload is remembered as finished), with or
    // without nginx in front.
    assert_saved(&server, &data);
}

#[test]
fn an_upload_cut_off_behind_nginx_keeps_what_arrived_and_resumes() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &["--trusted-proxy", "127.0.0.1", "--access-log"]);
    std::fs::create_dir(root.path().join("nginx")).unwrap();
    let nginx = start_nginx(DOC, &server, &root.path().join("nginx"));
    let length = 8 * MIB;
    let path = create(&nginx, length, &format!("Upload-Metadata: {FILENAME}\n"));
    let data = test_data(length, 11);

    // The connection drops after 3 MiB of the 8 announced. What nginx passed on is committed by tussi; had nginx
    // spooled the body (proxy_request_buffering on), tussi would have seen none of it.
    let sent = 3 * MIB;
    let cut = send(&nginx.authority, &patch_head(&path, 0, length), &data[..sent]);
    std::thread::sleep(Duration::from_millis(300));
    cut.shutdown(Shutdown::Both).unwrap();
    drop(cut);
    let offset = head_offset(&nginx, &path);
    eprintln!("[test] the cut-off PATCH left the upload at {offset} of the {sent} bytes sent");
    assert!(offset > 0, "nothing of the cut-off body reached tussi: does nginx spool request bodies?");
    assert!(offset <= sent, "offset {offset} past the {sent} bytes sent");

    let (status, response) = exchange(&nginx.authority, &patch_head(&path, offset, length - offset), &data[offset..]);
    assert_eq!(status, 204, "{response}");
    assert_eq!(header(&response, "upload-offset"), Some(length.to_string().as_str()), "{response}");
    assert_saved(&server, &data);
}

#[test]
fn the_forwarded_header_alone_sets_the_scheme() {
    // nginx as documented minus X-Forwarded-Proto: the RFC 7239 `Forwarded` it sends (for=…;proto=…;host="…")
    // is what tussi reads the scheme from.
    let doc = replace_once(DOC, "proxy_set_header X-Forwarded-Proto $scheme;", "");
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &["--trusted-proxy", "127.0.0.1"]);
    std::fs::create_dir(root.path().join("nginx")).unwrap();
    let nginx = start_nginx(&doc, &server, &root.path().join("nginx"));
    create(&nginx, 10, "");
}
