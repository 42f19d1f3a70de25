//! `Upload-Metadata`: comma-separated `key base64value` pairs, parsed strictly and re-encoded canonically.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Key/value metadata of an upload: the client's (from `Upload-Metadata`) or the server's (from `on_create`).
///
/// Keys are unique; iteration is in key order, so formatting is deterministic.
///
/// ```
/// use tus_proto::Metadata;
/// let meta = Metadata::parse("filename d29ybGRfZG9taW5hdGlvbi5wZGY=,is_confidential").unwrap();
/// assert_eq!(meta.get("filename"), Some("world_domination.pdf"));
/// assert_eq!(meta.get("is_confidential"), Some(""));
/// assert_eq!(Metadata::parse(&meta.to_header_value()).unwrap(), meta);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

/// Why an `Upload-Metadata` value was refused. The `Display` text is the reason sent to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// A pair between commas is empty or has more than one space.
    MalformedPair,
    /// The same key appears twice.
    DuplicateKey(String),
    /// A value is not valid padded standard base64.
    InvalidBase64(String),
    /// A value does not decode to UTF-8.
    InvalidUtf8(String),
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::MalformedPair => f.write_str("Upload-Metadata has a malformed pair"),
            MetadataError::DuplicateKey(k) => write!(f, "Upload-Metadata repeats the key {k:?}"),
            MetadataError::InvalidBase64(k) => write!(f, "Upload-Metadata value of {k:?} is not valid base64"),
            MetadataError::InvalidUtf8(k) => write!(f, "Upload-Metadata value of {k:?} is not UTF-8"),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Whether `key` is a key tussi keeps: `[A-Za-z0-9_-]+`. Pairs with other keys are validated but dropped, as the
/// original tussi documents.
pub fn is_kept_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Metadata {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses an `Upload-Metadata` header value.
    ///
    /// Each comma-separated pair is `key`, or `key value` with one space and a padded standard base64 value that
    /// decodes to UTF-8; spaces and tabs around a pair are allowed. Keys must be unique. Pairs whose key is not
    /// `[A-Za-z0-9_-]+` are validated like the others but not kept. An empty header is empty metadata.
    pub fn parse(header: &str) -> Result<Metadata, MetadataError> {
        let mut map = BTreeMap::new();
        let mut seen_keys = Vec::new();
        if header.trim_matches([' ', '\t']).is_empty() {
            return Ok(Metadata(map));
        }
        for pair in header.split(',') {
            let pair = pair.trim_matches([' ', '\t']);
            let (key, encoded) = match pair.split_once(' ') {
                Some((key, value)) => (key, value),
                None => (pair, ""),
            };
            if key.is_empty() || encoded.contains([' ', '\t']) || key.contains('\t') {
                return Err(MetadataError::MalformedPair);
            }
            if seen_keys.contains(&key) {
                return Err(MetadataError::DuplicateKey(key.to_owned()));
            }
            seen_keys.push(key);
            let decoded = STANDARD.decode(encoded).map_err(|_| MetadataError::InvalidBase64(key.to_owned()))?;
            let value = String::from_utf8(decoded).map_err(|_| MetadataError::InvalidUtf8(key.to_owned()))?;
            if is_kept_key(key) {
                map.insert(key.to_owned(), value);
            }
        }
        Ok(Metadata(map))
    }

    /// Formats as an `Upload-Metadata` header value: pairs in key order, `key` alone for an empty value.
    pub fn to_header_value(&self) -> String {
        let mut out = String::new();
        for (key, value) in &self.0 {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(key);
            if !value.is_empty() {
                out.push(' ');
                STANDARD.encode_string(value, &mut out);
            }
        }
        out
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(key.into(), value.into())
    }

    /// The pairs, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Metadata(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_values_are_kept() {
        let m = Metadata::parse("a,b ,c Yw==").unwrap();
        assert_eq!(m.get("a"), Some(""));
        assert_eq!(m.get("b"), Some(""));
        assert_eq!(m.get("c"), Some("c"));
        assert_eq!(m.to_header_value(), "a,b,c Yw==");
    }

    #[test]
    fn strange_keys_are_dropped_but_validated() {
        let m = Metadata::parse("file.name YQ==,ok Yg==").unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m.get("ok"), Some("b"));
        assert_eq!(Metadata::parse("file.name !!"), Err(MetadataError::InvalidBase64("file.name".into())));
    }

    #[test]
    fn refusals() {
        assert_eq!(Metadata::parse("a YQ==,a Yg=="), Err(MetadataError::DuplicateKey("a".into())));
        assert_eq!(Metadata::parse("a YQ"), Err(MetadataError::InvalidBase64("a".into())));
        assert_eq!(Metadata::parse("a /w=="), Err(MetadataError::InvalidUtf8("a".into())));
        assert_eq!(Metadata::parse("a  YQ=="), Err(MetadataError::MalformedPair));
        assert_eq!(Metadata::parse("a YQ== Yg=="), Err(MetadataError::MalformedPair));
        assert_eq!(Metadata::parse("a YQ==,"), Err(MetadataError::MalformedPair));
        assert_eq!(Metadata::parse(",a YQ=="), Err(MetadataError::MalformedPair));
        assert_eq!(Metadata::parse(" "), Ok(Metadata::new()));
        assert_eq!(Metadata::parse("a YQ==, b Yg==").unwrap().len(), 2);
    }

    fn arb_metadata() -> impl Strategy<Value = Metadata> {
        proptest::collection::btree_map("[A-Za-z0-9_-]{1,12}", "\\PC{0,20}", 0..8).prop_map(Metadata)
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,64}") {
            let _ = Metadata::parse(&s);
        }

        #[test]
        fn parse_format_parse_round_trips(s in "[A-Za-z0-9_+/=, .-]{0,64}") {
            if let Ok(m) = Metadata::parse(&s) {
                let again = Metadata::parse(&m.to_header_value()).unwrap();
                prop_assert_eq!(again, m);
            }
        }

        #[test]
        fn format_parse_round_trips(m in arb_metadata()) {
            prop_assert_eq!(Metadata::parse(&m.to_header_value()).unwrap(), m);
        }
    }
}
