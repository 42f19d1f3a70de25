//! Integers, Tus-Resumable, Content-Type and upload ids on the same bytes (see `tussi_fuzz::headers`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = tussi_fuzz::headers::check_scalars(data) {
        panic!("{violation}");
    }
});
