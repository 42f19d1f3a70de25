#!/usr/bin/env bash
# The tussi benchmark: installs the peers by package name (through conformance/scripts/peers.sh), then runs the
# same workloads against each server, each server alone (start it, run its workloads, stop it, next), and writes a
# Markdown report (BENCHMARKS.md at the repository root by default).
#
#   bench/run.sh [--quick] [--only W1,W2,W3,W4,W5] [--servers ours,base,tussi,tus-node,rustus] [--out FILE]
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
for var in W1_MIB W1_RUNS W2_COUNT W2_SIZE W2_CONC W2_ROUNDS DURABLE_FILES W3_SECS W3_CONC W4_COUNT W4_MIB W5_COUNTS W5_CONC W5_FILL_CONC BENCH_MAX_SECS BENCH_SETTLE_SECS OURS_FLAGS; do
    [ -n "${!var+set}" ] && cmdline="$var='${!var}' $cmdline"
done
quick=0
only="W1,W2,W3,W4,W5"
servers="ours,tussi,tus-node,rustus"
out="$root/BENCHMARKS.md"
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
    case "$w" in W1 | W2 | W3 | W4 | W5) ;; *) echo "run.sh: unknown workload $w (W1..W5)" >&2; exit 2 ;; esac
done

if [ "$quick" = 1 ]; then
    : "${W1_MIB:=64}" "${W2_COUNT:=300}" "${W3_SECS:=2}" "${W4_COUNT:=10}" "${W4_MIB:=20}"
    : "${W5_COUNTS:=300 1000}" "${W5_CONC:=8}" "${BENCH_SETTLE_SECS:=0}" "${W2_ROUNDS:=1}"
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
            echo "== installing $s (peers.sh install $s)"
            if "$PEERS" install "$s"; then list+=("$s"); else
                printf '%s\t-\tskipped\treason\t%s\n' "$s" "peers.sh install $s failed" >> "$records"
            fi ;;
        *) echo "run.sh: unknown server $s (ours, base, tussi, tus-node, rustus)" >&2; exit 2 ;;
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
trap 'stop_server; rm -f "$run_dir/dd.tmp" "$run_dir/warm.tmp"; rm -rf "$run_dir/trash"' EXIT
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
warm_pages() {
    dd if=/dev/zero of="$run_dir/warm.tmp" bs=10M count=$(( DD_COUNT + DD_COUNT / 10 + 1 )) 2>/dev/null || true
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

param loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
read -r total0 steal0 <<<"$cpu_at_start"
read -r total1 steal1 <<<"$(machine_cpu)"
param stolen_pct "$(awk -v t="$((total1 - total0))" -v s="$((steal1 - steal0))" 'BEGIN { if (t > 0) printf "%.2f", 100 * s / t }')"
"$BENCH" report --records "$records" --out "$out"
echo "records: $records"
