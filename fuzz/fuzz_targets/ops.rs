//! Operation sequences against the reference model (tus-proto/tests/support/op_model.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use tussi_fuzz::ops::{Harness, Op};

fuzz_target!(|ops: Vec<Op>| {
    if let Err(violation) = Harness::run(&ops) {
        panic!("{violation}");
    }
});
