#!/usr/bin/env bash
# Builds every fuzz target in fuzz/ and runs each one for a short, bounded time on the stable toolchain
# (`--sanitizer none`), one at a time and single-process; fails on the first crash, leak or timeout. Before the
# runs it unit-tests the checks behind the targets (`cargo test` in fuzz/), which also replays every committed seed.
#
#   scripts/fuzz-smoke.sh                 # every target, FUZZ_SECONDS (default 15) each
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh request ops
#   FUZZ_SMOKE_TESTS=0 scripts/fuzz-smoke.sh   # skip the unit tests
#
# Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) when it is missing. New inputs the runs find go to a
# temporary directory, so the committed seed corpora (fuzz/corpus/<target>/seed-*) are only read. A crashing input
# is left in fuzz/artifacts/<target>/; reproduce it with `cargo fuzz run <target> --sanitizer none <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-15}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi

if [ "${FUZZ_SMOKE_TESTS:-1}" != 0 ]; then
    cargo test --manifest-path fuzz/Cargo.toml --locked
fi

cargo fuzz build --fuzz-dir fuzz --sanitizer none

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
summary=()
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    echo "fuzz-smoke: $target for ${seconds}s" >&2
    dict=()
    if [ -f "fuzz/dicts/$target.dict" ]; then dict=(-dict="$PWD/fuzz/dicts/$target.dict"); fi
    if ! cargo fuzz run --fuzz-dir fuzz --sanitizer none "$target" "$scratch/$target" "$PWD/fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz-smoke: $target FAILED (input saved under fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    summary+=("$target: ${done_line:-no DONE line}")
done
printf 'fuzz-smoke: %s\n' "${summary[@]}"
echo "fuzz-smoke: ${#targets[@]} passed, 0 failed"
