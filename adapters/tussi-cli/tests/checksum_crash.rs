//! A checksummed PATCH cut short by a crash keeps nothing; a plain PATCH cut short keeps what arrived. Real
//! `tussi-server` processes on 127.0.0.1, raw HTTP over TCP: the server is SIGKILLed (by its PID) while a PATCH with
//! `Upload-Checksum` has sent half its body and stays open, after bytes of it reached the data file; a new server on
//! the same directories reports the offset from before that request. Every socket operation and wait is bounded.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{test_data, wait_for_file, Server};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sha1::{Digest, Sha1};

const MIB: usize = 1024 * 1024;
/// Bound on every socket read and write.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
}

impl Reply {
    fn offset(&self) -> Option<u64> {
        self.headers.get("upload-offset").map(|v| v.parse().expect("numeric Upload-Offset"))
    }
}

/// `127.0.0.1:PORT` of `http://127.0.0.1:PORT/files/`.
fn addr_of(url: &str) -> SocketAddr {
    let authority = url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("http URL");
    authority.parse().expect("IP:port")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("write timeout");
    stream
}

/// Sends one request (`Connection: close`) on a new connection and reads the response head.
fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = connect(addr);
    stream.write_all(request).expect("send the request");
    read_head(&mut stream).expect("a response")
}

/// The response head, or `None` when the connection ends before one comes.
fn read_head(stream: &mut TcpStream) -> Option<Reply> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => raw.push(byte[0]),
            Ok(_) => return None,
            Err(error) if matches!(error.kind(), std::io::ErrorKind::ConnectionReset) => return None,
            Err(error) => panic!("reading a response: {error} (so far {:?})", String::from_utf8_lossy(&raw)),
        }
    }
    let text = String::from_utf8(raw).expect("ASCII head");
    let mut lines = text.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Reply { status, headers })
}

fn create(addr: SocketAddr, length: usize, name: &str) -> String {
    let request = format!(
        "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {length}\r\n\
         Upload-Metadata: filename {}\r\nConnection: close\r\n\r\n",
        STANDARD.encode(name)
    );
    let reply = exchange(addr, request.as_bytes());
    assert_eq!(reply.status, 201, "create: {reply:?}");
    reply.headers["location"].rsplit('/').next().expect("id").to_owned()
}

fn head_offset(addr: SocketAddr, id: &str) -> u64 {
    let request = format!("HEAD /files/{id} HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n");
    let reply = exchange(addr, request.as_bytes());
    assert_eq!(reply.status, 204, "HEAD: {reply:?}");
    reply.offset().expect("Upload-Offset")
}

/// The head of a PATCH of `length` bytes at `offset`, with `Upload-Checksum: <checksum>` if given.
fn patch_head(id: &str, offset: usize, length: usize, checksum: Option<&str>) -> String {
    let checksum = checksum.map(|c| format!("Upload-Checksum: {c}\r\n")).unwrap_or_default();
    format!(
        "PATCH /files/{id} HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {length}\r\n{checksum}Connection: close\r\n\r\n"
    )
}

fn patch(addr: SocketAddr, id: &str, offset: usize, body: &[u8], checksum: Option<&str>) -> Reply {
    let mut request = patch_head(id, offset, body.len(), checksum).into_bytes();
    request.extend_from_slice(body);
    exchange(addr, &request)
}

fn sha1_checksum(data: &[u8]) -> String {
    format!("sha1 {}", STANDARD.encode(Sha1::digest(data)))
}

/// Waits (at most `limit`) until `check` holds.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// Whether the data file `path` holds `expected` at `at` (the server wrote it there, committed or not).
fn file_holds(path: &Path, at: usize, expected: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|file| file.get(at..at + expected.len()) == Some(expected))
}

#[test]
fn a_checksummed_patch_cut_by_a_crash_keeps_nothing_and_a_plain_one_cut_off_keeps_what_arrived() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--access-log"]);
    let addr = addr_of(&server.url);
    let data = test_data(8 * MIB, 460);
    let id = create(addr, data.len(), "crash.bin");
    let data_file = server.uploads.join(&id);

    // The first MiB with a plain PATCH.
    let reply = patch(addr, &id, 0, &data[..MIB], None);
    assert_eq!((reply.status, reply.offset()), (204, Some(MIB as u64)), "{reply:?}");

    // A PATCH with the sha1 of the next 4 MiB sends 2 MiB of them and stays open.
    let checked = &data[MIB..5 * MIB];
    let mut open = connect(addr);
    open.write_all(patch_head(&id, MIB, checked.len(), Some(&sha1_checksum(checked))).as_bytes()).expect("head");
    open.write_all(&checked[..2 * MIB]).expect("half of the body");
    // Its bytes reach the data file (uncommitted): the server has them when it dies.
    assert!(
        wait_until(Duration::from_secs(15), || file_holds(&data_file, MIB, &checked[..MIB])),
        "the first MiB of the checksummed body never reached {}",
        data_file.display()
    );

    // SIGKILL, by the server's PID; dropping the handle reaps it.
    let pid = server.pid();
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("SIGKILL tussi-server");
    drop(server);
    // The checksummed request got no answer: its connection just ended.
    assert!(read_head(&mut open).is_none(), "the killed server answered the open PATCH");
    drop(open);
    assert!(file_holds(&data_file, MIB, &checked[..MIB]), "the crash left the written bytes in the data file");

    // A new server on the same --upload-dir and --dest-dir: the offset from before the checksummed request.
    let server = Server::start(tmp.path(), &["--access-log"]);
    let addr = addr_of(&server.url);
    assert_eq!(head_offset(addr, &id), MIB as u64, "the checksummed request kept bytes across the crash");

    // The control: a PATCH without a checksum that breaks off after 2 MiB (the client closes the connection, the
    // server lives) keeps what arrived.
    let plain = &data[MIB..5 * MIB];
    let mut stream = connect(addr);
    stream.write_all(patch_head(&id, MIB, plain.len(), None).as_bytes()).expect("head");
    stream.write_all(&plain[..2 * MIB]).expect("half of the body");
    std::thread::sleep(Duration::from_millis(200)); // the server is now waiting for the rest
    stream.shutdown(Shutdown::Both).expect("close");
    drop(stream);
    let kept = 3 * MIB as u64;
    assert!(
        wait_until(Duration::from_secs(15), || head_offset(addr, &id) == kept),
        "a plain PATCH cut off after 2 MiB: HEAD answers {}, not {kept}",
        head_offset(addr, &id)
    );

    // The rest with a sha1 (verified and accepted); the worker saves the finished file in the dest dir.
    let rest = &data[3 * MIB..];
    let reply = patch(addr, &id, 3 * MIB, rest, Some(&sha1_checksum(rest)));
    assert_eq!((reply.status, reply.offset()), (204, Some(data.len() as u64)), "{reply:?}");
    let saved = server.dest.join("crash.bin");
    assert!(wait_for_file(&server.dest.join("crash.bin.meta"), Duration::from_secs(20)), "no {}", saved.display());
    assert!(std::fs::read(&saved).expect("saved file") == data, "the saved file differs from what was sent");

    // The access log of the second server shows the control's bytes kept and the finish.
    let log = server.log();
    let access: Vec<&String> = log.iter().filter(|l| l.contains(" access: ")).collect();
    let control = format!(" bytes={} offset={kept} ", 2 * MIB);
    assert!(access.iter().any(|l| l.contains("PATCH") && l.contains(&control)), "{access:#?}");
    let finish = format!(" 204 bytes={} offset={} ", rest.len(), data.len());
    assert!(access.iter().any(|l| l.contains(&finish)), "{access:#?}");
    let (status, _) = server.terminate();
    assert!(status.success(), "{status:?}");
}
