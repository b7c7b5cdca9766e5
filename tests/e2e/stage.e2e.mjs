// Issue 3, "Tests that must exist": the stage on Janus, driven by `amphi serve`, with
// real Chromium pages (fake camera) inside a private network namespace.
//
//   AMPHI_BIN=/path/to/amphi ./netns-run.sh ./node_modules/.bin/node --test stage.e2e.mjs
// or simply: tests/e2e/run-stage.sh /path/to/amphi
//
// Env: AMPHI_BIN (required), E2E_SERVE_ARGS (extra serve flags, replaces the default
// "--stage-grace-seconds 3"), E2E_GRACE_SECONDS (the grace those flags set; default 3),
// E2E_ARTIFACTS (screenshots, default /tmp/amphi-e2e), E2E_KEEP=1 (keep serve's data dir).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  startServe, launchBrowser, newStagePage, screenshot, waitForFrames, waitUntil, post,
  randomId, log, tail, MEDIA_IP,
} from './lib/harness.mjs';

const AMPHI_BIN = process.env.AMPHI_BIN;
const GRACE_S = Number(process.env.E2E_GRACE_SECONDS || 3);
const SERVE_ARGS = process.env.E2E_SERVE_ARGS !== undefined
  ? process.env.E2E_SERVE_ARGS.split(/\s+/).filter(Boolean)
  : ['--stage-grace-seconds', String(GRACE_S)];
const T = { timeout: 90000 };

let serve;
let browser;
let roomId;
const users = {}; // name → {token, userId, role}
const sse = {};   // name → SSE reader
const pages = {}; // name → page
let feedA;        // A's Janus feed id while on stage
let credsA;       // A's credentials from the first promotion

const credsPath = (mode) => `/api/rooms/${roomId}/stage/credentials${mode ? `?mode=${mode}` : ''}`;
const credentials = (who, mode) => serve.post(credsPath(mode), users[who].token);
const promote = (who) => serve.post(`/api/rooms/${roomId}/promote/${users[who].userId}`, users.M.token);
const demote = (who, by = 'M') => serve.post(`/api/rooms/${roomId}/demote/${users[who].userId}`, users[by].token);
const inPage = (who, fn, arg) => pages[who].evaluate(fn, arg);

// Janus as seen by its Admin API, read from the config serve wrote under its data dir
// (serve's secrets; the test is root in its own namespace). null when not found.
function janusAdmin() {
  const dir = join(serve.dataDir, 'janus');
  const f = join(dir, 'janus.jcfg');
  const h = join(dir, 'janus.transport.http.jcfg');
  if (!existsSync(f) || !existsSync(h)) return null;
  const secret = /admin_secret\s*=\s*"([^"]+)"/.exec(readFileSync(f, 'utf8'));
  const port = /admin_port\s*=\s*(\d+)/.exec(readFileSync(h, 'utf8'));
  if (!secret || !port) return null;
  const url = `http://127.0.0.1:${port[1]}/admin`;
  return async (body) => {
    const r = await post(url, { body: { ...body, transaction: randomId(4), admin_secret: secret[1] } });
    return r.body;
  };
}

async function janusTokenCount() {
  const admin = janusAdmin();
  if (!admin) return null;
  const r = await admin({ janus: 'list_tokens' }).catch(() => null);
  return r && r.janus === 'success' ? r.data.tokens.length : null;
}

// What a page's Janus client saw (relative to t0), for failures.
async function dumpPage(who, t0) {
  const ev = await inPage(who, () => ({ events: window.amphiStage.events, pub: window.amphiStage.publisherState() })).catch((e) => ({ error: String(e) }));
  log(`${who}: publisher ${JSON.stringify(ev.pub)}; events:`);
  for (const e of (ev.events || []).slice(-25)) log(`  ${e.t - t0} ms ${JSON.stringify(e)}`);
}

function assertCreds(c, who) {
  assert.equal(c.status, 200, `${who} credentials: ${c.status} ${JSON.stringify(c.body)}`);
  const { janusUrl, janusRoom, token, iceServers } = c.body;
  assert.match(janusUrl, /^wss?:\/\//, 'janusUrl is a WebSocket URL');
  assert.ok(janusRoom !== undefined && janusRoom !== null, 'janusRoom');
  assert.ok(typeof token === 'string' && token.length >= 16, 'a token');
  assert.ok(Array.isArray(iceServers), 'iceServers is an array');
  return c.body;
}

before(async () => {
  assert.ok(AMPHI_BIN, 'set AMPHI_BIN to the amphi binary');
  log(`media address ${MEDIA_IP}; serve args ${SERVE_ARGS.join(' ')}`);
  serve = await startServe({ amphiBin: AMPHI_BIN, extraArgs: SERVE_ARGS });
  const room = await serve.createRoom({ id: `stage-${randomId(3)}`, title: 'Stage e2e', maxStage: 1 });
  roomId = room.id;
  users.M = await serve.join(roomId, room.invites.moderator, 'Mona (moderator)');
  for (const [name, display] of [['A', 'Ada'], ['V', 'Vic'], ['C', 'Cyd']]) {
    users[name] = await serve.join(roomId, room.invites.viewer, display);
  }
  assert.equal(users.M.role, 'moderator');
  assert.equal(users.A.role, 'viewer');
  for (const who of ['M', 'A']) {
    sse[who] = serve.sse(`/api/rooms/${roomId}/user-events`, users[who].token);
    assert.equal(await sse[who].ready, 200, `${who} SSE: ${sse[who].error}`);
  }
  browser = await launchBrowser();
  const origin = serve.url('/healthz'); // a 200 document on serve's origin (a secure context)
  for (const who of ['M', 'A', 'V']) pages[who] = await newStagePage(browser, origin, { name: who });
});

after(async () => {
  for (const s of Object.values(sse)) s.close();
  for (const p of Object.values(pages)) await p.evaluate(() => window.amphiStage.leave()).catch(() => {});
  await browser?.close().catch(() => {});
  if (serve) {
    const r = await serve.stop();
    log(`serve stopped: ${JSON.stringify(r)}`);
    if (process.exitCode || process.env.E2E_KEEP) log(`serve log (${serve.logFile}):\n${tail(serve.logFile, 40)}`);
    if (!process.env.E2E_KEEP) rmSync(serve.dataDir, { recursive: true, force: true });
  }
});

test('/readyz reports Janus', T, async () => {
  const r = await serve.get('/readyz');
  log('readyz:', JSON.stringify(r.body));
  assert.equal(r.status, 200);
  assert.match(JSON.stringify(r.body).toLowerCase(), /janus/);
});

test('moderator gets credentials on serve\'s own origin', T, async () => {
  const c = assertCreds(await credentials('M'), 'moderator');
  log('moderator credentials:', JSON.stringify({ ...c, token: `${c.token.slice(0, 4)}…` }));
  assert.ok(c.janusUrl.startsWith(`ws://${serve.host}:${serve.port}/`), `janusUrl ${c.janusUrl} on serve's origin`);
  users.M.creds = c;
});

test('(a) a viewer never promoted cannot publish: Janus itself refuses', T, async () => {
  // the API refuses credentials...
  const r = await credentials('V');
  assert.equal(r.status, 403, `viewer credentials: ${r.status}`);
  const early = await credentials('V', 'subscribe');
  assert.equal(early.status, 403, `subscribe-only credentials without a raised hand: ${early.status}`);
  const m = users.M.creds;

  // ...and Janus refuses a made-up token outright,
  const forged = await inPage('V', (c) => window.amphiStage.tryJoinPublisher(c),
    { janusUrl: m.janusUrl, janusRoom: m.janusRoom, token: `forged-${randomId(12)}`, display: 'Vic' });
  log('made-up token →', JSON.stringify(forged));
  assert.equal(forged.ok, false);
  assert.equal(forged.code, 403);

  // ...and a subscribe-only token (hand raised: warm-up) cannot join as a publisher.
  const raise = await serve.post(`/api/rooms/${roomId}/raise-hand`, users.V.token);
  assert.equal(raise.status, 200, `raise-hand ${raise.status}`);
  const s = assertCreds(await credentials('V', 'subscribe'), 'subscribe-only');
  users.V.subCreds = s;
  const probe = await inPage('V', (c) => window.amphiStage.tryJoinPublisher(c), { ...s, display: 'Vic', publish: true });
  log('subscribe-only token as publisher →', JSON.stringify(probe));
  assert.equal(probe.ok, false, 'Janus must refuse a publisher with subscribe-only credentials');
  assert.ok([403, 433].includes(probe.code), `refused by Janus's token or allowed check (got ${probe.code} ${probe.reason})`);
  await screenshot(pages.V, 'stage-a-viewer-refused');
});

test('(b) promote → the user publishes, the moderator decodes its video', T, async () => {
  const from = sse.A.frames.length;
  const t0 = Date.now();
  const p = await promote('A');
  assert.equal(p.status, 200, `promote: ${p.status} ${JSON.stringify(p.body)}`);
  const ev = await sse.A.waitFor((f) => f.type === 'PROMOTE' && f.json?.userId === users.A.userId,
    { from, timeoutMs: 5000, what: 'PROMOTE at A' });
  log(`PROMOTE reached A after ${ev.at - t0} ms`);
  assert.ok(!JSON.stringify(ev.json).includes('token'), 'no credentials on the bus');
  credsA = assertCreds(await credentials('A'), 'promoted user');
  const pub = await inPage('A', (c) => window.amphiStage.publish(c), credsA);
  feedA = pub.feedId;
  log(`A publishing as feed ${feedA}, ${Date.now() - t0} ms after promote`);
  await screenshot(pages.A, 'stage-b-publisher');

  const sub = await inPage('M', (c) => window.amphiStage.subscribe(c), { ...users.M.creds, feedId: feedA });
  assert.equal(sub.feedId, feedA);
  const frames = await waitForFrames(pages.M, { min: 0, timeoutMs: 15000 });
  log(`moderator decoded ${frames} frames; first frame ${Date.now() - t0} ms after promote`);
  await new Promise((r) => setTimeout(r, 1500));
  const stats = await inPage('M', () => window.amphiStage.videoStats());
  log('moderator video stats:', JSON.stringify(stats));
  assert.ok(stats[0].framesDecoded > frames, 'frames keep arriving');
  await screenshot(pages.M, 'stage-b-moderator-sees-A');

  // Warm-up credentials can subscribe (they exist for that).
  const vsub = await inPage('V', (c) => window.amphiStage.trySubscribe(c), { ...users.V.subCreds, feedId: feedA });
  log('subscribe-only credentials subscribing →', JSON.stringify(vsub));
  assert.ok(vsub.ok, `subscribe-only credentials subscribe: ${vsub.reason}`);
  const vframes = await waitForFrames(pages.V, { min: 0, timeoutMs: 15000 });
  log(`warm-up viewer decoded ${vframes} frames`);
  await screenshot(pages.V, 'stage-b-warmup-viewer');
});

test('(e) stage full → 409, nothing changes in Janus', T, async () => {
  const before = await janusTokenCount();
  const r = await promote('C');
  log('promote C on a full stage →', r.status, JSON.stringify(r.body));
  assert.equal(r.status, 409);
  assert.equal(r.body?.error?.code, 'stage_full');
  const c = await credentials('C');
  assert.equal(c.status, 403, 'no credentials for the refused user');
  const afterCount = await janusTokenCount();
  if (before === null) log('Janus admin API not readable from the data dir; token count not compared');
  else {
    log(`Janus tokens before/after the refused promote: ${before}/${afterCount}`);
    assert.equal(afterCount, before, 'no token added to Janus');
  }
  const state = await serve.get(`/api/rooms/${roomId}/state`, users.M.token);
  assert.deepEqual((state.body.stage || []).map((s) => s.userId), [users.A.userId]);
  // A is still publishing, the moderator still receives.
  const n0 = await inPage('M', () => window.amphiStage.framesDecoded());
  const n1 = await waitForFrames(pages.M, { min: n0, timeoutMs: 5000 });
  assert.ok(n1 > n0);
});

test('(c) demote → kicked within a second, old token refused, credentials 403', T, async () => {
  const from = sse.A.frames.length;
  const t0 = Date.now();
  const d = await demote('A');
  assert.equal(d.status, 200, `demote: ${d.status} ${JSON.stringify(d.body)}`);
  log(`demote answered after ${Date.now() - t0} ms`);
  let kicked;
  try {
    kicked = await waitUntil(() => inPage('A', () => window.amphiStage.kicked && window.amphiStage.kickedAt),
      { timeoutMs: Math.max(200, 1000 - (Date.now() - t0)) + 250, intervalMs: 20, what: 'A kicked by Janus' });
  } catch (e) {
    await dumpPage('A', t0);
    await screenshot(pages.A, 'stage-c-not-kicked');
    throw e;
  }
  const reason = await inPage('A', () => window.amphiStage.kickReason);
  log(`A kicked ${kicked - t0} ms after the demote request (${reason})`);
  assert.ok(kicked - t0 <= 1000, `kicked within a second (took ${kicked - t0} ms)`);
  await screenshot(pages.A, 'stage-c-kicked');
  await sse.A.waitFor((f) => f.type === 'DEMOTE' && f.json?.userId === users.A.userId,
    { from, timeoutMs: 5000, what: 'DEMOTE at A' });

  const again = await inPage('A', (c) => window.amphiStage.tryJoinPublisher(c), { ...credsA, publish: true });
  log('old token after demotion →', JSON.stringify(again));
  assert.equal(again.ok, false, 'the old token no longer publishes');
  const c = await credentials('A');
  assert.equal(c.status, 403, `credentials after demotion: ${c.status}`);
  await inPage('A', () => window.amphiStage.leave());
});

test('(c2) a demoted publisher is kicked even if it joined under another display name', T, async () => {
  // The display in the credentials is only a hint: a page may send any display, and
  // demotion must still take it off Janus (serve must not find the feed by display).
  await inPage('A', () => window.amphiStage.leave());
  const p = await promote('A');
  assert.equal(p.status, 200, `promote: ${p.status}`);
  const creds = assertCreds(await credentials('A'), 'promoted again');
  const pub = await inPage('A', (c) => window.amphiStage.publish(c), { ...creds, display: `not-${creds.display}` });
  log(`A publishing as feed ${pub.feedId} under display "not-${creds.display}"`);
  const t0 = Date.now();
  const d = await demote('A');
  assert.equal(d.status, 200, `demote: ${d.status}`);
  let kicked;
  try {
    kicked = await waitUntil(() => inPage('A', () => window.amphiStage.kicked && window.amphiStage.kickedAt),
      { timeoutMs: Math.max(200, 1000 - (Date.now() - t0)) + 250, intervalMs: 20, what: 'A (other display) kicked by Janus' });
  } catch (e) {
    await dumpPage('A', t0);
    await screenshot(pages.A, 'stage-c2-not-kicked');
    throw e;
  } finally {
    await inPage('A', () => window.amphiStage.leave());
  }
  log(`A (other display) kicked ${kicked - t0} ms after the demote request`);
  assert.ok(kicked - t0 <= 1000, `kicked within a second (took ${kicked - t0} ms)`);
});

test('(d) closing the promoted user\'s page → automatic demotion after the grace period', T, async () => {
  await inPage('A', () => window.amphiStage.leave()); // in case (c) failed half-way
  const p = await promote('A');
  assert.equal(p.status, 200, `promote again: ${p.status}`);
  const creds = assertCreds(await credentials('A'), 'promoted again');
  const pub = await inPage('A', (c) => window.amphiStage.publish(c), creds);
  log(`A publishing again as feed ${pub.feedId}`);
  // Stay on stage a moment, so serve has seen the publisher (its watcher polls Janus
  // every second; a user never seen publishing gets the longer join allowance).
  await new Promise((r) => setTimeout(r, 2500));
  await screenshot(pages.A, 'stage-d-before-close');
  const from = sse.M.frames.length;
  const t0 = Date.now();
  await pages.A.context().close();
  delete pages.A;
  const isAutoDemotion = (f) => (f.type === 'DEMOTE' && f.json?.userId === users.A.userId) ||
    (f.type === 'STAGE_CHANGED' && f.json?.userId === users.A.userId && f.json?.action !== 'promote');
  const ev = await sse.M.waitFor(isAutoDemotion, { from, timeoutMs: GRACE_S * 1000 + 20000, what: 'automatic DEMOTE/STAGE_CHANGED at M' });
  const took = ev.at - t0;
  log(`automatic ${ev.type} at the moderator ${took} ms after the page closed (grace ${GRACE_S} s): ${ev.data}`);
  // serve counts the grace from the last time it saw the publisher (it polls every ~1 s)
  assert.ok(took >= GRACE_S * 1000 - 1500, `not before the grace period (${took} ms)`);
  const state = await serve.get(`/api/rooms/${roomId}/state`, users.M.token);
  assert.ok(!(state.body.stage || []).some((s) => s.userId === users.A.userId), 'A is off the stage');
  const c = await credentials('A');
  assert.equal(c.status, 403);
  await screenshot(pages.M, 'stage-d-moderator-after');
});
