// tus-js-client with the options people use every day, for adapters/e2e/tests/everyday.rs. Each mode runs one
// upload and prints one JSON line: {"url", "requests": [{"method", "url", "status", "headers"}], ...}, where
// `requests` is every request tus-js-client sent (onBeforeRequest) with the status it got (onAfterResponse), so the
// test can tell what went over the wire. On failure it prints the same line with "error" and exits 1.
//
// usage: node everyday.mjs upload ENDPOINT FILE [chunk=N] [during-creation]
//          a file as fs.ReadStream; chunkSize left at its default (Infinity) unless chunk= is given
//        node everyday.mjs deferred ENDPOINT FILE chunk=N
//          the file's bytes through a plain Readable of unknown size, with uploadLengthDeferred
//        node everyday.mjs abort ENDPOINT FILE chunk=N
//          abort(true) once the first bytes went out; prints "aborted" (whether abort's promise resolved)
//        node everyday.mjs resume ENDPOINT FILE STORAGE_JSON
//          with the Node FileUrlStorage at STORAGE_JSON: findPreviousUploads(), resumeFromPreviousUpload() of
//          the first one found, start(); prints "previous" (how many were found) and "progress" (onProgress calls)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.TUS_NODE_PREFIX ?? process.cwd(), 'package.json'));
const tus = require('tus-js-client');

const [mode, endpoint, file, ...rest] = process.argv.slice(2);
const flags = Object.fromEntries(rest.map((a) => (a.includes('=') ? a.split(/=(.*)/s).slice(0, 2) : [a, true])));
const report = { mode, file, requests: [] };

// Every request tus-js-client sends, in order, with the interesting headers and the status it got.
const sent = new Map();
const recorder = {
  onBeforeRequest: (req) => {
    const headers = {};
    for (const h of ['Upload-Offset', 'Upload-Length', 'Upload-Defer-Length', 'Content-Type']) {
      if (req.getHeader(h) !== undefined) headers[h] = String(req.getHeader(h));
    }
    const entry = { method: req.getMethod(), url: req.getURL(), headers, status: null };
    sent.set(req, entry);
    report.requests.push(entry);
  },
  onAfterResponse: (req, res) => {
    const entry = sent.get(req);
    if (entry) entry.status = res.getStatus();
  },
};

function finish(code) {
  // stdout to a pipe is synchronous on Linux: the line is out before exit.
  console.log(JSON.stringify(report));
  process.exit(code);
}

function fail(error) {
  report.error = String(error?.stack ?? error);
  finish(1);
}

// Runs `upload` until onSuccess / onError; resolves with its URL.
function run(makeUpload) {
  return new Promise((resolve, reject) => {
    const upload = makeUpload({
      ...recorder,
      onError: reject,
      onSuccess: () => resolve(upload.url),
    });
    upload.start();
  });
}

const metadata = { filename: path.basename(file ?? '') };

try {
  switch (mode) {
    case 'upload': {
      const options = { endpoint, metadata };
      if (flags.chunk) options.chunkSize = Number(flags.chunk);
      if (flags['during-creation']) options.uploadDataDuringCreation = true;
      report.url = await run((events) => new tus.Upload(fs.createReadStream(file), { ...options, ...events }));
      finish(0);
      break;
    }
    case 'deferred': {
      // A PassThrough is a Readable of unknown size that is not an fs.ReadStream (not byte-mode object streams
      // like Readable.from: StreamSource needs read(size) to honour size).
      const stream = fs.createReadStream(file).pipe(new PassThrough());
      report.url = await run(
        (events) =>
          new tus.Upload(stream, {
            endpoint,
            metadata,
            chunkSize: Number(flags.chunk),
            uploadLengthDeferred: true,
            ...events,
          }),
      );
      finish(0);
      break;
    }
    case 'abort': {
      report.aborted = await new Promise((resolve, reject) => {
        let aborting = false;
        const upload = new tus.Upload(fs.createReadStream(file), {
          endpoint,
          metadata,
          chunkSize: Number(flags.chunk),
          ...recorder,
          onError: reject,
          onSuccess: () => reject(new Error('the upload finished before it could be aborted')),
          onProgress: (bytesSent) => {
            if (bytesSent > 0 && !aborting) {
              aborting = true;
              report.url = upload.url;
              report.abortedAt = bytesSent;
              upload.abort(true).then(() => resolve(true), reject);
            }
          },
        });
        upload.start();
      });
      finish(0);
      break;
    }
    case 'resume': {
      const storage = rest[0];
      report.progress = [];
      let upload;
      report.url = await new Promise((resolve, reject) => {
        upload = new tus.Upload(fs.createReadStream(file), {
          endpoint,
          metadata,
          urlStorage: new tus.FileUrlStorage(storage),
          ...recorder,
          onError: reject,
          onProgress: (bytesSent, bytesTotal) => report.progress.push([bytesSent, bytesTotal]),
          onSuccess: () => resolve(upload.url),
        });
        // As tus-js-client's README shows: resume the first previous upload of this file, if any.
        upload
          .findPreviousUploads()
          .then((previous) => {
            report.previous = previous.length;
            if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0]);
            upload.start();
          })
          .catch(reject);
      });
      finish(0);
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
} catch (error) {
  fail(error);
}
