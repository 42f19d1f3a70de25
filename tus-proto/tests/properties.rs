//! Properties of whole requests: any head gives a response without panicking, and the rules hold.

mod common;

use common::{check_invariants, harness};
use proptest::prelude::*;
use tus_proto::{HookOutcome, Interruption};

fn header_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("tus-resumable"),
        Just("upload-length"),
        Just("upload-offset"),
        Just("upload-metadata"),
        Just("upload-defer-length"),
        Just("content-type"),
        Just("content-length"),
        Just("x-http-method-override"),
        Just("x-forwarded-proto"),
        Just("forwarded"),
        Just("host"),
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"1.0.0".to_vec()),
        Just(b"application/offset+octet-stream".to_vec()),
        "[0-9]{1,21}".prop_map(String::into_bytes),
        "[A-Za-z0-9+/=, _.-]{0,40}".prop_map(String::into_bytes),
        proptest::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..40),
    ]
}

fn method() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("OPTIONS"), Just("HEAD"), Just("POST"), Just("PATCH"), Just("GET"), Just("DELETE"), Just("PUT")]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_request_gets_an_answer_that_keeps_the_rules(
        method in method(),
        target in prop_oneof![Just(0usize), Just(1), Just(2), Just(3)],
        headers in proptest::collection::vec((header_name(), header_value()), 0..8),
        body in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..4),
        cut in any::<bool>(),
    ) {
        let mut t = harness();
        let id = t.create(100);
        let uri = match target {
            0 => "/files".to_string(),
            1 => format!("/files/{id}"),
            2 => "/files/00000000-0000-4000-8000-0000000000ff".to_string(),
            _ => "/elsewhere/x/y".to_string(),
        };
        let mut builder = http::Request::builder().method(method).uri(&uri);
        for (name, value) in &headers {
            if let Ok(value) = http::HeaderValue::from_bytes(value) {
                builder = builder.header(*name, value);
            }
        }
        let parts = builder.body(()).unwrap().into_parts().0;
        let chunks: Vec<&[u8]> = body.iter().map(Vec::as_slice).collect();
        let before = t.store.stat(id).unwrap();
        let response = t.send_full(&parts, &chunks, cut.then_some(Interruption::ClientGone), |_| HookOutcome::accept());
        check_invariants(&parts, &response);
        let Ok(after) = t.store.stat(id) else {
            // Only a termination removes an upload, and it says so.
            prop_assert_eq!(response.status(), 204, "an upload disappeared without a 204");
            let terminated = response.events().iter().any(|e| matches!(e, tus_proto::Event::Terminated { .. }));
            prop_assert!(terminated, "a termination without its event");
            return Ok(());
        };
        prop_assert!(after.offset >= before.offset, "offsets never go back");
        prop_assert!(after.offset <= 100, "offsets never pass the length");
        let sent: usize = chunks.iter().map(|c| c.len()).sum();
        prop_assert!(after.offset - before.offset <= sent as u64);
        let committed = t.store.committed_bytes(id).unwrap();
        let expected: Vec<u8> = chunks.concat().into_iter().take(committed.len()).collect();
        prop_assert_eq!(committed, &expected[..], "committed bytes are the body's first bytes");
        if response.status() == 204 && after.offset != before.offset {
            prop_assert_eq!(response.headers()["upload-offset"].to_str().unwrap(), after.offset.to_string());
        }
    }
}
