// Test harness for Amphi's browser end-to-end tests.
//
// Everything here expects to run inside tests/e2e/netns-run.sh (a private network
// namespace with lo and 10.99.0.1 on a veth pair): Janus gathers ICE candidates on
// 10.99.0.1 and Chromium reaches it there; HTTP/WebSocket signalling stays on 127.0.0.1,
// which Chromium treats as a secure context (getUserMedia needs one).
//
// Helpers: launchBrowser/newStagePage (one Chromium, a context per page, janus-page.js
// injected), startServe (amphi serve on a free port, temp data dir, wait for /readyz),
// startJanus (a private Janus for the Janus-direct smoke test), HTTP helpers for the
// Amphi API, an SSE reader, screenshots into $E2E_ARTIFACTS, process clean-up. A second
// namespace for a "remote" browser: client-netns.mjs.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import http from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, openSync, closeSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));
export const JANUS_PAGE_JS = join(here, 'janus-page.js');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const JANUS_BIN = process.env.JANUS_BIN || '/usr/bin/janus';
export const MEDIA_IP = process.env.AMPHI_NETNS_IP || '10.99.0.1';
export const ARTIFACTS = process.env.E2E_ARTIFACTS || '/tmp/amphi-e2e';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

export const randomId = (n = 8) => randomBytes(n).toString('hex');

export function log(...args) {
  const t = new Date().toISOString().slice(11, 23);
  console.log(`[e2e ${t}]`, ...args);
}

// ---------------------------------------------------------------- processes

const children = new Set();

function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAll(); process.exit(130); });
}

// Spawns a child with its output in a log file; tracks it for clean-up.
export function spawnLogged(cmd, args, { logFile, env, cwd } = {}) {
  const fd = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env }, cwd, stdio: ['ignore', fd, fd],
  });
  if (typeof fd === 'number') closeSync(fd);
  children.add(child);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  child.once('error', (e) => log(`spawn ${cmd} failed: ${e.message}`));
  return child;
}

export async function stopProcess(child, { signal = 'SIGTERM', timeoutMs = 10000 } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child && child.exited;
  child.kill(signal);
  const done = await Promise.race([child.exited, sleep(timeoutMs).then(() => null)]);
  if (done) return done;
  log(`pid ${child.pid} ignored ${signal} for ${timeoutMs} ms; SIGKILL`);
  child.kill('SIGKILL');
  return child.exited;
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `amphi-e2e-${prefix}-`));
}

// A free TCP port: bind port 0, read it, close. (Racy in theory; fine in a private netns.)
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitUntil(fn, { timeoutMs = 10000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (last instanceof Error ? `: ${last.message}` : ''));
    }
    await sleep(intervalMs);
  }
}

export function tail(file, lines = 40) {
  if (!existsSync(file)) return `(no ${file})`;
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

// ---------------------------------------------------------------- HTTP

// fetch with a JSON body and Bearer token; returns {status, body, headers}.
export async function api(method, url, { token, body, headers = {}, timeoutMs = 15000 } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(url, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, body: json ?? text, headers: res.headers };
}

export const post = (url, opts) => api('POST', url, opts);
export const get = (url, opts) => api('GET', url, opts);

// A plain page origin for tests that do not load serve's pages: 127.0.0.1 is a secure
// context, so getUserMedia works there.
export async function startBlankServer(host = '127.0.0.1') {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>amphi e2e</title><body>amphi e2e</body>');
  });
  await new Promise((resolve) => srv.listen(0, host, resolve));
  const url = `http://${host}:${srv.address().port}/`;
  return { url, close: () => new Promise((r) => srv.close(r)) };
}

// ---------------------------------------------------------------- SSE

// Reads an SSE stream with fetch; collects frames {id, event, data, at}.
export function openSse(url, { token, headers = {} } = {}) {
  const ctrl = new AbortController();
  const frames = [];
  const waiters = new Set();
  const state = { frames, status: null, closed: false, error: null };
  const notify = () => { for (const w of waiters) w(); };
  state.ready = (async () => {
    const h = { accept: 'text/event-stream', ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    const res = await fetch(url, { headers: h, signal: ctrl.signal });
    state.status = res.status;
    if (res.status !== 200) {
      state.closed = true;
      state.error = `HTTP ${res.status}: ${await res.text().catch(() => '')}`;
      return res.status;
    }
    (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body) {
          buf += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const f = { id: null, event: 'message', data: '', at: Date.now() };
            const data = [];
            for (const line of block.split('\n')) {
              if (!line || line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const k = c < 0 ? line : line.slice(0, c);
              const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (k === 'id') f.id = v;
              else if (k === 'event') f.event = v;
              else if (k === 'data') data.push(v);
            }
            if (!data.length && f.id === null && f.event === 'message') continue;
            f.data = data.join('\n');
            try { f.json = JSON.parse(f.data); } catch { f.json = null; }
            f.type = (f.json && f.json.type) || f.event;
            frames.push(f);
            notify();
          }
        }
      } catch (e) {
        if (!ctrl.signal.aborted) state.error = String(e);
      }
      state.closed = true;
      notify();
    })();
    return res.status;
  })();
  state.close = () => ctrl.abort();
  // Resolves with the first frame (from index `from` on) that matches.
  state.waitFor = (pred, { timeoutMs = 10000, from = 0, what = 'SSE frame' } = {}) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const f = frames.slice(from).find(pred);
        if (f) { cleanup(); resolve(f); return true; }
        if (state.closed) { cleanup(); reject(new Error(`SSE closed while waiting for ${what} (${state.error || 'eof'})`)); return true; }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got: ${frames.map((f) => f.type).join(', ')}`));
      }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); waiters.delete(check); };
      if (!check()) waiters.add(check);
    });
  return state;
}

// ---------------------------------------------------------------- browser

let playwright;
async function chromiumType() {
  if (!playwright) playwright = await import('playwright-core');
  return playwright.chromium;
}

// One browser for the whole test file; each page gets its own context. executablePath
// and extra flags are for a browser in another namespace (see startClientNamespace); extra
// flags come after CHROMIUM_ARGS (a repeated switch takes its last value).
// `spki`: the base64 SHA-256 of a server's public key whose certificate Chromium accepts
// (serve's --tls self-signed prints it).
export async function launchBrowser({ executablePath = CHROMIUM, extraArgs = [], spki } = {}) {
  const chromium = await chromiumType();
  const args = [...CHROMIUM_ARGS, ...extraArgs];
  if (spki) args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  // playwright gives every launch a fresh temporary --user-data-dir of its own (which
  // --ignore-certificate-errors-spki-list requires).
  return chromium.launch({ executablePath, headless: true, args });
}

// The SHA-256 fingerprint ("AB:CD:…") of the certificate a TLS server presents.
export function peerFingerprint(host, port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

// What `serve --tls self-signed` printed about its certificate.
export function printedCertificate(logFile) {
  const text = readFileSync(logFile, 'utf8');
  const fp = /SHA-256 fingerprint: ([0-9A-F:]+)/.exec(text);
  const spki = /\(SPKI\) SHA-256, base64: (\S+)/.exec(text);
  return fp && spki ? { fingerprint: fp[1], spki: spki[1] } : null;
}

// A page at `origin` with window.amphiStage; browser console lines go to the test log.
export async function newStagePage(browser, origin, { name = 'page' } = {}) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  await context.addInitScript({ path: JANUS_PAGE_JS });
  const page = await context.newPage();
  page.on('console', (m) => {
    const noise = m.text().startsWith('Failed to load resource'); // favicon.ico and the like
    if (process.env.E2E_VERBOSE || ((m.type() === 'error' || m.type() === 'warning') && !noise)) {
      log(`[${name} ${m.type()}] ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => log(`[${name} pageerror] ${e.message}`));
  await page.goto(origin);
  await page.waitForFunction(() => !!window.amphiStage);
  page.amphiName = name;
  return page;
}

// Shows what a page is doing (for screenshots) and saves one into $E2E_ARTIFACTS.
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  try {
    await page.evaluate(async (label) => {
      let el = document.getElementById('amphi-e2e-status');
      if (!el) {
        el = document.createElement('pre');
        el.id = 'amphi-e2e-status';
        el.style.cssText = 'font:12px monospace;white-space:pre-wrap;margin:4px';
        document.body.appendChild(el);
      }
      const s = window.amphiStage;
      const pub = s && s.publisher;
      if (pub && pub.stream && !document.getElementById('amphi-e2e-local')) {
        const v = document.createElement('video');
        v.id = 'amphi-e2e-local'; v.muted = true; v.autoplay = true; v.width = 320;
        v.srcObject = pub.stream;
        document.body.appendChild(v);
      }
      for (const sub of (s && s.subscribers) || []) {
        if (sub.pc && !sub.videoEl) {
          const v = document.createElement('video');
          v.muted = true; v.autoplay = true; v.width = 320;
          v.srcObject = new MediaStream(sub.pc.getReceivers().map((r) => r.track).filter(Boolean));
          document.body.appendChild(v);
          sub.videoEl = v;
        }
      }
      // let the videos show a frame before the screenshot
      const until = Date.now() + 2000;
      while (Date.now() < until && [...document.querySelectorAll('video')].some((v) => v.readyState < 2)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const frames = s ? await s.framesDecoded() : 0;
      el.textContent = `${label}\nkicked=${s && s.kicked} publisher=${JSON.stringify(s && s.publisherState())} framesDecoded=${frames}`;
    }, name);
    await sleep(100);
  } catch { /* page closed or navigating */ }
  const file = join(ARTIFACTS, `${name.replace(/[^a-zA-Z0-9_.-]+/g, '_')}.png`);
  await page.screenshot({ path: file }).catch((e) => log(`screenshot ${name}: ${e.message}`));
  return file;
}

// Polls framesDecoded in the page until it exceeds `min`.
export async function waitForFrames(page, { min = 0, timeoutMs = 15000 } = {}) {
  return waitUntil(async () => {
    const n = await page.evaluate(() => window.amphiStage.framesDecoded());
    return n > min ? n : 0;
  }, { timeoutMs, intervalMs: 250, what: `framesDecoded > ${min}` });
}

// ---------------------------------------------------------------- amphi serve

// Starts `amphi serve` on a free port with a temp data dir; resolves when /readyz is 200.
// With --tls / --tls-cert in extraArgs the base URL is https:// and this process stops
// verifying certificates (the test checks serve's fingerprint itself: peerFingerprint).
export async function startServe({ amphiBin, extraArgs = [], host = '127.0.0.1', env = {}, readyTimeoutMs = 40000 } = {}) {
  if (!amphiBin) throw new Error('startServe: amphiBin required');
  const https = extraArgs.includes('--tls') || extraArgs.includes('--tls-cert');
  if (https) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  const port = await freePort(host);
  const dataDir = tempDir('serve');
  const adminKey = `e2e-admin-${randomId(12)}`;
  const logFile = join(dataDir, 'serve.log');
  const args = ['serve', '--http', `${host}:${port}`, '--data-dir', dataDir, ...extraArgs];
  log(`starting ${amphiBin} ${args.join(' ')}`);
  const child = spawnLogged(amphiBin, args, { logFile, env: { AMPHI_ADMIN_KEY: adminKey, ...env } });
  const base = `${https ? 'https' : 'http'}://${host}:${port}`;
  try {
    await waitUntil(async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`serve exited (${child.exitCode ?? child.signalCode})`);
      }
      const r = await get(`${base}/readyz`, { timeoutMs: 2000 }).catch(() => null);
      return r && r.status === 200;
    }, { timeoutMs: readyTimeoutMs, intervalMs: 200, what: 'serve /readyz 200' });
  } catch (e) {
    log(`serve log:\n${tail(logFile, 60)}`);
    await stopProcess(child, { timeoutMs: 3000 });
    throw e;
  }
  log(`serve ready at ${base} (data ${dataDir})`);
  const serve = {
    child, base, port, host, dataDir, adminKey, logFile,
    url: (path) => `${base}${path}`,
    stop: () => stopProcess(child, { signal: 'SIGTERM', timeoutMs: 15000 }),
    // POST /api/rooms as admin
    createRoom: async ({ id = `e2e-${randomId(4)}`, title = 'E2E room', maxStage = 2 } = {}) => {
      const r = await post(`${base}/api/rooms`, { token: adminKey, body: { id, title, maxStage } });
      if (r.status !== 201 && r.status !== 200) throw new Error(`createRoom: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    // POST /api/rooms/:id/join → {token, userId, role, ...}
    join: async (roomId, invite, displayName) => {
      const code = typeof invite === 'string' ? invite : invite.code;
      const r = await post(`${base}/api/rooms/${roomId}/join`, { body: { invite: code, displayName } });
      if (r.status !== 200 && r.status !== 201) throw new Error(`join: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    post: (path, token, body) => post(`${base}${path}`, { token, body }),
    get: (path, token) => get(`${base}${path}`, { token }),
    sse: (path, token) => openSse(`${base}${path}`, { token }),
  };
  return serve;
}

// ---------------------------------------------------------------- private Janus

const JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus';
const OTHER_PLUGINS = ['audiobridge', 'duktape', 'echotest', 'lua', 'nosip', 'recordplay', 'sip',
  'streaming', 'textroom', 'videocall', 'voicemail'].map((p) => `libjanus_${p}.so`).join(',');
const OTHER_TRANSPORTS = ['mqtt', 'nanomsg', 'pfunix', 'rabbitmq'].map((p) => `libjanus_${p}.so`).join(',');

// A Janus of our own (token_auth on, admin API, VideoRoom only), for tests that talk to
// Janus directly. Its API listens on 127.0.0.1; ICE uses whatever the namespace has.
export async function startJanus({ rtpPorts = '20000-20999' } = {}) {
  const dir = tempDir('janus');
  const wsPort = await freePort();
  const httpPort = await freePort();
  const adminPort = await freePort();
  const adminSecret = randomId(16);
  const adminKey = randomId(16);
  writeFileSync(join(dir, 'janus.jcfg'), `general: {
  configs_folder = "${dir}"
  plugins_folder = "${JANUS_LIB}/plugins"
  transports_folder = "${JANUS_LIB}/transports"
  events_folder = "${JANUS_LIB}/events"
  loggers_folder = "${JANUS_LIB}/loggers"
  debug_level = 4
  admin_secret = "${adminSecret}"
  token_auth = true
  server_name = "amphi-e2e"
}
certificates: {
}
media: {
  rtp_port_range = "${rtpPorts}"
}
nat: {
  nice_debug = false
  ice_ignore_list = "vmnet"
}
plugins: {
  disable = "${OTHER_PLUGINS}"
}
transports: {
  disable = "${OTHER_TRANSPORTS}"
}
loggers: {
  disable = "libjanus_jsonlog.so"
}
events: {
}
`);
  writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), `general: {
  json = "plain"
  ws = true
  ws_port = ${wsPort}
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
`);
  writeFileSync(join(dir, 'janus.transport.http.jcfg'), `general: {
  json = "plain"
  base_path = "/janus"
  http = true
  port = ${httpPort}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_base_path = "/admin"
  admin_http = true
  admin_port = ${adminPort}
  admin_ip = "127.0.0.1"
  admin_https = false
}
`);
  writeFileSync(join(dir, 'janus.plugin.videoroom.jcfg'), `general: {
  admin_key = "${adminKey}"
  lock_rtp_forward = true
}
`);
  const logFile = join(dir, 'janus.log');
  const child = spawnLogged(JANUS_BIN, ['-F', dir, '-o', '-L', logFile, '-N'], { logFile: join(dir, 'janus.stdout') });
  const httpUrl = `http://127.0.0.1:${httpPort}/janus`;
  const adminUrl = `http://127.0.0.1:${adminPort}/admin`;
  try {
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`janus exited ${child.exitCode}`);
      const r = await get(`${httpUrl}/info`, { timeoutMs: 1000 }).catch(() => null);
      if (!r || r.status !== 200) return false;
      // the websocket transport must be up too
      return await new Promise((resolve) => {
        const s = createServer();
        s.once('error', () => resolve(true)); // port taken = Janus listening
        s.listen(wsPort, '127.0.0.1', () => s.close(() => resolve(false)));
      });
    }, { timeoutMs: 15000, intervalMs: 200, what: 'janus up' });
  } catch (e) {
    log(`janus log:\n${tail(logFile, 60)}\n${tail(join(dir, 'janus.stdout'), 20)}`);
    await stopProcess(child, { timeoutMs: 3000 });
    throw e;
  }
  log(`janus up: ws://127.0.0.1:${wsPort} http ${httpUrl} admin ${adminUrl} (${dir})`);

  const tx = () => randomId(6);
  const admin = async (body) => {
    const r = await post(adminUrl, { body: { ...body, transaction: tx(), admin_secret: adminSecret } });
    if (r.status !== 200 || r.body.janus !== 'success') throw new Error(`janus admin ${body.janus}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const addToken = (token, plugins = ['janus.plugin.videoroom']) => admin({ janus: 'add_token', token, plugins });
  const removeToken = (token) => admin({ janus: 'remove_token', token });

  // A control session over the HTTP API (its own token), for VideoRoom requests.
  const controlToken = randomId(16);
  await addToken(controlToken);
  let control = null;
  async function ensureControl() {
    if (control) return control;
    const s = await post(httpUrl, { body: { janus: 'create', transaction: tx(), token: controlToken } });
    if (s.body.janus !== 'success') throw new Error(`janus create: ${JSON.stringify(s.body)}`);
    const sessionId = s.body.data.id;
    const a = await post(`${httpUrl}/${sessionId}`, {
      body: { janus: 'attach', plugin: 'janus.plugin.videoroom', transaction: tx(), token: controlToken },
    });
    if (a.body.janus !== 'success') throw new Error(`janus attach: ${JSON.stringify(a.body)}`);
    control = { sessionId, handleId: a.body.data.id };
    control.keepalive = setInterval(() => {
      post(`${httpUrl}/${sessionId}`, { body: { janus: 'keepalive', transaction: tx(), token: controlToken } }).catch(() => {});
    }, 20000);
    control.keepalive.unref();
    return control;
  }
  // Synchronous VideoRoom request; returns plugindata.data (throws on error_code).
  const videoroom = async (body) => {
    const c = await ensureControl();
    const r = await post(`${httpUrl}/${c.sessionId}/${c.handleId}`, {
      body: { janus: 'message', body, transaction: tx(), token: controlToken },
    });
    const data = r.body && r.body.plugindata && r.body.plugindata.data;
    if (!data) throw new Error(`videoroom ${body.request}: ${JSON.stringify(r.body)}`);
    if (data.error_code) {
      const e = new Error(`videoroom ${body.request}: ${data.error_code} ${data.error}`);
      e.code = data.error_code;
      throw e;
    }
    return data;
  };

  return {
    child, dir, logFile, wsUrl: `ws://127.0.0.1:${wsPort}`, httpUrl, adminUrl, adminSecret, adminKey,
    addToken, removeToken, admin, videoroom,
    createRoom: async ({ room, secret = randomId(8), publishers = 3, allowed = [] } = {}) => {
      const data = await videoroom({
        request: 'create', room, admin_key: adminKey, secret, publishers, allowed,
        permanent: false, is_private: true, videocodec: 'vp8,h264', audiocodec: 'opus',
        bitrate: 512000, fir_freq: 5,
      });
      return { room: data.room, secret };
    },
    stop: async () => {
      if (control) clearInterval(control.keepalive);
      const r = await stopProcess(child, { timeoutMs: 5000 });
      if (!process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
}
