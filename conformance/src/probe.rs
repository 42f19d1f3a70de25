//! Data probes: ways to read back the bytes a server stored, since TUS itself has no download.
//!
//! Offsets say how much a server claims to hold; a probe checks what it holds. [`DirProbe`] reads the server's
//! storage directories (for servers that keep `<dir>/<upload id>` files, as tussi, tusd's file store and
//! @tus/file-store do); [`GetProbe`] issues a `GET` on the upload URL (tusd serves downloads; some servers crash
//! on it, so it is opt-in). Without a probe, data checks are reported as not verified.

use std::fs;
use std::path::PathBuf;

use crate::client::{Connection, RawRequest, Timeouts};
use crate::context::with_headers;
use crate::tls::Tls;
use crate::url::Url;

/// Reads back the bytes stored for an upload.
pub trait DataProbe: Send + Sync {
    /// The first `len` stored bytes of the upload at `url` (fewer if fewer are stored), or None when this probe
    /// cannot tell.
    fn read(&self, url: &Url, len: u64) -> Option<Vec<u8>>;

    /// A short description for reports.
    fn describe(&self) -> String;
}

/// Reads `<dir>/<last URL path segment>` from the first directory that has it.
#[derive(Debug, Clone)]
pub struct DirProbe {
    /// Directories searched in order (e.g. the staging and the completed directory).
    pub dirs: Vec<PathBuf>,
}

impl DataProbe for DirProbe {
    fn read(&self, url: &Url, len: u64) -> Option<Vec<u8>> {
        let id = url.last_segment();
        if id.is_empty() || id.contains("..") || id.contains('/') || id.contains('\\') {
            return None;
        }
        for dir in &self.dirs {
            if let Ok(mut data) = fs::read(dir.join(id)) {
                data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
                return Some(data);
            }
        }
        None
    }

    fn describe(&self) -> String {
        let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        format!("files in {}", dirs.join(", "))
    }
}

/// Downloads the upload with `GET` (with `Tus-Resumable: 1.0.0` and the given extra headers) over a fresh
/// connection.
#[derive(Debug, Clone)]
pub struct GetProbe {
    /// Timeouts of the download connection.
    pub timeouts: Timeouts,
    /// Header fields sent with the GET, after `Host` (credentials, as in `Config::headers`).
    pub headers: Vec<(String, String)>,
    /// How server certificates of `https://` upload URLs are checked (as the run's transport does).
    pub tls: Tls,
}

impl DataProbe for GetProbe {
    fn read(&self, url: &Url, len: u64) -> Option<Vec<u8>> {
        let req = with_headers(RawRequest::new("GET", &url.target).header("Host", url.authority()), &self.headers)
            .header("Tus-Resumable", "1.0.0")
            .header("Connection", "close");
        let resp = Connection::open_url(url, self.timeouts, &self.tls).ok()?.exchange(&req).ok()?;
        if resp.status != 200 {
            return None;
        }
        let mut body = resp.body;
        body.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Some(body)
    }

    fn describe(&self) -> String {
        "GET on the upload URL".into()
    }
}
