"""Uploads one file with tuspy's defaults (no chunk_size: the whole file in one PATCH) and prints one JSON line:
{"file", "url"}. For adapters/e2e/tests/everyday.rs.

usage: python everyday.py ENDPOINT FILE
"""
import json
import os
import sys

from tusclient import client

endpoint, path = sys.argv[1], sys.argv[2]
uploader = client.TusClient(endpoint).uploader(file_path=path, metadata={"filename": os.path.basename(path)})
uploader.upload()
print(json.dumps({"file": path, "url": uploader.url}), flush=True)
