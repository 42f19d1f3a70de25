//! Seeds of the `ops` target: meaningful operation sequences, encoded the way `arbitrary` 1.x decodes them, so
//! that the committed seed files (`corpus/ops/seed-*`) are written by code and checked by a test instead of being
//! opaque bytes. The encoding (integers little-endian, enum variant `i` of `n` as a `u32` `x` with
//! `x * n >> 32 == i`, each collection element preceded by a `1` byte and the collection ended by a `0`) is checked
//! by decoding every seed back with `arbitrary` itself.
//!
//! Regenerate the files after changing the operations: `TUSSI_WRITE_SEEDS=1 cargo test seeds` in `fuzz/`.

use crate::ops::{Cut, Declare, Kind, OffsetChoice, Op, Oper};

/// An encoder that mirrors `arbitrary`'s decoding of the types used by [`Op`].
#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn variant(&mut self, index: u32, count: u32) {
        let x = (u64::from(index) << 32).div_ceil(u64::from(count));
        self.0.extend_from_slice(&(x as u32).to_le_bytes());
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
    fn bytes(&mut self, v: &[u8]) {
        for &b in v {
            self.0.extend_from_slice(&[1, b]);
        }
        self.0.push(0);
    }
    fn op(&mut self, op: &Op) {
        match op {
            Op::Create { length, named } => {
                self.variant(0, 8);
                self.u8(*length);
                self.bool(*named);
            }
            Op::Patch { upload, offset, chunks, declare } => {
                self.variant(1, 8);
                self.u8(*upload);
                match *offset {
                    OffsetChoice::Current => self.variant(0, 4),
                    OffsetChoice::Behind(n) => {
                        self.variant(1, 4);
                        self.u8(n);
                    }
                    OffsetChoice::Ahead(n) => {
                        self.variant(2, 4);
                        self.u8(n);
                    }
                    OffsetChoice::Raw(n) => {
                        self.variant(3, 4);
                        self.0.extend_from_slice(&n.to_le_bytes());
                    }
                }
                for chunk in chunks {
                    self.u8(1);
                    self.bytes(chunk);
                }
                self.u8(0);
                match *declare {
                    Declare::Absent => self.variant(0, 4),
                    Declare::Exact => self.variant(1, 4),
                    Declare::More(n) => {
                        self.variant(2, 4);
                        self.u8(n);
                    }
                    Declare::Less(n) => {
                        self.variant(3, 4);
                        self.u8(n);
                    }
                }
            }
            Op::Head { upload } => {
                self.variant(2, 8);
                self.u8(*upload);
            }
            Op::Disconnect { upload, sent, missing, why } => {
                self.variant(3, 8);
                self.u8(*upload);
                self.bytes(sent);
                self.u8(*missing);
                self.variant(*why as u32, 3);
            }
            Op::CrashAndReopen { junk } => {
                self.variant(4, 8);
                self.u8(*junk);
            }
            Op::AdvanceClock { secs } => {
                self.variant(5, 8);
                self.0.extend_from_slice(&secs.to_le_bytes());
            }
            Op::Fault { operation, kind, after } => {
                self.variant(6, 8);
                self.variant(*operation as u32, 5);
                self.variant(*kind as u32, 6);
                self.u8(*after);
            }
            Op::Claim { upload } => {
                self.variant(7, 8);
                self.u8(*upload);
            }
        }
    }
}

/// The bytes the `ops` target decodes as `ops` (a top-level `Vec` takes the rest of the input).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut e = Encoder::default();
    for op in ops {
        e.u8(1);
        e.op(op);
    }
    e.0
}

fn patch(upload: u8, data: &[u8]) -> Op {
    Op::Patch { upload, offset: OffsetChoice::Current, chunks: vec![data.to_vec()], declare: Declare::Exact }
}

/// The seeds: (file name, operations).
pub fn seeds() -> Vec<(&'static str, Vec<Op>)> {
    vec![
        (
            "seed-create-patch-complete-claim",
            vec![
                Op::Create { length: 11, named: true },
                patch(0, b"hello "),
                Op::Head { upload: 0 },
                patch(0, b"world"),
                Op::Claim { upload: 0 },
                Op::Head { upload: 0 },
            ],
        ),
        (
            "seed-disconnect-crash-resume",
            vec![
                Op::Create { length: 40, named: false },
                Op::Disconnect { upload: 0, sent: b"partial".to_vec(), missing: 9, why: Cut::ClientGone },
                Op::CrashAndReopen { junk: 0xee },
                Op::Head { upload: 0 },
                Op::Patch {
                    upload: 0,
                    offset: OffsetChoice::Behind(3),
                    chunks: vec![b"ial".to_vec()],
                    declare: Declare::Exact,
                },
                patch(0, b" and the rest"),
            ],
        ),
        (
            "seed-faults",
            vec![
                Op::Create { length: 30, named: true },
                Op::Fault { operation: Oper::Write, kind: Kind::NoSpace, after: 1 },
                Op::Patch {
                    upload: 0,
                    offset: OffsetChoice::Current,
                    chunks: vec![b"abc".to_vec(), b"def".to_vec()],
                    declare: Declare::Absent,
                },
                Op::Fault { operation: Oper::Commit, kind: Kind::Unavailable, after: 0 },
                patch(0, b"def"),
                Op::Fault { operation: Oper::Stat, kind: Kind::Gone, after: 0 },
                Op::Head { upload: 0 },
                Op::Fault { operation: Oper::Create, kind: Kind::Internal, after: 0 },
                Op::Create { length: 5, named: false },
            ],
        ),
        (
            "seed-limits",
            vec![
                Op::Create { length: 250, named: false },
                Op::Create { length: 60, named: false },
                Op::Patch {
                    upload: 0,
                    offset: OffsetChoice::Current,
                    chunks: vec![vec![7; 30]],
                    declare: Declare::Absent,
                },
                Op::Patch {
                    upload: 0,
                    offset: OffsetChoice::Current,
                    chunks: vec![vec![8; 10]],
                    declare: Declare::More(40),
                },
                Op::Patch { upload: 0, offset: OffsetChoice::Raw(1000), chunks: vec![], declare: Declare::Exact },
                Op::Patch {
                    upload: 0,
                    offset: OffsetChoice::Current,
                    chunks: vec![vec![9; 10]],
                    declare: Declare::More(3),
                },
            ],
        ),
        (
            "seed-empty-upload-and-clock",
            vec![
                Op::AdvanceClock { secs: 86_400 },
                Op::Create { length: 0, named: true },
                Op::Head { upload: 0 },
                patch(0, b""),
                Op::Disconnect { upload: 0, sent: vec![], missing: 0, why: Cut::TakenOver },
                Op::Claim { upload: 0 },
                Op::CrashAndReopen { junk: 1 },
                Op::Create { length: 3, named: false },
                Op::Disconnect { upload: 1, sent: b"ab".to_vec(), missing: 1, why: Cut::TimedOut },
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use arbitrary::{Arbitrary, Unstructured};

    use super::*;
    use crate::ops::Harness;

    #[test]
    fn seeds_decode_to_their_operations_and_the_model_accepts_them() {
        for (name, ops) in seeds() {
            let bytes = encode(&ops);
            let decoded = Vec::<Op>::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap();
            assert_eq!(decoded, ops, "{name}");
            Harness::run(&ops).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn seeds_on_disk_are_current() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/ops");
        let write = std::env::var_os("TUSSI_WRITE_SEEDS").is_some();
        for (name, ops) in seeds() {
            let path = dir.join(name);
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, encode(&ops)).unwrap();
            }
            assert_eq!(
                std::fs::read(&path).ok(),
                Some(encode(&ops)),
                "{name} is stale: TUSSI_WRITE_SEEDS=1 cargo test"
            );
        }
    }
}
