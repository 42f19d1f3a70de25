#!/usr/bin/env python3
"""The disk's floor for W2 with fsync: how many durable new 4 KiB files this filesystem makes per second.

    python3 bench/fsync_floor.py [DIR (default target/fsync-floor)] [COUNT (default 300)] [WRITERS (default "1 8 64")]

First the time of an fsync of a rewritten 4 KiB file. Then, for each number of concurrent writers (threads; the
calls below release Python's lock), COUNT files per writer in one directory, each created, written, fsynced and
made durable with an fsync of the directory. A server that makes N new files durable per upload before answering
cannot beat (files per second) / N uploads per second with that many clients.
"""
import os
import shutil
import sys
import threading
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "target/fsync-floor"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
writer_counts = [int(w) for w in (sys.argv[3] if len(sys.argv) > 3 else "1 8 64").split()]
block = b"x" * 4096


def new_files(prefix: str) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        for i in range(count):
            fd = os.open(os.path.join(directory, f"{prefix}-{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, block)
            os.fsync(fd)
            os.close(fd)
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


os.makedirs(directory, exist_ok=False)
try:
    fd = os.open(os.path.join(directory, "rewritten"), os.O_CREAT | os.O_WRONLY, 0o644)
    start = time.perf_counter()
    for _ in range(count):
        os.pwrite(fd, block, 0)
        os.fsync(fd)
    rewrite = (time.perf_counter() - start) / count
    os.close(fd)
    print(f"fsync of a rewritten 4 KiB file: {rewrite * 1e3:.3f} ms")
    for writers in writer_counts:
        threads = [threading.Thread(target=new_files, args=(f"w{writers}-{t}",)) for t in range(writers)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        rate = writers * count / elapsed
        print(f"durable new 4 KiB files (create, write, fsync, fsync dir), {writers} writer(s): "
              f"{elapsed / count * 1e3:.3f} ms each per writer = {rate:.0f} per second")
finally:
    shutil.rmtree(directory)
