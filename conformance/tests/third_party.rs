//! The suite against a server set up the way third parties deploy them: it wants a bearer token on every request
//! and hands out upload URLs under another prefix, signed with a query (`/store/<id>?token=tok-<id>`), that it
//! refuses without that query. In memory for the library (`Config::headers`, cleanup, unknown upload URLs,
//! coverage, exchanges, the level of each rule), and over a loopback socket for the command line.

mod model;

use std::process::Command;

use model::{header, response, Model};
use tus_conformance::headers::Headers;
use tus_conformance::{run, scenarios, ClientError, Config, RawRequest, Report, Response, Transport, Url, Verdict};

const BEARER: &str = "Bearer s3cret";

/// Ways to bend or break particular rules.
#[derive(Debug, Default, Clone, Copy)]
struct Quirks {
    /// OPTIONS lists termination only (no creation).
    no_creation: bool,
    /// DELETE answers 204 but the upload stays.
    keep_after_delete: bool,
    /// HEAD on a complete upload answers 404.
    gone_after_complete: bool,
    /// 412 without Tus-Version.
    bare_412: bool,
    /// A creation refused for its length gets 422 instead of 400.
    length_422: bool,
}

/// The model server behind a token check and signed upload URLs.
#[derive(Default)]
struct Guarded {
    model: Model,
    quirks: Quirks,
    /// Every request received: effective method, request target, Authorization value.
    seen: Vec<(String, String, Option<String>)>,
}

fn rewrite(resp: &mut Response, f: impl Fn(&str, &str) -> Option<String>) {
    let mut h = Headers::default();
    for (n, v) in resp.headers.iter() {
        if let Some(v) = f(n, v) {
            h.push(n, &v);
        }
    }
    resp.headers = h;
}

impl Transport for Guarded {
    fn send(&mut self, url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
        let method = req.effective_method().to_ascii_uppercase();
        let auth = header(req, "authorization").map(str::to_string);
        self.seen.push((method.clone(), req.target.clone(), auth.clone()));
        if auth.as_deref() != Some(BEARER) {
            return Ok(response(401, &[("WWW-Authenticate", "Bearer".into())]));
        }
        let mut inner = req.clone();
        let mut id = None;
        if let Some(rest) = req.target.strip_prefix("/store/") {
            let (upload, query) = rest.split_once('?').unwrap_or((rest, ""));
            if self.model.uploads.contains_key(upload) && query != format!("token=tok-{upload}") {
                return Ok(response(403, &[]));
            }
            inner.target = format!("/files/{upload}");
            id = Some(upload.to_string());
        } else if req.target != "/files/" {
            // Uploads do not live under the creation URL.
            return Ok(response(404, &[]));
        }
        let q = self.quirks;
        let upload = id.as_deref().and_then(|i| self.model.uploads.get(i));
        if q.gone_after_complete && method == "HEAD" && upload.is_some_and(|u| u.length == Some(u.data.len() as u64)) {
            return Ok(response(404, &[]));
        }
        if q.keep_after_delete && method == "DELETE" && upload.is_some() {
            return Ok(response(204, &[]));
        }
        let mut resp = self.model.send(url, &inner)?;
        let status = resp.status;
        rewrite(&mut resp, |n, v| {
            if n.eq_ignore_ascii_case("location") {
                let id = v.trim_start_matches("/files/");
                Some(format!("/store/{id}?token=tok-{id}"))
            } else if q.no_creation && n.eq_ignore_ascii_case("tus-extension") {
                Some("termination".into())
            } else if q.bare_412 && status == 412 && n.eq_ignore_ascii_case("tus-version") {
                None
            } else {
                Some(v.to_string())
            }
        });
        if q.length_422 && method == "POST" && resp.status == 400 {
            resp.status = 422;
        }
        Ok(resp)
    }

    fn name(&self) -> &str {
        "guarded"
    }
}

fn config() -> Config {
    let mut c = Config::new(Url::parse("http://tus.invalid/files/").expect("url"));
    c.add_header(&format!("Authorization: {BEARER}")).expect("header");
    c
}

fn not_green(report: &Report) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
        .map(|r| format!("{} {:?}: {}", r.id, r.verdict, r.detail))
        .collect()
}

/// The uploads' ids never include a UUID: a UUID-shaped segment is an unknown upload URL the suite made.
fn unknown_targets(server: &Guarded) -> Vec<&str> {
    server
        .seen
        .iter()
        .map(|(_, t, _)| t.as_str())
        .filter(|t| t.split(['/', '?']).any(|seg| seg.len() == 36 && seg.matches('-').count() == 4))
        .collect()
}

#[test]
fn headers_go_with_every_request_and_signed_upload_urls_are_used_as_given() {
    let mut server = Guarded::default();
    let report = run(&config(), &mut server, None, &scenarios::all()).expect("report");
    let bad = not_green(&report);
    assert!(bad.is_empty(), "{}\n\n{}", bad.join("\n"), report.table());
    assert_eq!(report.exit_code(true), 0);
    assert_eq!(report.verdict("termination-delete"), Some(Verdict::Pass));
    assert_eq!(report.verdict("termination-gone"), Some(Verdict::Pass));

    // The header went with every request: OPTIONS, POST, HEAD, PATCH, DELETE, and the cleanup.
    assert!(server.seen.iter().all(|(_, _, a)| a.as_deref() == Some(BEARER)));
    for method in ["OPTIONS", "POST", "HEAD", "PATCH", "DELETE"] {
        assert!(server.seen.iter().any(|(m, _, _)| m == method), "no {method} sent");
    }
    // Every request for an upload the server created kept its query (the server refuses it with 403 otherwise).
    let signed = |t: &str| t.split_once('?').is_some_and(|(p, q)| q == format!("token=tok-{}", &p[7..]));
    for method in ["HEAD", "PATCH", "DELETE"] {
        let uploads: Vec<&String> = server
            .seen
            .iter()
            .filter(|(m, t, _)| m == method && t.starts_with("/store/u"))
            .map(|(_, t, _)| t)
            .collect();
        assert!(!uploads.is_empty() && uploads.iter().all(|t| signed(t)), "{method}: {uploads:?}");
    }

    // Unknown upload URLs were made from the first Location (/store/u1?token=tok-u1): same prefix, same query.
    let unknown = unknown_targets(&server);
    assert!(unknown.len() >= 3, "{unknown:?}"); // HEAD, PATCH and DELETE on an unknown upload
    assert!(unknown.iter().all(|t| t.starts_with("/store/") && t.ends_with("?token=tok-u1")), "{unknown:?}");
    assert!(report.get("core-patch-unknown").expect("ran").detail.contains("PATCH 404"));

    // Cleanup: everything the run created is gone; what scenarios deleted themselves was already gone.
    let posts = server.seen.iter().filter(|(m, _, _)| m == "POST").count();
    let c = &report.cleanup;
    assert!(c.created > 30 && c.created <= posts, "{c:?}");
    assert_eq!((c.removed + c.already_gone, c.failed, c.skipped.as_deref()), (c.created, 0, None), "{c:?}");
    assert!(c.already_gone >= 2, "termination-delete and termination-gone deleted theirs: {c:?}");
    assert!(server.model.uploads.is_empty(), "left: {:?}", server.model.uploads.keys().collect::<Vec<_>>());
    let line = format!(
        "cleanup: {} uploads created; {} deleted, {} already gone, 0 could not be deleted",
        c.created, c.removed, c.already_gone
    );
    assert!(report.table().contains(&line), "{}", report.table());

    // Coverage: every core MUST but the wire-only one ran.
    let v = report.coverage;
    assert_eq!(v.core_exercised + 1, v.core, "{v:?}");
    assert!(!v.core_unexercised() && v.core_upload_exercised > 10);
    let line = format!("MUST: {} of {} exercised (core: {} of {};", v.must_exercised, v.must, v.core_exercised, v.core);
    assert!(report.table().contains(&line), "{}", report.table());
    // Scenarios that passed keep no exchanges.
    assert!(report.results.iter().all(|r| r.exchanges.is_empty()));
}

#[test]
fn keep_leaves_every_upload_on_the_server() {
    let mut server = Guarded::default();
    let mut config = config();
    config.keep = true;
    config.only = vec!["core-*".into()];
    let report = run(&config, &mut server, None, &scenarios::all()).expect("report");
    assert!(server.seen.iter().all(|(m, _, _)| m != "DELETE"), "a DELETE was sent");
    let c = &report.cleanup;
    assert!(c.created > 10, "{c:?}");
    assert_eq!((c.removed, c.already_gone, c.failed), (0, 0, 0));
    assert_eq!(server.model.uploads.len(), c.created);
    assert!(report.table().contains(&format!("cleanup: {} uploads created, none deleted: kept on request", c.created)));
}

#[test]
fn without_creation_the_core_is_not_exercised_and_the_exit_status_says_so() {
    let mut server = Guarded { quirks: Quirks { no_creation: true, ..Quirks::default() }, ..Guarded::default() };
    let report = run(&config(), &mut server, None, &scenarios::all()).expect("report");
    assert!(not_green(&report).is_empty(), "{}", report.table());
    assert_eq!(report.verdict("core-head-offset"), Some(Verdict::NotApplicable));
    let v = report.coverage;
    assert!(v.core_unexercised(), "{v:?}");
    assert_eq!((v.core_exercised, v.core_upload_exercised), (3, 0), "only the OPTIONS MUSTs ran: {v:?}");
    assert_eq!(report.exit_code(false), 3);
    assert_eq!(report.exit_code(true), 3);
    let table = report.table();
    assert!(table.contains(&format!("MUST: 3 of {} exercised", v.must)), "{table}");
    assert!(table.contains("the core MUSTs could not be exercised") && table.contains("exit status 3"), "{table}");
    assert!(table.contains("cleanup: the suite created no uploads"), "{table}");
    // No upload to take the shape from: unknown upload URLs fall back to the creation URL.
    let unknown = unknown_targets(&server);
    assert!(!unknown.is_empty() && unknown.iter().all(|t| t.starts_with("/files/") && !t.contains('?')), "{unknown:?}");
}

#[test]
fn levels_follow_the_protocol_text_and_failures_keep_their_exchanges() {
    let quirks = Quirks {
        keep_after_delete: true,
        gone_after_complete: true,
        bare_412: true,
        length_422: true,
        ..Quirks::default()
    };
    let mut server = Guarded { quirks, ..Guarded::default() };
    let report = run(&config(), &mut server, None, &scenarios::all()).expect("report");
    let table = report.text(true);
    let verdict = |id: &str| report.verdict(id).unwrap_or_else(|| panic!("{id} did not run"));

    // Termination: the 204 is the MUST, the 404/410 afterwards a SHOULD.
    assert_eq!(verdict("termination-delete"), Verdict::Pass, "{table}");
    assert_eq!(verdict("termination-gone"), Verdict::Warn, "{table}");
    // But a 204 that terminated nothing (the upload still takes bytes) breaks the MUST.
    assert_eq!(verdict("termination-terminated"), Verdict::Fail, "{table}");
    // HEAD on a complete upload MUST still answer with Upload-Offset.
    assert_eq!(verdict("core-head-after-complete"), Verdict::Fail, "{table}");
    assert_eq!(report.get("core-head-after-complete").expect("ran").level, "MUST");
    // A 412 without Tus-Version fails (it used to be n/a).
    assert_eq!(verdict("core-version-412-tus-version"), Verdict::Fail, "{table}");
    assert!(report.get("core-version-412-tus-version").expect("ran").detail.contains("Tus-Version absent"));
    assert_eq!(verdict("core-version-unsupported-patch"), Verdict::Pass, "the status itself is right");
    // The protocol names no status for a creation without a valid length: any 4xx passes, with a note.
    for id in ["creation-length-missing", "creation-length-invalid", "creation-length-negative"] {
        let r = report.get(id).expect("ran");
        assert_eq!(r.verdict, Verdict::Pass, "{id}: {}", r.detail);
        assert!(r.detail.contains("400 is the usual status; this server answered 422"), "{id}: {}", r.detail);
    }
    assert_eq!(report.exit_code(false), 1);

    // Exchanges are kept for FAIL and warn, not for pass.
    for r in &report.results {
        let kept = !r.exchanges.is_empty();
        assert_eq!(kept, matches!(r.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error), "{}", r.id);
    }
    let failed = report.get("core-head-after-complete").expect("ran");
    let last = failed.exchanges.last().expect("exchanges");
    assert!(last.request.starts_with("HEAD /store/u") && last.request.contains("?token=tok-u"), "{last:?}");
    assert_eq!(last.status, Some(404));
    assert!(last.request_headers.contains(&("Authorization".into(), "Bearer <redacted>".into())), "{last:?}");
    assert!(table.contains("== exchanges of the scenarios that did not pass =="), "{table}");
    assert!(table.contains("-- core-head-after-complete (FAIL)"), "{table}");
    assert!(!table.contains("s3cret"), "a credential leaked into the report");
    assert!(!report.table().contains("== exchanges"), "exchanges only with verbose");

    let json: serde_json::Value = serde_json::from_str(&report.json()).expect("JSON");
    assert_eq!(json["suite_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["target"], "http://tus.invalid/files/");
    let ts = json["timestamp"].as_str().expect("timestamp");
    assert!(ts.len() == 20 && &ts[10..11] == "T" && ts.ends_with('Z') && ts.starts_with("20"), "{ts}");
    let results = json["results"].as_array().expect("results");
    let fail = results.iter().find(|r| r["id"] == "core-head-after-complete").expect("in JSON");
    assert_eq!(fail["exchanges"].as_array().expect("exchanges").last().expect("one")["status"], 404);
    let pass = results.iter().find(|r| r["id"] == "core-head-offset").expect("in JSON");
    assert!(pass.get("exchanges").is_none());
    assert!(json["coverage"]["must"].as_u64().is_some_and(|n| n > 20));
    assert_eq!(json["cleanup"]["failed"], 0);
}

/// The command line against the guarded server on a loopback socket.
#[test]
fn command_line_headers_verbose_json_keep_and_exit_statuses() {
    let bin = env!("CARGO_BIN_EXE_tus-conformance");
    let cli = |url: &str, args: &[&str]| {
        let out = Command::new(bin).arg(url).args(args).output().expect("run CLI");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let auth = format!("Authorization: {BEARER}");

    let (url, server) = model::serve(Guarded::default());
    let (code, out, err) = cli(&url, &["-H", &auth, "--only", "core-head-*", "--only", "core-patch-409"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("MUST: 5 of 5 exercised (core: 5 of 5;"), "{out}");
    assert!(out.contains(" deleted, 0 already gone, 0 could not be deleted"), "{out}");
    {
        let s = server.lock().expect("server");
        assert!(s.model.uploads.is_empty());
        assert!(s.seen.iter().all(|(_, _, a)| a.as_deref() == Some(BEARER)));
        assert!(unknown_targets(&s).iter().all(|t| t.starts_with("/store/") && t.ends_with("?token=tok-u1")));
    }
    // --keep.
    let (code, out, _) = cli(&url, &["-H", &auth, "--only", "core-head-offset", "--keep"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("cleanup: 1 uploads created, none deleted: kept on request (--keep)"), "{out}");
    assert_eq!(server.lock().expect("server").model.uploads.len(), 1);
    // A reserved header is refused.
    let (code, _, err) = cli(&url, &["-H", "Upload-Offset: 3", "--only", "core-head-offset"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("Upload-Offset"), "{err}");

    // --verbose and --json on a failing scenario.
    let quirky = Guarded { quirks: Quirks { gone_after_complete: true, ..Quirks::default() }, ..Guarded::default() };
    let (url, _server) = model::serve(quirky);
    let (code, out, _) = cli(&url, &["-H", &auth, "--only", "core-head-after-complete", "--verbose"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("-- core-head-after-complete (FAIL)"), "{out}");
    assert!(out.contains("> HEAD /store/u") && out.contains("> Authorization: Bearer <redacted>"), "{out}");
    assert!(out.contains("< 404"), "{out}");
    assert!(!out.contains("s3cret"));
    let (code, out, _) = cli(&url, &["-H", &auth, "--only", "core-head-after-complete", "--json"]);
    assert_eq!(code, Some(1));
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json["suite_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["target"], url.as_str());
    assert!(json["results"][0]["exchanges"].as_array().is_some_and(|x| !x.is_empty()), "{out}");

    // Creation not advertised: nothing fails, but the core MUSTs were not exercised.
    let bare = Guarded { quirks: Quirks { no_creation: true, ..Quirks::default() }, ..Guarded::default() };
    let (url, _server) = model::serve(bare);
    let (code, out, _) = cli(&url, &["-H", &auth, "--only", "core-*"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("exit status 3"), "{out}");
}
