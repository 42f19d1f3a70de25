//! The checks behind tussi's fuzz targets. Each target in `fuzz_targets/` is one line calling a function here
//! that returns `Err(description)` when a rule is broken; the targets panic with it. The same functions are
//! unit-tested (`cargo test` in this directory), including tests that show each check can fail.
//!
//! Input formats: the header, record and request targets take text (so that seeds are readable and libFuzzer's
//! mutations stay close to real traffic); the `ops` target takes `Vec<ops::Op>` through `arbitrary`.

pub mod headers;
pub mod record;
pub mod request;

/// The reference model of operation sequences, shared with tus-proto's property test `op_sequences`.
#[path = "../../tus-proto/tests/support/op_model.rs"]
pub mod ops;

#[cfg(feature = "arbitrary")]
pub mod seeds;

/// Returns `Err(format!(...))` from the enclosing function when the condition does not hold.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Splits `data` at every occurrence of `separator` (like `str::split`, for bytes).
pub fn split_bytes<'d>(data: &'d [u8], separator: &[u8]) -> Vec<&'d [u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(separator.len()).position(|w| w == separator) {
        parts.push(&rest[..at]);
        rest = &rest[at + separator.len()..];
    }
    parts.push(rest);
    parts
}

#[cfg(test)]
mod tests {
    use super::split_bytes;

    /// Every committed seed (`corpus/<target>/seed-*`, among them the regression seeds of past findings) passes
    /// its target's check.
    #[test]
    fn every_seed_passes_its_check() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        type Check = fn(&[u8]) -> Result<(), String>;
        let targets: [(&str, Check); 5] = [
            ("header_values", crate::headers::check_scalars),
            ("metadata", crate::headers::check_metadata),
            ("forwarded", |data| crate::headers::check_forwarded(&crate::headers::ForwardedInput::parse(data))),
            ("request", crate::request::check_request_bytes),
            ("record", crate::record::check_record_bytes),
        ];
        for (target, check) in targets {
            let mut seeds = 0;
            for entry in std::fs::read_dir(corpus.join(target)).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap().to_string_lossy().starts_with("seed-") {
                    check(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    seeds += 1;
                }
            }
            assert!(seeds >= 4, "{target} has only {seeds} seeds");
        }
    }

    #[test]
    fn splits_like_str_split() {
        assert_eq!(split_bytes(b"a~~b~~", b"~~"), vec![&b"a"[..], b"b", b""]);
        assert_eq!(split_bytes(b"", b"~~"), vec![&b""[..]]);
        assert_eq!(split_bytes(b"~", b"~~"), vec![&b"~"[..]]);
    }
}
