//! The disk's floor of W2 with fsync: how many new small files this filesystem makes durable per second.
//!
//! The original tussi with fsync on does one thing per upload that waits for the disk: it writes the upload's
//! bytes into a new file and fsyncs that file before it answers the PATCH. Here `writers` threads do only that,
//! each one file after the other in one directory: create (`O_EXCL`), write `size` bytes, `fsync`. No directory
//! sync, no record, no HTTP: less than a crash-safe server must do (ours also makes the file's directory entry and
//! its records durable), so a server that keeps at least the original's promise cannot finish uploads faster than
//! these files with as many clients as there are writers.
//!
//! The files are left in place for the caller: on ext4 without a journal, removing thousands of files slows every
//! inode allocation of the next minute, so `bench/run.sh` sets them aside until the end of the run.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::thread;
use std::time::Instant;

use crate::hist::Histogram;
use crate::workload::Outcome;

/// Makes `files` new files of `size` bytes durable in `dir` (which must exist) from `writers` threads, each file
/// written and fsynced by one thread, each thread's files one after the other. One operation of the outcome is
/// one file; its latency is the time from its creation to the end of its fsync.
pub fn new_files(dir: &Path, files: u64, size: usize, writers: usize) -> io::Result<Outcome> {
    if files == 0 || writers == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "files and writers must not be 0"));
    }
    let writers = writers.min(usize::try_from(files).unwrap_or(usize::MAX));
    let data = vec![0x5a_u8; size];
    let started = Instant::now();
    let results: Vec<io::Result<Histogram>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|writer| {
                // The files are dealt out round-robin: writer w makes files w, w + writers, w + 2 × writers...
                let mine = (writer as u64..files).step_by(writers);
                let data = &data;
                scope.spawn(move || write_files(dir, writer, mine, data))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| Err(io::Error::other("a writer panicked"))))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut latency = Histogram::new();
    for result in results {
        latency.merge(&result?);
    }
    let ok = latency.count();
    Ok(Outcome {
        ok,
        errors: 0,
        bytes: ok * size as u64,
        elapsed,
        latency,
        first_error: None,
        cut_short: false,
        connects: 0,
    })
}

/// One writer's files, one after the other.
fn write_files(dir: &Path, writer: usize, numbers: impl Iterator<Item = u64>, data: &[u8]) -> io::Result<Histogram> {
    let mut latency = Histogram::new();
    for number in numbers {
        let path = dir.join(format!("durable-{writer}-{number}"));
        let file_started = Instant::now();
        let mut file: File = OpenOptions::new().write(true).create_new(true).open(&path)?;
        file.write_all(data)?;
        file.sync_all()?;
        latency.record(file_started.elapsed().as_micros() as u64);
    }
    Ok(latency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_written_whole_once() {
        let dir = tempfile::tempdir().unwrap();
        let outcome = new_files(dir.path(), 10, 4096, 3).unwrap();
        assert_eq!((outcome.ok, outcome.errors, outcome.bytes), (10, 0, 10 * 4096));
        assert_eq!(outcome.latency.count(), 10, "one latency per file");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(names.len(), 10, "{names:?}");
        for name in names {
            assert_eq!(std::fs::read(&name).unwrap(), vec![0x5a; 4096], "{}", name.display());
        }
    }

    #[test]
    fn more_writers_than_files_make_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let outcome = new_files(dir.path(), 2, 16, 8).unwrap();
        assert_eq!(outcome.ok, 2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn nothing_to_do_is_refused_and_existing_files_are_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        assert!(new_files(dir.path(), 0, 16, 1).is_err());
        assert!(new_files(dir.path(), 1, 16, 0).is_err());
        std::fs::write(dir.path().join("durable-0-0"), b"kept").unwrap();
        assert!(new_files(dir.path(), 1, 16, 1).is_err());
        assert_eq!(std::fs::read(dir.path().join("durable-0-0")).unwrap(), b"kept");
    }
}
