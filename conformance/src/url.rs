//! A minimal `http://` or `https://` URL: parse, print, and resolve references (such as a `Location`) against it.
//!
//! Only what the suite needs: scheme `http` or `https`, a host (name, IPv4 or bracketed IPv6), an optional port and
//! an origin-form target (path plus query). No user-info, no fragments, no percent-decoding: the target is kept
//! byte for byte as the server wrote it, because the suite sends it back unchanged.

use std::fmt;

/// An absolute `http://` or `https://` URL split into the parts a raw HTTP/1.1 client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Whether the scheme is `https` (the connection speaks TLS).
    pub https: bool,
    /// Host as written, without brackets for IPv6 (`127.0.0.1`, `localhost`, `::1`).
    pub host: String,
    /// Port (80, or 443 for https, when absent).
    pub port: u16,
    /// Origin-form request target: path (always starting with `/`) plus `?query` if any.
    pub target: String,
}

/// Why a URL could not be parsed or resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad URL: {}", self.0)
    }
}

impl std::error::Error for UrlError {}

impl Url {
    /// Parses an absolute URL such as `http://127.0.0.1:8080/files/` or `https://tus.example.org/files/`.
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        let s = s.trim();
        let (https, rest) = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, _)) => return Err(UrlError(format!("scheme {scheme:?} not supported (http or https)"))),
            None => return Err(UrlError(format!("{s:?} is not an absolute URL"))),
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let target = target.split('#').next().unwrap_or("/");
        let target = if target.starts_with('?') { format!("/{target}") } else { target.to_string() };
        if authority.contains('@') {
            return Err(UrlError("user-info in URLs is not supported".into()));
        }
        let (host, port) = split_authority(authority, if https { 443 } else { 80 })?;
        if host.is_empty() {
            return Err(UrlError(format!("{s:?} has no host")));
        }
        Ok(Url { https, host, port, target })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// `scheme://host:port`: what tells one server (and one kind of connection to it) from another.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme(), self.authority())
    }

    /// `host:port` for connecting (IPv6 hosts in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The path part of the target (without the query).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("/")
    }

    /// The last non-empty path segment (the upload id for most servers).
    pub fn last_segment(&self) -> &str {
        self.path().rsplit('/').find(|s| !s.is_empty()).unwrap_or("")
    }

    /// The query (without the `?`), if the target has one.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// A child of this URL's path, keeping its query: `/files/` or `/files` joined with `id` gives `/files/id`,
    /// and `/files/?token=x` gives `/files/id?token=x`.
    pub fn child(&self, id: &str) -> Url {
        let mut u = self.clone();
        u.target = format!("{}/{}", self.path().trim_end_matches('/'), id);
        if let Some(q) = self.query() {
            u.target.push('?');
            u.target.push_str(q);
        }
        u
    }

    /// The same URL with its last non-empty path segment replaced by `id`, keeping everything around it (a
    /// trailing slash, the query): `/files/abc?token=x` gives `/files/<id>?token=x`. A URL without a path
    /// segment gets `id` as its only one.
    pub fn sibling(&self, id: &str) -> Url {
        let path = self.path();
        let trimmed = path.trim_end_matches('/');
        let start = trimmed.rfind('/').map_or(0, |i| i + 1);
        let mut u = self.clone();
        u.target = if trimmed.is_empty() {
            format!("/{id}")
        } else {
            format!("{}{id}{}", &trimmed[..start], &path[trimmed.len()..])
        };
        if let Some(q) = self.query() {
            u.target.push('?');
            u.target.push_str(q);
        }
        u
    }

    /// Resolves a reference (absolute, scheme-relative, absolute-path or relative-path) against this URL,
    /// following RFC 3986 §5.2 for the parts the suite needs.
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        let r = reference.trim();
        if r.is_empty() {
            return Err(UrlError("empty reference".into()));
        }
        if let Some((scheme, _)) = r.split_once("://") {
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
                return Url::parse(r);
            }
        }
        if let Some(rest) = r.strip_prefix("//") {
            // Scheme-relative: the scheme of the URL it is resolved against.
            return Url::parse(&format!("{}://{rest}", self.scheme()));
        }
        let r = r.split('#').next().unwrap_or("");
        let mut out = self.clone();
        if r.starts_with('/') {
            out.target = normalize(r);
        } else if let Some(query) = r.strip_prefix('?') {
            out.target = format!("{}?{}", self.path(), query);
        } else {
            let base = self.path();
            let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
            out.target = normalize(&format!("{dir}{r}"));
        }
        Ok(out)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default_port = if self.https { 443 } else { 80 };
        if self.port == default_port && !self.host.contains(':') {
            write!(f, "{}://{}{}", self.scheme(), self.host, self.target)
        } else {
            write!(f, "{}://{}{}", self.scheme(), self.authority(), self.target)
        }
    }
}

fn split_authority(authority: &str, default_port: u16) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(|| UrlError("unclosed '[' in host".into()))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u16>().map_err(|_| UrlError(format!("port {p:?} out of range")))?
        }
        Some(p) => return Err(UrlError(format!("bad port {p:?}"))),
    };
    Ok((host, port))
}

/// Removes `.` and `..` segments (RFC 3986 §5.2.4), keeping the query untouched.
fn normalize(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut p = format!("/{}", out.join("/"));
    if let Some(q) = query {
        p.push('?');
        p.push_str(q);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).expect("valid URL")
    }

    #[test]
    fn parses_host_port_and_target() {
        let x = u("http://127.0.0.1:8080/files/");
        assert_eq!((x.host.as_str(), x.port, x.target.as_str()), ("127.0.0.1", 8080, "/files/"));
        let y = u("http://example.org");
        assert_eq!((y.port, y.target.as_str()), (80, "/"));
        let z = u("http://[::1]:9/a?b=c#frag");
        assert_eq!((z.host.as_str(), z.port, z.target.as_str()), ("::1", 9, "/a?b=c"));
        assert_eq!(z.authority(), "[::1]:9");
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("http://x:99999/").is_err());
        assert!(Url::parse("/relative").is_err());
    }

    #[test]
    fn https_urls() {
        let x = u("https://tus.example.org/files/?t=1");
        assert!(x.https);
        assert_eq!((x.port, x.scheme(), x.origin()), (443, "https", "https://tus.example.org:443".to_string()));
        assert_eq!(x.to_string(), "https://tus.example.org/files/?t=1");
        assert_eq!(u("HTTPS://h:8443/f").to_string(), "https://h:8443/f");
        assert_eq!(u("https://h:80/f").to_string(), "https://h:80/f");
        // A relative Location stays on TLS; a scheme-relative one keeps the scheme; an absolute one may switch.
        assert!(x.join("/files/abc").expect("join").https);
        assert!(x.join("//other/abc").expect("join").https);
        let plain = u("http://127.0.0.1:8080/files/");
        let behind_proxy = plain.join("https://tus.example.org/files/abc").expect("join");
        assert!(behind_proxy.https && behind_proxy.port == 443);
        assert!(!plain.join("//h:2/q").expect("join").https);
        assert_ne!(plain.origin(), u("https://127.0.0.1:8080/").origin());
    }

    #[test]
    fn resolves_references() {
        let base = u("http://127.0.0.1:8080/files/");
        assert_eq!(base.join("/files/abc").expect("join").to_string(), "http://127.0.0.1:8080/files/abc");
        assert_eq!(base.join("abc").expect("join").target, "/files/abc");
        assert_eq!(base.join("../up/x").expect("join").target, "/up/x");
        assert_eq!(base.join("http://other:1/z").expect("join").authority(), "other:1");
        assert_eq!(base.join("//h:2/q").expect("join").authority(), "h:2");
        let nodir = u("http://h/files");
        assert_eq!(nodir.join("abc").expect("join").target, "/abc");
        assert_eq!(nodir.child("abc").target, "/files/abc");
        assert_eq!(base.child("abc").target, "/files/abc");
        assert_eq!(u("http://h/files/abc?x=1").last_segment(), "abc");
    }

    #[test]
    fn queries_are_kept() {
        let base = u("http://127.0.0.1:8080/files/");
        // A Location with a query, in every form a server may write it.
        for loc in ["/files/abc?token=x&y=1", "abc?token=x&y=1", "http://127.0.0.1:8080/files/abc?token=x&y=1"] {
            let up = base.join(loc).expect("join");
            assert_eq!(up.target, "/files/abc?token=x&y=1", "{loc}");
            assert_eq!(up.query(), Some("token=x&y=1"));
            // Stored as text between steps and read back unchanged.
            assert_eq!(u(&up.to_string()), up);
        }
        assert_eq!(base.join("/files/./abc?p=/a/../b").expect("join").target, "/files/abc?p=/a/../b");
        assert_eq!(base.join("abc?u=http://other/x").expect("join").target, "/files/abc?u=http://other/x");
        assert_eq!(u("http://h:1?x=1").target, "/?x=1");
        assert_eq!(base.query(), None);
        // The base's own query is kept for URLs derived from it.
        let with_query = u("http://h/files/?token=t");
        assert_eq!(with_query.child("id").target, "/files/id?token=t");
        assert_eq!(u("http://h/files/abc?token=x").sibling("new").target, "/files/new?token=x");
        assert_eq!(u("http://h/files/abc/").sibling("new").target, "/files/new/");
        assert_eq!(u("http://h/abc").sibling("new").target, "/new");
        assert_eq!(u("http://h/").sibling("new").target, "/new");
    }
}
