"""Uploads one file with tuspy and `upload_checksum=True`, in chunks; records what tuspy sends with every PATCH.

Prints one JSON line per PATCH, {"patch": {"offset", "length", "upload_checksum", "status"}}, where
`upload_checksum` is the `Upload-Checksum` header exactly as tuspy sent it (null if it sent none), then one line
{"file", "url"}. For adapters/e2e/tests/checksum.rs, which checks every header against the bytes of its chunk.

usage: python checksum.py ENDPOINT FILE CHUNK
"""
import json
import os
import sys

import requests

from tusclient import client

endpoint, path, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])

# tuspy sends each PATCH with `requests.patch` (tusclient/request.py): wrap it to see the headers it sends.
original_patch = requests.patch


def recording_patch(url, data=None, headers=None, **kwargs):
    headers = headers or {}
    lowered = {k.lower(): v for k, v in headers.items()}
    response = original_patch(url, data=data, headers=headers, **kwargs)
    record = {
        "offset": int(lowered["upload-offset"]),
        "length": len(data or b""),
        "upload_checksum": lowered.get("upload-checksum"),
        "status": response.status_code,
    }
    print(json.dumps({"patch": record}), flush=True)
    print(f"tuspy sent Upload-Checksum: {record['upload_checksum']}", file=sys.stderr, flush=True)
    return response


requests.patch = recording_patch

uploader = client.TusClient(endpoint).uploader(
    file_path=path,
    chunk_size=chunk,
    upload_checksum=True,
    metadata={"filename": os.path.basename(path)},
)
uploader.upload()
print(json.dumps({"file": path, "url": uploader.url}), flush=True)
