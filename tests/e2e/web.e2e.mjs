// Issue 5's end-to-end test (and issue 4's: hls.js plays the broadcast in Chromium): the
// web app served by `amphi serve`, with its nats-server, Janus and `amphi egress`
// composing the real stage (--egress-source janus), Chromium pages with fake cameras,
// all inside a private network namespace.
//
//   tests/e2e/run-web.sh build/amphi
//
// One flow: the moderator M joins room demo through its invite link and goes live; two
// viewers A and B join through the viewer link and play LL-HLS; A raises a hand, M
// promotes A, A's page (same JS context) shows the stage with M's video and publishes
// its camera, which M receives; M demotes A, A is back on HLS. Five promote/demote
// cycles give the promotion time (M's click → both sides see each other's video), printed
// as p50, not asserted. B stays on HLS throughout, its video advancing, and cannot
// promote anyone (403 from its own page).
//
// E2E_WEB_TLS=1 runs the same flow over HTTPS (issue 6): serve --tls self-signed,
// Chromium told to accept that certificate by its public key (the SPKI hash serve
// prints), invite links, the app, the API, SSE, LL-HLS and the Janus relay all on
// https:// and wss://; one promote/demote cycle by default.
//
// Env: AMPHI_BIN (required), E2E_WEB_SERVE_ARGS (replaces the default serve flags below),
// E2E_WEB_CYCLES (default 5, 1 with TLS), E2E_WEB_TLS=1, E2E_ARTIFACTS (screenshots
// web-*.png), E2E_KEEP=1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  startServe, launchBrowser, waitUntil, log, tail, randomId, peerFingerprint, printedCertificate,
} from './lib/harness.mjs';
import {
  newAppPage, joinByInvite, amphi, waitMode, videoState, videoAdvances, waitFirstFrame,
  lastClick, shot, percentile,
} from './lib/app-page.mjs';
import { newestFrame, changedPixels, FRAME_W, FRAME_H } from './lib/hls-frames.mjs';

const AMPHI_BIN = process.env.AMPHI_BIN;
// The real stage composite, at a picture size this 2-core machine encodes comfortably.
const TLS = process.env.E2E_WEB_TLS === '1';
const SERVE_ARGS = [...(process.env.E2E_WEB_SERVE_ARGS !== undefined
  ? process.env.E2E_WEB_SERVE_ARGS.split(/\s+/).filter(Boolean)
  : ['--egress-source', 'janus', '--video-size', '640x360', '--video-fps', '25']),
...(TLS ? ['--tls', 'self-signed'] : [])];
const CYCLES = Number(process.env.E2E_WEB_CYCLES || (TLS ? 1 : 5));
const ROOM = 'demo';
const T = { timeout: 120000 };

let serve;
let browser;
let invites; // {moderator, viewer} links printed by serve for room demo
const pages = {}; // M (moderator), A (viewer promoted), B (viewer who stays on HLS)
const ids = {};   // userIds
let failed = false;
const promotions = []; // per cycle: {total, viewerSees, moderatorSees, toStage}

// Later steps need the earlier ones: skip them once one has failed.
function step(name, fn, opts = T) {
  test(name, opts, async (t) => {
    if (failed) { t.skip('an earlier step failed'); return; }
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      for (const [who, p] of Object.entries(pages)) {
        await shot(p, `failed-${who}`);
        log(`${who} __amphi: ${JSON.stringify(await amphi(p).catch(() => null))}`);
      }
      throw e;
    }
  });
}

// The egress's log files under serve's data dir (whole, or their last `lines`).
function egressLogs(lines = 0) {
  const dir = join(serve.dataDir, 'logs');
  if (!existsSync(dir)) return '';
  return readdirSync(dir).filter((f) => f.includes('egress')).map((f) => `--- ${f}\n${
    lines ? tail(join(dir, f), lines) : readFileSync(join(dir, f), 'utf8')}`).join('\n');
}

// The egress log says it takes this user's feed into the composite.
const egressForwards = (userId) => new RegExp(`forwarding publisher ${userId} `).test(egressLogs());

// B's HLS playhead, sampled in its page every 250 ms for the whole run: the same
// <video> element (never remounted), mode, and 'waiting' events.
async function startSampler(page) {
  await page.evaluate(() => {
    const v = document.querySelector('video[data-testid="hls-video"]');
    v.__e2eTag = 'first';
    const s = (window.__e2eSamples = { list: [], waiting: 0 });
    v.addEventListener('waiting', () => { s.waiting += 1; });
    setInterval(() => {
      const cur = document.querySelector('video[data-testid="hls-video"]');
      s.list.push({
        at: Date.now(), mode: window.__amphi?.mode, same: !!cur && cur.__e2eTag === 'first',
        ct: cur ? cur.currentTime : null,
      });
    }, 250);
  });
}

before(async () => {
  assert.ok(AMPHI_BIN, 'set AMPHI_BIN to the amphi binary');
  log(`serve args: ${SERVE_ARGS.join(' ')}`);
  serve = await startServe({ amphiBin: AMPHI_BIN, extraArgs: SERVE_ARGS, readyTimeoutMs: 60000 });
  const printed = await waitUntil(() => {
    const text = readFileSync(serve.logFile, 'utf8');
    const m = /Moderator invite:\s+(\S+)/.exec(text);
    const v = /Viewer invite:\s+(\S+)/.exec(text);
    return m && v ? { moderator: m[1], viewer: v[1] } : null;
  }, { timeoutMs: 10000, what: "room demo's invite links in serve's output" });
  invites = printed;
  log(`invites: ${JSON.stringify(invites)}`);
  let spki;
  if (TLS) {
    const cert = printedCertificate(serve.logFile);
    assert.ok(cert, 'serve printed its certificate\'s fingerprints');
    assert.equal(await peerFingerprint(serve.host, serve.port), cert.fingerprint,
      'the printed SHA-256 fingerprint is the certificate serve presents');
    assert.ok(invites.moderator.startsWith(`https://${serve.host}:${serve.port}/`), 'https:// invite links');
    spki = cert.spki;
    log(`TLS: certificate ${cert.fingerprint}, Chromium trusts SPKI ${spki}`);
  }
  browser = await launchBrowser({ spki });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (serve) {
    if (failed || process.env.E2E_KEEP) {
      log(`serve log:\n${tail(serve.logFile, 40)}`);
      log(`egress logs:\n${egressLogs(30)}`);
    }
    const r = await serve.stop();
    log(`serve stopped: ${JSON.stringify(r)}`);
    if (!process.env.E2E_KEEP) rmSync(serve.dataDir, { recursive: true, force: true });
    else log(`kept ${serve.dataDir}`);
  }
});

step('the moderator joins through the invite link and goes live', async () => {
  assert.match(invites.moderator, new RegExp(`/r/${ROOM}#invite=`), 'an app link');
  const M = (pages.M = await newAppPage(browser, 'M', { viewport: { width: 1280, height: 800 } }));
  const me = await joinByInvite(M, invites.moderator, 'Mona (host)');
  assert.equal(me.role, 'moderator');
  ids.M = me.userId;
  await waitMode(M, 'stage', 30000); // the moderator is on stage from the start
  await M.getByTestId('go-live').click();
  await M.getByTestId('end-live').waitFor({ timeout: 10000 });
  assert.equal(await M.getByTestId('live-badge').getAttribute('data-live'), 'true');
  await shot(M, '01-moderator-live');
});

step('viewers join and hls.js plays the broadcast (currentTime advances)', async () => {
  for (const [who, name] of [['A', 'Ada'], ['B', 'Bo']]) {
    pages[who] = await newAppPage(browser, who, { viewport: { width: 900, height: 700 } });
    const me = await joinByInvite(pages[who], invites.viewer, name);
    assert.equal(me.role, 'viewer');
    ids[who] = me.userId;
  }
  for (const who of ['A', 'B']) {
    const p = await videoAdvances(pages[who], 'hls-video', { advance: 2, timeoutMs: 45000 });
    log(`${who}: HLS playing, currentTime ${p.from.toFixed(2)} → ${p.to.toFixed(2)} (${p.waitedMs} ms)`);
    const a = await amphi(pages[who]);
    assert.equal(a.mode, 'passive');
    assert.equal(a.player, 'playing');
  }
  // hls.js in low-latency mode: blocking playlist reloads and parts, not whole segments only.
  const reqs = await pages.B.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name)
    .filter((n) => n.includes('/hls/')));
  log(`B: ${reqs.length} HLS requests, e.g. ${reqs.slice(-3).join(' ')}`);
  assert.ok(reqs.some((n) => /_HLS_msn=\d+/.test(n)), 'blocking playlist reloads (_HLS_msn)');
  if (TLS) assert.ok(reqs.every((n) => n.startsWith('https://')), 'HLS over https');
  assert.ok(reqs.some((n) => /\.m4s(\?|$)/.test(n) || /part/i.test(n)), 'media parts fetched');
  // The broadcast is the stage composite (Janus source) with M's camera in it (egress log).
  await waitUntil(() => egressForwards(ids.M), { timeoutMs: 10000, what: "the egress forwarding M's feed" });
  assert.match(egressLogs(), /from the janus source/, 'egress runs the janus source');
  // ... and the picture moves: M's fake camera (a turning arc, a frame counter) is in the
  // composite, where the slate alone would give the same picture segment after segment.
  const first = await newestFrame(serve.base, ROOM);
  const later = await waitUntil(async () => {
    const f = await newestFrame(serve.base, ROOM);
    return f.uri !== first.uri ? f : null;
  }, { timeoutMs: 15000, intervalMs: 500, what: 'a newer segment in the playlist' });
  const changed = changedPixels(first.pixels, later.pixels);
  log(`HLS frames ${first.uri} → ${later.uri}: ${changed} of ${FRAME_W * FRAME_H} pixels changed`);
  assert.ok(changed >= 20, `the broadcast shows live video (${changed} pixels changed between segments)`);
  await startSampler(pages.B);
  await shot(pages.A, '02-viewer-A-hls');
  await shot(pages.B, '02-viewer-B-hls');
});

step('viewer B cannot promote anyone (403 from its own page, role not CSRF)', async () => {
  const r = await pages.B.evaluate(async ([room, target]) => {
    const call = async (path) => {
      const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return { status: res.status, body: await res.json().catch(() => null) };
    };
    return {
      promote: await call(`/api/rooms/${room}/promote/${target}`),
      promoteSelf: await call(`/api/rooms/${room}/promote/${window.__amphi.userId}`),
      // the same cookie and Origin pass where a viewer may act: the 403s are about the role
      lower: await call(`/api/rooms/${room}/lower-hand`),
    };
  }, [ROOM, ids.A]);
  log(`B's POSTs: ${JSON.stringify(r)}`);
  assert.equal(r.promote.status, 403);
  assert.equal(r.promote.body?.error?.code, 'forbidden');
  assert.equal(r.promoteSelf.status, 403);
  assert.equal(r.lower.status, 200, 'an allowed cookie POST from the same page passes');
});

// One promote/demote cycle of A by M. Returns the timings; asserts the flow.
async function cycle(i, { shots = false } = {}) {
  const { M, A } = pages;
  await A.getByTestId('raise-hand').click();
  await A.getByTestId('queue-position').waitFor({ timeout: 10000 });
  const warm = await A.waitForFunction(() => window.__amphi?.warm === 'warm', null, { timeout: 20000 })
    .then(() => 'warm', () => amphi(A).then((a) => a.warm));
  await M.getByTestId(`queue-item-${ids.A}`).waitFor({ timeout: 10000 });
  if (shots) {
    await shot(A, '03-viewer-A-hand-raised');
    await shot(M, '03-moderator-queue');
  }
  const marker = `marker-${i}-${randomId(4)}`;
  await A.evaluate((m) => { window.__marker = m; }, marker);

  await M.getByTestId(`promote-${ids.A}`).click();
  const clickAt = await lastClick(M, `promote-${ids.A}`);
  assert.ok(clickAt, 'the click was seen in the page');
  const [viewerSees, moderatorSees] = await Promise.all([
    waitFirstFrame(A, `stage-video-${ids.M}`, clickAt, 25000),
    waitFirstFrame(M, `stage-video-${ids.A}`, clickAt, 25000),
  ]);
  await waitMode(A, 'stage', 10000);
  const a = await amphi(A);
  const toStage = a.transitions.filter(([m, at]) => m === 'stage' && at >= clickAt).map(([, at]) => at)[0];
  const t = {
    cycle: i, warm, total: Math.max(viewerSees, moderatorSees) - clickAt,
    viewerSeesModerator: viewerSees - clickAt, moderatorSeesViewer: moderatorSees - clickAt,
    viewerOnStage: toStage ? toStage - clickAt : null,
    steps: a.steps.map(([s, at]) => `${s}@${at - clickAt}`).join(' '),
  };
  log(`cycle ${i}: ${JSON.stringify(t)}`);

  if (TLS && i === 1) {
    const ws = A.webSockets.filter((u) => u.includes('/janus'));
    log(`A's Janus WebSockets: ${ws.join(' ')}`);
    assert.ok(ws.length > 0 && ws.every((u) => u.startsWith('wss://')), 'the stage talks to Janus over wss://');
    assert.equal(await A.evaluate(() => location.protocol), 'https:');
  }
  // A's page: the same JS context, the stage with M's video playing, its own camera out.
  assert.equal(await A.evaluate(() => window.__marker), marker, 'no reload: the marker survives promotion');
  await videoAdvances(A, `stage-video-${ids.M}`, { advance: 0.5, timeoutMs: 10000 });
  await A.getByTestId('stage').waitFor({ timeout: 5000 });
  await A.getByTestId('self-preview').waitFor({ timeout: 5000 });
  assert.equal(await A.getByTestId('hls-video').count(), 0, 'the HLS player is gone on stage');
  // M receives A's camera.
  await videoAdvances(M, `stage-video-${ids.A}`, { advance: 0.5, timeoutMs: 10000 });
  if (i === 1) {
    await waitUntil(() => egressForwards(ids.A), { timeoutMs: 10000, what: "the egress forwarding A's feed" });
  }
  if (shots) {
    await shot(A, '04-viewer-A-on-stage');
    await shot(M, '04-moderator-sees-A');
  }

  await M.getByTestId(`demote-${ids.A}`).click();
  await waitMode(A, 'passive', 15000);
  const back = await videoAdvances(A, 'hls-video', { advance: 1, timeoutMs: 30000 });
  log(`cycle ${i}: A back on HLS, currentTime ${back.from.toFixed(2)} → ${back.to.toFixed(2)} (${back.waitedMs} ms after passive)`);
  assert.equal(await A.evaluate(() => window.__marker), marker, 'no reload: the marker survives demotion');
  const after = await amphi(A);
  assert.equal(after.error, null, `no stage error after demotion (${after.error})`);
  await M.getByTestId(`stage-video-${ids.A}`).waitFor({ state: 'detached', timeout: 10000 });
  if (shots) {
    await shot(A, '05-viewer-A-back-on-hls');
    await shot(M, '05-moderator-after-demote');
  }
  return t;
}

step('promote: A sees M, M sees A, in the same page; demote: A back on HLS', async () => {
  promotions.push(await cycle(1, { shots: true }));
}, { timeout: 150000 });

step(`promotion time over ${CYCLES} promote/demote cycles`, async () => {
  for (let i = promotions.length + 1; i <= CYCLES; i += 1) promotions.push(await cycle(i));
  const totals = promotions.map((p) => p.total);
  const fmt = (k) => promotions.map((p) => p[k]).join(', ');
  log(`promotion (click → both see each other's video), ms: ${fmt('total')}`);
  log(`  viewer sees moderator: ${fmt('viewerSeesModerator')}`);
  log(`  moderator sees viewer: ${fmt('moderatorSeesViewer')}`);
  log(`  viewer page on stage:  ${fmt('viewerOnStage')}`);
  console.log(`PROMOTION_P50_MS=${percentile(totals, 50)} (n=${totals.length}, min ${Math.min(...totals)}, max ${Math.max(...totals)}; warm-up: ${promotions.map((p) => p.warm).join(',')})`);
}, { timeout: 400000 });

step('viewer B never left HLS and its video kept advancing', async () => {
  await sleep(1000);
  const s = await pages.B.evaluate(() => window.__e2eSamples);
  const list = s.list;
  assert.ok(list.length > 20, `samples: ${list.length}`);
  const modes = new Set(list.map((x) => x.mode));
  assert.deepEqual([...modes], ['passive'], 'B stays passive');
  assert.ok(list.every((x) => x.same), 'B plays in the same <video> element throughout (never remounted)');
  const a = await amphi(pages.B);
  assert.deepEqual(a.transitions.map(([m]) => m).filter((m) => m !== 'passive'), [], 'no stage transition');
  // advancing: no stretch longer than 6 s without the playhead moving
  let longest = 0;
  let since = list[0];
  for (const x of list.slice(1)) {
    if (x.ct > since.ct) since = x;
    else longest = Math.max(longest, x.at - since.at);
  }
  const span = (list.at(-1).at - list[0].at) / 1000;
  const played = list.at(-1).ct - list[0].ct;
  log(`B: ${span.toFixed(1)} s watched, playhead +${played.toFixed(1)} s, longest stall ${longest} ms, ${s.waiting} waiting events`);
  assert.ok(longest < 6000, `B's playhead stood still for ${longest} ms`);
  assert.ok(played > span * 0.8, `B played ${played.toFixed(1)} s of ${span.toFixed(1)} s`);
  await shot(pages.B, '06-viewer-B-still-on-hls');
  for (const [who, p] of Object.entries(pages)) assert.deepEqual(p.errors, [], `${who}: no page errors`);
});
