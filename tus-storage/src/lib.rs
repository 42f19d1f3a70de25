//! Linux filesystem storage for TUS uploads: one blocking core ([`FileStore`]), an async front-end
//! ([`AsyncFileStore`]) that implements the storage contract ([`tus_store::Store`], and passes its test kit), files
//! interchangeable with the original Python tussi 3.1.0.
//!
//! **What it never does:** hold a whole body in memory (the caller writes batches at explicit offsets); block a
//! thread on a lock without a bound (every `flock` is `LOCK_NB`, waits are bounded loops); let client input name a
//! path (uploads are named by server-generated UUIDs); count bytes as stored before they are (the committed offset
//! lives in the record, written after the data is synced); depend on an async runtime (the front-end runs the core
//! through a tiny [`Offload`] trait); or use `unsafe` code.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use tus_proto::Metadata;
//! use tus_storage::{FileStore, StoreConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = FileStore::new(StoreConfig::new(dir.path().join("uploads"), dir.path().join("completed")))?;
//!
//! // A creation: the data file is preallocated and the writer holds the upload's exclusive lock.
//! let metadata = Metadata::from_iter([("filename", "hello.txt")]);
//! let (mut writer, id) = store.create_with(Some(11), metadata, Metadata::new(), SystemTime::now())?;
//! writer.write_at(0, b"hello ")?;
//! writer.commit(6, false)?; // durable: the offset is in the record
//! drop(writer); // unlocks
//!
//! // A later request resumes at the committed offset, writes the rest and finalises in the same lock section.
//! let (mut writer, state) = store.open(id)?;
//! assert_eq!(state.offset, 6);
//! writer.write_at(6, b"world")?;
//! assert!(writer.commit(11, true)?.finished);
//!
//! // A worker claims it, saves it, and the completed directory is cleaned when the claim ends.
//! let mut done = store.wait_for_file(Duration::from_secs(1))?;
//! assert_eq!(done.record().metadata.get("filename"), Some("hello.txt"));
//! done.save(dir.path().join("hello.txt"))?;
//! done.finish()?;
//! assert_eq!(std::fs::read(dir.path().join("hello.txt"))?, b"hello world");
//! # Ok(()) }
//! ```
//!
//! # Layout
//! As the original tussi, so that a Python tussi worker can read, resume and claim what this crate writes, and the
//! other way round (tested against the real package):
//!
//! ```text
//! <upload dir>/<id>             data, reserved ahead of the writer (posix_fallocate, RESERVE_AHEAD at a time, above 64 KiB)
//! <upload dir>/<id>.meta        record (UploadRecord JSON): the committed offset
//! <upload dir>/<id>.meta.tmp    record being replaced (renamed over <id>.meta; a new record is written in place)
//! <upload dir>/<id>.release     lock-release request from a waiting request (any process)
//! <completed dir>/<id>          finished data (renamed from the upload dir: atomic, same filesystem)
//! <completed dir>/<id>.meta     finished record, with finished_at and duration
//! <completed dir>/<id>.tmp.meta no longer written (finished records are written in place); the janitor removes one it finds
//! ```
//! The temporary names differ between the directories on purpose: the original's `wait_for_file` treats every
//! completed file not ending in `.meta` as data to claim (and deletes it when it has no record), and its storage
//! treats every staging file ending in `.meta` as a record (and deletes it when it has no data).
//!
//! A record nobody can read yet is written in place, without a temporary file and a rename: the creation record
//! (the id is unknown until the creation is answered) and the completed record (readers look for it only once the
//! data is renamed in beside it). Each upload thus creates three files and removes one; fewer directory
//! operations matter because each one locks its directory.
//!
//! # Durability
//! [`UploadWriter::commit`] with [`StoreConfig::fsync`] on: `fdatasync(data)` and `<id>.meta.tmp` written +
//! `fsync`ed → `rename` → `fsync(dir)`; with fsync off, none of these syncs. Creation: record in place, then
//! `fsync(record)` and `fsync(dir)` (the empty data file becomes durable with the first commit's `fdatasync`).
//! Finalisation (same lock section): completed record in place, then `fdatasync(data)` and `fsync(record)` →
//! rename of the data → `fsync(completed dir)` → removal of the staging record. Syncs grouped with "and" do not
//! depend on each other and run side by side (on up to four helper threads per store; without an idle one the
//! caller runs them itself); an arrow waits for everything before it. Directory syncs of concurrent requests are
//! shared (group commit). Large writes start their writeback every MiB, so a commit's `fdatasync` waits only for
//! the rest.
//!
//! An upload sent in one PATCH thus costs five syncs (two of them directory syncs shared with concurrent
//! requests): with one record file per upload and directory, the fewest that keep every answer's promise on any
//! POSIX filesystem. They leave two half-made states a crash can produce: a creation's record without its (empty)
//! data file, and published data whose completed record's name was not yet durable, beside the staging record.
//! `stat`, `open`, `wait_for_file` and the janitor repair both where they meet them (module `recovery`; tests in
//! `tests/recovery.rs`): the first by creating the data file again, the second by writing the finished record.
//! Preallocation makes the data file's size meaningless: the committed offset is the record's.
//!
//! With [`StoreConfig::syncfs`] (for a filesystem the store has to itself) every sync group above becomes one
//! `syncfs(2)` of the filesystem, shared by every request waiting at that moment: creation: record in place →
//! `syncfs`; commit: `<id>.meta.tmp` written → `syncfs` → `rename` → `syncfs`; finalisation: completed record in
//! place → `syncfs` → rename of the data → `syncfs` → removal of the staging record. The same order, so the same
//! promises and the same repairs; three syncs per small upload instead of five, each covering the uploads of
//! every concurrent request (one syncfs writes back and flushes everything dirty, in one pass over the disk).
//!
//! # Locks and the lock-release request
//! `flock` on the data file: exclusive for write/finalise/delete, shared for reads — always `LOCK_NB`, waits are
//! bounded loops of attempts, so no pool thread is ever parked on a lock. A request ([`FileStore::open`]) that
//! finds an upload locked creates the marker `<upload dir>/<id>.release` and retries until
//! [`StoreConfig::release_timeout`] (3 s by default), re-creating the marker should it vanish. The holder — in this
//! process or any other — sees it through [`UploadWriter::release_requested`] (one `stat(2)`, meant to be called
//! between batches), stops taking body bytes, commits what it stored and drops the writer, which unlocks. Whoever
//! takes the lock next removes the marker. A holder that never checks (a stuck process, the original Python tussi)
//! is not interrupted: the waiting request then fails with `FailureKind::Locked`. [`FileStore::stat`] never
//! interrupts a writer: it reads the committed record, which is only ever replaced whole by `rename`.
//!
//! # Hand-off and clean-up
//! - [`FileStore::wait_for_file`] hands finished uploads to workers (threads or processes, Rust or Python), oldest
//!   first, woken by inotify and in-process notification ([`completed`] module).
//! - [`FileStore::janitor`] removes abandoned files, skipping locked ones ([`janitor`] module).
//!
//! # Seeing the system calls
//! `strace -f -e trace=openat,fallocate,flock,pwritev,fdatasync,fsync,rename,unlink cargo test -p tus-storage
//! --doc` shows this example's creation (`openat(..., O_CREAT|O_EXCL)`, `flock(LOCK_EX|LOCK_NB)`, `fallocate`),
//! commits (`fdatasync`, `fsync`, `rename(".../<id>.meta.tmp", ".../<id>.meta")`, `fsync` of the directory) and
//! finalisation (the completed record created in place, then the `rename` of the data). The test `tests/strace.rs`
//! checks the same sequence automatically when `strace` is installed (Debian package `strace`).

#![forbid(unsafe_code)]

mod async_store;
mod cached;
pub mod completed;
mod concat;
mod config;
mod error;
mod fsutil;
mod group;
mod helpers;
mod inline_gate;
pub mod janitor;
mod layout;
mod lock;
mod offload;
mod recovery;
mod store;
mod tombstone;
mod writer;

pub use async_store::{AsyncFileStore, AsyncUploadWriter, FileClaim};
pub use completed::CompletedUpload;
pub use config::StoreConfig;
pub use error::{Cause, FileStoreError};
pub use inline_gate::InlineWrites;
pub use janitor::{Deleted, JanitorReason, JanitorReport};
pub use lock::ReleaseWatch;
#[cfg(feature = "blocking")]
pub use offload::BlockingPool;
pub use offload::{Inline, Offload};
pub use store::{FileStore, StoreStats, RESERVE_AHEAD};
pub use tus_store::{JanitorConfig, RecordError, UploadRecord};
pub use writer::UploadWriter;
