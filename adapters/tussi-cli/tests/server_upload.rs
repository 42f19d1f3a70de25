//! tussi-upload against tussi-server, both as real processes on 127.0.0.1: uploads land in the dest dir under
//! their names (numbered on collisions), with the record beside; exit codes; graceful shutdown.

mod common;

use std::fs;
use std::time::Duration;

use common::{test_data, upload, wait_for_file, Server};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn uploads_land_in_dest_with_their_names_and_collisions_are_numbered() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--workers", "2", "--access-log"]);
    let work = tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let data = test_data(700_001, 1);
    fs::write(work.join("report.tar.gz"), &data).unwrap();

    let args = ["--url", &server.url, "--file", "report.tar.gz", "--chunk-size", "64k", "--metadata", "owner=ana"];
    let run = upload(&work, &args, LIMIT);
    assert_eq!(run.code(), 0);
    assert!(run.stdout.contains("Upload complete: report.tar.gz (700001 bytes)"), "{}", run.stdout);
    assert!(!work.join("tus-progress.txt").exists(), "the progress file is deleted on success");

    let saved = server.dest.join("report.tar.gz");
    assert!(wait_for_file(&saved, Duration::from_secs(15)), "no {}", saved.display());
    assert!(wait_for_file(&server.dest.join("report.tar.gz.meta"), Duration::from_secs(5)));
    assert!(fs::read(&saved).unwrap() == data, "saved bytes differ");
    let record: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(server.dest.join("report.tar.gz.meta")).unwrap()).unwrap();
    assert_eq!(record["metadata"]["filename"], "report.tar.gz");
    assert_eq!(record["metadata"]["owner"], "ana");
    assert_eq!(record["length"], 700_001);
    assert_eq!(record["offset"], 700_001);

    // --access-log: one line per request, with the bytes each PATCH stored and the offset after it.
    let log = server.log();
    let access: Vec<&String> = log.iter().filter(|l| l.contains(" access: ")).collect();
    assert!(access.iter().any(|l| l.contains(" access: POST /files/ 201 ")), "{access:#?}");
    assert!(access.iter().any(|l| l.contains(" 204 bytes=65536 offset=65536 ")), "{access:#?}");
    assert!(access.iter().any(|l| l.contains(" 204 bytes=44641 offset=700001 ")), "{access:#?}");
    assert!(access.iter().all(|l| l.ends_with("ms")), "{access:#?}");

    // The same name again, with other content: saved as report_1.tar.gz, the first untouched.
    let other = test_data(123_457, 2);
    fs::write(work.join("report.tar.gz"), &other).unwrap();
    let run = upload(&work, &["--url", &server.url, "--file", "report.tar.gz"], LIMIT);
    assert_eq!(run.code(), 0);
    let second = server.dest.join("report_1.tar.gz");
    assert!(wait_for_file(&second, Duration::from_secs(15)), "no {}", second.display());
    assert!(wait_for_file(&server.dest.join("report_1.tar.gz.meta"), Duration::from_secs(5)));
    assert!(fs::read(&second).unwrap() == other, "second upload's bytes differ");
    assert!(fs::read(&saved).unwrap() == data, "the first file was overwritten");

    let (status, _) = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn generated_data_and_unsafe_names() {
    let tmp = tempfile::tempdir().unwrap();
    // With --syncfs: the other tests cover the default fsync per file.
    let server = Server::start(tmp.path(), &["--syncfs"]);
    let run = upload(tmp.path(), &["--url", &server.url, "--size", "300k", "--seed", "77"], LIMIT);
    assert_eq!(run.code(), 0);
    let name = format!("random-{:016x}.bin", 77);
    let saved = server.dest.join(&name);
    assert!(wait_for_file(&saved, Duration::from_secs(15)), "no {}", saved.display());
    let mut expected = vec![0; 300 * 1024];
    tussi_cli::source::fill_generated(77, 0, &mut expected);
    assert!(fs::read(&saved).unwrap() == expected);

    // A file named like a path traversal on the client side still lands as its basename only.
    let work = tmp.path().join("w");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("..evil"), b"x").unwrap();
    assert_eq!(upload(&work, &["--url", &server.url, "--file", "..evil"], LIMIT).code(), 0);
    assert!(wait_for_file(&server.dest.join("..evil"), Duration::from_secs(15)));
}

#[test]
fn zero_length_upload() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    fs::write(tmp.path().join("empty.txt"), b"").unwrap();
    let run = upload(tmp.path(), &["--url", &server.url, "--file", "empty.txt"], LIMIT);
    assert_eq!(run.code(), 0);
    assert!(wait_for_file(&server.dest.join("empty.txt"), Duration::from_secs(15)));
    assert_eq!(fs::read(server.dest.join("empty.txt")).unwrap().len(), 0);
}

#[test]
fn exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    // Usage errors: 2.
    let run = upload(tmp.path(), &["--file", "does-not-exist"], LIMIT);
    assert_eq!(run.code(), 2);
    assert!(run.stderr.contains("cannot read --file does-not-exist"), "{}", run.stderr);
    assert_eq!(upload(tmp.path(), &["--chunk-size", "lots"], LIMIT).code(), 2);
    assert_eq!(upload(tmp.path(), &["--url", "ftp://x/"], LIMIT).code(), 2);
    assert_eq!(upload(tmp.path(), &["--metadata", "filename=x"], LIMIT).code(), 2);

    // Nothing listening: retried, then 1, with a one-line reason.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/files/");
    let run = upload(tmp.path(), &["--url", &url, "--size", "10", "--retries", "2"], LIMIT);
    assert_eq!(run.code(), 1);
    assert!(run.stderr.contains("retry 1/2") && run.stderr.contains("retry 2/2"), "{}", run.stderr);
    assert!(run.stderr.contains("tussi-upload: error: creating the upload failed after 2 retries"), "{}", run.stderr);

    // A refusal is not retried: 413 from --max-size.
    let server = Server::start(tmp.path(), &["--max-size", "1k"]);
    let run = upload(tmp.path(), &["--url", &server.url, "--size", "2k"], LIMIT);
    assert_eq!(run.code(), 1);
    assert!(run.stderr.contains("HTTP 413"), "{}", run.stderr);
    assert!(!run.stderr.contains("retry"), "{}", run.stderr);
}

#[test]
fn help_documents_flags_env_and_exit_codes() {
    let out = std::process::Command::new(common::UPLOAD).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--chunk-size", "TUSSI_CHUNK_SIZE", "--retries", "Exit status", "2  usage error"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    let out = std::process::Command::new(common::SERVER).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--trusted-proxy", "TUSSI_PORT", "--no-prompt", "--access-log", "[default: 8080]"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    assert!(!help.contains("--janitor-interval"), "the test-only flag is hidden");
}

#[test]
fn janitor_runs_on_its_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--janitor-interval", "1", "--stale-upload-age", "1"]);
    // An upload that never gets its data: stale after a second, removed at the next janitor run.
    let created = raw_create(&server.url, 1000);
    let id = created.rsplit('/').next().unwrap().to_owned();
    let data = server.uploads.join(&id);
    assert!(data.exists(), "{}", data.display());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while data.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!data.exists(), "the stale upload was not removed by the janitor");
}

/// POSTs a creation with a raw socket; returns the Location.
fn raw_create(url: &str, length: u64) -> String {
    use std::io::{Read as _, Write as _};
    let authority = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "POST /files/ HTTP/1.1\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {length}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    answer
        .lines()
        .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
        .unwrap()
        .trim()
        .to_owned()
}
