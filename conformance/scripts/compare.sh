#!/usr/bin/env bash
# Regenerates the results of CONFORMANCE.md: installs each peer by package name (PyPI tussi 3.1.0, npm @tus/server 2
# + @tus/file-store 2, crates.io rustus 0.5.10) and builds this workspace's tokio server, then runs the release build
# of tus-conformance against one server at a time (all on 127.0.0.1, each stopped by its PID before the next starts)
# and prints the summary table.
#
#   conformance/scripts/compare.sh [--markdown] [SERVER...]
#
# SERVER: tussi, tus-node, rustus, tussi-tokio (default: all four, in this order). --markdown prints the summary and
# the per-scenario matrix as Markdown (the tables of CONFORMANCE.md). Needs cargo, python3 (with venv), node and npm.
# Env: MAX_SIZE (default 1000000; passed to every server that has a size limit), OUT_DIR (default
# <target>/conformance: one <server>.json report each), PEERS_DIR (see peers.sh), SUITE_ARGS (extra tus-conformance
# arguments; default: wait up to 35 s for a server to close a stalled connection, so a 30 s timeout shows).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ws="$(cd "$here/../.." && pwd)"
MAX_SIZE="${MAX_SIZE:-1000000}"
SUITE_ARGS="${SUITE_ARGS:---server-timeout-wait 35 --scenario-timeout 45}"

markdown=()
servers=()
for a in "$@"; do
    case "$a" in
        --markdown) markdown=(--markdown) ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        tussi | tus-node | rustus | tussi-tokio) servers+=("$a") ;;
        *) echo "compare.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done
[ ${#servers[@]} -gt 0 ] || servers=(tussi tus-node rustus tussi-tokio)

for tool in cargo python3 node npm; do
    command -v "$tool" >/dev/null || { echo "compare.sh: $tool is required" >&2; exit 2; }
done

target="$(cd "$ws" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
OUT_DIR="${OUT_DIR:-$target/conformance}"
mkdir -p "$OUT_DIR"

echo "building tus-conformance (release)..." >&2
(cd "$ws" && cargo build --release --quiet -p tus-conformance)
bin="$target/release/tus-conformance"

peers() { PEER_INSTANCE="compare-$1" bash "$here/peers.sh" "$2" "$1" "${@:3}"; }

running=""
cleanup() {
    if [ -n "$running" ]; then
        peers "$running" stop || true
    fi
}
trap cleanup EXIT INT TERM

reports=()
for s in "${servers[@]}"; do
    echo "installing $s..." >&2
    peers "$s" install >&2
    started="$(peers "$s" start "$MAX_SIZE")"
    running="$s"
    url="$(sed -n 's/^URL=//p' <<<"$started")"
    data="$(sed -n 's/^DATA=//p' <<<"$started")"
    probe=()
    while IFS= read -r d; do probe+=(--data-dir "$d"); done < <(peers "$s" probe-dirs)
    echo "running tus-conformance against $s at $url..." >&2
    rc=0
    # shellcheck disable=SC2086 # SUITE_ARGS is a list of arguments
    "$bin" "$url" "${probe[@]}" $SUITE_ARGS --json >"$OUT_DIR/$s.json" || rc=$?
    peers "$s" stop
    running=""
    rm -rf "$data"
    # Exit status 1 only means that a MUST failed, 3 that the core MUSTs could not be exercised (both are in the
    # report); 2 means the server could not be tested.
    [ "$rc" -le 1 ] || [ "$rc" -eq 3 ] || { echo "compare.sh: tus-conformance could not test $s (exit $rc)" >&2; exit 2; }
    reports+=("$s=$OUT_DIR/$s.json")
done

python3 "$here/matrix.py" "${markdown[@]}" "${reports[@]}"
