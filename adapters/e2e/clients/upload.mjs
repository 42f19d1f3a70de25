// Uploads files with tus-js-client and prints one JSON line per upload: {"file", "chunk", "url"}.
// usage: node upload.mjs ENDPOINT FILE:CHUNK [FILE:CHUNK...]
//        node upload.mjs --interrupt ENDPOINT FILE:CHUNK   (abort after a third, then resume from the upload URL)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.TUS_NODE_PREFIX ?? process.cwd(), 'package.json'));
const tus = require('tus-js-client');

function upload(endpoint, file, chunkSize, extra = {}) {
  const data = fs.readFileSync(file);
  return new Promise((resolve, reject) => {
    const handle = {}; // lets callbacks reach the upload once it exists
    const u = new tus.Upload(data, {
      endpoint,
      chunkSize,
      retryDelays: [100, 300, 1000],
      metadata: { filename: path.basename(file) },
      onError: reject,
      onSuccess: () => resolve(u.url),
      ...extra(handle, resolve, reject),
    });
    handle.upload = u;
    u.start();
  });
}

const args = process.argv.slice(2);
const interrupt = args[0] === '--interrupt';
if (interrupt) args.shift();
const endpoint = args.shift();
for (const spec of args) {
  const [file, chunk] = spec.split(':');
  const chunkSize = Number(chunk);
  if (!interrupt) {
    const url = await upload(endpoint, file, chunkSize, () => ({}));
    console.log(JSON.stringify({ file, chunk: chunkSize, url }));
    continue;
  }
  const size = fs.statSync(file).size;
  // First attempt: abort once a third has been acknowledged.
  const firstUrl = await upload(endpoint, file, chunkSize, (handle, resolve) => ({
    onChunkComplete: (_c, accepted) => {
      if (accepted >= size / 3) handle.upload.abort().then(() => resolve(handle.upload.url));
    },
  }));
  const head = await fetch(firstUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  const offsetBefore = Number(head.headers.get('upload-offset'));
  // Second attempt: resume the same upload URL.
  const url = await upload(endpoint, file, chunkSize, () => ({ uploadUrl: firstUrl }));
  console.log(JSON.stringify({ file, chunk: chunkSize, url, firstUrl, offsetBefore }));
}
