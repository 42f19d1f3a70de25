#!/usr/bin/env bash
# tus-proto is sans-IO: no async runtime, HTTP server or OS bindings among its dependencies, and no I/O, threads
# or clock reads in its source. This script fails if either slips in.
set -euo pipefail
cd "$(dirname "$0")/.."

deps=$(cargo tree -p tus-proto -e normal --prefix none | awk '{print $1}' | sort -u)
forbidden='^(tokio|hyper|hyper-util|async-std|smol|async-io|async-executor|blocking|futures|futures-util|mio|nix|libc|getrandom|rustix)$'
if bad=$(grep -E "$forbidden" <<<"$deps"); then
    echo "tus-proto must stay sans-IO, but depends on: $bad" >&2
    exit 1
fi

if grep -rnE 'std::(fs|net|thread)\b|SystemTime::now|Instant::now|tokio|std::process' tus-proto/src; then
    echo "tus-proto/src must not do I/O, spawn threads or read the clock (see the lines above)" >&2
    exit 1
fi
echo "tus-proto is sans-IO: $(wc -l <<<"$deps") crates in its tree, none of them I/O"
