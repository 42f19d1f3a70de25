//! The `info` object of an upload: its record (the original tussi's JSON, as the file store keeps it) and where
//! its committed bytes are — parts of a multipart upload, then a tail object.

use serde::{Deserialize, Serialize};
use tus_proto::{FailureKind, StoreFailure, UploadId};
use tus_store::UploadRecord;

use crate::io::failure;

/// An upload's committed state. Its bytes `0..offset` are: `parts.len()` parts of `part_size` bytes each in the
/// multipart upload, then `tail` bytes in the object `tail-<parts.len()>`. A finished upload's bytes are the
/// object `data` instead.
#[derive(Clone, Debug)]
pub(crate) struct Info {
    pub(crate) record: UploadRecord,
    pub(crate) multipart: Option<Multipart>,
    pub(crate) tail: u64,
    /// The name of the tail object in the upload's folder (`tail-<parts>-<random>`), when `tail > 0`.
    pub(crate) tail_name: String,
    /// Every part is sent and the multipart upload is being completed: whoever holds the upload next completes it
    /// (again) and records it finished — the instance that started may have died in between.
    pub(crate) completing: bool,
}

/// A multipart upload in progress: its id (so that any instance can continue it) and the parts committed so far.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Multipart {
    pub(crate) id: String,
    pub(crate) part_size: u64,
    /// The content ids (ETags) of the committed parts, in order.
    pub(crate) parts: Vec<String>,
}

/// The stored form: the record nested as the original's JSON.
#[derive(Serialize, Deserialize)]
pub(crate) struct InfoDoc {
    record: serde_json::Value,
    #[serde(default)]
    multipart: Option<Multipart>,
    #[serde(default)]
    tail: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    tail_name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    completing: bool,
}

impl Info {
    pub(crate) fn new(record: UploadRecord) -> Self {
        Info { record, multipart: None, tail: 0, tail_name: String::new(), completing: false }
    }

    /// The bytes the committed parts hold.
    pub(crate) fn parts_len(&self) -> u64 {
        self.multipart.as_ref().map_or(0, |m| m.parts.len() as u64 * m.part_size)
    }

    /// Whether every byte arrived (a finished record; a complete partial upload counts too).
    pub(crate) fn is_finished(&self) -> bool {
        self.record.finished_at.is_some()
    }

    pub(crate) fn to_doc(&self) -> InfoDoc {
        // The record's JSON is produced by `UploadRecord::to_json` and is always valid JSON.
        let record = serde_json::from_str(&self.record.to_json()).unwrap_or(serde_json::Value::Null);
        InfoDoc {
            record,
            multipart: self.multipart.clone(),
            tail: self.tail,
            tail_name: self.tail_name.clone(),
            completing: self.completing,
        }
    }

    pub(crate) fn from_doc(id: UploadId, doc: InfoDoc) -> Result<Self, StoreFailure> {
        let record = UploadRecord::from_json(&doc.record.to_string())
            .map_err(|e| failure(FailureKind::Internal, id, format_args!("damaged info object: {e}")))?;
        let info = Info {
            record,
            multipart: doc.multipart,
            tail: doc.tail,
            tail_name: doc.tail_name,
            completing: doc.completing,
        };
        let parts_fit = info.multipart.as_ref().is_none_or(|m| m.part_size > 0 && info.tail < m.part_size);
        let tail_named = info.tail == 0 || info.tail_name.starts_with("tail-") && !info.tail_name.contains('/');
        let consistent = info.is_finished()
            || info.completing
            || (parts_fit && tail_named && info.parts_len() + info.tail == info.record.offset);
        if !consistent {
            return Err(failure(FailureKind::Internal, id, "damaged info object: parts and tail do not add up"));
        }
        Ok(info)
    }
}
