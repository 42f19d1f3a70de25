//! Upload-Metadata: parse, format, parse again (see `tussi_fuzz::headers::check_metadata`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = tussi_fuzz::headers::check_metadata(data) {
        panic!("{violation}");
    }
});
