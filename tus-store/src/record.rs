//! [`UploadRecord`]: the `.meta` JSON record, byte-compatible with the original tussi's.
//!
//! ```text
//! {"length":2000,"offset":1000,"metadata":{"filename":"a.txt"},"server_metadata":{},"last_write":1795470219.91,
//!  "created_at":1795470219.87,"finished_at":null,"duration":null}
//! ```
//! Compact, in this field order; times as float Unix seconds, `finished_at` as an ISO-8601 UTC date-time and
//! `duration` as an ISO-8601 duration (see the `iso8601` module). Unknown fields are ignored on read; fields the
//! original treats as optional (`offset`, `server_metadata`, `finished_at`, `duration`) may be missing.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tus_proto::{Concat, Metadata, UploadId, UploadState};

use crate::iso8601;

/// The persisted state of one upload: what the `.meta` file beside its data holds.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct UploadRecord {
    /// Declared length in bytes; `None` while deferred.
    pub length: Option<u64>,
    /// Committed offset: every byte before it is stored (durably, when fsync is on).
    pub offset: u64,
    /// The client's metadata.
    pub metadata: Metadata,
    /// The server's metadata (from the `on_create` hook).
    pub server_metadata: Metadata,
    /// When the last commit happened.
    pub last_write: SystemTime,
    /// When the upload was created.
    pub created_at: SystemTime,
    /// When the upload was finalised (set in the completed area only).
    pub finished_at: Option<SystemTime>,
    /// `finished_at - created_at` (set in the completed area only).
    pub duration: Option<Duration>,
    /// A partial or final upload of concatenation: the field `concat`, `"partial"` or `"final;<id> <id> …"`,
    /// written only for them (ordinary records stay byte for byte the original's; it ignores the field).
    pub concat: Option<Concat>,
}

/// The JSON shape, field for field in the original's order.
#[derive(Serialize, Deserialize)]
struct Raw {
    #[serde(default)]
    length: Option<u64>,
    #[serde(default)]
    offset: u64,
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    server_metadata: BTreeMap<String, String>,
    last_write: f64,
    created_at: f64,
    #[serde(default)]
    finished_at: Option<TimeValue>,
    #[serde(default)]
    duration: Option<TimeValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    concat: Option<String>,
}

/// A date-time or duration: a string as written, or a number of seconds (which the original also accepts).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TimeValue {
    Text(String),
    Seconds(f64),
}

/// Float seconds of `t`: the double nearest to the exact time (via decimal text, so a float read by
/// [`from_secs`] comes back bit for bit; `Duration::as_secs_f64` can be one ulp off).
fn to_secs(t: SystemTime) -> f64 {
    let (sign, d) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => ("", d),
        Err(e) => ("-", e.duration()),
    };
    format!("{sign}{}.{:09}", d.as_secs(), d.subsec_nanos()).parse().unwrap_or(f64::NAN)
}

fn from_secs(secs: f64) -> Option<SystemTime> {
    if !secs.is_finite() || secs.abs() > 1e15 {
        return None;
    }
    let d = Duration::from_secs_f64(secs.abs());
    Some(if secs >= 0.0 { UNIX_EPOCH + d } else { UNIX_EPOCH - d })
}

fn corrupt(why: impl Into<String>) -> RecordError {
    RecordError::Corrupt(why.into())
}

/// Why a record could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum RecordError {
    /// The file could not be read.
    Io(std::io::Error),
    /// The text is not a record: not JSON of the expected shape, or too large. The text says what is wrong.
    Corrupt(String),
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Io(err) => write!(f, "cannot read record: {err}"),
            RecordError::Corrupt(why) => write!(f, "corrupt record: {why}"),
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecordError::Io(err) => Some(err),
            RecordError::Corrupt(_) => None,
        }
    }
}

impl UploadRecord {
    /// A fresh record: offset 0, `last_write == created_at`, not finished.
    pub fn new(length: Option<u64>, metadata: Metadata, server_metadata: Metadata, created_at: SystemTime) -> Self {
        UploadRecord {
            length,
            offset: 0,
            metadata,
            server_metadata,
            last_write: created_at,
            created_at,
            finished_at: None,
            duration: None,
            concat: None,
        }
    }

    /// Whether this is a partial upload that received every byte: finished, and never handed to a worker.
    pub fn is_finished_partial(&self) -> bool {
        self.concat == Some(Concat::Partial) && self.length == Some(self.offset)
    }

    /// The record as compact JSON in the original's field order.
    pub fn to_json(&self) -> String {
        let map = |m: &Metadata| m.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let raw = Raw {
            length: self.length,
            offset: self.offset,
            metadata: map(&self.metadata),
            server_metadata: map(&self.server_metadata),
            last_write: to_secs(self.last_write),
            created_at: to_secs(self.created_at),
            finished_at: self.finished_at.map(|t| TimeValue::Text(iso8601::format_datetime(t))),
            duration: self.duration.map(|d| TimeValue::Text(iso8601::format_duration(d))),
            concat: self.concat.as_ref().map(|concat| match concat {
                Concat::Final(parts) => {
                    let ids: Vec<String> = parts.iter().map(UploadId::to_string).collect();
                    format!("final;{}", ids.join(" "))
                }
                _ => "partial".to_owned(),
            }),
        };
        // A struct of plain maps and numbers: serialisation cannot fail (non-finite floats become `null`).
        serde_json::to_string(&raw).unwrap_or_default()
    }

    /// Parses a record from JSON text (unknown fields ignored).
    pub fn from_json(text: &str) -> Result<UploadRecord, RecordError> {
        let raw: Raw = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        let time = |name: &str, secs: f64| from_secs(secs).ok_or_else(|| corrupt(format!("bad {name}: {secs}")));
        // `finished_at` and `duration` are kept in whole microseconds, the precision they are written with (and
        // that the original's Python `datetime`/`timedelta` have), so that a record read, written and read again
        // is the same; a `finished_at` outside the years 0000-9999 could not be written back and is refused.
        let finished_at = match raw.finished_at {
            None => None,
            Some(TimeValue::Seconds(s)) => Some(iso8601::to_micros(time("finished_at", s)?, true)),
            Some(TimeValue::Text(t)) => Some(iso8601::to_micros(
                iso8601::parse_datetime(&t).ok_or_else(|| corrupt(format!("bad finished_at: {t:?}")))?,
                false,
            )),
        };
        if let Some(t) = finished_at.filter(|&t| !iso8601::is_writable(t)) {
            return Err(corrupt(format!("finished_at out of range: {t:?}")));
        }
        // Either form is bounded alike (whole microseconds in a u64), so that whatever is read can be written back
        // and read again.
        let whole_micros = |d: Duration| u64::try_from(d.as_micros()).map(Duration::from_micros);
        let duration = match raw.duration {
            None => None,
            Some(TimeValue::Seconds(s)) if s.is_finite() && s < 1e15 => {
                let d = Duration::from_secs_f64(s.max(0.0));
                let d = iso8601::to_micros(UNIX_EPOCH + d, true).duration_since(UNIX_EPOCH).unwrap_or(d);
                Some(whole_micros(d).map_err(|_| corrupt("duration too long"))?)
            }
            Some(TimeValue::Seconds(s)) => return Err(corrupt(format!("bad duration: {s}"))),
            Some(TimeValue::Text(t)) => {
                let d = iso8601::parse_duration(&t).ok_or_else(|| corrupt(format!("bad duration: {t:?}")))?;
                Some(whole_micros(d).map_err(|_| corrupt("duration too long"))?)
            }
        };
        let concat = match raw.concat.as_deref() {
            None => None,
            Some("partial") => Some(Concat::Partial),
            Some(other) => {
                let bad = || corrupt(format!("bad concat: {other:?}"));
                let ids = other.strip_prefix("final;").ok_or_else(bad)?;
                let parts = ids.split(' ').map(|id| id.parse().map_err(|_| bad())).collect::<Result<Vec<_>, _>>()?;
                Some(Concat::Final(parts))
            }
        };
        Ok(UploadRecord {
            concat,
            length: raw.length,
            offset: raw.offset,
            metadata: raw.metadata.into_iter().collect(),
            server_metadata: raw.server_metadata.into_iter().collect(),
            last_write: time("last_write", raw.last_write)?,
            created_at: time("created_at", raw.created_at)?,
            finished_at,
            duration,
        })
    }

    /// Reads a record file, for example one saved by a claim's `save_record`. A file larger than
    /// [`MAX_RECORD_SIZE`](Self::MAX_RECORD_SIZE) is refused as corrupt.
    pub fn from_file(path: impl AsRef<Path>) -> Result<UploadRecord, RecordError> {
        UploadRecord::from_reader(File::open(path.as_ref()).map_err(RecordError::Io)?)
    }

    /// Reads a record from `reader` (an open file, say), at most [`MAX_RECORD_SIZE`](Self::MAX_RECORD_SIZE) bytes.
    pub fn from_reader(reader: impl Read) -> Result<UploadRecord, RecordError> {
        // Read without the size query `fs::read` makes first: a record is read on every PATCH.
        let mut bytes = Vec::with_capacity(1024);
        reader.take(Self::MAX_RECORD_SIZE + 1).read_to_end(&mut bytes).map_err(RecordError::Io)?;
        if bytes.len() as u64 > Self::MAX_RECORD_SIZE {
            return Err(corrupt(format!("larger than {} bytes", Self::MAX_RECORD_SIZE)));
        }
        let text = String::from_utf8(bytes).map_err(|e| corrupt(e.to_string()))?;
        UploadRecord::from_json(&text)
    }

    /// The largest record file read: far above any record this crate writes (metadata is bounded by the request
    /// head), low enough that a damaged or foreign file cannot take the memory.
    pub const MAX_RECORD_SIZE: u64 = 16 << 20;

    /// Marks the record finished at `now`: sets `finished_at` and `duration` (zero if the clock went back).
    pub fn finish(&mut self, now: SystemTime) {
        self.finished_at = Some(now);
        self.duration = Some(now.duration_since(self.created_at).unwrap_or(Duration::ZERO));
    }

    /// The protocol core's view of this record for upload `id`.
    pub fn to_state(&self, id: UploadId, finished: bool) -> UploadState {
        let mut state = UploadState::new(id, self.length, self.offset);
        state.metadata = self.metadata.clone();
        state.server_metadata = self.server_metadata.clone();
        state.finished = finished || self.is_finished_partial();
        state.last_write = Some(self.last_write);
        state.concat = self.concat.clone();
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = r#"{"length":2000,"offset":1000,"metadata":{"filename":"a.txt"},"server_metadata":{},"last_write":1795470219.91,"created_at":1795470219.87,"finished_at":null,"duration":null}"#;

    #[test]
    fn a_duration_too_long_to_write_back_is_refused_in_either_form() {
        // Found by the `record` fuzz target: 8e14 s read as a number, written as text, and the text was refused.
        let seconds = ORIGINAL.replace(r#""duration":null"#, r#""duration":0.800e015"#);
        assert!(UploadRecord::from_json(&seconds).is_err());
        let longest = ORIGINAL.replace(r#""duration":null"#, r#""duration":18446744073709.5"#);
        let record = UploadRecord::from_json(&longest).unwrap();
        assert_eq!(UploadRecord::from_json(&record.to_json()).unwrap(), record);
    }

    #[test]
    fn reads_files_and_refuses_damaged_ones_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.meta");
        std::fs::write(&path, ORIGINAL).unwrap();
        assert_eq!(UploadRecord::from_file(&path).unwrap().to_json(), ORIGINAL);
        let damaged: [Vec<u8>; 3] = [
            ORIGINAL.as_bytes()[..40].to_vec(),
            [ORIGINAL.as_bytes(), b"\xff"].concat(),
            [ORIGINAL.as_bytes(), &vec![b' '; UploadRecord::MAX_RECORD_SIZE as usize]].concat(),
        ];
        for bytes in damaged {
            std::fs::write(&path, &bytes).unwrap();
            let error = UploadRecord::from_file(&path).unwrap_err();
            assert!(matches!(error, RecordError::Corrupt(_)), "{} bytes: {error}", bytes.len());
        }
        let error = UploadRecord::from_file(dir.path().join("missing.meta")).unwrap_err();
        assert!(matches!(error, RecordError::Io(e) if e.kind() == std::io::ErrorKind::NotFound));
    }

    #[test]
    fn round_trips_the_original_byte_for_byte() {
        let record = UploadRecord::from_json(ORIGINAL).unwrap();
        assert_eq!(record.length, Some(2000));
        assert_eq!(record.offset, 1000);
        assert_eq!(record.metadata.get("filename"), Some("a.txt"));
        assert_eq!(record.to_json(), ORIGINAL);
    }

    #[test]
    fn finished_record() {
        let text = r#"{"length":5,"offset":5,"metadata":{"a":"é\"x","b":""},"server_metadata":{"k":"v"},"last_write":1795470219.0,"created_at":1795470219.87,"finished_at":"2026-11-23T21:43:40.234372Z","duration":"P1DT2H3.5S"}"#;
        let record = UploadRecord::from_json(text).unwrap();
        assert_eq!(record.finished_at, Some(UNIX_EPOCH + Duration::from_micros(1_795_470_220_234_372)));
        assert_eq!(record.duration, Some(Duration::from_millis(93_603_500)));
        assert_eq!(record.to_json(), text);
    }

    #[test]
    fn float_times_round_trip_exactly() {
        for secs in [1795475268.4712067, 1795470219.91, 1795470219.0, 0.5, 1e-9, 1234567890.1234567] {
            let t = from_secs(secs).unwrap();
            assert_eq!(to_secs(t).to_bits(), secs.to_bits(), "{secs}");
        }
        // Python writes the shortest repr; reading it must give the same double (serde_json's default float parser
        // is not always correctly rounded: `float_roundtrip` is on).
        let text = r#"{"length":1,"offset":0,"metadata":{},"server_metadata":{},"last_write":1795475417.3527946,"created_at":1795475417.3507159,"finished_at":null,"duration":null}"#;
        assert_eq!(UploadRecord::from_json(text).unwrap().to_json(), text);
    }

    #[test]
    fn lenient_read() {
        let text = r#"{"length":null,"metadata":{},"last_write":1,"created_at":2,"extra":[1,2],"duration":1.5}"#;
        let record = UploadRecord::from_json(text).unwrap();
        assert_eq!((record.length, record.offset), (None, 0));
        assert_eq!(record.duration, Some(Duration::from_millis(1500)));
        assert_eq!(record.created_at, UNIX_EPOCH + Duration::from_secs(2));
        for bad in ["", "{}", r#"{"length":1,"metadata":{},"last_write":"x","created_at":2}"#, "[1]"] {
            assert!(UploadRecord::from_json(bad).is_err(), "{bad:?}");
        }
        let bad_time = r#"{"length":1,"metadata":{},"last_write":1,"created_at":2,"finished_at":"yesterday"}"#;
        assert!(matches!(UploadRecord::from_json(bad_time).unwrap_err(), RecordError::Corrupt(_)));
    }

    /// Found by the `record` fuzz target (seeds `seed-regression-*` in fuzz/corpus/record): what was read could
    /// not be written back the same.
    #[test]
    fn what_is_read_is_written_back_the_same() {
        let read_write_read = |text: &str| {
            let record = UploadRecord::from_json(text).unwrap();
            assert_eq!(UploadRecord::from_json(&record.to_json()).unwrap(), record, "{text}");
            record
        };
        let base = r#"{"length":7,"metadata":{},"last_write":1,"created_at":1"#;
        // Sub-microsecond times: rounded (numbers) or truncated (text) to microseconds.
        let r = read_write_read(&format!(r#"{base},"finished_at":17954758.4125,"duration":0.0000015}}"#));
        assert_eq!(r.finished_at, Some(UNIX_EPOCH + Duration::from_micros(17_954_758_412_500)));
        assert_eq!(r.duration, Some(Duration::from_micros(2)));
        let r = read_write_read(&format!(
            r#"{base},"finished_at":"2026-11-23T21:43:40.2343729Z","duration":"PT1.0000019S"}}"#
        ));
        assert_eq!(r.finished_at, Some(UNIX_EPOCH + Duration::from_micros(1_795_470_220_234_372)));
        assert_eq!(r.duration, Some(Duration::from_micros(1_000_001)));
        // Years the format cannot write are refused.
        for finished_at in ["1e15", "-1e12", r#""0000-01-01T00:00:00+01:00""#, r#""9999-12-31T23:59:59-00:01""#] {
            let text = format!(r#"{base},"finished_at":{finished_at}}}"#);
            assert!(UploadRecord::from_json(&text).is_err(), "{text}");
        }
        read_write_read(&format!(r#"{base},"finished_at":"0000-01-01T00:00:00Z"}}"#));
        read_write_read(&format!(r#"{base},"finished_at":"9999-12-31T23:59:59.999999Z"}}"#));
    }

    #[test]
    fn finish_sets_time_and_duration() {
        let created = UNIX_EPOCH + Duration::from_secs(100);
        let mut record = UploadRecord::new(Some(3), Metadata::new(), Metadata::new(), created);
        record.finish(created + Duration::from_millis(362));
        assert_eq!(record.duration, Some(Duration::from_millis(362)));
        record.finish(created - Duration::from_secs(1));
        assert_eq!(record.duration, Some(Duration::ZERO));
    }
}
