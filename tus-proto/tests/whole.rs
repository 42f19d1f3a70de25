//! `Open::run_whole` (a PATCH body read whole, then open, write and commit in one go) answers and stores exactly
//! as the step-by-step path does with the same body in one piece: random uploads, offsets, declared lengths,
//! bodies, interruptions and injected storage failures, run on two identical model stores.

mod common;

use std::time::SystemTime;

use common::{check_invariants, harness, head, NOW};
use proptest::prelude::*;
use tus_proto::model::Operation;
use tus_proto::{FailureKind, HookOutcome, Interruption, RequestHead};

#[derive(Debug, Clone)]
struct Case {
    length: u64,
    committed: u64,
    offset_delta: i8,
    body: Vec<u8>,
    declared: Option<i8>,
    cut: Option<Interruption>,
    fault: Option<(Operation, FailureKind)>,
    known: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let cut = prop_oneof![
        3 => Just(None),
        1 => Just(Some(Interruption::ClientGone)),
        1 => Just(Some(Interruption::TimedOut)),
    ];
    let fault = prop_oneof![
        4 => Just(None),
        1 => Just(Some((Operation::Open, FailureKind::Locked))),
        1 => Just(Some((Operation::Write, FailureKind::NoSpace))),
        1 => Just(Some((Operation::Commit, FailureKind::Internal))),
    ];
    (
        0u64..300,
        0u64..300,
        prop_oneof![4 => Just(0i8), 1 => any::<i8>()],
        proptest::collection::vec(any::<u8>(), 0..160),
        prop_oneof![Just(None), Just(Some(0i8)), (-3i8..3).prop_map(Some)],
        cut,
        fault,
        prop_oneof![9 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(length, committed, offset_delta, body, declared, cut, fault, known)| Case {
            length,
            committed: committed.min(length),
            offset_delta,
            body,
            declared,
            cut,
            fault,
            known,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn whole_and_step_by_step_agree(case in case()) {
        let (mut a, mut b) = (harness(), harness());
        let (id_a, id_b) = (a.create(case.length), b.create(case.length));
        prop_assert_eq!(id_a, id_b);
        if case.committed > 0 {
            let fill = vec![7u8; case.committed as usize];
            for h in [&mut a, &mut b] {
                let mut at = 0;
                for piece in fill.chunks(100) {
                    let r = h.patch(id_a, at, &[piece]);
                    prop_assert_eq!(r.status(), 204, "{}", r.body());
                    at += piece.len() as u64;
                }
            }
        }
        let target = if case.known { format!("/files/{id_a}") } else { "/files/00000000-0000-4000-8000-00000000ffff".into() };
        let offset = case.committed.saturating_add_signed(i64::from(case.offset_delta)).to_string();
        let declared = case.declared.map(|d| (case.body.len() as u64).saturating_add_signed(i64::from(d)).to_string());
        let mut headers = vec![
            ("host", "h"),
            ("tus-resumable", "1.0.0"),
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", offset.as_str()),
        ];
        if let Some(declared) = &declared {
            headers.push(("content-length", declared.as_str()));
        }
        let parts = head("PATCH", &target, &headers);
        if let Some((operation, kind)) = case.fault {
            a.store.fail_after(operation, 0, kind);
            b.store.fail_after(operation, 0, kind);
        }
        let now = SystemTime::UNIX_EPOCH + NOW;
        let body: &[u8] = &case.body;
        let stepped = a.store.handle(&a.server, RequestHead::from_parts(&parts), &[body], case.cut, |_| HookOutcome::accept(), now);
        let whole = b.store.handle_whole(&b.server, RequestHead::from_parts(&parts), body, case.cut, now);
        check_invariants(&parts, &whole);
        prop_assert_eq!(whole.status(), stepped.status());
        prop_assert_eq!(whole.headers(), stepped.headers());
        prop_assert_eq!(whole.body(), stepped.body());
        prop_assert_eq!(format!("{:?}", whole.events()), format!("{:?}", stepped.events()));
        prop_assert_eq!(a.store.stat(id_a).ok(), b.store.stat(id_b).ok());
        prop_assert_eq!(a.store.committed_bytes(id_a), b.store.committed_bytes(id_b));
    }
}
