#!/usr/bin/env bash
# The tussi benchmark: installs the peers by package name (through conformance/scripts/peers.sh), then runs the
# same workloads against each server, each server alone (start it, run its workloads, stop it, next), and writes a
# Markdown report (bench/results/<UTC date and time>-run.md by default; BENCHMARKS.md is the hand-written summary).
#
#   bench/run.sh [--quick] [--only W1,W2,W3,W4,W5,W6,W7,S] [--servers ours,base,tussi,tus-node,rustus,tus-node-s3]
#                [--out FILE]
#
# `base` is our server from another build, for a before-and-after run of a change interleaved with `ours`:
# OURS_BASE_BIN names its binary (the tus-tokio `tokio-serve` example, or `serve` before it was renamed, built
# from the base commit), and the report gives ours ÷ base like any peer.
#
# W1  one upload of W1_MIB (1024) MiB in 10 MiB PATCHes, fsync on and off where the server can do both, W1_RUNS (5)
#     times, each on a freshly started server, the fastest reported (all listed); plus `dd bs=10M oflag=dsync` of
#     the same size on the same filesystem as the disk limit, and `tus-bench ceiling` (loopback TCP into the page
#     cache, no HTTP, W1_RUNS times) as the ceiling without fsync
# W2  W2_COUNT (10000) uploads of 4 KiB (POST + PATCH) with W2_CONC ("1 8 64") clients, the servers interleaved
#     (each case for every server back to back, each on a fresh server), W2_ROUNDS (2) rounds of that, the fastest
#     round reported (all listed); plus `tus-bench floor`
#     (the same exchanges over loopback with no HTTP and no files, W1_RUNS times, and once on one CPU) and our
#     storage alone (`small_uploads`) as the floor at one client; and `tus-bench durable` (DURABLE_FILES, at most
#     2000, new 4 KiB files written and fsynced by as many writers as clients) as the disk's floor with fsync
# W3  HEAD on one unfinished upload, W3_CONC (64) clients for W3_SECS (10) s
# W4  W4_COUNT (100) concurrent uploads of W4_MIB (100) MiB in 10 MiB PATCHes: throughput and peak RSS (VmHWM)
# W5  W2 (with W5_CONC clients) and W3 again after filling the upload directory with W5_COUNTS ("10000 100000")
#     unfinished uploads (POSTed by W5_FILL_CONC (64) clients)
# W6  object storage, only when named in --only: one SeaweedFS (`peers.sh start seaweedfs`) for the whole of W6;
#     ours is `tussi-server --store s3://tussi/<prefix> --workers 0` (release build of tussi-cli; finished uploads
#     stay in the bucket, as with the peer), the peer `tus-node-s3` (@tus/server + @tus/s3-store) on the same
#     SeaweedFS; each started once and kept running. On the fresh servers first: W6_RSS_COUNT (100) concurrent
#     uploads of W6_RSS_MIB (10) MiB, one PATCH each, peak RSS (VmHWM). Then W6_ROUNDS (3) interleaved rounds
#     (ours, peer, the store alone, per case) of (a) one upload of W6_BIG_MIB (1024) MiB in 10 MiB PATCHes and
#     (b) W6_SMALL (2000) uploads of 4 KiB with W6_SMALL_CONC (8) clients: median, min–max, ratio ours ÷ peer.
#     "The store alone" is the store's own limit: the same bytes as a plain S3 multipart upload in 10 MiB parts,
#     and W6_SMALL PUTs of 4 KiB from W6_SMALL_CONC connections (python3 http.client, unsigned requests).
#     W6_MAX_SECS (300) bounds each W6 run.
# W7  HTTP/2 against HTTP/1.1, only when named in --only: ours (the tokio-serve build above), one server per fsync
#     mode, each started once and kept running for the whole of W7. Cases: (a) one upload of W7_BIG_MIB (1024) MiB
#     in 10 MiB PATCHes; (b) W7_SMALL (5000) uploads of 4 KiB with each of W7_SMALL_CONC ("8 64") clients. Each over
#     HTTP/1.1 (tus-bench's own client, one connection per client), HTTP/2 (h2c with prior knowledge, hyper's client:
#     one connection per client) and, for (b), HTTP/2 with all clients multiplexed on one connection. W7_ROUNDS (3)
#     rounds; in each, per case and fsync mode, the protocols back to back, their order rotated round by round.
#     Report: median, min–max, every round, the ratio h2 ÷ h1, server CPU seconds of each run. W7_MAX_SECS (300)
#     bounds each W7 run.
# S   steady state, only when named in --only (bench/steady.py does the work): every server started once, each with
#     its own data directory and port, and kept running for the whole of S (no restarts, no cache drops between
#     runs, no settling pauses; finished uploads stay): ours with fsync, with --syncfs and with --no-fsync, rustus
#     with --force-fsync true and by default, the original tussi (fsync) and @tus/server. Cases: (a) one upload of
#     S_BIG_MIB (512) MiB in 10 MiB PATCHes, beside `dd conv=fdatasync` of that size and `tus-bench ceiling`;
#     (b) S_SMALL (3000) uploads of 4 KiB with each of S_SMALL_CONC ("8 64") clients, beside `tus-bench durable`
#     (S_DURABLE_FILES, min(S_SMALL, 2000), files per run); (c) HEAD, S_HEAD_CONC (8) clients for S_HEAD_SECS (5) s.
#     S_ROUNDS (3) rounds; in each, per case, every server (and limit) back to back, the order rotated round by
#     round. Then (d), once per server: S_PURGE_FILES (100000) small files created and deleted on the same
#     filesystem, and at once (b) with 8 clients (a server right after a mass deletion; 0 skips it). Report: median, min–max, every round, ours ÷ each peer of the same durability (fsync on: rustus
#     --force-fsync, tussi; off: rustus, @tus/server), server CPU. S_MAX_SECS (300) bounds each S run.
# Every count above can be overridden from the environment; --quick picks small ones for a smoke run.
# On ext4 without a journal, W2 runs start 65 s apart (BENCH_SETTLE_SECS, 0 with --quick; see `w2`).
# BENCH_DIR (default target/tus-bench) holds each run's binaries, records (records.tsv) and server data (removed
# after each server stops). BENCH_MAX_SECS (1800) bounds each workload run. OURS_FLAGS adds flags to our server
# (for example OURS_FLAGS=--inline-reads).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
cmdline="bench/run.sh${*:+ $*}"
for var in W1_MIB W1_RUNS W2_COUNT W2_SIZE W2_CONC W2_ROUNDS DURABLE_FILES W3_SECS W3_CONC W4_COUNT W4_MIB W5_COUNTS W5_CONC W5_FILL_CONC W6_BIG_MIB W6_SMALL W6_SMALL_CONC W6_ROUNDS W6_RSS_COUNT W6_RSS_MIB W6_MAX_SECS W7_BIG_MIB W7_SMALL W7_SMALL_CONC W7_ROUNDS W7_MAX_SECS S_BIG_MIB S_SMALL S_SMALL_CONC S_HEAD_CONC S_HEAD_SECS S_ROUNDS S_MAX_SECS S_DURABLE_FILES S_PURGE_FILES BENCH_MAX_SECS BENCH_SETTLE_SECS OURS_FLAGS; do
    [ -n "${!var+set}" ] && cmdline="$var='${!var}' $cmdline"
done
quick=0
only="W1,W2,W3,W4,W5"
servers="ours,tussi,tus-node,rustus,tus-node-s3"
out="$root/bench/results/$(date -u +%Y-%m-%d-%H%M)-run.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --only) only="${2:?--only needs a list}"; shift 2 ;;
        --servers) servers="${2:?--servers needs a list}"; shift 2 ;;
        --out) out="${2:?--out needs a file}"; shift 2 ;;
        -h | --help) sed -n '/^set -euo/q;2,$p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

for w in ${only//,/ }; do
    case "$w" in W1 | W2 | W3 | W4 | W5 | W6 | W7 | S) ;; *) echo "run.sh: unknown workload $w (W1..W7, S)" >&2; exit 2 ;; esac
done

if [ "$quick" = 1 ]; then
    : "${W1_MIB:=64}" "${W2_COUNT:=300}" "${W3_SECS:=2}" "${W4_COUNT:=10}" "${W4_MIB:=20}"
    : "${W5_COUNTS:=300 1000}" "${W5_CONC:=8}" "${BENCH_SETTLE_SECS:=0}" "${W2_ROUNDS:=1}"
    : "${W6_BIG_MIB:=64}" "${W6_SMALL:=200}" "${W6_ROUNDS:=1}" "${W6_RSS_COUNT:=10}"
    : "${W7_BIG_MIB:=64}" "${W7_SMALL:=300}" "${W7_ROUNDS:=1}"
    # S reads its sizes from the environment (bench/steady.py).
    : "${S_BIG_MIB:=64}" "${S_SMALL:=300}" "${S_ROUNDS:=2}" "${S_HEAD_SECS:=1}" "${S_PURGE_FILES:=5000}"
    export S_BIG_MIB S_SMALL S_ROUNDS S_HEAD_SECS S_PURGE_FILES
fi
W1_MIB="${W1_MIB:-1024}"
W1_RUNS="${W1_RUNS:-5}"
W2_COUNT="${W2_COUNT:-10000}"
W2_ROUNDS="${W2_ROUNDS:-2}"
W2_SIZE="${W2_SIZE:-4096}"
W2_CONC="${W2_CONC:-1 8 64}"
W3_SECS="${W3_SECS:-10}"
W3_CONC="${W3_CONC:-64}"
W4_COUNT="${W4_COUNT:-100}"
W4_MIB="${W4_MIB:-100}"
W5_COUNTS="${W5_COUNTS:-10000 100000}"
W5_CONC="${W5_CONC:-1 8 64}"
W5_FILL_CONC="${W5_FILL_CONC:-64}"
W6_BIG_MIB="${W6_BIG_MIB:-1024}"
W6_SMALL="${W6_SMALL:-2000}"
W6_SMALL_CONC="${W6_SMALL_CONC:-8}"
W6_ROUNDS="${W6_ROUNDS:-3}"
W6_RSS_COUNT="${W6_RSS_COUNT:-100}"
W6_RSS_MIB="${W6_RSS_MIB:-10}"
W6_MAX_SECS="${W6_MAX_SECS:-300}"
W7_BIG_MIB="${W7_BIG_MIB:-1024}"
W7_SMALL="${W7_SMALL:-5000}"
W7_SMALL_CONC="${W7_SMALL_CONC:-8 64}"
W7_ROUNDS="${W7_ROUNDS:-3}"
W7_MAX_SECS="${W7_MAX_SECS:-300}"
DURABLE_FILES="${DURABLE_FILES:-$(( W2_COUNT < 2000 ? W2_COUNT : 2000 ))}"
CHUNK_MIB=10
DD_COUNT=$(( (W1_MIB + CHUNK_MIB - 1) / CHUNK_MIB ))
MAX_SIZE=4294967296
MAX_SECS="${BENCH_MAX_SECS:-1800}"
PEERS="$root/conformance/scripts/peers.sh"
BENCH_DIR="${BENCH_DIR:-$root/target/tus-bench}"
run_dir="$BENCH_DIR/run-$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$run_dir/bin"
records="$run_dir/records.tsv"
: > "$records"

param() { printf 'run\t-\tparam\t%s\t%s\n' "$1" "$2" >> "$records"; }
selected() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# --- build: our server and the load generator, copied to private paths at once ---
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --quiet -p tus-tokio --example tokio-serve
cp "$target/release/examples/tokio-serve" "$run_dir/bin/serve-tokio"
cargo build --release --quiet -p tus-bench
cp "$target/release/tus-bench" "$run_dir/bin/tus-bench"
if selected W2; then
    cargo build --release --quiet -p tus-storage --example small_uploads
    cp "$target/release/examples/small_uploads" "$run_dir/bin/small_uploads"
fi
BENCH="$run_dir/bin/tus-bench"
# Whether any of W1..W5 runs: their peers are installed only then (W6 has its own, tus-node-s3).
files_workloads=0
for w in W1 W2 W3 W4 W5; do selected "$w" && files_workloads=1; done

# --- peers: install by package name; a peer that cannot be installed is reported as skipped ---
list=()
for s in ${servers//,/ }; do
    case "$s" in
        ours) list+=(ours) ;;
        base)
            [ -x "${OURS_BASE_BIN:-}" ] || { echo "run.sh: --servers base needs OURS_BASE_BIN=<serve binary>" >&2; exit 2; }
            cp "$OURS_BASE_BIN" "$run_dir/bin/serve-base"
            list+=(base) ;;
        tussi | tus-node | rustus)
            [ "$files_workloads" = 1 ] || continue
            echo "== installing $s (peers.sh install $s)"
            if "$PEERS" install "$s"; then list+=("$s"); else
                printf '%s\t-\tskipped\treason\t%s\n' "$s" "peers.sh install $s failed" >> "$records"
            fi ;;
        tus-node-s3) ;;  # W6 only: installed there
        *) echo "run.sh: unknown server $s (ours, base, tussi, tus-node, rustus, tus-node-s3)" >&2; exit 2 ;;
    esac
done

# Modes a server is run in: ours both; the original tussi fsyncs by default (fsync off only if peers.sh's app
# takes TUSSI_FSYNC); @tus/server and rustus never fsync.
tussi_can_nofsync=0
grep -q TUSSI_FSYNC "$PEERS" && tussi_can_nofsync=1
modes_of() {
    case "$1" in
        ours | base) echo "fsync nofsync" ;;
        tussi) if [ "$tussi_can_nofsync" = 1 ]; then echo "fsync nofsync"; else echo "fsync"; fi ;;
        *) echo "nofsync" ;;
    esac
}

# --- machine and run facts ---
param command "$cmdline"
param date "$(date -u '+%Y-%m-%d %H:%M UTC')"
param nproc "$(nproc)"
param memory "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
param cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
param disk "$(df -h "$run_dir" | tail -1 | tr -s ' ')"
fs_dev="$(basename "$(df --output=source "$run_dir" | tail -1)")"
journal="$(ls /proc/fs/jbd2 2>/dev/null | grep -q "^$fs_dev-" && echo yes || echo none)"
param filesystem "$(findmnt -n -o FSTYPE,OPTIONS -T "$run_dir" | tr -s ' '), journal: $journal"
# Seconds between the end of one W2 run and the start of the next on a filesystem without a journal (see
# `settle`); BENCH_SETTLE_SECS overrides (0: no pause).
if [ "$journal" = none ] && [ "$(findmnt -n -o FSTYPE -T "$run_dir")" = ext4 ]; then
    SETTLE_SECS="${BENCH_SETTLE_SECS:-65}"
else
    SETTLE_SECS="${BENCH_SETTLE_SECS:-0}"
fi
param settle_secs "$SETTLE_SECS"
# The kernel's dentry and inode caches are hash tables sized at boot (on this VM: 131,072 and 65,536 buckets, see
# `dmesg | grep 'hash table entries'`), and a run leaves millions of entries in them (every upload's files, kept
# until the end; W5's prefill): each later path lookup and inode creation then walks long chains, and a server
# that looks up more names per upload pays more. So every server starts with those caches emptied
# (`echo 3 > /proc/sys/vm/drop_caches`, after `sync`; needs root): each meets the same kernel state, whatever ran
# before it. Whether it works is found by doing it once here (root, and a /proc/sys that is not read-only); if it
# does not, nothing is dropped and the report says so.
if sync && { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then DROP_CACHES=1; else DROP_CACHES=0; fi
param drop_caches "$DROP_CACHES"
param kernel "$(uname -sr)"
param commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
param loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
# The machine's CPU ticks so far, "TOTAL STEAL" (the first line of /proc/stat, as tus-bench reads it per workload):
# how much CPU time the hypervisor took from this VM during the run.
machine_cpu() { awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9; exit }' /proc/stat; }
cpu_at_start="$(machine_cpu)"
param quick "$quick"
param records "$records"
param w1_mib "$W1_MIB"; param w1_chunk_mib "$CHUNK_MIB"; param w1_runs "$W1_RUNS"
param dd_command "dd if=/dev/zero of=FILE bs=10M count=$DD_COUNT oflag=dsync"
param w2_count "$W2_COUNT"; param w2_size "$W2_SIZE"; param w2_rounds "$W2_ROUNDS"
param w3_conc "$W3_CONC"; param w3_secs "$W3_SECS"
param w4_count "$W4_COUNT"; param w4_mib "$W4_MIB"; param w4_chunk_mib "$CHUNK_MIB"
param w5_fill_conc "$W5_FILL_CONC"
if [ "$tussi_can_nofsync" = 0 ]; then
    param fsync_note "peers.sh's app builds \`FilesystemStorage(dir)\` with the default fsync=True and has no \
setting for fsync=False, so the original tussi runs with fsync on only; ours is compared in the same mode."
fi

# --- one server at a time ---
SRV_NAME="" SRV_PID="" SRV_URL="" SRV_DATA=""

start_server() {  # NAME MODE
    local name="$1" mode="$2" output
    # Write back what the previous workload left in the page cache, so that no server pays for another's writes,
    # then empty the kernel's caches (see DROP_CACHES above).
    sync
    if [ "$DROP_CACHES" = 1 ]; then echo 3 > /proc/sys/vm/drop_caches; fi
    case "$name" in
        ours | base)
            SRV_DATA="$(mktemp -d "$run_dir/$name-data.XXXXXX")"
            local binary="$run_dir/bin/serve-tokio"
            [ "$name" = base ] && binary="$run_dir/bin/serve-base"
            local flags=()
            [ "$mode" = nofsync ] && flags+=(--no-fsync)
            # OURS_FLAGS: extra flags for our server, e.g. OURS_FLAGS=--inline-reads.
            read -r -a extra <<<"${OURS_FLAGS:-}"
            flags+=("${extra[@]}")
            "$binary" --host 127.0.0.1 --port 0 --upload-dir "$SRV_DATA/uploads" \
                --completed-dir "$SRV_DATA/completed" --max-size "$MAX_SIZE" "${flags[@]}" 2>"$SRV_DATA/server.log" &
            SRV_PID=$! SRV_NAME="$name"
            for _ in $(seq 1 100); do
                grep -q 'serving http://' "$SRV_DATA/server.log" && break
                kill -0 "$SRV_PID" 2>/dev/null || break
                sleep 0.1
            done
            SRV_URL="$(sed -n 's|.*serving \(http://[^ ]*\).*|\1|p' "$SRV_DATA/server.log" | head -1)"
            [ -n "$SRV_URL" ] || { cat "$SRV_DATA/server.log" >&2; stop_server; return 1; }
            ;;
        *)
            local envs=()
            [ "$name" = tussi ] && [ "$mode" = nofsync ] && envs+=(TUSSI_FSYNC=0)
            output="$(env "${envs[@]}" PEER_INSTANCE="bench-$name" "$PEERS" start "$name" "$MAX_SIZE")" || return 1
            SRV_NAME="$name"
            SRV_URL="$(sed -n 's/^URL=//p' <<<"$output")"
            SRV_PID="$(sed -n 's/^PID=//p' <<<"$output")"
            SRV_DATA="$(sed -n 's/^DATA=//p' <<<"$output")"
            ;;
    esac
    echo "== $name (fsync: $mode) at $SRV_URL, PID $SRV_PID"
}

stop_server() {
    [ -n "$SRV_NAME" ] || return 0
    if [ "$SRV_NAME" = ours ] || [ "$SRV_NAME" = base ]; then
        kill "$SRV_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    else
        PEER_INSTANCE="bench-$SRV_NAME" "$PEERS" stop "$SRV_NAME" || true
    fi
    [ -n "$SRV_DATA" ] && discard_data "$SRV_DATA"
    SRV_NAME="" SRV_PID="" SRV_URL="" SRV_DATA=""
}
# A data directory of many small files is set aside and removed only at the end of the run. On ext4 without a
# journal (this kind of VM disk) every inode allocation skips, one by one, the inodes freed in the last 60 s or
# more: a server started right after another's thousands of deletions would pay for them. Big files (few inodes)
# are removed at once, so that the disk does not fill up.
discard_data() {  # DIR
    if [ "$(find "$1" -maxdepth 3 | head -n 1001 | wc -l)" -gt 1000 ]; then
        mkdir -p "$run_dir/trash"
        mv "$1" "$run_dir/trash/"
    else
        rm -rf "$1"
    fi
}
# W6's servers and its SeaweedFS run side by side for the whole of W6 (see `w6_stop_all` below).
W6_NAMES=() W6_URLS=() W6_PIDS=() W6_DATAS=() W6_STORE_URL="" W6_STORE_PID="" W6_STORE_DATA=""
w6_stop_all() { :; }
# W7's servers (ours, one per fsync mode) run side by side for the whole of W7 (see `w7_stop_all` below).
W7_MODES=() W7_URLS=() W7_PIDS=() W7_DATAS=()
w7_stop_all() { :; }
# S's servers are started and stopped by bench/steady.py; after a failure, its `stop` ends what it left running
# (listed in $run_dir/steady-servers.tsv) and removes their data.
s_stop_all() {
    [ -f "$run_dir/steady-servers.tsv" ] || return 0
    python3 "$here/steady.py" stop --run-dir "$run_dir" --peers "$PEERS" || true
}
trap 'stop_server; w6_stop_all; w7_stop_all; s_stop_all; rm -f "$run_dir/dd.tmp" "$run_dir/warm.tmp"; rm -rf "$run_dir/trash"' EXIT
trap 'exit 130' INT TERM

bench() {  # SERVER MODE CASE tus-bench-args...
    local server="$1" mode="$2" case="$3"
    shift 3
    echo "-- $server ($mode) $case"
    "$BENCH" "$@" --url "$SRV_URL" --pid "$SRV_PID" --max-secs "$MAX_SECS" \
        --record "$records" --server "$server" --mode "$mode" --case "$case" || echo "   (failures: see the report)"
}

# The inodes a W2 run frees (ours unlinks one staging record per upload) would slow the inode allocations of the
# next run on ext4 without a journal, which skips every inode freed in the last 60 s: each W2 run starts only
# SETTLE_SECS after the previous one ended, with the disk synced.
last_w2_end=0
settle() {
    local wait=$(( last_w2_end + SETTLE_SECS - $(date +%s) ))
    sync
    if [ "$wait" -gt 0 ]; then
        echo "   (waiting ${wait} s for the inodes freed by the previous W2 run to age)"
        sleep "$wait"
    fi
}
w2() {  # SERVER MODE CASE CONCURRENCY
    settle
    bench "$1" "$2" "$3" upload --count "$W2_COUNT" --size "$W2_SIZE" --chunk "$W2_SIZE" --concurrency "$4"
    last_w2_end="$(date +%s)"
}

# Writing 1 GiB into the page cache is several times slower when the memory it gets was handed back to the
# hypervisor (free page reporting on VMs: free memory is reported about 2 s after it was freed, and faulted in again
# on its next use), so a W1 run's speed would depend on how long ago the machine last freed a gigabyte; a slowly
# starting server would pay more. Right before every W1 upload and every ceiling run, a file of W1's size (plus a
# tenth) is written into the page cache and deleted, so that each starts with the same freshly freed memory.
warm_pages() {  # [BLOCKS: the upload's size in 10 MiB blocks; W1's by default]
    local blocks="${1:-$DD_COUNT}"
    dd if=/dev/zero of="$run_dir/warm.tmp" bs=10M count=$(( blocks + blocks / 10 + 1 )) 2>/dev/null || true
    rm -f "$run_dir/warm.tmp"
}
warm_then() {  # command...
    warm_pages
    "$@"
}

# W1 runs W1_RUNS times, each on a freshly started server with an empty data directory (the uploads of earlier runs
# would otherwise hold their page cache), each after `warm_pages`; the fastest run is reported as the server's own
# speed. Its records are kept, and every run's MiB/s is listed beside it.
w1() {  # SERVER MODE
    local run one runs=()
    for run in $(seq 1 "$W1_RUNS"); do
        if [ "$run" -gt 1 ]; then
            stop_server
            if ! start_server "$1" "$2"; then
                one="$run_dir/w1-run$run.tsv"
                printf '%s\t%s\tW1\terrors\t1\n%s\t%s\tW1\tfirst_error\tserver did not restart\n' "$1" "$2" "$1" "$2" >"$one"
                runs+=("$one")
                break
            fi
        fi
        one="$run_dir/w1-run$run.tsv"
        rm -f "$one"
        warm_pages
        records="$one" bench "$1" "$2" W1 upload --count 1 --size "${W1_MIB}M" --chunk "${CHUNK_MIB}M" --concurrency 1
        runs+=("$one")
    done
    keep_fastest "$1" "$2" W1 mib_per_s runs_mib_per_s "${runs[@]}"
}

# Appends to the records the fastest of several runs' record files (by METRIC, among runs without errors or cut
# shorts), then the errors of the last failed run (so that the report flags them), then every run's METRIC under
# RUNS_METRIC ("a / b / c", in run order; a failed run's value is listed with it).
keep_fastest() {  # SERVER MODE CASE METRIC RUNS_METRIC FILE...
    local server="$1" mode="$2" case="$3" metric="$4" runs_metric="$5" one value errors best="" best_value=-1 failed="" all=""
    shift 5
    for one in "$@"; do
        value="$(awk -F'\t' -v m="$metric" '$4 == m { v = $5 } END { printf "%.0f", v }' "$one" 2>/dev/null || echo 0)"
        errors="$(awk -F'\t' '$4 == "errors" || $4 == "cut_short" { n += $5 } END { print n + 0 }' "$one" 2>/dev/null || echo 1)"
        all="${all:+$all / }$value"
        if [ "$errors" != 0 ]; then
            failed="$one"
        elif awk -v a="$value" -v b="$best_value" 'BEGIN { exit !(a > b) }'; then
            best="$one" best_value="$value"
        fi
    done
    if [ -n "$best" ]; then
        cat "$best" >> "$records"
        [ -z "$failed" ] || grep -P '\t(errors|cut_short|first_error)\t' "$failed" >> "$records" || true
    elif [ -n "$failed" ]; then
        cat "$failed" >> "$records"
    fi
    [ -z "$all" ] || printf '%s\t%s\t%s\t%s\t%s\n' "$server" "$mode" "$case" "$runs_metric" "$all" >> "$records"
    return 0
}

# A machine limit measured like the servers' W1: the command (a tus-bench run; its --record and tags are added here)
# runs W1_RUNS times; the fastest run's records are kept and every run's METRIC is listed under RUNS_METRIC.
best_of() {  # NAME MODE CASE METRIC RUNS_METRIC command...
    local name="$1" mode="$2" case="$3" metric="$4" runs_metric="$5" run value all="" best_value=-1
    shift 5
    local one="$run_dir/$name-run.tsv" best="$run_dir/$name-best.tsv"
    for run in $(seq 1 "$W1_RUNS"); do
        rm -f "$one"
        "$@" --record "$one" --server "$name" --mode "$mode" --case "$case" || echo "   (the $name run failed)"
        [ -f "$one" ] || continue
        value="$(awk -F'\t' -v m="$metric" '$4 == m { v = $5 } END { printf "%.0f", v }' "$one")"
        all="${all:+$all / }$value"
        if awk -v a="$value" -v b="$best_value" 'BEGIN { exit !(a > b) }'; then cp "$one" "$best"; best_value="$value"; fi
    done
    [ -f "$best" ] && cat "$best" >> "$records"
    [ -n "$all" ] && printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$case" "$runs_metric" "$all" >> "$records"
    return 0
}

# W2's floor at one client: an upload's two exchanges over loopback with no HTTP and no files (`tus-bench floor`),
# W1_RUNS times, the fastest recorded and every run listed; once more with both threads on one CPU, which shows
# what waking a thread on the other CPU costs. Then our storage alone (tus-storage's `small_uploads`: what a POST
# and a PATCH ask of the store, one thread, fsync off). No server can beat the floor at one client; the two together
# are what ours cannot go below without HTTP.
if selected W2; then
    echo "== W2 floor: tus-bench floor (an upload's two exchanges over loopback, no HTTP, no files)"
    best_of floor nofsync W2/c1 per_s runs_per_s "$BENCH" floor --count "$W2_COUNT" --size "$W2_SIZE"
    if command -v taskset >/dev/null; then
        taskset -c 0 "$BENCH" floor --count "$W2_COUNT" --size "$W2_SIZE" --record "$records" --server floor \
            --mode one-cpu --case W2/c1 || echo "   (the pinned floor run failed)"
    fi
    echo "== W2 storage alone: small_uploads (one thread, fsync off)"
    alone="$(mktemp -d "$run_dir/storage-alone.XXXXXX")"
    line="$("$run_dir/bin/small_uploads" "$alone/store" "$W2_COUNT" 1 "$W2_SIZE" || true)"
    echo "   $line"
    rate="$(sed -n 's|.*: \([0-9.]*\)/s;.*|\1|p' <<<"$line")"
    [ -n "$rate" ] && printf 'storage\tnofsync\tW2/c1\tper_s\t%s\n' "$rate" >> "$records"
    discard_data "$alone"
    last_w2_end="$(date +%s)"  # its deletions age like a W2 run's (see `w2`)
fi

# W2 runs interleaved: each case (concurrency) for every server and mode back to back, each on a freshly started
# server with an empty data directory, so that all servers sample the same stretch of the afternoon. On this kind
# of VM the speed of small-file work drifts severalfold within an hour (see `w2`), and running one server's
# cases after another's let that drift decide ratios. W2_ROUNDS rounds of that per case; the fastest clean round
# of each server is reported and every round listed: a server that a passing slowdown caught in one round is
# reported at its own speed from the other, and the list shows how far rounds disagree.
if selected W2; then
    for c in $W2_CONC; do
        for round in $(seq 1 "$W2_ROUNDS"); do
            for server in "${list[@]}"; do
                for mode in $(modes_of "$server"); do
                    one="$run_dir/w2-$server-$mode-c$c-round$round.tsv"
                    if ! start_server "$server" "$mode"; then
                        printf '%s\t%s\tW2/c%s\terrors\t1\n%s\t%s\tW2/c%s\tfirst_error\t%s\n' "$server" "$mode" "$c" \
                            "$server" "$mode" "$c" "server did not start" > "$one"
                        continue
                    fi
                    records="$one" w2 "$server" "$mode" "W2/c$c" "$c"
                    stop_server
                done
            done
        done
        for server in "${list[@]}"; do
            for mode in $(modes_of "$server"); do
                rounds=()
                for round in $(seq 1 "$W2_ROUNDS"); do rounds+=("$run_dir/w2-$server-$mode-c$c-round$round.tsv"); done
                keep_fastest "$server" "$mode" "W2/c$c" per_s runs_per_s "${rounds[@]}"
            done
        done
    done
fi

# W2's disk floor with fsync: new files of W2's size written and fsynced by as many writers as W2 has clients
# (`tus-bench durable`), DURABLE_FILES in all per concurrency; what the original tussi waits for once per upload.
# After the W2 runs, so that its syncs do not disturb them; its files are set aside like a server's data.
if selected W2; then
    for c in $W2_CONC; do
        echo "== W2 disk floor with fsync: tus-bench durable, $c writer(s)"
        settle
        durable_dir="$(mktemp -d "$run_dir/durable.XXXXXX")"
        "$BENCH" durable --dir "$durable_dir" --files "$DURABLE_FILES" --size "$W2_SIZE" --writers "$c" \
            --record "$records" --server durable --mode fsync --case "W2/c$c" || echo "   (the durable run failed)"
        discard_data "$durable_dir"
    done
fi

# W1's limits come after W2: writing and syncing gigabytes keeps a VM's disk (and the host's cache behind it)
# busy for a while after the writes return, which the first W2 runs with fsync would otherwise pay for.
if selected W1; then
    echo "== disk limit: dd bs=10M count=$DD_COUNT oflag=dsync"
    dd_out="$(LC_ALL=C dd if=/dev/zero of="$run_dir/dd.tmp" bs=10M count="$DD_COUNT" oflag=dsync 2>&1 | tail -1)"
    rm -f "$run_dir/dd.tmp"
    echo "   $dd_out"
    dd_mib="$(sed -n 's/^\([0-9]*\) bytes.* copied, \([0-9.e+-]*\) s,.*/\1 \2/p' <<<"$dd_out" \
        | awk '{ if ($2 > 0) printf "%.2f", $1 / 1048576 / $2 }')"
    [ -n "$dd_mib" ] && printf 'disk\tdsync\tW1\tmib_per_s\t%s\n' "$dd_mib" >> "$records"
fi

# W1's ceiling without fsync: what this machine moves from loopback TCP into the page cache with no HTTP at all
# (`tus-bench ceiling`: a socket reader and a file writer thread), into the same filesystem, W1_RUNS times like the
# servers' W1, the fastest recorded and every run listed. No server can beat it at the same moment.
if selected W1; then
    echo "== W1 ceiling: tus-bench ceiling (loopback TCP into the page cache, no HTTP)"
    best_of ceiling nofsync W1 mib_per_s runs_mib_per_s \
        warm_then "$BENCH" ceiling --file "$run_dir/ceiling.tmp" --size "${W1_MIB}M" --chunk "${CHUNK_MIB}M"
fi

for server in "${list[@]}"; do
    modes="$(modes_of "$server")"
    for w in W1 W3 W4 W5; do
        selected "$w" || continue
        run_modes="$modes"
        [ "$w" = W3 ] && run_modes="${modes%% *}"  # HEAD writes nothing: one run, in the default mode
        for mode in $run_modes; do
            if ! start_server "$server" "$mode"; then
                printf '%s\t%s\t%s\tfirst_error\t%s\n' "$server" "$mode" "$w" "server did not start" >> "$records"
                continue
            fi
            case "$w" in
                W1) w1 "$server" "$mode" ;;
                W3) bench "$server" - W3 head --concurrency "$W3_CONC" --secs "$W3_SECS" ;;
                W4) bench "$server" "$mode" W4 upload --count "$W4_COUNT" --size "${W4_MIB}M" --chunk "${CHUNK_MIB}M" \
                        --concurrency "$W4_COUNT" ;;
                W5)
                    have=0
                    for n in $W5_COUNTS; do
                        [ "$n" -gt "$have" ] || continue
                        bench "$server" "$mode" "W5/$n/prefill" upload --create-only --count "$((n - have))" \
                            --size "$W2_SIZE" --chunk "$W2_SIZE" --concurrency "$W5_FILL_CONC"
                        have="$n"
                        for c in $W5_CONC; do w2 "$server" "$mode" "W5/$n/W2/c$c" "$c"; done
                        bench "$server" "$mode" "W5/$n/W3" head --concurrency "$W3_CONC" --secs "$W3_SECS"
                    done ;;
            esac
            stop_server
        done
    done
done

# --- W6: object storage ---
# One SeaweedFS (`weed mini`, from peers.sh) for the whole of W6, and every W6 server on it, each started once and
# kept running: ours (`tussi-server --store`, workers off: a finished upload stays in the bucket as one object, as
# with @tus/s3-store) under a prefix of its own, the peer `tus-node-s3` at the bucket's root. Each server's
# VmHWM is a high-water mark over its whole life, so the peak-RSS case runs first, on the freshly started
# servers; the throughput cases run after it in interleaved rounds (per case: ours, the peer, the store alone),
# so that every server samples the same stretch of time, and the report gives medians with min–max.
W6_STORE_INSTANCE="bench-w6-seaweedfs-$$"
W6_ENV=(AWS_ENDPOINT="" AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=tussi-bench AWS_SECRET_ACCESS_KEY=tussi-bench
    AWS_REGION=us-east-1)

w6_stop_all() {
    local i
    for i in "${!W6_NAMES[@]}"; do
        case "${W6_NAMES[$i]}" in
            ours)
                kill "${W6_PIDS[$i]}" 2>/dev/null || true
                for _ in $(seq 1 50); do kill -0 "${W6_PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
                kill -9 "${W6_PIDS[$i]}" 2>/dev/null || true
                wait "${W6_PIDS[$i]}" 2>/dev/null || true ;;
            *) PEER_INSTANCE="bench-w6-${W6_NAMES[$i]}-$$" "$PEERS" stop "${W6_NAMES[$i]}" || true ;;
        esac
        rm -rf "${W6_DATAS[$i]}"
    done
    W6_NAMES=() W6_URLS=() W6_PIDS=() W6_DATAS=()
    if [ -n "$W6_STORE_PID" ]; then
        PEER_INSTANCE="$W6_STORE_INSTANCE" "$PEERS" stop seaweedfs || true
        rm -rf "$W6_STORE_DATA"
        W6_STORE_PID="" W6_STORE_URL="" W6_STORE_DATA=""
    fi
}

w6_start() {  # SERVER: starts it on the store and appends it to W6_NAMES..W6_DATAS
    local name="$1" output url pid data
    case "$name" in
        ours)
            data="$(mktemp -d "$run_dir/w6-ours.XXXXXX")"
            env "${W6_ENV[@]}" AWS_ENDPOINT="$W6_STORE_URL" "$run_dir/bin/tussi-server" --no-prompt --host 127.0.0.1 \
                --port 0 --store "s3://tussi/bench-w6-$$" --workers 0 --dest-dir "$data/dest" --max-size "$MAX_SIZE" \
                >"$data/server.out" 2>"$data/server.log" &
            pid=$!
            for _ in $(seq 1 100); do
                grep -q 'serving http://' "$data/server.out" && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            url="$(sed -n 's|.*serving \(http://[^ ]*\).*|\1|p' "$data/server.out" | head -1)"
            if [ -z "$url" ]; then
                cat "$data/server.out" "$data/server.log" >&2
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                rm -rf "$data"
                return 1
            fi ;;
        *)
            output="$(env "${W6_ENV[@]}" AWS_ENDPOINT="$W6_STORE_URL" S3_ENDPOINT="$W6_STORE_URL" \
                PEER_INSTANCE="bench-w6-$name-$$" "$PEERS" start "$name" "$MAX_SIZE")" || return 1
            url="$(sed -n 's/^URL=//p' <<<"$output")"
            pid="$(sed -n 's/^PID=//p' <<<"$output")"
            data="$(sed -n 's/^DATA=//p' <<<"$output")" ;;
    esac
    W6_NAMES+=("$name") W6_URLS+=("$url") W6_PIDS+=("$pid") W6_DATAS+=("$data")
    echo "== W6: $name at $url, PID $pid"
}

# CPU seconds of one process so far (utime + stime), from /proc; 0 when it is gone.
proc_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" \
        2>/dev/null || echo 0
}

# The store's own limit, with the bytes tus-bench sends (0x5a): `big MIB PART_MIB` is one multipart upload of MIB
# MiB in parts of PART_MIB MiB over one connection; `small COUNT SIZE CONC` is COUNT PUTs of SIZE bytes from CONC
# connections. Unsigned requests (SeaweedFS without identities takes them). Records like tus-bench's.
store_limit() {  # CASE MODE ARGS...
    python3 - "$W6_STORE_URL" "$records" "$1" "$W6_MAX_SECS" "${@:2}" <<'PY'
import http.client, re, sys, threading, time, urllib.parse, uuid

url, record, case, max_secs, mode, *args = sys.argv[1:]
u = urllib.parse.urlsplit(url)
deadline = time.monotonic() + float(max_secs)
body = memoryview(b"\x5a" * (1 << 20))
prefix = f"/tussi/store-limit/{uuid.uuid4()}"


def connect():
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def put(conn, path, size):
    conn.putrequest("PUT", path)
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    left = size
    while left:
        n = min(left, len(body))
        conn.send(body[:n])
        left -= n
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError(f"PUT {path} answered {r.status}")
    return r.getheader("ETag")


ok, errors, first = 0, 0, None
cpu0, t0 = time.process_time(), time.monotonic()
if mode == "big":
    total, part = int(args[0]) << 20, int(args[1]) << 20
    try:
        c = connect()
        c.request("POST", prefix + "?uploads")
        r = c.getresponse()
        upload = re.search(r"<UploadId>(.*?)</UploadId>", r.read().decode()).group(1)
        etags, sent = [], 0
        while sent < total:
            if time.monotonic() > deadline:
                raise RuntimeError("time limit")
            size = min(part, total - sent)
            etags.append(put(c, f"{prefix}?partNumber={len(etags) + 1}&uploadId={upload}", size))
            sent += size
        parts = "".join(f"<Part><PartNumber>{i + 1}</PartNumber><ETag>{e}</ETag></Part>" for i, e in enumerate(etags))
        complete = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>"
        c.request("POST", f"{prefix}?uploadId={upload}", body=complete)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"completion answered {r.status}")
        ok, total_bytes = 1, total
    except Exception as e:
        errors, first, total_bytes = 1, str(e), 0
else:
    count, size, conc = int(args[0]), int(args[1]), int(args[2])
    lock, state = threading.Lock(), {"next": 0, "ok": 0, "errors": 0, "first": None}

    def client():
        c = connect()
        while time.monotonic() < deadline:
            with lock:
                i = state["next"]
                if i >= count or state["errors"] >= 1000:
                    return
                state["next"] = i + 1
            try:
                put(c, f"{prefix}-{i}", size)
                with lock:
                    state["ok"] += 1
            except Exception as e:
                with lock:
                    state["errors"] += 1
                    state["first"] = state["first"] or str(e)
                c.close()
                c = connect()

    threads = [threading.Thread(target=client) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok, errors, first = state["ok"], state["errors"], state["first"]
    errors += count - ok - errors  # not sent before the time limit
    total_bytes = ok * size
secs = time.monotonic() - t0
rows = {"ok": ok, "errors": errors, "secs": f"{secs:.3f}", "per_s": f"{ok / secs:.2f}",
        "mib_per_s": f"{total_bytes / 1048576 / secs:.2f}", "client_cpu_s": f"{time.process_time() - cpu0:.2f}",
        "cut_short": 0}
if first:
    rows["first_error"] = first.replace("\t", " ").replace("\n", " ")
with open(record, "a") as f:
    for metric, value in rows.items():
        f.write(f"store\ts3\t{case}\t{metric}\t{value}\n")
print(f"store alone {mode}: {ok} ok, {errors} errors in {secs:.2f} s: {ok / secs:.1f}/s, "
      f"{total_bytes / 1048576 / secs:.1f} MiB/s" + (f"; first error: {first}" if first else ""))
PY
}

# One W6 run: SERVER (a W6 server or `store`) CASE, then tus-bench's upload arguments (for `store`: store_limit's).
# Records SeaweedFS's CPU seconds during the run beside the run's own records.
w6_run() {  # SERVER CASE ARGS...
    local server="$1" case="$2" i store_cpu
    shift 2
    sync
    store_cpu="$(proc_cpu "$W6_STORE_PID")"
    echo "-- W6 $server $case"
    if [ "$server" = store ]; then
        store_limit "$case" "$@" || echo "   (the store-limit run failed)"
    else
        for i in "${!W6_NAMES[@]}"; do [ "${W6_NAMES[$i]}" = "$server" ] && break; done
        "$BENCH" upload "$@" --url "${W6_URLS[$i]}" --pid "${W6_PIDS[$i]}" --max-secs "$W6_MAX_SECS" \
            --record "$records" --server "$server" --mode s3 --case "$case" || echo "   (failures: see the report)"
    fi
    printf '%s\ts3\t%s\tstore_cpu_s\t%s\n' "$server" "$case" \
        "$(awk -v a="$store_cpu" -v b="$(proc_cpu "$W6_STORE_PID")" 'BEGIN { printf "%.2f", b - a }')" >> "$records"
}

# W6's Markdown section from the records: per case and server, the median of the rounds with min–max and every
# round, the ratio ours ÷ that server (of the medians, and per round), CPU seconds of the server and of SeaweedFS.
w6_report() {
    python3 - "$records" <<'PY'
import statistics, sys

rows = [line.rstrip("\n").split("\t", 4) for line in open(sys.argv[1]) if line.count("\t") >= 4]
param = {r[3]: r[4] for r in rows if r[0] == "run" and r[2] == "param"}
recs = {}
for server, mode, case, metric, value in rows:
    if case.startswith("W6/"):
        recs[(server, case, metric)] = value
servers = [s for s in param.get("w6_servers", "").split() if s] + ["store"]
rounds = int(param.get("w6_rounds", "0") or 0)
label = {"ours": "**tussi (ours)**", "tus-node-s3": "@tus/server 2 + @tus/s3-store 2",
         "store": "the store alone (python3 http.client)"}
notes = []


def num(server, case, metric):
    try:
        return float(recs[(server, case, metric)])
    except (KeyError, ValueError):
        return None


def fmt(v):
    if v is None:
        return "—"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def flag(server, case):
    errors = num(server, case, "errors") or 0
    cut = (num(server, case, "cut_short") or 0) > 0
    if not errors and not cut:
        return ""
    first = recs.get((server, case, "first_error"), "-")
    note = f"{server} {case}: {errors:.0f} errors{', cut short' if cut else ''}; first: {first}"
    if note not in notes:
        notes.append(note)
    return " ⚠"


def clean(server, case):
    return not (num(server, case, "errors") or 0) and not (num(server, case, "cut_short") or 0)


def series(server, kind, metric):
    return [(r, num(server, f"W6/{kind}/r{r}", metric)) for r in range(1, rounds + 1)]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


out = []
p = out.append
p("## W6 — object storage: S3 on loopback\n")
p(f"Store: {param.get('w6_store', '?')}; one instance for the whole of W6, stopped at its end. Ours: "
  "`tussi-server --store s3://tussi/bench-w6-<pid> --workers 0` (tussi-cli, release build; tus-bucket's defaults: "
  "5 MiB parts, 32 MiB of part buffers for all uploads together). Peer: `@tus/server` 2.4.5 with `@tus/s3-store` "
  "2.0.7 (`peers.sh` tus-node-s3: its defaults, 8 MiB parts, each part written to a temporary file before it is "
  "sent; path-style, checksums only where S3 requires them). Both keep a finished upload as one object in the "
  "bucket (a completed multipart upload): ours runs no workers, so nothing is delivered into a dest dir. The "
  "store alone: the same bytes sent straight to SeaweedFS by python3 `http.client` (unsigned requests), as one "
  "multipart upload in parts of the PATCH size over one connection, and as plain PUTs of 4 KiB from as many "
  "connections as clients: the store's own limit at that moment.\n")
p(f"Each server was started once and kept running (all of them side by side, idle when not measured). "
  f"{rounds} round(s), interleaved: in each round, per case, ours, the peer, the store alone back to back. "
  "Figures: the median of the rounds, min–max, and every round in order; `ours ÷` is ours' median over that "
  "row's median (above 1: ours is faster), then per round. Bodies are tus-bench's (every byte 0x5a): SeaweedFS "
  "compresses them, so it writes far fewer bytes to disk than it receives. Client, servers and SeaweedFS share "
  "the machine's CPUs; SeaweedFS's CPU seconds during each run are listed.\n")


def ratio_cells(metric, kind, server):
    if server == "ours":
        return "—"
    ours_med = median([v for r, v in series("ours", kind, metric) if clean("ours", f"W6/{kind}/r{r}")])
    med = median([v for r, v in series(server, kind, metric) if clean(server, f"W6/{kind}/r{r}")])
    if ours_med is None or not med:
        return "—"
    per = []
    for (r, o), (_, v) in zip(series("ours", kind, metric), series(server, kind, metric)):
        per.append(f"×{fmt(o / v)}" if o is not None and v else "—")
    return f"**×{fmt(ours_med / med)}** ({' / '.join(per)})"


def table(kind, metric, unit, extra):
    p(f"| server | {unit}, median | min–max | each round | ours ÷ this | " + " | ".join(h for h, _ in extra) + " |")
    p("|---|---:|---:|---|---|" + "---:|" * len(extra))
    for server in servers:
        vals = series(server, kind, metric)
        if all(v is None for _, v in vals):
            continue
        good = [v for r, v in vals if v is not None and clean(server, f"W6/{kind}/r{r}")]
        marks = "".join(sorted({flag(server, f"W6/{kind}/r{r}") for r, _ in vals}))
        each = " / ".join(fmt(v) + flag(server, f"W6/{kind}/r{r}") for r, v in vals)
        rng = f"{fmt(min(good))}–{fmt(max(good))}" if good else "—"
        cells = [fn(server) for _, fn in extra]
        p(f"| {label.get(server, server)} | {fmt(median(good))}{marks} | {rng} | {each} | "
          f"{ratio_cells(metric, kind, server)} | " + " | ".join(cells) + " |")
    p("")


def med_metric(kind, metric, scale=1.0, per=None):
    def cell(server):
        vals = []
        for r in range(1, rounds + 1):
            v = num(server, f"W6/{kind}/r{r}", metric)
            n = num(server, f"W6/{kind}/r{r}", per) if per else 1.0
            if v is not None and n:
                vals.append(v * scale / n)
        return fmt(median(vals))
    return cell


big, small = param.get("w6_big_mib", "?"), param.get("w6_small", "?")
p(f"### (a) one upload of {big} MiB in {param.get('w6_chunk_mib', '?')} MiB PATCHes — MiB/s\n")
table("big", "mib_per_s", "MiB/s", [("server CPU s, median", med_metric("big", "server_cpu_s")),
                                     ("SeaweedFS CPU s, median", med_metric("big", "store_cpu_s")),
                                     ("client CPU s, median", med_metric("big", "client_cpu_s"))])
p(f"### (b) {small} uploads of 4 KiB (POST + PATCH; the store alone: one PUT each), "
  f"{param.get('w6_small_conc', '?')} clients — uploads/s\n")
table("small", "per_s", "uploads/s", [("p99 ms per upload, median", med_metric("small", "p99_ms")),
                                       ("server CPU ms per upload, median",
                                        med_metric("small", "server_cpu_s", 1000.0, "ok")),
                                       ("SeaweedFS CPU ms per upload, median",
                                        med_metric("small", "store_cpu_s", 1000.0, "ok"))])
count, mib = param.get("w6_rss_count", "?"), param.get("w6_rss_mib", "?")
p(f"### (c) peak RSS: {count} concurrent uploads of {mib} MiB, one PATCH each\n")
p("Run first, on the freshly started servers: `VmHWM` (the kernel's high-water mark of the resident set) of the "
  "server process and its live children, read at the end, covers the server's start and this case. The last two "
  "columns: `VmHWM` over all of W6, and `VmRSS` at its end.\n")
p("| server | peak RSS MiB (VmHWM) | MiB/s | p99 s per upload | server CPU s | SeaweedFS CPU s | VmHWM, all of W6 | "
  "VmRSS at the end |")
p("|---|---:|---:|---:|---:|---:|---:|---:|")
for server in servers:
    if server == "store" or num(server, "W6/rss", "peak_rss_mib") is None:
        continue
    p99 = num(server, "W6/rss", "p99_ms")
    p(f"| {label.get(server, server)} | {fmt(num(server, 'W6/rss', 'peak_rss_mib'))}{flag(server, 'W6/rss')} | "
      f"{fmt(num(server, 'W6/rss', 'mib_per_s'))} | {fmt(p99 / 1000 if p99 is not None else None)} | "
      f"{fmt(num(server, 'W6/rss', 'server_cpu_s'))} | {fmt(num(server, 'W6/rss', 'store_cpu_s'))} | "
      f"{fmt(num(server, 'W6/all', 'VmHWM_mib'))} | {fmt(num(server, 'W6/all', 'VmRSS_mib'))} |")
p("")
ours_rss = num("ours", "W6/rss", "peak_rss_mib")
if ours_rss is not None:
    verdict = "**met**" if ours_rss <= 64 and clean("ours", "W6/rss") else "**missed**"
    p(f"Target: peak RSS of ours ≤ 64 MiB in (c): {fmt(ours_rss)} MiB, {verdict}.\n")
if notes:
    p("W6 notes:\n")
    for note in notes:
        p(f"- {note}")
    p("")
print("\n".join(out))
PY
}

if selected W6; then
    w6_list=()
    case ",$servers," in
        *,ours,*)
            echo "== building tussi-server (release) for W6"
            if cargo build --release --quiet -p tussi-cli --bin tussi-server; then
                cp "$target/release/tussi-server" "$run_dir/bin/tussi-server"
                w6_list+=(ours)
            else
                printf 'ours\t-\tskipped\treason\t%s\n' "W6: building tussi-server failed" >> "$records"
            fi ;;
    esac
    case ",$servers," in
        *,tus-node-s3,*)
            echo "== installing tus-node-s3 (peers.sh install tus-node-s3)"
            if "$PEERS" install tus-node-s3; then w6_list+=(tus-node-s3); else
                printf 'tus-node-s3\t-\tskipped\treason\t%s\n' "peers.sh install tus-node-s3 failed" >> "$records"
            fi ;;
    esac
    param w6_big_mib "$W6_BIG_MIB"; param w6_small "$W6_SMALL"; param w6_small_conc "$W6_SMALL_CONC"
    param w6_rounds "$W6_ROUNDS"; param w6_rss_count "$W6_RSS_COUNT"; param w6_rss_mib "$W6_RSS_MIB"
    param w6_chunk_mib "$CHUNK_MIB"; param w6_servers "${w6_list[*]}"
    echo "== W6: starting SeaweedFS (peers.sh start seaweedfs)"
    if output="$(PEER_INSTANCE="$W6_STORE_INSTANCE" "$PEERS" start seaweedfs)"; then
        W6_STORE_URL="$(sed -n 's/^URL=//p' <<<"$output")"
        W6_STORE_PID="$(sed -n 's/^PID=//p' <<<"$output")"
        W6_STORE_DATA="$(sed -n 's/^DATA=//p' <<<"$output")"
        weed="$("$PEERS" install seaweedfs | sed -n 's/^WEED=//p')"
        param w6_store "SeaweedFS $("$weed" version 2>/dev/null | head -1 | sed 's/^version //') (\`weed mini\`, PyPI \
$(tr -d '\n' < "$root/conformance/scripts/deps/requirements-seaweedfs.txt")) at $W6_STORE_URL"
        echo "== W6: SeaweedFS at $W6_STORE_URL, PID $W6_STORE_PID"
    else
        printf 'store\t-\tskipped\treason\t%s\n' "W6: peers.sh start seaweedfs failed" >> "$records"
        w6_list=()
    fi
    started=()
    for server in "${w6_list[@]}"; do
        if w6_start "$server"; then started+=("$server"); else
            printf '%s\t-\tskipped\treason\t%s\n' "$server" "W6: the server did not start" >> "$records"
        fi
    done
    # (c) first, on the fresh servers: their VmHWM then covers their start and this case only.
    for server in "${started[@]}"; do
        w6_run "$server" W6/rss --count "$W6_RSS_COUNT" --size "${W6_RSS_MIB}M" --chunk "${W6_RSS_MIB}M" \
            --concurrency "$W6_RSS_COUNT"
    done
    if [ "${#started[@]}" -gt 0 ]; then
        for round in $(seq 1 "$W6_ROUNDS"); do
            for server in "${started[@]}" store; do
                if [ "$server" = store ]; then w6_run store "W6/big/r$round" big "$W6_BIG_MIB" "$CHUNK_MIB"; else
                    w6_run "$server" "W6/big/r$round" --count 1 --size "${W6_BIG_MIB}M" --chunk "${CHUNK_MIB}M" \
                        --concurrency 1
                fi
            done
            for server in "${started[@]}" store; do
                if [ "$server" = store ]; then
                    w6_run store "W6/small/r$round" small "$W6_SMALL" 4096 "$W6_SMALL_CONC"
                else
                    w6_run "$server" "W6/small/r$round" --count "$W6_SMALL" --size 4096 --chunk 4096 \
                        --concurrency "$W6_SMALL_CONC"
                fi
            done
        done
    fi
    # Each server's high-water mark over all of W6, and what it holds at the end.
    for i in "${!W6_NAMES[@]}"; do
        for field in VmHWM VmRSS; do
            kib="$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/${W6_PIDS[$i]}/status" 2>/dev/null || true)"
            [ -z "$kib" ] || printf '%s\ts3\tW6/all\t%s_mib\t%.1f\n' "${W6_NAMES[$i]}" "$field" \
                "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')" >> "$records"
        done
    done
    w6_stop_all
fi

# --- W7: HTTP/2 against HTTP/1.1 ---
# Ours only (the tokio-serve build above), one server per fsync mode, each started once (after `sync` and emptying
# the kernel's caches, as for every server) and kept running for the whole of W7: the HTTP/1.1 and HTTP/2 runs of a
# case meet the same server in the same state, seconds apart. In each round, per case and fsync mode, the protocols
# run back to back in an order rotated round by round, so that none always runs first (or always right after
# another's file writes and deletions); with servers kept running there is no settling pause as in W2. Before each
# big upload, `warm_pages` as in W1. The finished uploads stay in the data directories until the end of W7.
w7_stop_all() {
    local i
    for i in "${!W7_PIDS[@]}"; do
        kill "${W7_PIDS[$i]}" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "${W7_PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
        kill -9 "${W7_PIDS[$i]}" 2>/dev/null || true
        wait "${W7_PIDS[$i]}" 2>/dev/null || true
        discard_data "${W7_DATAS[$i]}"
    done
    W7_MODES=() W7_URLS=() W7_PIDS=() W7_DATAS=()
}

w7_start() {  # MODE: starts ours in that fsync mode and appends it to W7_MODES..W7_DATAS
    local mode="$1" data pid url flags=()
    data="$(mktemp -d "$run_dir/w7-ours-$mode.XXXXXX")"
    [ "$mode" = nofsync ] && flags+=(--no-fsync)
    read -r -a extra <<<"${OURS_FLAGS:-}"
    flags+=("${extra[@]}")
    "$run_dir/bin/serve-tokio" --host 127.0.0.1 --port 0 --upload-dir "$data/uploads" \
        --completed-dir "$data/completed" --max-size "$MAX_SIZE" "${flags[@]}" 2>"$data/server.log" &
    pid=$!
    for _ in $(seq 1 100); do
        grep -q 'serving http://' "$data/server.log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    url="$(sed -n 's|.*serving \(http://[^ ]*\).*|\1|p' "$data/server.log" | head -1)"
    if [ -z "$url" ]; then
        cat "$data/server.log" >&2
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        rm -rf "$data"
        return 1
    fi
    W7_MODES+=("$mode") W7_URLS+=("$url") W7_PIDS+=("$pid") W7_DATAS+=("$data")
    echo "== W7: ours (fsync: $mode) at $url, PID $pid"
}

# One W7 run: MODE KIND (big, cN) PROTO (h1; h2: one HTTP/2 connection per client; h2-1conn: every client on one
# HTTP/2 connection) ROUND, then tus-bench's upload arguments.
w7_run() {  # MODE KIND PROTO ROUND ARGS...
    local mode="$1" kind="$2" proto="$3" round="$4" i http=()
    shift 4
    for i in "${!W7_MODES[@]}"; do [ "${W7_MODES[$i]}" = "$mode" ] && break; done
    case "$proto" in
        h2) http=(--http2) ;;
        h2-1conn) http=(--http2 --connections 1) ;;
    esac
    sync
    [ "$kind" = big ] && warm_pages "$(( (W7_BIG_MIB + CHUNK_MIB - 1) / CHUNK_MIB ))"
    echo "-- W7 ours ($mode) $kind $proto, round $round"
    "$BENCH" upload "$@" "${http[@]}" --url "${W7_URLS[$i]}" --pid "${W7_PIDS[$i]}" --max-secs "$W7_MAX_SECS" \
        --record "$records" --server ours --mode "$mode" --case "W7/$kind/$proto/r$round" \
        || echo "   (failures: see the report)"
}

# W7's Markdown section from the records: per case, fsync mode and protocol, the median of the rounds with min–max
# and every round, the ratio h2 ÷ h1 (of the medians, and per round), and each run's server CPU seconds.
w7_report() {
    python3 - "$records" <<'PY'
import statistics, sys

rows = [line.rstrip("\n").split("\t", 4) for line in open(sys.argv[1]) if line.count("\t") >= 4]
param = {r[3]: r[4] for r in rows if r[0] == "run" and r[2] == "param"}
recs = {}
for server, mode, case, metric, value in rows:
    if server == "ours" and case.startswith("W7/"):
        recs[(mode, case, metric)] = value
modes = [m for m in param.get("w7_modes", "").split() if m]
rounds = int(param.get("w7_rounds", "0") or 0)
label = {"h1": "HTTP/1.1", "h2": "HTTP/2, a connection per client", "h2-1conn": "HTTP/2, all clients on one connection"}
notes = []


def num(mode, case, metric):
    try:
        return float(recs[(mode, case, metric)])
    except (KeyError, ValueError):
        return None


def fmt(v):
    if v is None:
        return "—"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def clean(mode, case):
    return not (num(mode, case, "errors") or 0) and not (num(mode, case, "cut_short") or 0)


def flag(mode, case):
    if clean(mode, case):
        return ""
    errors = num(mode, case, "errors") or 0
    cut = (num(mode, case, "cut_short") or 0) > 0
    first = recs.get((mode, case, "first_error"), "-")
    note = f"ours {mode} {case}: {errors:.0f} errors{', cut short' if cut else ''}; first: {first}"
    if note not in notes:
        notes.append(note)
    return " ⚠"


def case_of(kind, proto, r):
    return f"W7/{kind}/{proto}/r{r}"


def series(mode, kind, proto, metric):
    return [(r, num(mode, case_of(kind, proto, r), metric)) for r in range(1, rounds + 1)]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def good(mode, kind, proto, metric):
    return [v for r, v in series(mode, kind, proto, metric) if v is not None and clean(mode, case_of(kind, proto, r))]


def ratio_cell(mode, kind, proto, metric):
    if proto == "h1":
        return "—"
    h1, h2 = median(good(mode, kind, "h1", metric)), median(good(mode, kind, proto, metric))
    if h1 is None or h2 is None or not h1:
        return "—"
    per = []
    for (r, a), (_, b) in zip(series(mode, kind, "h1", metric), series(mode, kind, proto, metric)):
        per.append(f"×{fmt(b / a)}" if a and b is not None else "—")
    return f"**×{fmt(h2 / h1)}** ({' / '.join(per)})"


def table(kind, metric, unit, protos, extra):
    p(f"| fsync | protocol | {unit}, median | min–max | each round | h2 ÷ h1 | server CPU s, each round | "
      + " | ".join(h for h, _ in extra) + " |")
    p("|---|---|---:|---:|---|---|---|" + "---:|" * len(extra))
    for mode in modes:
        for proto in protos:
            vals = series(mode, kind, proto, metric)
            if all(v is None for _, v in vals):
                continue
            ok = good(mode, kind, proto, metric)
            marks = "".join(sorted({flag(mode, case_of(kind, proto, r)) for r, _ in vals}))
            each = " / ".join(fmt(v) + flag(mode, case_of(kind, proto, r)) for r, v in vals)
            rng = f"{fmt(min(ok))}–{fmt(max(ok))}" if ok else "—"
            cpu = " / ".join(fmt(v) for _, v in series(mode, kind, proto, "server_cpu_s"))
            cells = [fn(mode, kind, proto) for _, fn in extra]
            p(f"| {'on' if mode == 'fsync' else 'off'} | {label.get(proto, proto)} | {fmt(median(ok))}{marks} | {rng} | "
              f"{each} | {ratio_cell(mode, kind, proto, metric)} | {cpu} | " + " | ".join(cells) + " |")
    p("")


def med(metric, scale=1.0, per=None):
    def cell(mode, kind, proto):
        vals = []
        for r in range(1, rounds + 1):
            v = num(mode, case_of(kind, proto, r), metric)
            n = num(mode, case_of(kind, proto, r), per) if per else 1.0
            if v is not None and n:
                vals.append(v * scale / n)
        return fmt(median(vals))
    return cell


def connections(mode, kind, proto):
    seen = sorted({int(v) for _, v in series(mode, kind, proto, "connects") if v is not None})
    return " / ".join(str(v) for v in seen) or "—"


out = []
p = out.append
p("## W7 — HTTP/2 (h2c) against HTTP/1.1\n")
p("Server: ours, the `tus-tokio` example `tokio-serve` (release), which serves HTTP/1.1 and cleartext HTTP/2 with "
  "prior knowledge on one port (hyper-util's auto connection builder in `tus_hyper::serve`), from one "
  "single-threaded runtime per CPU with connections dealt out in turn (`tus_tokio::serve_on_threads`), so one "
  "connection is served by one thread. Its HTTP/2 settings, from `ServeOptions::max_buf_size` (64 KiB, the bound of "
  "an HTTP/1.1 connection's read buffer): a stream window of 4 of these (256 KiB), a connection window of 8 "
  "(512 KiB), frames of one (64 KiB), at most 64 concurrent streams per connection. One server per fsync mode, each "
  "started once and kept running for the whole of W7.\n")
p("Client: `tus-bench upload`, the same uploads and checks either way. HTTP/1.1: its own blocking client, a thread "
  "and a keep-alive connection per client. HTTP/2 (`--http2`): hyper's HTTP/2 client connection on a tokio runtime "
  "with as many threads as clients, at most one per CPU; each client a task whose requests are streams on its own "
  "connection, or (`--connections 1`) on the one connection all clients share. Bodies are sent from one static "
  "buffer either way.\n")
p(f"{rounds} round(s), interleaved: in each round, per case and fsync mode, the protocols back to back, their "
  "order rotated round by round. Figures: the median of the rounds, min–max, and every round in order; "
  "`h2 ÷ h1` is that row's median over HTTP/1.1's median in the same mode (above 1: HTTP/2 is faster), then per "
  "round. Client and server share the machine's CPUs: the client's CPU seconds are listed beside the server's.\n")
big = param.get("w7_big_mib", "?")
p(f"### (a) one upload of {big} MiB in {param.get('w7_chunk_mib', '?')} MiB PATCHes — MiB/s\n")
table("big", "mib_per_s", "MiB/s", ["h1", "h2"],
      [("server CPU s, median", med("server_cpu_s")), ("client CPU s, median", med("client_cpu_s"))])
for c in param.get("w7_small_conc", "").split():
    p(f"### (b) {param.get('w7_small', '?')} uploads of 4 KiB (POST + PATCH), {c} clients — uploads/s\n")
    table(f"c{c}", "per_s", "uploads/s", ["h1", "h2", "h2-1conn"],
          [("p99 ms per upload, median", med("p99_ms")),
           ("server CPU µs per upload, median", med("server_cpu_s", 1e6, "ok")),
           ("client CPU µs per upload, median", med("client_cpu_s", 1e6, "ok")),
           ("connections", connections)])
hwm = [(m, num(m, "W7/all", "VmHWM_mib")) for m in modes]
if any(v is not None for _, v in hwm):
    p("Peak RSS of each server over all of W7 (`VmHWM`): "
      + ", ".join(f"fsync {'on' if m == 'fsync' else 'off'} {fmt(v)} MiB" for m, v in hwm) + ".\n")
if notes:
    p("W7 notes:\n")
    for note in notes:
        p(f"- {note}")
    p("")
print("\n".join(out))
PY
}

if selected W7; then
    w7_modes=()
    case ",$servers," in *,ours,*) w7_modes=(fsync nofsync) ;; esac
    param w7_big_mib "$W7_BIG_MIB"; param w7_chunk_mib "$CHUNK_MIB"; param w7_small "$W7_SMALL"
    param w7_small_conc "$W7_SMALL_CONC"; param w7_rounds "$W7_ROUNDS"
    sync
    if [ "$DROP_CACHES" = 1 ]; then echo 3 > /proc/sys/vm/drop_caches; fi
    w7_started=()
    for mode in "${w7_modes[@]}"; do
        if w7_start "$mode"; then w7_started+=("$mode"); else
            printf 'ours\t-\tskipped\treason\t%s\n' "W7: the server (fsync: $mode) did not start" >> "$records"
        fi
    done
    param w7_modes "${w7_started[*]}"
    if [ "${#w7_started[@]}" -gt 0 ]; then
        for round in $(seq 1 "$W7_ROUNDS"); do
            for kind in big $(printf 'c%s ' $W7_SMALL_CONC); do
                protos=(h1 h2)
                [ "$kind" = big ] || protos+=(h2-1conn)
                k=$(( (round - 1) % ${#protos[@]} ))
                order=("${protos[@]:k}" "${protos[@]:0:k}")
                for mode in "${w7_started[@]}"; do
                    for proto in "${order[@]}"; do
                        if [ "$kind" = big ]; then
                            w7_run "$mode" big "$proto" "$round" --count 1 --size "${W7_BIG_MIB}M" \
                                --chunk "${CHUNK_MIB}M" --concurrency 1
                        else
                            w7_run "$mode" "$kind" "$proto" "$round" --count "$W7_SMALL" --size 4096 --chunk 4096 \
                                --concurrency "${kind#c}"
                        fi
                    done
                done
            done
        done
    fi
    # Each server's high-water mark over all of W7.
    for i in "${!W7_MODES[@]}"; do
        kib="$(awk '$1 == "VmHWM:" { print $2 }' "/proc/${W7_PIDS[$i]}/status" 2>/dev/null || true)"
        [ -z "$kib" ] || printf 'ours\t%s\tW7/all\tVmHWM_mib\t%.1f\n' "${W7_MODES[$i]}" \
            "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')" >> "$records"
    done
    w7_stop_all
fi

# --- S: steady state ---
# bench/steady.py (see its docstring): every server started once and kept running for the whole of S, interleaved
# rounds with the order rotated, the machine's limits in the same rounds; it appends to the records and stops its
# servers at its end (or `s_stop_all` in the EXIT trap does).
if selected S; then
    python3 "$here/steady.py" run --bench "$BENCH" --serve "$run_dir/bin/serve-tokio" --peers "$PEERS" \
        --run-dir "$run_dir" --records "$records" --servers "$servers" --max-size "$MAX_SIZE" \
        --drop-caches "$DROP_CACHES" || echo "run.sh: S failed (see above)" >&2
fi

param loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
read -r total0 steal0 <<<"$cpu_at_start"
read -r total1 steal1 <<<"$(machine_cpu)"
param stolen_pct "$(awk -v t="$((total1 - total0))" -v s="$((steal1 - steal0))" 'BEGIN { if (t > 0) printf "%.2f", 100 * s / t }')"
"$BENCH" report --records "$records" --out "$out"
# W6's, W7's and S's sections (medians of interleaved rounds, which `tus-bench report` does not render) go before
# the Notes, in that order.
insert_section() {  # FILE
    awk -v section="$1" '
        /^## Notes$/ && !done { while ((getline line < section) > 0) print line; done = 1 }
        { print }
        END { if (!done) while ((getline line < section) > 0) print line }' "$out" > "$out.tmp"
    mv "$out.tmp" "$out"
}
if selected W6; then
    w6_report > "$run_dir/w6.md"
    insert_section "$run_dir/w6.md"
fi
if selected W7; then
    w7_report > "$run_dir/w7.md"
    insert_section "$run_dir/w7.md"
fi
if selected S; then
    python3 "$here/steady.py" report --records "$records" > "$run_dir/s.md"
    insert_section "$run_dir/s.md"
fi
# W6, W7 or S without W1..W5: the run facts, then from the first of their sections on; the method, server table,
# targets and sections of W1..W5 are not theirs.
if [ "$files_workloads" = 0 ] && { selected W6 || selected W7 || selected S; }; then
    awk '/^## (W[67]|S) / { on = 1 } !head || on { print } /^- Raw records:/ { head = 1; print "" }' "$out" > "$out.tmp"
    mv "$out.tmp" "$out"
fi
echo "records: $records"
