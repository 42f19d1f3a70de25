#!/usr/bin/env python3
"""Workload S of bench/run.sh: the servers in a steady state, the way users run them.

Every server is started once at the beginning of S, each with its own data directory and port, and kept running
until S ends: no restarts, no cache drops between runs, no settling pauses, and every finished upload stays on
disk, so the state each server works on grows round by round as it would in production. S_ROUNDS rounds; in each,
for each case, every server runs back to back, in an order rotated by one place per round (so that none always
runs first, or always right after the same neighbour). The machine's own limits run in the same rounds and the
same rotation. The report gives per case and server the median of the rounds with min–max and every round, and
ours ÷ each peer of the same durability (fsync on against fsync on, off against off), per round and as a median.

Servers (`--servers` picks among ours, rustus, tussi, tus-node; `ours` brings all three of our modes, `rustus`
both of its modes):
    fsync on:  ours (tokio-serve, fsync by default), ours --syncfs, rustus --force-fsync true, original tussi
    fsync off: ours --no-fsync, rustus (default), @tus/server (tus-node)
Cases:
    (a) big    one upload of S_BIG_MIB (512) MiB in 10 MiB PATCHes; beside it `dd conv=fdatasync` of that size on the
               same filesystem (the disk's limit) and `tus-bench ceiling` (loopback TCP into the page cache, no HTTP)
    (b) cC     S_SMALL (3000) uploads of 4 KiB (POST + PATCH) with C clients, for each C in S_SMALL_CONC ("8 64");
               beside it `tus-bench durable` (S_DURABLE_FILES new 4 KiB files fsynced by C writers: the disk's floor)
    (c) head   `tus-bench head`: S_HEAD_CONC (8) clients HEAD one unfinished upload for S_HEAD_SECS (5) s
    (d) purged after the rounds, once per server (and for `tus-bench durable`): S_PURGE_FILES (100000) small files
               created in one directory of the same filesystem and deleted, then at once (b) with 8 clients: what
               a server meets right after a mass deletion (a janitor's sweep, a worker's clean-up); 0 skips it
S_MAX_SECS (300) bounds every run. Every figure lands in run.sh's records file (`server mode case metric value`,
tab-separated; cases S/big/r1, S/c8/r2, S/head/r3...).

Run it through run.sh, which builds the binaries and renders the rest of the report:
    bench/run.sh --only S [--quick] [--servers ours,rustus,tussi,tus-node] [--out FILE]
run.sh calls:
    steady.py run --bench TUS_BENCH --serve TOKIO_SERVE --peers PEERS_SH --run-dir DIR --records FILE
                  --servers LIST [--max-size BYTES] [--drop-caches 0|1]
    steady.py report --records FILE        prints the Markdown section
    steady.py stop --run-dir DIR --peers PEERS_SH
                                           stops whatever `run` left running and removes S's data (the EXIT trap)
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

CHUNK_MIB = 10
SMALL_SIZE = 4096
# The file that lists what `run` started, so that `stop` (run.sh's EXIT trap) can end it after a failure.
STATE_FILE = "steady-servers.tsv"
# The durable floor's files are kept until the end of S, like the servers' uploads; removed with S's data.
LIMITS_DIR = "s-limits"

# Every (server, mode) S can run, in the base order of the rotation; the durability group of each; its label.
SERVERS = [
    ("ours", "fsync"), ("ours", "syncfs"), ("ours", "nofsync"),
    ("rustus", "fsync"), ("rustus", "nofsync"), ("tussi", "fsync"), ("tus-node", "nofsync"),
]
GROUP = {
    ("ours", "fsync"): "on", ("ours", "syncfs"): "on", ("rustus", "fsync"): "on", ("tussi", "fsync"): "on",
    ("disk", "fdatasync"): "on", ("durable", "fsync"): "on",
    ("ours", "nofsync"): "off", ("rustus", "nofsync"): "off", ("tus-node", "nofsync"): "off",
    ("ceiling", "nofsync"): "off",
}
LABEL = {
    ("ours", "fsync"): "**ours** (fsync)",
    ("ours", "syncfs"): "**ours** `--syncfs`",
    ("ours", "nofsync"): "**ours** `--no-fsync`",
    ("rustus", "fsync"): "rustus 0.5.10 `--force-fsync true`",
    ("rustus", "nofsync"): "rustus 0.5.10 (default: no fsync)",
    ("tussi", "fsync"): "original tussi 3.1.0 (fsync)",
    ("tus-node", "nofsync"): "@tus/server 2 (no fsync)",
    ("disk", "fdatasync"): "limit: `dd bs=10M conv=fdatasync`",
    ("ceiling", "nofsync"): "limit: `tus-bench ceiling` (no HTTP, page cache)",
    ("durable", "fsync"): "floor: `tus-bench durable`, new 4 KiB files fsynced (files/s)",
}
# Our rows and the peers each is compared with: the main pairs first (against rustus, like for like).
OURS = {"on": [("ours", "fsync"), ("ours", "syncfs")], "off": [("ours", "nofsync")]}
PEERS = {"on": [("rustus", "fsync"), ("tussi", "fsync")], "off": [("rustus", "nofsync"), ("tus-node", "nofsync")]}
# The machine's limits run beside each case kind, in its durability group.
LIMITS = {"big": [("disk", "fdatasync"), ("ceiling", "nofsync")], "small": [("durable", "fsync")], "head": []}
# A run during which the hypervisor took at least this share of the CPU is marked ‡ (as in tus-bench report).
DISTURBED_STOLEN_PCT = 10.0
# Case (d) repeats (b) with this many clients.
PURGED_CLIENTS = 8


# --- configuration ---

@dataclass
class Config:
    big_mib: int
    small: int
    small_conc: list
    head_conc: int
    head_secs: str  # passed to tus-bench as given
    rounds: int
    max_secs: int
    durable_files: int
    purge_files: int


def config_from_env():
    """Every count from the environment (run.sh's --quick sets small ones), with S's defaults."""
    small = int(os.environ.get("S_SMALL", "3000"))
    return Config(
        big_mib=int(os.environ.get("S_BIG_MIB", "512")),
        small=small,
        small_conc=[int(c) for c in os.environ.get("S_SMALL_CONC", "8 64").split()],
        head_conc=int(os.environ.get("S_HEAD_CONC", "8")),
        head_secs=os.environ.get("S_HEAD_SECS", "5"),
        rounds=int(os.environ.get("S_ROUNDS", "3")),
        max_secs=int(os.environ.get("S_MAX_SECS", "300")),
        durable_files=int(os.environ.get("S_DURABLE_FILES", str(min(small, 2000)))),
        purge_files=int(os.environ.get("S_PURGE_FILES", "100000")),
    )


# --- records ---

class Records:
    """Appends to run.sh's records file: `server mode case metric value`, tab-separated."""

    def __init__(self, path):
        self.path = path

    def add(self, server, mode, case, metric, value):
        text = str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")
        with open(self.path, "a") as f:
            f.write(f"{server}\t{mode}\t{case}\t{metric}\t{text}\n")

    def param(self, key, value):
        self.add("run", "-", "param", key, value)

    def failed(self, server, mode, case, reason):
        """A run that produced no records of its own (it did not start, or was killed): one error, and why."""
        self.add(server, mode, case, "errors", 1)
        self.add(server, mode, case, "cut_short", 0)
        self.add(server, mode, case, "first_error", reason)


# --- servers ---

@dataclass
class Server:
    server: str
    mode: str
    url: str
    pid: int
    data: str
    instance: str = ""  # PEER_INSTANCE for peers.sh; empty for ours
    process: subprocess.Popen = field(default=None, repr=False)

    @property
    def key(self):
        return (self.server, self.mode)

    def alive(self):
        if self.process is not None:
            return self.process.poll() is None
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False


def selected_servers(servers_arg):
    """The (server, mode) pairs `--servers` asks for, in the rotation's base order (other names are other
    workloads' servers: base, tus-node-s3)."""
    names = {s.strip() for s in servers_arg.split(",") if s.strip()}
    return [key for key in SERVERS if key[0] in names]


def start_ours(args, mode):
    """Our server in one mode, on a free port with its own data directory; (Server, None) or (None, why not)."""
    data = tempfile.mkdtemp(prefix=f"s-ours-{mode}.", dir=args.run_dir)
    flags = {"fsync": [], "syncfs": ["--syncfs"], "nofsync": ["--no-fsync"]}[mode]
    flags += shlex.split(os.environ.get("OURS_FLAGS", ""))
    log_path = os.path.join(data, "server.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [args.serve, "--host", "127.0.0.1", "--port", "0", "--upload-dir", f"{data}/uploads",
             "--completed-dir", f"{data}/completed", "--max-size", str(args.max_size), *flags],
            stdout=subprocess.DEVNULL, stderr=log)
    url = None
    for _ in range(100):  # it prints `serving http://...` on stderr once it listens
        with open(log_path) as log:
            found = re.search(r"serving (http://\S+)", log.read())
        if found:
            url = found.group(1)
            break
        if process.poll() is not None:
            break
        time.sleep(0.1)
    if url is None:
        with open(log_path) as log:
            text = log.read()
        stop_process(process.pid, process)
        shutil.rmtree(data, ignore_errors=True)
        if mode == "syncfs" and "--syncfs" in text:
            return None, "this build of tokio-serve does not take --syncfs"
        last = text.strip().splitlines()[-1:] or ["no output"]
        return None, f"tokio-serve did not start: {last[0]}"
    return Server("ours", mode, url, process.pid, data, process=process), None


def install_peer(args, name):
    """`peers.sh install NAME` (a no-op once installed; rustus compiles for minutes the first time)."""
    print(f"== S: installing {name} (peers.sh install {name})", flush=True)
    try:
        done = subprocess.run([args.peers, "install", name], timeout=3600)
        return done.returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_peer(args, name, mode):
    """A peer through peers.sh under a PEER_INSTANCE of its own; (Server, None) or (None, why not)."""
    instance = f"bench-s-{name}-{mode}-{os.getpid()}"
    env = dict(os.environ, PEER_INSTANCE=instance)
    # rustus reads each flag from the environment too: RUSTUS_FORCE_FSYNC=true is `--force-fsync true`, and
    # peers.sh passes its environment on. The original tussi fsyncs unless TUSSI_FSYNC=0.
    env.pop("RUSTUS_FORCE_FSYNC", None)
    env.pop("TUSSI_FSYNC", None)
    if name == "rustus" and mode == "fsync":
        env["RUSTUS_FORCE_FSYNC"] = "true"
    try:
        done = subprocess.run([args.peers, "start", name, str(args.max_size)], env=env, capture_output=True,
                              text=True, timeout=600)
    except subprocess.TimeoutExpired:
        subprocess.run([args.peers, "stop", name], env=env)
        return None, "peers.sh start timed out"
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return None, f"peers.sh start {name} failed: {last[0]}"
    out = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return Server(name, mode, out["URL"], int(out["PID"]), out["DATA"], instance=instance), None


def save_state(args, running):
    """Lists the running servers for `stop`, rewritten after each start."""
    with open(os.path.join(args.run_dir, STATE_FILE), "w") as f:
        for s in running:
            f.write(f"{s.server}\t{s.mode}\t{s.pid}\t{s.instance}\t{s.data}\n")


def start_all(args, rec, wanted):
    """Starts every wanted server once; a server that cannot be installed or started is skipped with a note."""
    running, installed = [], {}
    for server, mode in wanted:
        if server == "ours":
            srv, why = start_ours(args, mode)
        else:
            if server not in installed:
                installed[server] = install_peer(args, server)
            srv, why = start_peer(args, server, mode) if installed[server] else (None, f"peers.sh install {server} failed")
        if srv is None:
            print(f"== S: skipping {server} ({mode}): {why}", flush=True)
            rec.add(server, mode, "S/skipped", "reason", why)
            continue
        running.append(srv)
        save_state(args, running)
        print(f"== S: {server} ({mode}) at {srv.url}, PID {srv.pid}", flush=True)
    return running


def stop_process(pid, process=None):
    """TERM, up to 5 s for it to exit, then KILL; reaps it when it is our child."""
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    for _ in range(50):
        if process is not None and process.poll() is not None:
            return
        if process is None:
            try:
                os.kill(pid, 0)
            except OSError:
                return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    if process is not None:
        process.wait()


def stop_server(peers, server, pid, instance, data, process=None):
    if server == "ours":
        stop_process(pid, process)
    else:
        subprocess.run([peers, "stop", server], env=dict(os.environ, PEER_INSTANCE=instance))
    # peers.sh keeps a peer's data for inspection; S's is only state, removed with the server.
    shutil.rmtree(data, ignore_errors=True)


def stop_all(args, running):
    for s in running:
        stop_server(args.peers, s.server, s.pid, s.instance, s.data, s.process)
    shutil.rmtree(os.path.join(args.run_dir, LIMITS_DIR), ignore_errors=True)
    try:
        os.unlink(os.path.join(args.run_dir, STATE_FILE))
    except FileNotFoundError:
        pass


def stop_from_state(args):
    """`steady.py stop`: ends what a `run` that did not finish left behind, from its state file."""
    path = os.path.join(args.run_dir, STATE_FILE)
    if os.path.exists(path):
        for line in open(path):
            server, mode, pid, instance, data = line.rstrip("\n").split("\t")
            pid = int(pid)
            # Ours is killed by PID only while that PID is still a tokio-serve (not a reused PID).
            if server == "ours":
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        ours = b"serve" in f.read()
                except OSError:
                    ours = False
                if not ours:
                    shutil.rmtree(data, ignore_errors=True)
                    continue
            print(f"== S: stopping {server} ({mode}), PID {pid}")
            stop_server(args.peers, server, pid, instance, data)
        os.unlink(path)
    shutil.rmtree(os.path.join(args.run_dir, LIMITS_DIR), ignore_errors=True)


# --- the machine ---

def machine_cpu():
    """(all ticks, steal ticks) so far, from the first line of /proc/stat, as run.sh's machine_cpu."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    ticks = [int(v) for v in fields[1:9]]
    return sum(ticks), ticks[7]


def data_state(path):
    """(files, MiB on disk) under a data directory."""
    files, blocks = 0, 0
    for top, _, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            files += 1
            blocks += st.st_blocks
    return files, blocks * 512 / 1048576


def record_state(rec, running, when):
    """Each server's data directory now: the files it has accumulated, and their size on disk (for ours, its
    upload and completed directories: not the log beside them)."""
    for s in running:
        dirs = [f"{s.data}/uploads", f"{s.data}/completed"] if s.server == "ours" else [s.data]
        files, mib = (sum(v) for v in zip(*map(data_state, dirs)))
        rec.add(s.server, s.mode, f"S/state/{when}", "files", files)
        rec.add(s.server, s.mode, f"S/state/{when}", "mib", f"{mib:.1f}")


def record_peak_rss(rec, running):
    """Each server's high-water mark of resident memory over all of S (VmHWM of its main process)."""
    for s in running:
        try:
            with open(f"/proc/{s.pid}/status") as f:
                kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        except (OSError, StopIteration):
            continue
        rec.add(s.server, s.mode, "S/state/end", "VmHWM_mib", f"{kib / 1024:.1f}")


# --- one run ---

def run_bounded(cmd, secs, env=None):
    """Runs a command with a hard time bound; (exit code or None when it was killed, its output)."""
    try:
        done = subprocess.run(cmd, timeout=secs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return None, out
    return done.returncode, done.stdout


def show(output):
    for line in output.strip().splitlines():
        print(f"   {line}")
    sys.stdout.flush()


def tus_bench(args, rec, tags, cmd, secs):
    """One tus-bench run that records under TAGS (server, mode, case); a run that records nothing is an error."""
    server, mode, case = tags
    code, output = run_bounded([args.bench, *cmd, "--record", args.records, "--server", server, "--mode", mode,
                                "--case", case], secs)
    show(output)
    if code is None:
        rec.failed(server, mode, case, f"killed after {secs} s")
    elif code not in (0, 1):  # 1: the run recorded its own errors; anything else recorded nothing
        last = output.strip().splitlines()[-1:] or [f"exit code {code}"]
        rec.failed(server, mode, case, last[0])


def warm_pages(args, mib):
    """run.sh's warm_pages: a file of the upload's size (plus a tenth) written into the page cache and deleted, so
    that every big run starts with freshly freed memory (on this VM, memory handed back to the hypervisor is several
    times slower to fill again)."""
    blocks = (mib + CHUNK_MIB - 1) // CHUNK_MIB
    path = os.path.join(args.run_dir, "warm.tmp")
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=10M", f"count={blocks + blocks // 10 + 1}"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.unlink(path)


def run_dd(args, rec, cfg, case):
    """The disk's limit: the big upload's bytes written by dd and made durable with one fdatasync at the end."""
    path = os.path.join(args.run_dir, "dd.tmp")
    blocks = (cfg.big_mib + CHUNK_MIB - 1) // CHUNK_MIB
    code, output = run_bounded(["dd", "if=/dev/zero", f"of={path}", "bs=10M", f"count={blocks}", "conv=fdatasync"],
                               cfg.max_secs, env=dict(os.environ, LC_ALL="C"))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    last = output.strip().splitlines()[-1:] or [""]
    show(last[0])
    found = re.match(r"(\d+) bytes .* copied, ([0-9.e+-]+) s", last[0])
    if code != 0 or not found or float(found.group(2)) <= 0:
        rec.failed("disk", "fdatasync", case, last[0] or f"dd exit code {code}")
        return
    size, secs = int(found.group(1)), float(found.group(2))
    for metric, value in [("ok", 1), ("errors", 0), ("cut_short", 0), ("secs", f"{secs:.3f}"),
                          ("mib_per_s", f"{size / 1048576 / secs:.2f}")]:
        rec.add("disk", "fdatasync", case, metric, value)


def run_one(args, rec, cfg, who, kind, rnd):
    """WHO (a Server, or the name of a limit) runs case KIND of round RND."""
    case = f"S/{kind}/r{rnd}"
    upload_secs = cfg.max_secs + 60  # tus-bench starts no upload after --max-secs; one big upload can run longer
    # Each run starts with nothing left to write back from the one before (not a cache drop: the caches stay).
    os.sync()
    if kind == "big":
        warm_pages(args, cfg.big_mib)
    if isinstance(who, Server):
        print(f"-- S {who.server} ({who.mode}) {case}", flush=True)
        if not who.alive():
            rec.failed(who.server, who.mode, case, "the server is no longer running")
            return
        target = ["--url", who.url, "--pid", str(who.pid)]
        if kind == "big":
            cmd = ["upload", *target, "--count", "1", "--size", f"{cfg.big_mib}M", "--chunk", f"{CHUNK_MIB}M",
                   "--concurrency", "1", "--max-secs", str(cfg.max_secs)]
        elif kind == "head":
            cmd = ["head", *target, "--concurrency", str(cfg.head_conc), "--secs", str(cfg.head_secs)]
        else:
            cmd = ["upload", *target, "--count", str(cfg.small), "--size", str(SMALL_SIZE), "--chunk",
                   str(SMALL_SIZE), "--concurrency", str(clients(kind)), "--max-secs", str(cfg.max_secs)]
        tus_bench(args, rec, (who.server, who.mode, case), cmd, upload_secs)
        return
    print(f"-- S limit {who} {case}", flush=True)
    if who == "disk":
        run_dd(args, rec, cfg, case)
    elif who == "ceiling":
        cmd = ["ceiling", "--file", os.path.join(args.run_dir, "ceiling.tmp"), "--size", f"{cfg.big_mib}M",
               "--chunk", f"{CHUNK_MIB}M"]
        tus_bench(args, rec, ("ceiling", "nofsync", case), cmd, upload_secs)
    elif who == "durable":
        # A directory per run, kept to the end of S: the disk's floor meets a growing filesystem like the servers.
        directory = os.path.join(args.run_dir, LIMITS_DIR, f"durable-{kind}-r{rnd}")
        os.makedirs(directory)
        cmd = ["durable", "--dir", directory, "--files", str(cfg.durable_files), "--size", str(SMALL_SIZE),
               "--writers", str(clients(kind))]
        tus_bench(args, rec, ("durable", "fsync", case), cmd, upload_secs)


def clients(kind):
    """The clients of a small case: cC has C; `purged` is (b) with 8."""
    return PURGED_CLIENTS if kind == "purged" else int(kind[1:])


# --- the rounds ---

def rotated(items, rnd):
    """The round's order: the base order rotated by one place per round."""
    k = (rnd - 1) % len(items) if items else 0
    return items[k:] + items[:k]


def run_rounds(args, rec, cfg, running):
    kinds = ["big"] + [f"c{c}" for c in cfg.small_conc] + ["head"]
    for rnd in range(1, cfg.rounds + 1):
        print(f"== S round {rnd} of {cfg.rounds}", flush=True)
        started, cpu0 = time.monotonic(), machine_cpu()
        for kind in kinds:
            limits = [name for name, _ in LIMITS["small" if kind.startswith("c") else kind]]
            for who in rotated(list(running) + limits, rnd):
                run_one(args, rec, cfg, who, kind, rnd)
        total, steal = (b - a for a, b in zip(cpu0, machine_cpu()))
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        rec.add("run", "-", f"S/r{rnd}", "loadavg", load)
        # Not tus-bench's metric names (stolen_pct, secs): `tus-bench report` would list each round as a run.
        rec.add("run", "-", f"S/r{rnd}", "round_stolen_pct", f"{100 * steal / total:.2f}" if total > 0 else "0")
        rec.add("run", "-", f"S/r{rnd}", "round_wall_s", f"{time.monotonic() - started:.1f}")


def purge(parent, count):
    """COUNT files of 200 bytes created in a new directory in PARENT, then all deleted and the deletions written
    back; returns the seconds it took. On ext4 without a journal, the inode allocator then skips every freed inode
    whose deletion is less than a minute old (six while its inode table block is dirty), one by one, in every
    creation in that block group: the new directory lands in its parent's group, where the server creates its
    files."""
    started = time.monotonic()
    directory = os.path.join(parent, "s-purge")
    os.makedirs(directory)
    for i in range(count):
        with open(os.path.join(directory, str(i)), "wb") as f:
            f.write(b"x" * 200)
    shutil.rmtree(directory)
    os.sync()
    return time.monotonic() - started


def run_after_purge(args, rec, cfg, running):
    """Case (d): per server (and for the durable floor), a fresh mass deletion, then (b) with 8 clients at once."""
    if cfg.purge_files <= 0:
        return
    print(f"== S (d): {cfg.purge_files} files deleted before each run", flush=True)
    for who in list(running) + [name for name, _ in LIMITS["small"]]:
        # Beside the server's own directories (the durable floor's: its directory of the rounds).
        parent = who.data if isinstance(who, Server) else os.path.join(args.run_dir, LIMITS_DIR)
        secs = purge(parent, cfg.purge_files)
        print(f"   purge: {secs:.1f} s", flush=True)
        run_one(args, rec, cfg, who, "purged", 1)


def check_space(args, cfg, count):
    """Every big upload stays on disk until the end of S: refuses to start when they would not fit."""
    need = cfg.rounds * (count * cfg.big_mib + cfg.big_mib * 2) * 1048576 + (2 << 30)
    free = shutil.disk_usage(args.run_dir).free
    if free < need:
        return f"needs about {need >> 30} GiB free under {args.run_dir} (the finished uploads are kept), has {free >> 30}"
    return None


def run(args):
    cfg = config_from_env()
    rec = Records(args.records)
    for key, value in [("s_big_mib", cfg.big_mib), ("s_chunk_mib", CHUNK_MIB), ("s_small", cfg.small),
                       ("s_small_conc", " ".join(map(str, cfg.small_conc))), ("s_head_conc", cfg.head_conc),
                       ("s_head_secs", cfg.head_secs), ("s_rounds", cfg.rounds), ("s_max_secs", cfg.max_secs),
                       ("s_durable_files", cfg.durable_files), ("s_purge_files", cfg.purge_files),
                       ("s_ours_flags", os.environ.get("OURS_FLAGS", "")),
                       ("s_dd_command", f"dd if=/dev/zero of=FILE bs=10M "
                                        f"count={(cfg.big_mib + CHUNK_MIB - 1) // CHUNK_MIB} conv=fdatasync")]:
        rec.param(key, value)
    wanted = selected_servers(args.servers)
    why = check_space(args, cfg, len(wanted))
    if why:
        print(f"== S: not run: {why}", flush=True)
        rec.add("run", "-", "S/skipped", "reason", f"S not run: {why}")
        rec.param("s_servers", "")
        return
    # One cache drop before the servers start (as W7), none after: from here on the kernel's state is theirs.
    os.sync()
    dropped = "0"
    if args.drop_caches == "1":
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            dropped = "1"
        except OSError:
            pass
    rec.param("s_drop_caches_once", dropped)
    running = []
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the servers
    try:
        running = start_all(args, rec, wanted)
        rec.param("s_servers", " ".join(f"{s.server}:{s.mode}" for s in running))
        if not running:
            return
        record_state(rec, running, "start")
        run_rounds(args, rec, cfg, running)
        run_after_purge(args, rec, cfg, running)
        record_state(rec, running, "end")
        record_peak_rss(rec, running)
    finally:
        print("== S: stopping the servers and removing their data", flush=True)
        stop_all(args, running)
        signal.signal(signal.SIGTERM, previous)


# --- the report ---

def fmt(v):
    if v is None:
        return "—"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Report:
    """S's Markdown section, from the records file."""

    def __init__(self, path):
        rows = [line.rstrip("\n").split("\t", 4) for line in open(path) if line.count("\t") >= 4]
        self.param = {r[3]: r[4] for r in rows if r[0] == "run" and r[2] == "param"}
        self.recs = {}
        for server, mode, case, metric, value in rows:
            if case.startswith("S/"):
                self.recs[(server, mode, case, metric)] = value
        self.rounds = int(self.param.get("s_rounds", "0") or 0)
        self.conc = self.param.get("s_small_conc", "").split()
        self.started = [tuple(s.split(":", 1)) for s in self.param.get("s_servers", "").split()]
        self.notes = []
        self.out = []

    def p(self, line=""):
        self.out.append(line)

    def num(self, key, case, metric):
        try:
            return float(self.recs[(*key, case, metric)])
        except (KeyError, ValueError):
            return None

    def clean(self, key, case):
        return not (self.num(key, case, "errors") or 0) and not (self.num(key, case, "cut_short") or 0)

    def flag(self, key, case):
        """" ⚠" for a run with errors or cut short, " ‡" for one the hypervisor disturbed (each noted once)."""
        marks = ""
        stolen = self.num(key, case, "stolen_pct")
        if stolen is not None and stolen >= DISTURBED_STOLEN_PCT:
            self.note(f"‡ {key[0]} ({key[1]}) {case}: the hypervisor took {fmt(stolen)} % of the CPU time")
            marks += " ‡"
        if self.num(key, case, "errors") is None or self.clean(key, case):
            return marks
        errors = self.num(key, case, "errors") or 0
        cut = (self.num(key, case, "cut_short") or 0) > 0
        first = self.recs.get((*key, case, "first_error"), "-")
        self.note(f"⚠ {key[0]} ({key[1]}) {case}: {errors:.0f} errors{', cut short' if cut else ''}; first: {first}")
        return " ⚠" + marks

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def series(self, key, kind, metric):
        return [self.num(key, f"S/{kind}/r{r}", metric) for r in range(1, self.rounds + 1)]

    def good(self, key, kind, metric):
        """The figures of the clean rounds."""
        return [v for r, v in enumerate(self.series(key, kind, metric), 1)
                if v is not None and self.clean(key, f"S/{kind}/r{r}")]

    def ratios(self, ours, peer, kind, metric):
        """ours ÷ peer per round (None where either run is missing or not clean)."""
        out = []
        for r, (a, b) in enumerate(zip(self.series(ours, kind, metric), self.series(peer, kind, metric)), 1):
            ok = a is not None and b and self.clean(ours, f"S/{kind}/r{r}") and self.clean(peer, f"S/{kind}/r{r}")
            out.append(a / b if ok else None)
        return out

    def has(self, key, kind, metric):
        return any(v is not None for v in self.series(key, kind, metric))

    def rows(self, kind, metric):
        """The rows of a case's table, grouped fsync on then off, each group's limits last."""
        limits = LIMITS["small" if kind.startswith("c") else kind]
        for group in ("on", "off"):
            for key in [k for k in self.started if GROUP.get(k) == group] + [k for k in limits if GROUP[k] == group]:
                if key in self.started or self.has(key, kind, metric):
                    yield group, key

    def ratio_cell(self, key, group, kind, metric):
        """For a peer's or a limit's row: each of our rows of its group ÷ this one, median and per round."""
        if key[0] == "ours":
            return "—"
        parts = []
        ours_rows = [o for o in OURS[group] if o in self.started]
        for ours in ours_rows:
            per = self.ratios(ours, key, kind, metric)
            if all(v is None for v in per):
                continue
            rounds = " / ".join(f"×{fmt(v)}" if v is not None else "—" for v in per)
            name = f"{ours[1]}: " if len(ours_rows) > 1 else ""
            parts.append(f"{name}**×{fmt(median(per))}** ({rounds})")
        return "; ".join(parts) or "—"

    def table(self, kind, metric, unit, extra):
        self.p(f"| fsync | server | {unit}, median | min–max | each round | ours ÷ this: median of the per-round "
               f"ratios (each round) | " + " | ".join(h for h, _ in extra) + " |")
        self.p("|---|---|---:|---:|---|---|" + "---:|" * len(extra))
        for group, key in self.rows(kind, metric):
            vals = self.series(key, kind, metric)
            cases = [f"S/{kind}/r{r}" for r in range(1, self.rounds + 1)]
            good = self.good(key, kind, metric)
            each = " / ".join(fmt(v) + self.flag(key, c) for v, c in zip(vals, cases))
            failed = any(self.num(key, c, "errors") is not None and not self.clean(key, c) for c in cases)
            marks = " ⚠" if failed else ""
            rng = f"{fmt(min(good))}–{fmt(max(good))}" if good else "—"
            cells = [fn(key, kind) for _, fn in extra]
            self.p(f"| {group} | {LABEL.get(key, ' '.join(key))} | {fmt(median(good))}{marks} | {rng} | {each} | "
                   f"{self.ratio_cell(key, group, kind, metric)} | " + " | ".join(cells) + " |")
        self.p()

    def med(self, metric, scale=1.0, per=None):
        """A column: the median over the rounds of METRIC (× SCALE, ÷ PER's value)."""
        def cell(key, kind):
            vals = []
            for r in range(1, self.rounds + 1):
                v = self.num(key, f"S/{kind}/r{r}", metric)
                n = self.num(key, f"S/{kind}/r{r}", per) if per else 1.0
                if v is not None and n:
                    vals.append(v * scale / n)
            text = fmt(median(vals))
            # The ceiling's CPU is both of its threads' (the sender stands in for the client).
            return f"{text} (both ends)" if key[0] == "ceiling" and vals else text
        return cell

    def kinds(self):
        """(kind, title, short title, unit, metric) of every case."""
        big, small, head = (self.param.get(k, "?") for k in ("s_big_mib", "s_small", "s_head_conc"))
        out = [("big", f"(a) one upload of {big} MiB in {self.param.get('s_chunk_mib', '?')} MiB PATCHes",
                f"(a) {big} MiB upload", "MiB/s", "mib_per_s")]
        for c in self.conc:
            out.append((f"c{c}", f"(b) {small} uploads of 4 KiB (POST + PATCH), {c} clients",
                        f"(b) 4 KiB uploads, {c} clients", "uploads/s", "per_s"))
        out.append(("head", f"(c) HEAD on one unfinished upload, {head} clients for {self.param.get('s_head_secs', '?')} s",
                    f"(c) HEAD, {head} clients", "HEAD/s", "per_s"))
        return out

    def pairs(self):
        """The summary: each of our rows ÷ each peer of its group, per case; the pairs with rustus first."""
        kinds = self.kinds()
        pairs = [(o, p) for i in range(2) for g in ("on", "off") for o in OURS[g] for p in PEERS[g][i:i + 1]
                 if o in self.started and p in self.started]
        if not pairs:
            self.p("_No pair of ours and a peer ran._\n")
            return
        short = {"fsync": "fsync", "syncfs": "`--syncfs`", "nofsync": "`--no-fsync`"}
        self.p("| fsync | ours ÷ peer | " + " | ".join(f"{short_title}, {unit}" for _, _, short_title, unit, _ in kinds)
               + " |")
        self.p("|---|---|" + "---|" * len(kinds))
        for ours, peer in pairs:
            # The main figures, like for like with rustus, in bold.
            b = "**" if peer[0] == "rustus" else ""
            cells = []
            for kind, _, _, _, metric in kinds:
                per = [v for v in self.ratios(ours, peer, kind, metric) if v is not None]
                cells.append(f"{b}×{fmt(median(per))}{b} (×{fmt(min(per))}–×{fmt(max(per))})" if per else "—")
            name = f"ours {short[ours[1]]} ÷ {LABEL[peer]}"
            self.p(f"| {GROUP[ours]} | {b}{name}{b} | " + " | ".join(cells) + " |")
        self.p()

    def purged(self):
        """Case (d): each server right after a mass deletion, beside its own (b) with as many clients."""
        key_of = lambda k: (k, "S/purged/r1")
        rows = [k for k in self.started + LIMITS["small"] if self.num(*key_of(k), "per_s") is not None]
        if not rows:
            return
        files = self.param.get("s_purge_files", "?")
        self.p(f"### (d) right after {int(files):,} files were deleted, {PURGED_CLIENTS} clients — uploads/s\n")
        self.p(f"Once per server, after the rounds: {int(files):,} files of 200 bytes created in one directory of the "
               "servers' filesystem and deleted, then at once the same run as (b) with "
               f"{PURGED_CLIENTS} clients (one run each, so no range).\n")
        self.p(f"| fsync | server | uploads/s after the deletion | its (b) median, {PURGED_CLIENTS} clients | "
               "after ÷ steady | ours ÷ this, after the deletion |")
        self.p("|---|---|---:|---:|---:|---|")
        steady_kind = f"c{PURGED_CLIENTS}"
        for group in ("on", "off"):
            for key in [k for k in rows if GROUP.get(k) == group]:
                after = self.num(*key_of(key), "per_s")
                steady = median(self.good(key, steady_kind, "per_s")) if steady_kind in [f"c{c}" for c in self.conc] else None
                mark = self.flag(key, "S/purged/r1")
                ratio = "—"
                if key[0] != "ours" and key not in LIMITS["small"]:
                    parts = []
                    for ours in [o for o in OURS[group] if o in rows]:
                        a = self.num(*key_of(ours), "per_s")
                        if a and after and self.clean(ours, "S/purged/r1") and self.clean(key, "S/purged/r1"):
                            parts.append(f"{ours[1]}: ×{fmt(a / after)}")
                    ratio = "; ".join(parts) or "—"
                change = f"×{fmt(after / steady)}" if after and steady else "—"
                self.p(f"| {group} | {LABEL.get(key, ' '.join(key))} | {fmt(after)}{mark} | {fmt(steady)} | {change} | "
                       f"{ratio} |")
        self.p()

    def state(self):
        self.p("| server | data at the start: files, MiB | at the end: files, MiB | peak RSS over S (VmHWM), MiB |")
        self.p("|---|---:|---:|---:|")
        for key in self.started:
            def at(when):
                files, mib = self.num(key, f"S/state/{when}", "files"), self.num(key, f"S/state/{when}", "mib")
                return "—" if files is None else f"{files:,.0f} files, {fmt(mib)} MiB"
            self.p(f"| {LABEL.get(key, ' '.join(key))} | {at('start')} | {at('end')} | "
                   f"{fmt(self.num(key, 'S/state/end', 'VmHWM_mib'))} |")
        self.p()
        rows = []
        for r in range(1, self.rounds + 1):
            load = self.recs.get(("run", "-", f"S/r{r}", "loadavg"))
            if load is not None:
                rows.append(f"| {r} | {fmt(self.num(('run', '-'), f'S/r{r}', 'round_wall_s'))} | {load} | "
                            f"{fmt(self.num(('run', '-'), f'S/r{r}', 'round_stolen_pct'))} |")
        if rows:
            self.p("| round | wall s | load average at its end | CPU stolen by the hypervisor, % |")
            self.p("|---:|---:|---|---:|")
            for row in rows:
                self.p(row)
            self.p()

    def render(self):
        p = self.p
        p("## S — steady state: servers started once, interleaved rounds\n")
        not_run = self.recs.get(("run", "-", "S/skipped", "reason"))
        if not_run:
            p(f"_{not_run}._\n")
            return "\n".join(self.out)
        rounds = self.rounds
        drop = ("; the kernel's caches were emptied once, before the servers started"
                if self.param.get("s_drop_caches_once") == "1" else "")
        p("Every server was started once at the beginning of S, each with its own data directory and port, and kept "
          "running until S ended: no restarts, no cache drops, no settling pauses, and every finished upload stays "
          "on disk, so each server's state grows from round to round as in production (see the state table "
          f"below){drop}. In each of {rounds} round(s), every case ran every server back to back, the order rotated by "
          "one place per round so that none always runs first or after the same neighbour; before each run a "
          "`sync` writes back what the previous one left dirty, and before each big run a file of its size is "
          "written into the page cache and deleted (`warm_pages`, see W1). Figures are the median of the clean "
          "rounds, min–max and every round in order; `ours ÷ this` pairs like with like (fsync on against fsync "
          "on, off against off) as the median of the per-round ratios, both runs of a ratio from the same round, "
          "then each round (above 1: ours is faster). The machine's limits — the disk with `dd conv=fdatasync`, "
          "the loopback ceiling without HTTP, new 4 KiB files fsynced by `tus-bench durable` — ran in the same "
          "rounds and the same rotation.\n")
        p("Servers: ours is the `tus-tokio` example `tokio-serve` (release) with fsync (its default), with `--syncfs` "
          "(changes made durable through one shared syncfs(2) of the filesystem, a group commit) and with "
          f"`--no-fsync`{'; extra flags `' + self.param['s_ours_flags'] + '`' if self.param.get('s_ours_flags') else ''}. "
          "rustus 0.5.10 (`peers.sh`) with `--force-fsync true` (`RUSTUS_FORCE_FSYNC=true`: one fdatasync per "
          "PATCH and none per POST, counted with strace) and by default (never syncs); the original "
          "tussi 3.1.0 (`FilesystemStorage(fsync=True)` under uvicorn); @tus/server 2 with @tus/file-store (never "
          "syncs). Client and servers share the machine's CPUs, and the servers not being measured sit idle "
          "beside the one that is.\n")
        p("### Pairs: ours ÷ peer, same durability — median of the per-round ratios (range)\n")
        self.pairs()
        for kind, title, _, unit, metric in self.kinds():
            p(f"### {title} — {unit}\n")
            if kind == "big":
                extra = [("server CPU s, median", self.med("server_cpu_s"))]
            else:
                what = "upload" if kind != "head" else "HEAD"
                extra = [(f"server CPU µs per {what}, median", self.med("server_cpu_s", 1e6, "ok")),
                         (f"p99 ms per {what}, median", self.med("p99_ms"))]
            self.table(kind, metric, unit, extra)
        self.purged()
        p("### State: what the servers held, and the machine per round\n")
        self.state()
        skipped = [(k[0], k[1], v) for k, v in self.recs.items() if k[2] == "S/skipped" and k[3] == "reason"]
        if skipped or self.notes:
            p("S notes:\n")
            for server, mode, why in skipped:
                p(f"- {server} ({mode}) was skipped: {why}")
            for note in self.notes:
                p(f"- {note}")
            p()
        return "\n".join(self.out)


# --- command line ---

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="start the servers, run the rounds, stop the servers")
    r.add_argument("--bench", required=True, help="the tus-bench binary")
    r.add_argument("--serve", required=True, help="our tokio-serve binary")
    r.add_argument("--peers", required=True, help="conformance/scripts/peers.sh")
    r.add_argument("--run-dir", required=True, help="run.sh's run directory (data directories go here)")
    r.add_argument("--records", required=True, help="run.sh's records file (appended to)")
    r.add_argument("--servers", default="ours,rustus,tussi,tus-node")
    r.add_argument("--max-size", type=int, default=4294967296)
    r.add_argument("--drop-caches", default="0", help="1: empty the kernel's caches once before starting")
    rep = sub.add_parser("report", help="print S's Markdown section from the records")
    rep.add_argument("--records", required=True)
    s = sub.add_parser("stop", help="stop what an unfinished `run` left running")
    s.add_argument("--run-dir", required=True)
    s.add_argument("--peers", required=True)
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    elif args.command == "report":
        print(Report(args.records).render())
    else:
        stop_from_state(args)


if __name__ == "__main__":
    main()
