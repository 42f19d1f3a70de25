#!/usr/bin/env bash
# The portable crates build without any Linux-only crate, so that a library author on macOS or Windows can build
# tus-hyper with the memory store or a backend of their own: tus-proto, tus-store, and tus-hyper, tus-tokio and
# tus-smol with their filesystem feature (`fs`) off. Checked on the dependency graph (no nix, no
# tus-storage; rustix, which async-io uses, supports macOS and Windows too), then built.
set -euo pipefail
cd "$(dirname "$0")/.."
linux_only='^(nix|tus-storage) '
fail=0
for spec in "tus-proto" "tus-store" "tus-hyper --no-default-features" "tus-tokio --no-default-features" \
    "tus-smol --no-default-features"; do
    # shellcheck disable=SC2086 # $spec is a package name and its flags
    found="$(cargo tree -q -e normal,build --prefix none -p $spec | grep -E "$linux_only" | sort -u || true)"
    if [ -n "$found" ]; then
        echo "check-portability: $spec depends on Linux-only crates:"
        echo "$found"
        fail=1
    fi
done
# The check can fail: with its default features tus-hyper does pull in the filesystem store.
if ! cargo tree -q -e normal --prefix none -p tus-hyper | grep -qE '^tus-storage '; then
    echo "check-portability: tus-hyper with default features no longer shows tus-storage; is this check still right?"
    fail=1
fi
cargo build -q -p tus-hyper -p tus-tokio -p tus-smol --no-default-features
[ "$fail" = 0 ] && echo "check-portability: tus-proto, tus-store, tus-hyper, tus-tokio, tus-smol (no fs): no nix, no tus-storage"
exit "$fail"
