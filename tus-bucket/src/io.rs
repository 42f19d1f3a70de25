//! The object-store calls every module makes, and how their errors become [`StoreFailure`]s.

use bytes::Bytes;
use object_store::path::Path;
use object_store::ObjectStoreExt as _;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tus_proto::{FailureKind, StoreFailure, UploadId};

/// A failure of `what` on upload `id`.
pub(crate) fn failure(kind: FailureKind, id: UploadId, what: impl std::fmt::Display) -> StoreFailure {
    StoreFailure::new(kind, format!("upload {id}: {what}"))
}

/// A failed object-store call: the store is unreachable or refused, so the request may be retried (503), unless the
/// object was simply not there.
pub(crate) fn store_error(id: UploadId, what: &str, error: object_store::Error) -> StoreFailure {
    let kind = match error {
        object_store::Error::NotFound { .. } => FailureKind::NotFound,
        _ => FailureKind::Unavailable,
    };
    failure(kind, id, format_args!("{what}: {error}"))
}

/// An object read whole, with the version a conditional update of it names.
pub(crate) struct Versioned<T> {
    pub(crate) value: T,
    pub(crate) version: UpdateVersion,
}

/// Reads a small JSON object; `Ok(None)` when it does not exist.
pub(crate) async fn get_json<T: DeserializeOwned>(
    store: &dyn ObjectStore,
    path: &Path,
) -> Result<Option<Versioned<T>>, object_store::Error> {
    let result = match store.get(path).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
    let bytes = result.bytes().await?;
    let value = serde_json::from_slice(&bytes)
        .map_err(|e| object_store::Error::Generic { store: "tus-bucket", source: format!("{path}: {e}").into() })?;
    Ok(Some(Versioned { value, version }))
}

/// Writes a small JSON object with `mode`; returns its new version.
pub(crate) async fn put_json<T: Serialize>(
    store: &dyn ObjectStore,
    path: &Path,
    value: &T,
    mode: PutMode,
) -> Result<UpdateVersion, object_store::Error> {
    // Plain structs of strings and numbers: serialisation cannot fail.
    let bytes = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
    let result = store.put_opts(path, PutPayload::from(bytes), PutOptions::from(mode)).await?;
    Ok(UpdateVersion { e_tag: result.e_tag, version: result.version })
}

/// Deletes an object that may already be gone.
pub(crate) async fn delete_if_there(store: &dyn ObjectStore, path: &Path) -> Result<(), object_store::Error> {
    match store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
