//! The `.meta` record reader: `UploadRecord::from_json` never panics, and what it reads survives a write and a
//! second read unchanged (and is then written identically).

use tus_storage::UploadRecord;

use crate::check;

/// `record` target: the input, as UTF-8, is a record file's text.
pub fn check_record_bytes(data: &[u8]) -> Result<(), String> {
    match std::str::from_utf8(data) {
        Ok(text) => check_record(text),
        Err(_) => Ok(()),
    }
}

pub fn check_record(text: &str) -> Result<(), String> {
    check_record_with(text, UploadRecord::from_json)
}

/// [`check_record`] with another reader (to show that the check catches a reader that changes what it reads).
pub fn check_record_with<E: std::fmt::Display>(
    text: &str,
    read: impl Fn(&str) -> Result<UploadRecord, E>,
) -> Result<(), String> {
    let Ok(record) = read(text) else { return Ok(()) };
    let json = record.to_json();
    let again = read(&json).map_err(|e| format!("{text:?} read, written as {json:?}, which fails: {e}"))?;
    check!(again == record, "{text:?} read as {record:?}, written as {json:?}, read back as {again:?}");
    let json_again = again.to_json();
    check!(json_again == json, "written as {json:?}, then as {json_again:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = r#"{"length":2000,"offset":1000,"metadata":{"filename":"a.txt"},"server_metadata":{},"last_write":1795470219.91,"created_at":1795470219.87,"finished_at":null,"duration":null}"#;

    #[test]
    fn records_in_the_originals_shapes() {
        for text in [
            ORIGINAL,
            r#"{"length":5,"offset":5,"metadata":{"a":"é\"x","b":""},"server_metadata":{"k":"v"},"last_write":1795470219.0,"created_at":1795470219.87,"finished_at":"2026-11-23T21:43:40.234372Z","duration":"P1DT2H3.5S"}"#,
            r#"{"length":null,"metadata":{},"last_write":1,"created_at":2,"extra":[1,2],"duration":1.5}"#,
            "",
            "{}",
            "[1]",
            "\u{0}",
        ] {
            check_record(text).unwrap();
        }
        check_record_bytes(b"\xff{").unwrap();
    }

    /// Regressions found by this target (also seeds `seed-regression-*`): times finer than a microsecond, and
    /// years the format cannot write, used to be read as they were and came back different.
    #[test]
    fn sub_microsecond_and_out_of_range_times() {
        for text in [
            r#"{"length":7,"offset":7,"metadata":{},"last_write":1,"created_at":-1.5,"finished_at":17954758.4125,"duration":0.0000015}"#,
            r#"{"length":7,"metadata":{},"last_write":1,"created_at":1,"finished_at":"2026-11-23T21:43:40.2343729Z","duration":"PT1.0000019S"}"#,
            r#"{"length":7,"metadata":{},"last_write":1,"created_at":1,"finished_at":"0000-01-01T00:00:00+01:00"}"#,
            r#"{"length":7,"metadata":{},"last_write":1,"created_at":1,"finished_at":1e15}"#,
        ] {
            check_record(text).unwrap();
        }
    }

    #[test]
    fn the_check_can_fail() {
        // A reader that drifts (here: one more microsecond of duration at every read) is caught.
        let drifting = |text: &str| {
            UploadRecord::from_json(text).map(|mut r| {
                r.duration = Some(r.duration.unwrap_or_default() + std::time::Duration::from_micros(1));
                r
            })
        };
        assert!(check_record_with(ORIGINAL, drifting).unwrap_err().contains("read back"));
    }

    #[test]
    fn reading_a_file_that_is_not_utf8_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.meta");
        std::fs::write(&path, b"{\"length\":\xff}").unwrap();
        assert!(UploadRecord::from_file(&path).is_err());
        assert!(UploadRecord::from_file(dir.path().join("missing.meta")).is_err());
    }
}
