//! Interchangeability with the original Python tussi 3.1.0, run for real from a virtualenv.
//!
//! The venv is the one the peer tests use: `conformance/scripts/peers.sh install tussi` makes it once per checkout
//! in `target/tus-peers/tussi-venv`, at the versions pinned in `conformance/scripts/deps/requirements-tussi.txt`
//! (and holds a lock while it does, so test binaries running at once install once).
//! When that fails (no network, no python3) the tests print why and pass without checking — except under
//! `CI=true`, where they fail.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use common::*;
use tus_proto::{Concat, Metadata, NewUpload, UploadId};
use tus_storage::UploadRecord;

const VERSION: &str = "3.1.0";

fn setup_venv() -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/scripts/peers.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args(["install", "tussi"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("bash not runnable: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{} install tussi failed (no network? no python3 with venv?): {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let python = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PYTHON="))
        .map(PathBuf::from)
        .ok_or_else(|| format!("peers.sh printed no PYTHON=: {stdout}"))?;
    let ready = Command::new(&python)
        .args(["-c", &format!("import importlib.metadata as m, tussi.app, tussi.storage, tussi.models; assert m.version('tussi') == '{VERSION}'")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        Ok(python)
    } else {
        Err(format!("tussi {VERSION} installed but not importable from {}", python.display()))
    }
}

/// The venv's python, or `None` (after printing why) when it cannot be had outside CI.
fn python() -> Option<PathBuf> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match VENV.get_or_init(setup_venv) {
        Ok(python) => Some(python.clone()),
        Err(why) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "Python tussi is required in CI: {why}");
            println!("SKIPPED (Python tussi {VERSION} unavailable): {why}");
            None
        }
    }
}

fn run(python: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(python).arg("-c").arg(script).args(args).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "python failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

const DUMP: &str = r#"
import sys
from pathlib import Path
from tussi.models import UploadRecord
sys.stdout.write(UploadRecord.from_file(Path(sys.argv[1])).model_dump_json())
"#;

const CLAIM: &str = r#"
import sys, anyio
from pathlib import Path
from tussi.app import TUSApp
from tussi.storage import FilesystemStorage
up, comp, dest, n = sys.argv[1:5]
async def main():
    app = TUSApp(FilesystemStorage(up), comp)
    for _ in range(int(n)):
        async with app.wait_for_file(timeout=10, poll_interval=0.05) as f:
            f.save(Path(dest) / f.name)
            f.save_record(Path(dest) / (f.name + '.meta'))
            print(f.name, f.record.length, f.record.finished_at.isoformat(), f.record.duration.total_seconds())
anyio.run(main)
"#;

const WRITE: &str = r#"
import sys, anyio
from pathlib import Path
from tussi.storage import FilesystemStorage
up, comp, uid, length, upto, finalize, data = sys.argv[1:8]
data = Path(data).read_bytes()
async def main():
    s = FilesystemStorage(up)
    await s.create(uid, int(length), {'filename': 'py.bin', 'note': 'é"x', 'empty': ''}, {'srv': '1'})
    if int(upto) > 0:
        await s.write(uid, 0, data[:int(upto)])
    if finalize == '1':
        await s.finalize(uid, Path(comp) / uid)
anyio.run(main)
"#;

#[test]
fn records_we_write_are_byte_identical_in_python() {
    let Some(python) = python() else { return };
    let dirs = Dirs::new();
    let store = dirs.store();
    let metadata = Metadata::from_iter([("filename", "naïve \"quoted\" ✓.txt"), ("empty", ""), ("b", "\\\n")]);
    let server = Metadata::from_iter([("owner", "42")]);
    let (mut writer, id) = store.create_with(Some(5000), metadata, server, SystemTime::now()).unwrap();
    write_pattern(&mut writer, 1, 0, 3000, 1000);
    writer.commit(3000, false).unwrap();
    let staging = dirs.uploads().join(format!("{id}.meta"));
    assert_eq!(run(&python, DUMP, &[staging.to_str().unwrap()]), std::fs::read_to_string(&staging).unwrap());
    write_pattern(&mut writer, 1, 3000, 5000, 1000);
    writer.commit(5000, true).unwrap();
    let completed = dirs.completed().join(format!("{id}.meta"));
    let ours = std::fs::read_to_string(&completed).unwrap();
    assert!(ours.contains(r#""finished_at":"20"#) && ours.contains(r#""duration":"PT"#), "{ours}");
    assert_eq!(run(&python, DUMP, &[completed.to_str().unwrap()]), ours);
}

#[test]
fn python_workers_claim_what_we_finished() {
    let Some(python) = python() else { return };
    let dirs = Dirs::new();
    let store = dirs.store();
    let dest = dirs.root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let mut ours = Vec::new();
    for (seed, length) in [(1u64, 0u64), (2, 10), (3, 300_000)] {
        let (mut writer, id) = create(&store, Some(length), seed);
        write_pattern(&mut writer, seed, 0, length, 65_536);
        writer.commit(length, true).unwrap();
        ours.push((id, seed, length));
    }
    let args = [dirs.uploads(), dirs.completed(), dest.clone()].map(|p| p.display().to_string());
    let out = run(&python, CLAIM, &[&args[0], &args[1], &args[2], "3"]);
    let mut claimed: Vec<String> = out.lines().map(|l| l.split(' ').next().unwrap().to_owned()).collect();
    claimed.sort();
    let mut expected: Vec<String> = ours.iter().map(|(id, _, _)| id.to_string()).collect();
    expected.sort();
    assert_eq!(claimed, expected, "python output:\n{out}");
    for (id, seed, length) in ours {
        let data = std::fs::read(dest.join(id.to_string())).unwrap();
        assert_eq!(data.len() as u64, length);
        assert_eq!(first_mismatch(seed, 0, &data), None);
        let line = out.lines().find(|l| l.starts_with(&id.to_string())).unwrap();
        assert!(line.contains("+00:00"), "finished_at parsed as UTC: {line}");
    }
    assert!(names(&dirs.completed()).is_empty());
}

#[test]
fn we_resume_and_claim_what_python_wrote() {
    let Some(python) = python() else { return };
    let dirs = Dirs::new();
    let store = dirs.store();
    let length = 200_000u64;
    let data_file = dirs.root.path().join("data.bin");
    std::fs::write(&data_file, pattern(7, 0, length as usize)).unwrap();
    let (up, comp, data) =
        (dirs.uploads().display().to_string(), dirs.completed().display().to_string(), data_file.display().to_string());
    let len = length.to_string();

    // Partly written by Python: we see its offset and metadata, resume, finalise and claim it.
    let partial = UploadId::from_uuid(uuid::Uuid::new_v4());
    run(&python, WRITE, &[&up, &comp, &partial.to_string(), &len, "70000", "0", &data]);
    let state = store.stat(partial).unwrap();
    assert_eq!((state.offset, state.length, state.finished), (70_000, Some(length), false));
    assert_eq!(state.metadata.get("note"), Some("é\"x"));
    assert_eq!(state.metadata.get("empty"), Some(""));
    assert_eq!(state.server_metadata.get("srv"), Some("1"));
    let (mut writer, state) = store.open(partial).unwrap();
    write_pattern(&mut writer, 7, state.offset, length, 50_000);
    writer.commit(length, true).unwrap();
    let claim = store.wait_for_file(Duration::from_secs(2)).unwrap();
    assert_eq!(claim.id(), partial);
    let got = std::fs::read(dirs.completed().join(partial.to_string())).unwrap();
    assert_eq!(first_mismatch(7, 0, &got), None);
    drop(claim);

    // Finished by Python: stat shows it finished, we claim it, and its record reads back byte for byte.
    let done = UploadId::from_uuid(uuid::Uuid::new_v4());
    run(&python, WRITE, &[&up, &comp, &done.to_string(), &len, &len, "1", &data]);
    let state = store.stat(done).unwrap();
    assert_eq!((state.offset, state.finished), (length, true));
    let text = std::fs::read_to_string(dirs.completed().join(format!("{done}.meta"))).unwrap();
    let claim = store.wait_for_file(Duration::from_secs(2)).unwrap();
    assert_eq!(claim.id(), done);
    let record: &UploadRecord = claim.record();
    assert!(record.finished_at.is_some() && record.duration.is_some());
    // Same JSON value (our metadata keys come out sorted, Python's in insertion order), and byte-identical from
    // `server_metadata` on: floats, date-time and duration spelled exactly as Python spells them.
    let ours = record.to_json();
    let value = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
    assert_eq!(value(&ours), value(&text));
    let tail = |t: &str| t[t.find("\"server_metadata\"").unwrap()..].to_owned();
    assert_eq!(tail(&ours), tail(&text), "a Python-written record round-trips through ours");
    assert_eq!(UploadRecord::from_json(&text).unwrap(), *record);
}

/// One `wait_for_file` with a timeout of `argv[4]` seconds: prints the name it claimed (saving the data as
/// [`CLAIM`] does), or `nothing` when it timed out.
const CLAIM_OR_NOTHING: &str = r#"
import sys, anyio
from pathlib import Path
from tussi.app import TUSApp
from tussi.storage import FilesystemStorage
up, comp, dest, timeout = sys.argv[1:5]
async def main():
    app = TUSApp(FilesystemStorage(up), comp)
    try:
        async with app.wait_for_file(timeout=float(timeout), poll_interval=0.05) as f:
            f.save(Path(dest) / f.name)
            print(f.name)
    except TimeoutError:
        print('nothing')
anyio.run(main)
"#;

#[test]
fn python_workers_never_claim_a_partial_upload() {
    let Some(python) = python() else { return };
    let dirs = Dirs::new();
    let store = dirs.store();
    let dest = dirs.root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let args = [dirs.uploads(), dirs.completed(), dest.clone()].map(|p| p.display().to_string());

    // A complete partial upload (concatenation), created first: the oldest, were it claimable ...
    let length = 300_000u64;
    let metadata = Metadata::from_iter([("filename", "part.bin")]);
    let new = NewUpload::new(Some(length), metadata, SystemTime::now()).with_concat(Concat::Partial);
    let (mut writer, partial) = store.create(&new).unwrap();
    write_pattern(&mut writer, 21, 0, length, 65_536);
    let state = writer.commit(length, true).unwrap();
    assert!(state.finished && state.offset == length, "a complete partial reads as finished: {state:?}");
    drop(writer);
    // ... then a finished ordinary upload.
    let (mut writer, ordinary) = create(&store, Some(5000), 22);
    write_pattern(&mut writer, 22, 0, 5000, 65_536);
    writer.commit(5000, true).unwrap();
    drop(writer);

    // The Python worker claims the ordinary one; asked again, it finds nothing to claim.
    let out = run(&python, CLAIM, &[&args[0], &args[1], &args[2], "1"]);
    assert_eq!(out.split(' ').next(), Some(ordinary.to_string().as_str()), "python output:\n{out}");
    let out = run(&python, CLAIM_OR_NOTHING, &[&args[0], &args[1], &args[2], "1.0"]);
    assert_eq!(out.trim(), "nothing", "the Python worker claimed a partial upload");
    assert_eq!(names(&dest), [ordinary.to_string(), format!("{ordinary}.meta")]);

    // The partial is still ours: finished, in the upload directory, its record readable by Python too.
    let state = store.stat(partial).unwrap();
    assert_eq!((state.offset, state.finished, state.concat), (length, true, Some(Concat::Partial)));
    assert_eq!(names(&dirs.uploads()), [partial.to_string(), format!("{partial}.meta")]);
    assert!(names(&dirs.completed()).is_empty());
    let record = dirs.uploads().join(format!("{partial}.meta"));
    let dumped: serde_json::Value = serde_json::from_str(&run(&python, DUMP, &[record.to_str().unwrap()])).unwrap();
    assert_eq!((dumped["length"].as_u64(), dumped["offset"].as_u64()), (Some(length), Some(length)), "{dumped}");

    // Assembled into a final upload, it becomes claimable, and the Python worker takes the final.
    let new = NewUpload::new(None, Metadata::from_iter([("filename", "whole.bin")]), SystemTime::now())
        .with_concat(Concat::Final(vec![partial]));
    let (mut writer, whole) = store.create(&new).unwrap();
    let state = writer.assemble().unwrap();
    assert!(state.finished && state.offset == length, "{state:?}");
    drop(writer);
    let out = run(&python, CLAIM_OR_NOTHING, &[&args[0], &args[1], &args[2], "10"]);
    assert_eq!(out.trim(), whole.to_string(), "python output:\n{out}");
    assert_eq!(first_mismatch(21, 0, &std::fs::read(dest.join(whole.to_string())).unwrap()), None);
    // Nothing left of the partial (or the final) in the upload directory, nor in any subdirectory of it.
    let left: Vec<String> = std::fs::read_dir(dirs.uploads())
        .unwrap()
        .map(|e| e.unwrap().path())
        .flat_map(
            |p| if p.is_dir() { std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect() } else { vec![p] },
        )
        .filter(|p| !p.starts_with(dirs.uploads().join(".ended")))
        .map(|p| p.display().to_string())
        .collect();
    assert!(left.is_empty(), "the partial is gone: {left:?}");
}
