// tus-js-client with `parallelUploads`, for adapters/e2e/tests/concat.rs: the file is split into N partial uploads
// (`Upload-Concat: partial`) sent at once, then one final upload (`Upload-Concat: final;<url> ...`) assembles them.
// Prints one JSON line: {"url", "requests": [{"method", "url", "status", "headers"}]}, where `requests` is every
// request tus-js-client sent (onBeforeRequest; the partial uploads inherit the option) with the status it got
// (onAfterResponse). On failure it prints the same line with "error" and exits 1.
//
// usage: node parallel.mjs ENDPOINT FILE PARALLEL
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.TUS_NODE_PREFIX ?? process.cwd(), 'package.json'));
const tus = require('tus-js-client');

const [endpoint, file, parallel] = process.argv.slice(2);
const report = { file, parallel: Number(parallel), requests: [] };

const sent = new Map();
const HEADERS = ['Upload-Concat', 'Upload-Length', 'Upload-Offset', 'Upload-Defer-Length', 'Upload-Metadata'];

function finish(code) {
  // stdout to a pipe is synchronous on Linux: the line is out before exit.
  console.log(JSON.stringify(report));
  process.exit(code);
}

try {
  report.url = await new Promise((resolve, reject) => {
    const upload = new tus.Upload(fs.createReadStream(file), {
      endpoint,
      parallelUploads: Number(parallel),
      metadata: { filename: path.basename(file) },
      onBeforeRequest: (req) => {
        const headers = {};
        for (const h of HEADERS) {
          if (req.getHeader(h) !== undefined) headers[h] = String(req.getHeader(h));
        }
        const entry = { method: req.getMethod(), url: req.getURL(), headers, status: null };
        sent.set(req, entry);
        report.requests.push(entry);
      },
      onAfterResponse: (req, res) => {
        const entry = sent.get(req);
        if (entry) {
          entry.status = res.getStatus();
          const location = res.getHeader('Location');
          if (location) entry.location = location;
        }
      },
      onError: reject,
      onSuccess: () => resolve(upload.url),
    });
    upload.start();
  });
  finish(0);
} catch (error) {
  report.error = String(error?.stack ?? error);
  finish(1);
}
