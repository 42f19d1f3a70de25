//! The command-line tools of tussi, and the pieces they share.
//!
//! - `tussi-server` serves `http://HOST:PORT/files/` (tokio, through `tus-tokio`), runs file workers that move
//!   finished uploads into a destination directory under their client-given name (sanitised, never overwriting),
//!   and an hourly janitor. Run `tussi-server --help`.
//! - `tussi-upload` uploads one file (or generated test data) to any TUS 1.0.0 server, resumably: the upload URL
//!   and the identity of the file are kept in a progress file, and a rerun continues where the last one stopped.
//!   Run `tussi-upload --help`.
//!
//! Install both with `cargo install --path adapters/tussi-cli` (HTTPS uploads through rustls included).
//!
//! The library holds what the binaries share and what is worth testing on its own:
//! [`size`] (byte sizes on the command line), [`source`] (what is uploaded: a file or seeded generated data) and [`state`] (the uploader's progress
//! file and its identity check).

#![forbid(unsafe_code)]

pub mod size;
pub mod source;
pub mod state;
