#!/usr/bin/env python3
"""Summarise tus-conformance JSON reports (one per server) as tables.

    matrix.py [--markdown] NAME=REPORT.json ...

Prints the summary (server x pass/fail/warn/n-a/info/error). With --markdown, prints it as a Markdown table and
adds the per-scenario matrix grouped by level (MUST, SHOULD, extensions, RECOMMENDED, INFO), one column per
server; informational cells show what the server did instead of the (always "info") verdict.
"""
import json
import re
import sys

GROUPS = [
    ("MUST (core protocol)", lambda lv: lv == "MUST"),
    ("SHOULD", lambda lv: lv == "SHOULD"),
    ("MUST of an advertised extension", lambda lv: lv.startswith("MUST (")),
    ("RECOMMENDED (later protocol texts, common practice)", lambda lv: lv == "RECOMMENDED"),
    ("INFO (left free by the specification: observations only)", lambda lv: lv == "INFO"),
]
COUNTS = [("pass", "pass"), ("fail", "fail"), ("warn", "warn"), ("not_applicable", "n/a"), ("info", "info"),
          ("error", "error")]


def load(args):
    reports = []
    for arg in args:
        name, _, path = arg.partition("=")
        if not path:
            name, path = re.sub(r"\.json$", "", arg.rsplit("/", 1)[-1]), arg
        with open(path, encoding="utf-8") as f:
            reports.append((name, json.load(f)))
    return reports


def short(detail, limit=70):
    """An informational detail, without the setup trace, cut to `limit` characters."""
    # "PATCH: status 204 (expected 4xx) [after POST 201, PATCH 204]": only the trace is of interest here.
    d = re.sub(r"^[A-Z]+: status \d+ \(expected [^)]*\) \[after (.*)\]$", r"\1", detail)
    d = re.sub(r"^POST 201(?: \(offset 0\))?, ", "", d)
    d = d.replace("|", "/")
    return d if len(d) <= limit else d[: limit - 1] + "…"


def cell(result):
    v = result["verdict"]
    if v == "info":
        return short(result["detail"])
    return {"pass": "pass", "fail": "**FAIL**", "warn": "*warn*", "n/a": "n/a", "error": "ERROR"}.get(v, v)


def main(argv):
    markdown = "--markdown" in argv
    reports = load([a for a in argv if a != "--markdown"])
    if not reports:
        sys.exit(__doc__)
    if not markdown:
        width = max(len(n) for n, _ in reports)
        print(f"{'server':<{width}}  " + "  ".join(f"{label:>5}" for _, label in COUNTS))
        for name, r in reports:
            print(f"{name:<{width}}  " + "  ".join(f"{r['counts'][k]:>5}" for k, _ in COUNTS))
        return
    print("| server | " + " | ".join(label for _, label in COUNTS) + " |")
    print("|---|" + "---:|" * len(COUNTS))
    for name, r in reports:
        print(f"| {name} | " + " | ".join(str(r["counts"][k]) for k, _ in COUNTS) + " |")
    by_id = [{x["id"]: x for x in r["results"]} for _, r in reports]
    order = [x for x in reports[0][1]["results"]]
    for title, member in GROUPS:
        rows = [x for x in order if member(x["level"])]
        if not rows:
            continue
        print(f"\n### {title}\n")
        print("| scenario | level | " + " | ".join(n for n, _ in reports) + " |")
        print("|---|---|" + "---|" * len(reports))
        for x in rows:
            cells = [cell(m[x["id"]]) if x["id"] in m else "—" for m in by_id]
            print(f"| `{x['id']}` | {x['level']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
