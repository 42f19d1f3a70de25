#!/usr/bin/env python3
"""How fast a new directory takes new files right after a mass deletion on the same filesystem.

    python3 bench/deleted_inodes.py [DIR (default target/deleted-inodes)] [DELETED (default 100000)] [FILES (20000)]

Creates FILES files of 200 bytes in a new directory (before), then DELETED files in another new directory and
deletes them all, then FILES files in a third new directory (after), each in blocks, and prints creations per
second per block. On ext4 without a journal, the inode allocator skips every free inode whose deletion is less than
a minute old (six while its inode table block is dirty), one at a time, in the group it searches, and a new
directory goes to a group with many free inodes: the one just emptied. `perf record -a -g` during the "after"
blocks shows `recently_deleted` and the inode table lookups it makes (`find_get_block_common`). A server's existing
directories are not moved there: bench/run.sh --only S, case (d), runs the servers right after such a deletion.
"""
import os
import shutil
import sys
import time

root = sys.argv[1] if len(sys.argv) > 1 else "target/deleted-inodes"
deleted = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
files = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
BLOCKS = 4
body = b"x" * 200


def create(directory, count):
    for i in range(count):
        with open(os.path.join(directory, str(i)), "wb") as f:
            f.write(body)


def timed(label):
    directory = os.path.join(root, label)
    os.makedirs(directory)
    rates = []
    for block in range(BLOCKS):
        started = time.perf_counter()
        for i in range(files // BLOCKS):
            with open(os.path.join(directory, f"{block}-{i}"), "wb") as f:
                f.write(body)
        rates.append((files // BLOCKS) / (time.perf_counter() - started))
    print(f"{label}: " + " / ".join(f"{r:,.0f}" for r in rates) + " creations/s per block", flush=True)


os.makedirs(root, exist_ok=False)
try:
    timed("before")
    purge = os.path.join(root, "deleted")
    os.makedirs(purge)
    create(purge, deleted)
    shutil.rmtree(purge)
    os.sync()
    print(f"{deleted:,} files created and deleted", flush=True)
    timed("after")
finally:
    shutil.rmtree(root, ignore_errors=True)
