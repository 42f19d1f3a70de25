//! Response header fields: ordered, case-insensitive names, repeated names kept.

use serde::Serialize;

/// Header fields in the order received. Lookups ignore ASCII case; repeated names are all kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Appends a field.
    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push((name.to_string(), value.to_string()));
    }

    /// Appends folded continuation text to the last field (obsolete line folding).
    pub fn continue_last(&mut self, more: &str) {
        if let Some((_, v)) = self.0.last_mut() {
            v.push(' ');
            v.push_str(more);
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// How many fields named `name` there are.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// All values of `name` joined as one comma-separated list (None when absent).
    pub fn combined(&self, name: &str) -> Option<String> {
        let all: Vec<&str> = self.get_all(name).collect();
        (!all.is_empty()).then(|| all.join(", "))
    }

    /// The comma-separated list elements of `name` (all fields), trimmed, empty elements dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get_all(name).flat_map(|v| v.split(',')).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
    }

    /// Whether a list element of `name` equals `token` (ASCII case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).iter().any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Iterates over `(name, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_and_multi_valued() {
        let mut h = Headers::default();
        h.push("Tus-Extension", "creation, termination");
        h.push("tus-extension", "expiration");
        h.push("Connection", "Keep-Alive, Upgrade");
        assert_eq!(h.get("TUS-EXTENSION"), Some("creation, termination"));
        assert_eq!(h.count("tus-extension"), 2);
        assert_eq!(h.list("Tus-Extension"), ["creation", "termination", "expiration"]);
        assert!(h.has_token("connection", "keep-alive"));
        assert!(!h.has_token("connection", "close"));
        assert_eq!(h.combined("tus-extension").as_deref(), Some("creation, termination, expiration"));
        assert_eq!(h.get("absent"), None);
    }
}
