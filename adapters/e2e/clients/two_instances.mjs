// tus-js-client as one of several clients uploading through nginx to two tussi-server instances, for
// adapters/tussi-cli/tests/two_instances.rs (one instance is SIGKILLed and restarted while uploads are in flight).
//
// Uploads the FILEs one after the other, each as one upload with `chunkSize` unset (one PATCH per attempt: a PATCH
// cut off by the dying instance is resumed from the offset a HEAD reports) and the `retryDelays` given as JSON, so
// that it rides out 502s from nginx, 423 Locked and the lease of the dead instance. Prints one JSON line per file as
// soon as it is done — {"file", "size", "ok", "url", "error", "requests", "retries"} — where `requests` is every
// request tus-js-client sent ({"method", "url", "sent", "status", "answered", "offset"}: times in milliseconds since
// the Unix epoch, to line up with the test's and nginx's; status null when no response came) and `retries` what
// each retry answered to (`onShouldRetry`). A failed upload does not stop the others; the exit status is 1 if any
// failed.
//
// usage: node two_instances.mjs ENDPOINT RETRY_DELAYS_JSON FILE [FILE...]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.TUS_NODE_PREFIX ?? process.cwd(), 'package.json'));
const tus = require('tus-js-client');

const [endpoint, delaysJson, ...files] = process.argv.slice(2);
const retryDelays = JSON.parse(delaysJson);

// tus-js-client's own rule (lib/upload.js, defaultOnShouldRetry): retry unless a 4xx other than 409 and 423.
// Repeated here only to record each decision; `onShouldRetry` replaces the default when given.
function defaultRetry(status) {
  return !(status >= 400 && status < 500) || status === 409 || status === 423;
}

function uploadOne(file) {
  const report = { file: path.basename(file), size: fs.statSync(file).size, requests: [], retries: [] };
  const sent = new Map();
  return new Promise((resolve) => {
    const upload = new tus.Upload(fs.createReadStream(file), {
      endpoint,
      retryDelays,
      metadata: { filename: path.basename(file) },
      onBeforeRequest: (req) => {
        const entry = { method: req.getMethod(), url: req.getURL(), sent: Date.now(), status: null };
        sent.set(req, entry);
        report.requests.push(entry);
      },
      onAfterResponse: (req, res) => {
        const entry = sent.get(req);
        if (entry) {
          entry.status = res.getStatus();
          entry.answered = Date.now();
          const offset = res.getHeader('Upload-Offset');
          if (offset !== undefined && offset !== null) entry.offset = Number(offset);
        }
      },
      onShouldRetry: (err, attempt) => {
        const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
        const retry = defaultRetry(status);
        report.retries.push({ attempt, status, retry, at: Date.now(), error: String(err.message) });
        return retry;
      },
      onError: (error) => {
        report.ok = false;
        report.url = upload.url;
        report.error = String(error?.stack ?? error);
        resolve(report);
      },
      onSuccess: () => {
        report.ok = true;
        report.url = upload.url;
        resolve(report);
      },
    });
    upload.start();
  });
}

let failed = 0;
for (const file of files) {
  const report = await uploadOne(file);
  if (!report.ok) failed += 1;
  // stdout to a pipe is synchronous on Linux: the test sees each line as the upload ends.
  console.log(JSON.stringify(report));
}
process.exit(failed ? 1 : 0);
