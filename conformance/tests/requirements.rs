//! Stable requirement ids, each with the words of the protocol it tests.
//!
//! Scenario ids are an interface: reports, CONFORMANCE.md, `--only`/`--skip` globs and other projects' CI name
//! them. The list below freezes them: a scenario renamed or dropped fails this test (keep the old id, or retire it
//! here on purpose); a new scenario fails it too until its id is appended. And every scenario quotes the sentence of
//! the tus 1.0.0 text it tests word for word, and a MUST-level scenario quotes a MUST. The protocol's text is not
//! part of this repository (it is the tus project's prose): with `TUS_PROTOCOL_TEXT` naming a copy of its
//! `protocol.md` at version 1.0.0, every quote is also looked up in it, word for word.

use std::collections::BTreeSet;

use tus_conformance::{scenarios, Level};

/// Every scenario id, in run order. Append new ones; never rename or remove one.
const IDS: &[&str] = &[
    "core-options-tus-version",
    "core-options-ignores-tus-resumable",
    "core-options-headers-wellformed",
    "core-options-max-size",
    "core-version-unsupported-patch",
    "core-version-412-tus-version",
    "core-version-unsupported-head",
    "core-version-missing-patch",
    "core-version-missing-head",
    "core-response-tus-resumable",
    "core-override-patch",
    "core-override-head",
    "core-head-offset",
    "core-head-status",
    "core-head-length",
    "core-head-cache-control",
    "core-head-unknown",
    "core-head-after-complete",
    "core-patch-204",
    "core-patch-resume",
    "core-patch-complete",
    "core-patch-409",
    "core-patch-409-offset",
    "core-patch-content-type-refused",
    "core-patch-content-type-415",
    "core-patch-past-length",
    "core-patch-past-length-413",
    "core-patch-unknown",
    "core-patch-chunked",
    "core-patch-slow-body",
    "core-info-patch-missing-offset",
    "core-info-patch-bad-offset",
    "core-info-patch-duplicate-offset",
    "core-info-patch-empty",
    "core-info-patch-complete-upload",
    "creation-201-location",
    "creation-distinct-locations",
    "creation-zero-length",
    "creation-413-max-size",
    "creation-at-max-size",
    "creation-unsupported-version",
    "creation-length-missing",
    "creation-length-invalid",
    "creation-length-negative",
    "creation-length-strict-digits",
    "creation-metadata-roundtrip",
    "creation-metadata-empty-value",
    "creation-info-metadata-invalid",
    "creation-info-metadata-duplicate",
    "creation-info-post-with-body",
    "termination-delete",
    "termination-terminated",
    "termination-gone",
    "termination-unknown",
    "defer-length-flow",
    "defer-length-bad-value",
    "creation-with-upload",
    "checksum-options-algorithms",
    "checksum-sha1-match",
    "checksum-mismatch-460",
    "checksum-unsupported-400",
    "checksum-trailer-match",
    "checksum-trailer-mismatch-460",
    "concat-partial-head",
    "concat-final",
    "concat-patch-final-403",
    "concat-unfinished-final",
    "concat-unfinished-head-no-offset",
    "expiration-patch",
    "expiration-post",
    "expiration-head",
    "options-extensions-consistent",
    "fault-disconnect-offset-bounds",
    "fault-disconnect-keeps-data",
    "fault-disconnect-resume",
    "fault-stale-resume",
    "fault-concurrent-patch",
    "fault-server-timeout",
    "fault-half-close",
    "fault-garbage-request",
];

/// MUST-level scenarios whose quote has no "MUST" of its own, and why they are MUSTs all the same.
const NO_MUST_WORD: &[&str] = &[
    // "The Upload-Length ... indicates the size of the entire upload": bytes past it are no part of the upload, so
    // a server that stores them breaks the offset arithmetic every MUST of PATCH builds on.
    "core-patch-past-length",
];

#[test]
fn scenario_ids_are_frozen() {
    let now: Vec<&str> = scenarios::all().iter().map(|s| s.id).collect();
    let frozen: BTreeSet<&str> = IDS.iter().copied().collect();
    let current: BTreeSet<&str> = now.iter().copied().collect();
    let gone: Vec<&&str> = frozen.difference(&current).collect();
    let new: Vec<&&str> = current.difference(&frozen).collect();
    assert!(gone.is_empty(), "scenario ids renamed or removed (they are stable; keep them): {gone:?}");
    assert!(new.is_empty(), "new scenario ids: append them to IDS in tests/requirements.rs: {new:?}");
    assert_eq!(now.len(), IDS.len(), "an id is used twice");
}

/// The protocol text as a reader sees it: no backticks, links reduced to their text, whitespace collapsed.
fn plain_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    let mut rest = markdown;
    // [text](target) -> text
    while let Some(open) = rest.find('[') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find("](").and_then(|close| Some((close, after[close..].find(')')? + close))) {
            Some((close, end)) if !after[..close].contains('\n') => {
                text.push_str(&after[..close]);
                rest = &after[end + 1..];
            }
            _ => {
                text.push('[');
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text.replace('`', "").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_scenario_quotes_its_clause_and_binding_ones_quote_a_must() {
    let mut unbound = Vec::new();
    for s in scenarios::all() {
        assert!(!s.quote.is_empty(), "{} quotes nothing", s.id);
        assert!(s.quote.split(" … ").all(|passage| passage.trim().len() > 12), "{}: a quote too short", s.id);
        // A scenario that fails a run quotes a MUST.
        let binding = matches!(s.level, Level::Must | Level::Extension(_));
        if binding && !s.quote.contains("MUST") && !NO_MUST_WORD.contains(&s.id) {
            unbound.push(s.id);
        }
    }
    assert!(unbound.is_empty(), "MUST-level scenarios quoting no MUST: {unbound:?}");
}

#[test]
fn every_quote_is_the_protocol_text_word_for_word() {
    let Some(path) = std::env::var_os("TUS_PROTOCOL_TEXT") else {
        eprintln!("TUS_PROTOCOL_TEXT is not set: the quotes are not looked up in the protocol's text");
        return;
    };
    let protocol = std::fs::read_to_string(&path).expect("read TUS_PROTOCOL_TEXT");
    assert!(protocol.contains("**Version:** 1.0.0"), "not the 1.0.0 text");
    let text = plain_text(&protocol);
    let mut checked = 0;
    for s in scenarios::all() {
        for passage in s.quote.split(" … ") {
            let passage = passage.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(text.contains(&passage), "{}: not in the tus 1.0.0 text: {passage:?}", s.id);
            checked += 1;
        }
        // What a clause puts in quotation marks is the text's too (short words such as "final;" aside).
        for (i, quoted) in s.clause.split('"').enumerate() {
            let quoted = quoted.split_whitespace().collect::<Vec<_>>().join(" ");
            if i % 2 == 1 && quoted.len() > 12 {
                for passage in quoted.split(" ... ") {
                    assert!(
                        text.contains(passage),
                        "{}: the clause quotes what the text does not say: {passage:?}",
                        s.id
                    );
                }
            }
        }
    }
    assert!(checked >= scenarios::all().len());
    // The check itself can fail: a changed word is not found.
    assert!(!text.contains("The Server MUST always include the Upload-Offset header in every response"));
    assert!(
        plain_text("see the [Concatenation](#concatenation) `x`\n  extension") == "see the Concatenation x extension"
    );
}

#[test]
fn reports_carry_the_id_and_the_quote() {
    let server = tus_proto::Server::builder().base_path("/files").build().expect("server");
    let mut transport = tus_conformance::memory::ProtoTransport::new(server);
    let mut config = tus_conformance::Config::new(tus_conformance::Url::parse("http://h/files/").expect("url"));
    config.only = vec!["core-head-cache-control".into()];
    let report = tus_conformance::run(&config, &mut transport, None, &scenarios::all()).expect("report");
    let json: serde_json::Value = serde_json::from_str(&report.json()).expect("JSON");
    let result = &json["results"][0];
    assert_eq!(result["id"], "core-head-cache-control");
    assert_eq!(
        result["quote"],
        "The Server MUST prevent the client and/or proxies from caching the response by adding the \
         Cache-Control: no-store header to the response."
    );
    assert!(result["clause"].as_str().is_some_and(|c| c.starts_with("tus 1.0.0 core")));
}
