#!/usr/bin/env bash
# Installs what the browser end-to-end test (adapters/tussi-cli/tests/browser.rs) needs, and checks Chromium.
#
#   install.sh        prints NODE_PREFIX=<the directory with node_modules> and CHROMIUM=<the browser to launch>
#
# The npm packages pinned in package.json and package-lock.json next to this script (Uppy 6 and puppeteer-core)
# are installed with `npm ci` into $PEERS_DIR/browser, once per PEERS_DIR and again only when the pins change;
# the install holds $PEERS_DIR/browser.lock (flock), so test binaries running at once install once. This is the
# pattern of conformance/scripts/peers.sh, whose installs share PEERS_DIR (default <workspace>/target/tus-peers).
#
# Chromium is the system's (Debian's `chromium`; CI's .ci/run installs it). It is never downloaded: a missing
# browser is an error, so that the test fails instead of passing without having run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_DIR="${PEERS_DIR:-$(cd "$here/../../.." && pwd)/target/tus-peers}"
mkdir -p "$PEERS_DIR"

die() { echo "install.sh: $*" >&2; exit 1; }

# Checked first: without a browser the install would be wasted.
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
[ -n "$chromium" ] && [ -x "$chromium" ] \
    || die "no Chromium found: install Debian's package (apt-get install chromium), or set CHROMIUM to a browser"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed (apt-get install nodejs npm)"

# node_install: $PEERS_DIR/browser/node_modules with `npm ci`. .pinned holds the sha256 of the pins it was made
# from; it is written last, so an interrupted install is redone.
node_install() {
    local dir="$PEERS_DIR/browser" stamp
    stamp="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$dir/.pinned" 2>/dev/null)" = "$stamp" ] && [ -d "$dir/node_modules" ]; then
        return 0
    fi
    mkdir -p "$dir"
    rm -f "$dir/.pinned"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    # PUPPETEER_SKIP_DOWNLOAD: belt and braces; puppeteer-core has no download step, the `puppeteer` package has.
    (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --silent --no-audit --no-fund >/dev/null)
    echo "$stamp" >"$dir/.pinned"
}

if command -v flock >/dev/null; then
    (
        flock 9
        node_install
    ) 9>"$PEERS_DIR/browser.lock"
else
    node_install
fi

echo "NODE_PREFIX=$PEERS_DIR/browser"
echo "CHROMIUM=$chromium"
