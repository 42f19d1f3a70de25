//! Model check: random sequences of creations, PATCHes, HEADs, disconnections, crashes, clock jumps, injected
//! storage faults and claims, run through the server and the in-memory store, agree with a reference model
//! (`support/op_model.rs`, shared with the `ops` fuzz target in `fuzz/`).

// The shared model derives `arbitrary::Arbitrary` under the fuzz crate's `arbitrary` feature, which this crate
// does not have (and the lint cannot be silenced any closer to the attributes than the crate root).
#![allow(unexpected_cfgs)]

#[path = "support/op_model.rs"]
mod op_model;

use op_model::{Cut, Declare, Harness, Kind, OffsetChoice, Op, Oper, MAX_CHUNK};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn op() -> impl Strategy<Value = Op> {
    let upload = any::<u8>();
    let offset = prop_oneof![
        6 => Just(OffsetChoice::Current),
        1 => any::<u8>().prop_map(OffsetChoice::Behind),
        1 => any::<u8>().prop_map(OffsetChoice::Ahead),
        1 => any::<u16>().prop_map(OffsetChoice::Raw),
    ];
    let declare = prop_oneof![
        2 => Just(Declare::Absent),
        4 => Just(Declare::Exact),
        1 => (0u8..8).prop_map(Declare::More),
        1 => (0u8..8).prop_map(Declare::Less),
    ];
    let cut = prop_oneof![Just(Cut::ClientGone), Just(Cut::TimedOut), Just(Cut::TakenOver)];
    let oper =
        prop_oneof![Just(Oper::Create), Just(Oper::Stat), Just(Oper::Open), Just(Oper::Write), Just(Oper::Commit)];
    let kind = prop_oneof![
        Just(Kind::NotFound),
        Just(Kind::Gone),
        Just(Kind::Locked),
        Just(Kind::NoSpace),
        Just(Kind::Unavailable),
        Just(Kind::Internal),
    ];
    let chunk_max = MAX_CHUNK as usize;
    prop_oneof![
        3 => (prop_oneof![0u8..60, any::<u8>()], any::<bool>()).prop_map(|(length, named)| Op::Create { length, named }),
        8 => (upload, offset, proptest::collection::vec(bytes(chunk_max), 0..4), declare)
            .prop_map(|(upload, offset, chunks, declare)| Op::Patch { upload, offset, chunks, declare }),
        2 => upload.prop_map(|upload| Op::Head { upload }),
        2 => (upload, bytes(chunk_max), 0u8..16, cut)
            .prop_map(|(upload, sent, missing, why)| Op::Disconnect { upload, sent, missing, why }),
        1 => any::<u8>().prop_map(|junk| Op::CrashAndReopen { junk }),
        1 => any::<u32>().prop_map(|secs| Op::AdvanceClock { secs }),
        1 => (oper, kind, 0u8..4).prop_map(|(operation, kind, after)| Op::Fault { operation, kind, after }),
        1 => upload.prop_map(|upload| Op::Claim { upload }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn operation_sequences_agree_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        if let Err(violation) = Harness::run(&ops) {
            return Err(TestCaseError::fail(violation));
        }
    }
}

/// A fixed sequence through every operation, so that the model itself is seen to do what it says.
#[test]
fn a_whole_life() {
    let ops = [
        Op::Create { length: 30, named: true },
        Op::Patch {
            upload: 0,
            offset: OffsetChoice::Current,
            chunks: vec![b"hello ".to_vec()],
            declare: Declare::Exact,
        },
        Op::Head { upload: 0 },
        Op::Disconnect { upload: 0, sent: b"wor".to_vec(), missing: 5, why: Cut::ClientGone },
        Op::CrashAndReopen { junk: 0xee },
        Op::AdvanceClock { secs: 3600 },
        Op::Patch { upload: 0, offset: OffsetChoice::Behind(2), chunks: vec![b"xx".to_vec()], declare: Declare::Exact },
        Op::Fault { operation: Oper::Write, kind: Kind::NoSpace, after: 1 },
        Op::Patch {
            upload: 0,
            offset: OffsetChoice::Current,
            chunks: vec![b"ld".to_vec(), b" and more".to_vec()],
            declare: Declare::Absent,
        },
        Op::Patch {
            upload: 0,
            offset: OffsetChoice::Current,
            chunks: vec![b" and more, much more than fits".to_vec()],
            declare: Declare::Absent,
        },
        Op::Claim { upload: 0 },
        Op::Head { upload: 0 },
        Op::Create { length: 0, named: false },
        Op::Claim { upload: 1 },
    ];
    let harness = Harness::run(&ops).unwrap();
    let first = &harness.uploads[0];
    // The last PATCH brought more than the 19 bytes left: those 19 completed the upload (413 for the rest).
    assert_eq!(first.data, b"hello world and more, much mor");
    assert!(first.finished && first.claimed);
    assert!(harness.uploads[1].claimed);
}

/// The model is not vacuous: a store that lies about committed bytes is caught.
#[test]
fn the_model_catches_a_wrong_store() {
    let mut harness = Harness::new();
    harness.apply(&Op::Create { length: 10, named: false }).unwrap();
    let id = harness.uploads[0].id;
    let (handle, _) = harness.store.open(id).unwrap();
    harness.store.write_at(&handle, 0, b"sneaky").unwrap();
    harness.store.commit(&handle, 6, false).unwrap();
    let err = harness.apply(&Op::Head { upload: 0 }).unwrap_err();
    assert!(err.contains("expected"), "{err}");
}
