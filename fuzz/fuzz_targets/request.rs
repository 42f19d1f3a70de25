//! Whole requests through tus-proto and the in-memory store (see `tussi_fuzz::request` for the input format).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = tussi_fuzz::request::check_request_bytes(data) {
        panic!("{violation}");
    }
});
