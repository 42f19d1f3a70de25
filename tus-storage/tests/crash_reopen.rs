//! Crash-and-reopen invariants of a real `FileStore` in a temporary directory, over random sequences of writes,
//! commits, completions, writers dropped without committing ("the connection died") and whole-store restarts
//! ("the process died"): after reopening, the offset is the last committed one and bytes `0..offset` of the data
//! file are exactly the bytes written there; writes outside the writable range are refused and change nothing.
//! (A real SIGKILL of a writer process is `processes.rs`; this is the same promise, over many more sequences.)
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use tus_proto::{Metadata, UploadId};
use tus_storage::{FileStore, StoreConfig, UploadWriter};

#[derive(Clone, Debug)]
enum Op {
    /// Write `len` bytes, starting `back` bytes before the end of what the writer wrote (overwriting).
    Write { back: u8, len: u8, seed: u8 },
    /// Commit a point between the committed offset and the end of what was written (`keep` picks it).
    Commit { keep: u8 },
    /// Commit the whole length and finalise (refused unless every byte was written).
    Complete,
    /// Drop the writer without committing, then reopen the upload.
    Drop,
    /// Drop the writer and the store, open a new store on the same directories, reopen the upload.
    Restart,
    /// Write past the end of what was written, or before the committed offset: refused.
    BadWrite { past: u8, before: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..8, 0u8..48, any::<u8>()).prop_map(|(back, len, seed)| Op::Write { back, len, seed }),
        3 => any::<u8>().prop_map(|keep| Op::Commit { keep }),
        1 => Just(Op::Complete),
        2 => Just(Op::Drop),
        1 => Just(Op::Restart),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(past, before)| Op::BadWrite { past, before }),
    ]
}

/// The byte written at `pos` by a write with `seed`: never zero (preallocated space reads as zeros).
fn byte(seed: u8, pos: usize) -> u8 {
    seed.wrapping_add((pos as u8).wrapping_mul(13)).max(1)
}

struct World {
    root: tempfile::TempDir,
    fsync: bool,
    store: FileStore,
    writer: Option<UploadWriter>,
    id: UploadId,
    length: u64,
    /// The model: committed bytes, and the bytes the current writer wrote past them.
    committed: Vec<u8>,
    pending: Vec<u8>,
    finished: bool,
}

fn config(root: &Path, fsync: bool) -> StoreConfig {
    let mut config = StoreConfig::new(root.join("uploads"), root.join("completed"));
    config.fsync = fsync;
    config.release_timeout = Duration::from_millis(200);
    config.inotify = false;
    config
}

impl World {
    fn new(length: u64, fsync: bool) -> World {
        let root = tempfile::tempdir().unwrap();
        let store = FileStore::new(config(root.path(), fsync)).unwrap();
        let (writer, id) =
            store.create_with(Some(length), Metadata::new(), Metadata::new(), SystemTime::now()).unwrap();
        World {
            root,
            fsync,
            store,
            writer: Some(writer),
            id,
            length,
            committed: Vec::new(),
            pending: Vec::new(),
            finished: false,
        }
    }

    fn writer(&mut self) -> &mut UploadWriter {
        if self.writer.is_none() {
            let (writer, state) = self.store.open(self.id).unwrap();
            assert_eq!(state.offset, self.committed.len() as u64);
            self.writer = Some(writer);
        }
        self.writer.as_mut().unwrap()
    }

    /// The upload's committed state on disk is the model's: offset (from the record) and bytes (from the data).
    fn check_disk(&self) -> Result<(), TestCaseError> {
        let state = self.store.stat(self.id).unwrap();
        prop_assert_eq!(state.offset, self.committed.len() as u64, "committed offset");
        prop_assert_eq!(state.finished, self.finished);
        let dir = if self.finished { "completed" } else { "uploads" };
        let data = std::fs::read(self.root.path().join(dir).join(self.id.to_string())).unwrap();
        prop_assert!(data.len() >= self.committed.len(), "data file shorter than the committed offset");
        prop_assert_eq!(&data[..self.committed.len()], &self.committed[..], "committed bytes");
        if self.finished {
            prop_assert_eq!(data.len() as u64, self.length, "finished data has the declared length");
        }
        Ok(())
    }

    /// Drop the writer without committing and reopen: the uncommitted bytes no longer count.
    fn reopen(&mut self) -> Result<(), TestCaseError> {
        self.writer = None;
        self.pending.clear();
        let (writer, state) = self.store.open(self.id).unwrap();
        prop_assert_eq!(state.offset, self.committed.len() as u64, "offset after reopening");
        prop_assert_eq!(state.finished, self.finished);
        prop_assert_eq!(writer.is_finished(), self.finished);
        self.writer = Some(writer);
        self.check_disk()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if self.finished {
            // A finished upload takes no more writes, however it is reached.
            let end = self.length;
            prop_assert!(self.writer().write_at(end, b"x").is_err(), "a write to a finished upload");
            return self.check_disk();
        }
        let (committed, written) = (self.committed.len(), self.committed.len() + self.pending.len());
        match *op {
            Op::Write { back, len, seed } => {
                let start = written - usize::from(back).min(self.pending.len());
                let len = usize::from(len).min(self.length as usize - start);
                let data: Vec<u8> = (start..start + len).map(|pos| byte(seed, pos)).collect();
                self.writer().write_at(start as u64, &data).unwrap();
                let (from, to) = (start - committed, start - committed + len);
                if self.pending.len() < to {
                    self.pending.resize(to, 0);
                }
                self.pending[from..to].copy_from_slice(&data);
            }
            Op::Commit { keep } => {
                let keep = usize::from(keep) % (self.pending.len() + 1);
                let state = self.writer().commit((committed + keep) as u64, false).unwrap();
                prop_assert_eq!(state.offset, (committed + keep) as u64);
                self.committed.extend(self.pending.drain(..keep));
            }
            Op::Complete => {
                let length = self.length;
                let result = self.writer().commit(length, true);
                if written as u64 == length {
                    prop_assert!(result.unwrap().finished);
                    self.committed.append(&mut self.pending);
                    self.finished = true;
                    self.writer = None;
                } else {
                    prop_assert!(result.is_err(), "completed with {} of {} bytes written", written, length);
                }
            }
            Op::Drop => self.reopen()?,
            Op::Restart => {
                self.writer = None;
                self.store = FileStore::new(config(self.root.path(), self.fsync)).unwrap();
                self.reopen()?;
            }
            Op::BadWrite { past, before } => {
                let at = if before && committed > 0 {
                    committed as u64 - 1 - u64::from(past).min(committed as u64 - 1)
                } else {
                    (written + 1) as u64 + u64::from(past)
                };
                prop_assert!(self.writer().write_at(at, b"bad").is_err(), "write at {} accepted", at);
            }
        }
        self.check_disk()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reopening_finds_exactly_the_committed_bytes(
        length in 1u64..160,
        fsync in prop_oneof![3 => Just(false), 1 => Just(true)],
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let mut world = World::new(length, fsync);
        for op in &ops {
            world.apply(op)?;
        }
        // Whatever happened last, the next process sees the committed state.
        world.writer = None;
        world.store = FileStore::new(config(world.root.path(), fsync)).unwrap();
        world.pending.clear();
        world.reopen()?;
    }
}

/// The model is not vacuous: bytes written and committed behind its back are noticed.
#[test]
fn the_check_notices_a_difference() {
    let mut world = World::new(10, false);
    world.apply(&Op::Write { back: 0, len: 4, seed: 1 }).unwrap();
    world.apply(&Op::Commit { keep: 4 }).unwrap();
    world.committed[0] ^= 0xff;
    assert!(world.reopen().is_err());
}
