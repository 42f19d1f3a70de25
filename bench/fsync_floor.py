#!/usr/bin/env python3
"""The disk's floor for W2 with fsync: how long one durable new 4 KiB file takes on this filesystem.

    python3 bench/fsync_floor.py [DIR (default target/fsync-floor)] [COUNT (default 300)]

Creates COUNT files one after another, each written, fsynced and made durable with an fsync of its directory, and
prints the time per file; also the time of an fsync of a rewritten 4 KiB file. A server that makes even one new
file durable per upload before answering cannot beat 1 / (time per file) uploads per second with one client.
"""
import os
import shutil
import sys
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "target/fsync-floor"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
os.makedirs(directory, exist_ok=False)
try:
    block = b"x" * 4096
    fd = os.open(os.path.join(directory, "rewritten"), os.O_CREAT | os.O_WRONLY, 0o644)
    start = time.perf_counter()
    for _ in range(count):
        os.pwrite(fd, block, 0)
        os.fsync(fd)
    rewrite = (time.perf_counter() - start) / count
    os.close(fd)
    dir_fd = os.open(directory, os.O_RDONLY)
    start = time.perf_counter()
    for i in range(count):
        fd = os.open(os.path.join(directory, f"new-{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, block)
        os.fsync(fd)
        os.close(fd)
        os.fsync(dir_fd)
    new_file = (time.perf_counter() - start) / count
    os.close(dir_fd)
    print(f"fsync of a rewritten 4 KiB file: {rewrite * 1e3:.3f} ms")
    print(f"durable new 4 KiB file (create, write, fsync, fsync dir): {new_file * 1e3:.3f} ms "
          f"= at most {1 / new_file:.0f} per second")
finally:
    shutil.rmtree(directory)
