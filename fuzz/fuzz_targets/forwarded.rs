//! Trusted-proxy blocks and the X-Forwarded-Proto / Forwarded scheme (see `tussi_fuzz::headers::check_forwarded`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use tussi_fuzz::headers::{check_forwarded, ForwardedInput};

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = check_forwarded(&ForwardedInput::parse(data)) {
        panic!("{violation}");
    }
});
