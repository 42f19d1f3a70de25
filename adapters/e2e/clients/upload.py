"""Uploads files with tuspy; prints one JSON line per upload: {"file", "chunk", "url"}.

usage: python upload.py ENDPOINT FILE:CHUNK [FILE:CHUNK...]
"""
import json
import os
import sys

from tusclient import client

endpoint = sys.argv[1]
tus = client.TusClient(endpoint)
for spec in sys.argv[2:]:
    path, chunk = spec.rsplit(":", 1)
    uploader = tus.uploader(file_path=path, chunk_size=int(chunk), metadata={"filename": os.path.basename(path)})
    uploader.upload()
    print(json.dumps({"file": path, "chunk": int(chunk), "url": uploader.url}), flush=True)
