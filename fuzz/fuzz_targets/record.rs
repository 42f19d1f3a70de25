//! The `.meta` record reader: never panics; read, write, read gives the same record.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = tussi_fuzz::record::check_record_bytes(data) {
        panic!("{violation}");
    }
});
