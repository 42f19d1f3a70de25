// Drives Uppy 6 (Tus plugin, default options) in headless Chromium against a TUS server on another origin.
//
// usage: node uppy.mjs --endpoint URL [--dest DIR] [--upload FILE]... [--remove FILE] [--timeout SECS]
//   env: TUS_BROWSER_PREFIX  the directory whose node_modules holds the pins of package.json (install.sh prints it)
//        CHROMIUM            the browser to launch (default: chromium on PATH); never downloaded
//
// A static server started here serves index.html and Uppy's bundle on http://127.0.0.1:<own port>/, so the page's
// origin differs from the endpoint's and every TUS request is cross-origin (preflights, exposed headers).
// Scenario "upload": the --upload files go up together; with --dest, each is waited for in DIR (where tussi-server's
// worker puts finished uploads under their names) and compared by sha256. Scenario "remove": the --remove file is
// removed by the user once it has sent some bytes; Uppy then aborts it and sends DELETE to its upload URL.
// Prints one JSON line per file ({"scenario", "file", ...}) and a last {"scenario": "summary"} line on stdout;
// diagnostics (the browser console, failed requests, the server's responses) go to stderr. Exit 0 when everything
// worked, 1 when something failed, 2 on bad usage, 3 on timeout.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const prefix = process.env.TUS_BROWSER_PREFIX ?? process.cwd();
const require = createRequire(path.join(prefix, 'package.json'));

function usage(message) {
  console.error(`uppy.mjs: ${message}`);
  console.error('usage: node uppy.mjs --endpoint URL [--dest DIR] [--upload FILE]... [--remove FILE] [--timeout SECS]');
  process.exit(2);
}

const opts = { endpoint: null, dest: null, uploads: [], remove: null, timeout: 120 };
for (let args = process.argv.slice(2); args.length > 0; ) {
  const [flag, value] = [args.shift(), args.shift()];
  if (value === undefined) usage(`${flag} needs a value`);
  if (flag === '--endpoint') opts.endpoint = value;
  else if (flag === '--dest') opts.dest = value;
  else if (flag === '--upload') opts.uploads.push(path.resolve(value));
  else if (flag === '--remove') opts.remove = path.resolve(value);
  else if (flag === '--timeout') opts.timeout = Number(value);
  else usage(`unknown option ${flag}`);
}
if (!opts.endpoint) usage('--endpoint is required');
if (opts.uploads.length === 0 && !opts.remove) usage('nothing to do: give --upload and/or --remove');
const endpointOrigin = new URL(opts.endpoint).origin;

// What the browser and the network showed, for the verdict and for the report on failure.
const consoleLog = []; // {type, text, url}
const pageErrors = [];
const requestFailures = []; // {method, url, error}
const serverResponses = []; // {method, url, status, headers}: every answer from the endpoint's origin
const pending = new Map(); // request -> "METHOD url": sent to the endpoint's origin, not answered (yet)
// Why the run failed, in words, each with how often it happened: a blocked preflight repeats for every retry.
const problems = new Map();
const problem = (text) => problems.set(text, (problems.get(text) ?? 0) + 1);
// The browser's own words come first (a blocked preflight is the cause of Uppy's "network error"), then the network's.
const rank = (text) => (text.startsWith('console:') ? 0 : text.startsWith('request failed:') ? 1 : 2);
const problemList = () =>
  [...problems]
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([text, n]) => (n > 1 ? `${text} (x${n})` : text));
let browser = null;
let removedUrl = null; // the upload the user removed: its PATCH is meant to break off

const print = (line) => console.log(JSON.stringify(line));

function report() {
  // Identical lines are shown once, with their count, in the order they first came.
  const dump = (title, items, show) => {
    if (items.length === 0) return;
    const counts = new Map();
    for (const item of items) counts.set(show(item), (counts.get(show(item)) ?? 0) + 1);
    console.error(`--- ${title} (${items.length})`);
    for (const [line, n] of counts) console.error(`  ${n > 1 ? `(x${n}) ` : ''}${line}`);
  };
  dump('browser console', consoleLog, (m) => `[${m.type}] ${m.text}${m.url ? ` (${m.url})` : ''}`);
  dump('page errors', pageErrors, (e) => e);
  dump('failed requests', requestFailures, (f) => `${f.method} ${f.url}: ${f.error}`);
  dump('server responses', serverResponses, (r) => `${r.method} ${r.url} -> ${r.status} ${JSON.stringify(r.headers)}`);
  dump('requests never answered', [...pending.values()], (r) => r);
  dump('problems', problemList(), (p) => p);
}

// The whole run is bounded: a hung browser or server must not hang the test. Chromium runs on a pipe
// (`pipe: true`), so it exits with this process even when the kill below is not reached.
const timer = setTimeout(() => {
  problem(`timed out after ${opts.timeout} s`);
  report();
  print({ scenario: 'summary', ok: false, problems: problemList() });
  browser?.process()?.kill('SIGKILL');
  process.exit(3);
}, opts.timeout * 1000);
timer.unref();

// The page's origin: index.html and Uppy's self-contained ESM bundle, nothing else (no CDN, no network).
const routes = {
  '/': { file: path.join(here, 'index.html'), type: 'text/html; charset=utf-8' },
  '/uppy.min.mjs': { file: path.join(prefix, 'node_modules/uppy/dist/uppy.min.mjs'), type: 'text/javascript' },
};
function startStatic() {
  const server = http.createServer((req, res) => {
    const route = routes[new URL(req.url, 'http://x').pathname];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store' });
    fs.createReadStream(route.file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function sha256(file) {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The worker moves a finished upload into dest after the upload's last PATCH was answered: wait for it (bounded).
async function waitForFile(file, size, limitMs) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      if (fs.statSync(file).size === size) return true;
    } catch {}
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

const mentionsCors = (text) => /CORS|Access-Control/i.test(text);

// What Uppy itself reported as failed in a scenario.
function uppyProblems(result) {
  for (const e of result.errors) problem(`Uppy upload-error for ${e.name}: ${e.error} (status ${e.status})`);
  for (const file of result.failed) problem(`Uppy reports ${file.name} failed: ${file.error}`);
}

async function uploadScenario(page, input) {
  await input.uploadFile(...opts.uploads);
  const result = await page.evaluate(() => window.tussi.run({}));
  uppyProblems(result);
  for (const source of opts.uploads) {
    const name = path.basename(source);
    const size = fs.statSync(source).size;
    const done = result.successful.find((f) => f.name === name);
    const line = { scenario: 'upload', file: name, size, ok: false, upload_url: done?.uploadUrl ?? null };
    line.sha256 = await sha256(source);
    if (!done) {
      problem(`${name} is not among Uppy's successful uploads`);
    } else if (opts.dest) {
      const saved = path.join(opts.dest, name);
      if (await waitForFile(saved, size, 30_000)) line.dest_sha256 = await sha256(saved);
      else problem(`${saved} did not appear with ${size} bytes within 30 s`);
      line.ok = line.dest_sha256 === line.sha256;
      if (line.dest_sha256 && !line.ok) problem(`${name}: sha256 ${line.sha256} sent, ${line.dest_sha256} in dest`);
    } else {
      line.ok = true;
    }
    print(line);
  }
}

async function removeScenario(page, input) {
  const name = path.basename(opts.remove);
  const size = fs.statSync(opts.remove).size;
  // On loopback a 30 MiB body can be sent before the first progress event reaches the page; a slow uplink (the
  // user's, emulated by Chromium's network throttling) makes "removed mid-upload" certain instead of a race.
  await page.emulateNetworkConditions({ download: -1, upload: 4 * 1024 * 1024, latency: 0 });
  await input.uploadFile(opts.remove);
  const result = await page.evaluate(() => window.tussi.run({ remove: true }));
  await page.emulateNetworkConditions(null);
  uppyProblems(result);
  const removed = result.removed[0];
  const line = { scenario: 'remove', file: name, size, ok: false, upload_url: removed?.uploadUrl ?? null };
  // The same URL seen on the wire: the POST's Location (read through CDP, whatever CORS exposes to the page).
  const created = serverResponses.find((r) => r.method === 'POST' && r.status === 201 && r.name === name);
  line.location = created?.headers.location ? new URL(created.headers.location, created.url).href : null;
  if (!removed) {
    problem(`${name} was never removed: no upload-progress with bytes sent`);
  } else {
    line.bytes_at_removal = removed.bytesUploaded;
    if (removed.bytesUploaded >= removed.bytesTotal) problem(`${name} had been sent entirely before the removal`);
    if (!removed.uploadUrl) problem(`${name} had no upload URL in Uppy's file state when removed`);
    if (line.location && removed.uploadUrl && line.location !== removed.uploadUrl) {
      problem(`upload URL ${removed.uploadUrl} in Uppy, ${line.location} in the POST's Location`);
    }
    // tus-js-client sends the DELETE after the aborted PATCH, asynchronously, and retries it on 423 and 5xx;
    // wait (bounded) for an answer that ends it.
    const url = removed.uploadUrl ?? line.location;
    removedUrl = url;
    const deletes = () => serverResponses.filter((r) => r.method === 'DELETE' && r.url === url);
    const deadline = Date.now() + 15_000;
    while (!deletes().some((r) => r.status < 500 && r.status !== 423) && Date.now() < deadline) await sleep(50);
    line.delete_statuses = deletes().map((r) => r.status);
    if (!deletes().some((r) => r.status === 204)) {
      problem(`no DELETE ${url} answered 204 (saw ${JSON.stringify(line.delete_statuses)})`);
    }
    line.ok = line.delete_statuses.includes(204) && removed.bytesUploaded < removed.bytesTotal && !!removed.uploadUrl;
  }
  print(line);
}

async function main() {
  const puppeteer = require('puppeteer-core');
  // puppeteer wants a path, not a command name.
  const onPath = (name) =>
    (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file));
  const chromium = process.env.CHROMIUM || onPath('chromium') || onPath('chromium-browser');
  let staticServer = null;
  try {
    if (!chromium) throw new Error('no Chromium: set CHROMIUM or put chromium on PATH (apt-get install chromium)');
    staticServer = await startStatic();
    browser = await puppeteer.launch({
      executablePath: chromium,
      // `headless: true` is the new headless mode: puppeteer passes --headless=new.
      headless: true,
      pipe: true,
      // --no-sandbox: Chromium's sandbox refuses to run as root, as tests do in CI. Nothing here relaxes CORS or
      // other web security: the point is to see what a real user's browser does.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
      timeout: 30_000,
      protocolTimeout: opts.timeout * 1000,
    });
    const page = await browser.newPage();
    page.on('console', (m) => consoleLog.push({ type: m.type(), text: m.text(), url: m.location()?.url ?? null }));
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('request', (req) => {
      if (new URL(req.url()).origin === endpointOrigin) pending.set(req, `${req.method()} ${req.url()}`);
    });
    page.on('requestfinished', (req) => pending.delete(req));
    page.on('requestfailed', (req) => {
      pending.delete(req);
      requestFailures.push({ method: req.method(), url: req.url(), error: req.failure()?.errorText ?? '?' });
    });
    page.on('response', (res) => {
      const req = res.request();
      if (new URL(res.url()).origin !== endpointOrigin) return;
      const headers = res.headers();
      const name = /(?:^|,)\s*filename ([^,\s]+)/.exec(req.headers()['upload-metadata'] ?? '')?.[1];
      serverResponses.push({
        method: req.method(),
        url: res.url(),
        status: res.status(),
        headers,
        name: name ? Buffer.from(name, 'base64').toString() : undefined,
      });
    });
    const base = `http://127.0.0.1:${staticServer.address().port}/`;
    await page.goto(`${base}?endpoint=${encodeURIComponent(opts.endpoint)}`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.tussiReady === true, { timeout: 15_000 });
    const input = await page.$('#files');

    if (opts.uploads.length > 0) await uploadScenario(page, input);
    if (opts.remove) await removeScenario(page, input);
  } catch (error) {
    problem(`driver error: ${error?.stack ?? error}`);
  } finally {
    await browser?.close().catch(() => {});
    staticServer?.close();
  }

  const corsErrors = consoleLog.filter((m) => mentionsCors(m.text));
  for (const m of corsErrors) problem(`console: ${m.text}`);
  for (const e of pageErrors) problem(`page error: ${e}`);
  const expected = (f) => f.method === 'PATCH' && f.url === removedUrl && f.error === 'net::ERR_ABORTED';
  for (const f of requestFailures.filter((f) => !expected(f))) {
    problem(`request failed: ${f.method} ${f.url}: ${f.error}`);
  }
  // Preflights answered for the page's origin: the proof that the requests really were cross-origin.
  const preflights = serverResponses.filter((r) => r.method === 'OPTIONS' && r.headers['access-control-allow-origin']);
  const ok = problems.size === 0;
  if (!ok) report();
  print({
    scenario: 'summary',
    ok,
    preflights: preflights.length,
    cors_errors: corsErrors.length,
    console_messages: consoleLog.length,
    problems: problemList(),
  });
  clearTimeout(timer);
  process.exit(ok ? 0 : 1);
}

await main();
