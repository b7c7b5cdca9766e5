// Egress cost of one stage composite (issue #4: "CPU cores and RSS for one 720p30
// composite with 1 and 4 publishers"). A benchmark, not a test: it prints figures and
// exits 0 whatever they are, non-zero only when it cannot set up (serve does not start,
// a page cannot join or publish, the egress never forwards a publisher).
//
// Runs inside tests/e2e/netns-run.sh (Janus's ICE candidates are on the namespace's veth):
//   1. `amphi serve --egress-source janus` (its own nats-server, Janus and `amphi egress`;
//      1280x720 at 30 fps unless BENCH_SERVE_ARGS says otherwise), room demo.
//   2. The moderator joins through its invite link in headless Chromium (fake camera);
//      it is on stage from the start and publishes; it goes live, which starts the egress.
//   3. For each publisher count in --publishers (default 1,4): viewers join through the
//      viewer invite in pages of their own, raise their hand and the moderator promotes
//      them in its page (Promote button) until that many publish; the egress log must say
//      "forwarding publisher <userId>" for every one of them. After --warmup seconds and
//      once the broadcast is not behind (waitSteady), a window of --seconds: CPU
//      (utime+stime from /proc, % of one core) of the egress child, Janus, serve,
//      nats-server and all Chromium processes; the egress's VmRSS and
//      VmHWM at the end; the load average; and whether the egress kept up: the LL-HLS
//      playlist polled every second (parts first listed in the window per second against
//      1/part duration; media time listed against wall time; how far the newest part's
//      end is behind the wall clock) and the egress's own status lines (parts published).
//
//   bench/egress/run.sh build/amphi [-- --publishers 1,2,4 --seconds 30 --warmup 10 --camera-fps 15]
// --camera-fps N: Chromium's fake camera at N fps (20 otherwise; the app asks for ideal 24)
// to spend less CPU in Chromium; the egress then decodes N fps per publisher.
import { readFileSync, readdirSync, existsSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServe, launchBrowser, waitUntil, get, log, tail } from '../../tests/e2e/lib/harness.mjs';
import { newAppPage, joinByInvite, amphi, waitMode } from '../../tests/e2e/lib/app-page.mjs';
import {
  procStat, vmHwmKb, vmRssKb, descendants, cpuSnapshot, cpuDelta, shares, chromiumProcs, egressProc,
  threadCpu, threadShares, loadAverage,
} from '../lib/procs.mjs';

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}
const SECONDS = Number(arg('seconds', 30));
const WARMUP = Number(arg('warmup', 10));
const STEPS = String(arg('publishers', '1,4')).split(',').map(Number).filter((n) => n >= 1)
  .sort((a, b) => a - b);
const CAMERA_FPS = Number(arg('camera-fps', 0));
const KEEP = !!arg('keep', false) || !!process.env.E2E_KEEP;
const AMPHI_BIN = process.env.AMPHI_BIN || arg('amphi', null);
if (!AMPHI_BIN) { console.error('set AMPHI_BIN or --amphi PATH'); process.exit(2); }
const EXTRA = (process.env.BENCH_SERVE_ARGS ?? '').split(/\s+/).filter(Boolean);
// the broadcast frame rate serve passes to the egress (amphi's default 30)
const FPS = EXTRA.includes('--video-fps') ? Number(EXTRA[EXTRA.indexOf('--video-fps') + 1]) : 30;
const ROOM = 'demo';
const MAX_STAGE = 4; // serve's demo room
const VIEWPORT = { width: 800, height: 500 }; // smaller pages: less software compositing

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const mib = (kb) => f1(kb / 1024);

// ------------------------------------------------------------------ egress log

function egressLogText() {
  const dir = join(serve.dataDir, 'logs');
  if (!existsSync(dir)) return '';
  return readdirSync(dir).filter((f) => f.includes('egress'))
    .map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
}
const egressForwards = (userId) => new RegExp(`forwarding publisher ${userId} `).test(egressLogText());

// "2026-11-25T16:11:03.123 info egress: room demo: N parts published, segment M, …"
// (local time, as Date.parse reads a time without an offset) → {at, parts, msn}
function statusLines() {
  const out = [];
  for (const line of egressLogText().split('\n')) {
    const m = /(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+) .* (\d+) parts published, segment (\d+)/.exec(line);
    if (m) out.push({ at: Date.parse(m[1]), parts: Number(m[2]), msn: Number(m[3]) });
  }
  return out;
}

// Parts per second from the status lines inside [from, to] (first and last of them).
function statusRate(from, to) {
  const s = statusLines().filter((x) => x.at >= from && x.at <= to);
  if (s.length < 2) return { rate: NaN, lines: s.length };
  const a = s[0];
  const z = s.at(-1);
  return { rate: (z.parts - a.parts) / ((z.at - a.at) / 1000), lines: s.length };
}

// ------------------------------------------------------------------ playlist

// The media playlist's parts: [{uri, dur, end}] where `end` is the wall-clock time
// (EXT-X-PROGRAM-DATE-TIME based, ms) at which the part's media ends.
function parseParts(text) {
  const parts = [];
  let pdt = null; // start of the next segment (ms)
  let t = null; // running media time (ms) inside the current segment
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      pdt = Date.parse(line.slice(25));
      t = pdt;
    } else if (line.startsWith('#EXT-X-PART:')) {
      const dur = Number(/DURATION=([\d.]+)/.exec(line)?.[1]);
      const uri = /URI="([^"]+)"/.exec(line)?.[1];
      if (t !== null) t += dur * 1000;
      parts.push({ uri, dur, end: t });
    } else if (line.startsWith('#EXTINF:')) {
      // a whole segment: its parts were listed above it (or have aged out); the next
      // segment starts where this one ends
      const dur = Number(line.slice(8).split(',')[0]);
      if (pdt !== null) { pdt += dur * 1000; t = pdt; }
    }
  }
  return parts;
}

// Polls the playlist every second until stop(); records when each part URI first shows.
function pollPlaylist() {
  const firstSeen = new Map();
  const samples = []; // {at, newestEnd}
  let running = true;
  let partTarget = NaN;
  const done = (async () => {
    while (running) {
      const r = await get(serve.url(`/hls/${ROOM}/media.m3u8`), { timeoutMs: 5000 }).catch(() => null);
      const at = Date.now();
      if (r && r.status === 200 && typeof r.body === 'string') {
        const m = /PART-TARGET=([\d.]+)/.exec(r.body);
        if (m) partTarget = Number(m[1]);
        const parts = parseParts(r.body);
        for (const p of parts) if (p.uri && !firstSeen.has(p.uri)) firstSeen.set(p.uri, at);
        const newest = parts.at(-1);
        if (newest && Number.isFinite(newest.end)) samples.push({ at, newestEnd: newest.end });
      }
      await sleep(1000);
    }
  })();
  return {
    stop: async () => { running = false; await done; },
    // parts first listed in (from, to], per second; media listed per wall second; lag
    summary: (from, to) => {
      const seen = [...firstSeen.values()].filter((at) => at > from && at <= to).length;
      const s = samples.filter((x) => x.at >= from && x.at <= to);
      const lag = s.map((x) => (x.at - x.newestEnd) / 1000);
      return {
        partTarget,
        partsPerSecond: seen / ((to - from) / 1000),
        mediaPerWall: s.length >= 2 ? (s.at(-1).newestEnd - s[0].newestEnd) / (s.at(-1).at - s[0].at) : NaN,
        lagFirst: lag[0], lagLast: lag.at(-1), lagMax: Math.max(...lag),
      };
    },
  };
}

// Video frames per second of media in the newest `n` complete segments: ffprobe counts
// the packets (no decoding) of init + segment; the EXTINF durations give the media time.
// Fewer than the configured fps means the composite or the encoder dropped frames.
async function segmentFps(n = 5) {
  const root = serve.url(`/hls/${ROOM}/`);
  const text = (await get(`${root}media.m3u8`, { timeoutMs: 5000 })).body;
  let init = null;
  let dur = NaN;
  const segs = [];
  for (const line of String(text).split('\n')) {
    const map = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
    if (map) init = map[1];
    if (line.startsWith('#EXTINF:')) dur = Number(line.slice(8).split(',')[0]);
    if (line && !line.startsWith('#')) segs.push({ init, uri: line.trim(), dur });
  }
  const bytes = async (url) => {
    const r = await fetch(url, { signal: AbortSignal.timeout(10000) });
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status}`);
    return Buffer.from(await r.arrayBuffer());
  };
  const dir = mkdtempSync(join(tmpdir(), 'amphi-egress-bench-'));
  let frames = 0;
  let seconds = 0;
  try {
    for (const seg of segs.slice(-n)) {
      const file = join(dir, 'segment.mp4');
      writeFileSync(file, Buffer.concat([await bytes(root + seg.init), await bytes(root + seg.uri)]));
      const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets',
        '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file]).toString().trim();
      frames += Number(out);
      seconds += seg.dur;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { fps: frames / seconds, segments: Math.min(n, segs.length), seconds };
}

// ------------------------------------------------------------------ pages

let serve;
let browser;
let invites;
const pages = []; // [{name, page, userId}] in the order they went on stage

async function moderatorGoesLive() {
  const page = await newAppPage(browser, 'M', { viewport: VIEWPORT });
  const me = await joinByInvite(page, invites.moderator, 'Mod');
  if (me.role !== 'moderator') throw new Error(`the moderator link gave role ${me.role}`);
  await waitMode(page, 'stage', 30000);
  await page.getByTestId('go-live').click();
  await page.getByTestId('end-live').waitFor({ timeout: 15000 });
  pages.push({ name: 'M', page, userId: me.userId });
  log(`moderator ${me.userId} on stage and live`);
}

async function promoteViewer(i) {
  const M = pages[0].page;
  const name = `V${i}`;
  const page = await newAppPage(browser, name, { viewport: VIEWPORT });
  const me = await joinByInvite(page, invites.viewer, `Viewer ${i}`);
  // the hand is up once the page shows its place in the queue (a click before the page
  // is fully connected can be lost under load: click again)
  await waitUntil(async () => {
    if (await page.getByTestId('queue-position').isVisible()) return true;
    const raise = page.getByTestId('raise-hand');
    if (await raise.isVisible() && await raise.isEnabled()) await raise.click();
    return false;
  }, { timeoutMs: 60000, intervalMs: 3000, what: `${name}'s hand up (queue-position shown)` });
  await M.getByTestId(`queue-item-${me.userId}`).waitFor({ timeout: 60000 });
  await M.getByTestId(`promote-${me.userId}`).click();
  await waitMode(page, 'stage', 40000);
  pages.push({ name, page, userId: me.userId });
  log(`${name} ${me.userId} promoted and on stage`);
}

async function waitForwarded() {
  for (const p of pages) {
    await waitUntil(() => egressForwards(p.userId),
      { timeoutMs: 30000, intervalMs: 500, what: `the egress forwarding ${p.name} (${p.userId})` });
  }
}

// ------------------------------------------------------------------ windows

const janusProcs = () => descendants(serve.child.pid, (p) => p.comm === 'janus');
const natsProcs = () => descendants(serve.child.pid, (p) => /nats/.test(p.comm));

// The newest listed part's age (s): now − its end (PDT-based), or NaN.
async function newestPartAge() {
  const r = await get(serve.url(`/hls/${ROOM}/media.m3u8`), { timeoutMs: 5000 }).catch(() => null);
  const newest = r && r.status === 200 ? parseParts(String(r.body)).at(-1) : null;
  return newest && Number.isFinite(newest.end) ? (Date.now() - newest.end) / 1000 : NaN;
}

// After publishers join, the broadcast can lag behind for a while and then catch up
// faster than real time, which is not the steady cost: wait (at most STEADY_MS) until three
// polls in a row find the newest part younger than STEADY_AGE s. Returns the seconds waited.
const STEADY_AGE = 1.5;
const STEADY_MS = 60000;
async function waitSteady() {
  const t0 = Date.now();
  let good = 0;
  while (good < 3 && Date.now() - t0 < STEADY_MS) {
    good = (await newestPartAge()) < STEADY_AGE ? good + 1 : 0;
    await sleep(1000);
  }
  if (good < 3) log(`the newest part stayed older than ${STEADY_AGE} s for ${STEADY_MS / 1000} s: measuring anyway`);
  return (Date.now() - t0) / 1000;
}

async function measure(publishers) {
  await sleep(WARMUP * 1000);
  const steadyWait = await waitSteady();
  const eg = egressProc(serve);
  if (!eg) throw new Error('no amphi egress child of serve');
  const loadBefore = loadAverage();
  const poll = pollPlaylist();
  await sleep(1500); // a first playlist sample before the window
  const from = Date.now();
  const snap = () => ({
    eg: procStat(eg.pid), egThreads: threadCpu(eg.pid), serve: procStat(serve.child.pid),
    janus: cpuSnapshot(janusProcs()), nats: cpuSnapshot(natsProcs()), chromium: cpuSnapshot(chromiumProcs()),
  });
  const a = snap();
  await sleep(SECONDS * 1000);
  const z = snap();
  const to = Date.now();
  await sleep(1200);
  await poll.stop();
  const video = await segmentFps().catch((e) => ({ fps: NaN, error: e.message }));
  const secs = (to - from) / 1000;
  const pct = (d) => (100 * d) / secs;
  const ch = cpuDelta(a.chromium, z.chromium);
  const states = await Promise.all(pages.map(async (p) => ({ name: p.name, ...(await amphi(p.page)) })));
  const r = {
    publishers, secs, steadyWait, loadBefore, loadAfter: loadAverage(),
    egressCpu: pct(z.eg.cpu - a.eg.cpu), egressThreads: threadShares(a.egThreads, z.egThreads, secs),
    egressRssKb: vmRssKb(eg.pid), egressHwmKb: vmHwmKb(eg.pid),
    serveCpu: pct(z.serve.cpu - a.serve.cpu), serveRssKb: vmRssKb(serve.child.pid),
    janusCpu: pct(cpuDelta(a.janus, z.janus).sum), natsCpu: pct(cpuDelta(a.nats, z.nats).sum),
    chromiumCpu: pct(ch.sum), chromiumByType: shares(ch.byType, secs), chromiumProcesses: z.chromium.size,
    hls: poll.summary(from, to), video, status: statusRate(from - 500, to + 500),
    onStage: states.filter((s) => s.mode === 'stage').length,
    feeds: states.map((s) => `${s.name}:${(s.feeds || []).length}`).join(' '),
  };
  log(`${publishers} publisher(s): ${JSON.stringify(r)}`);
  return r;
}

// ------------------------------------------------------------------ report

function report(results) {
  const W = 50;
  const C = 24;
  const row = (name, ...cols) => console.log((name.padEnd(W) + cols.map((c) => String(c).padEnd(C)).join('')).trimEnd());
  const expected = (r) => (Number.isFinite(r.hls.partTarget) ? 1 / r.hls.partTarget : NaN);
  console.log('');
  console.log(`Egress cost of one stage composite (--egress-source janus${EXTRA.length ? ` ${EXTRA.join(' ')}` : ', 1280x720 at 30 fps'});` +
    ` ${SECONDS} s windows after ${WARMUP} s; Chromium ${browser.version()}` +
    (CAMERA_FPS ? `, fake camera ${CAMERA_FPS} fps` : ', fake camera 640x480 at 20 fps (the app asks for ideal 24)'));
  row('figure', ...results.map((r) => `${r.publishers} publisher${r.publishers > 1 ? 's' : ''}`));
  console.log('-'.repeat(W + C * results.length));
  row('egress CPU (% of one core)', ...results.map((r) => f1(r.egressCpu)));
  row('egress VmRSS / VmHWM (MiB)', ...results.map((r) => `${mib(r.egressRssKb)} / ${mib(r.egressHwmKb)}`));
  row('parts/s listed (expected)', ...results.map((r) => `${f2(r.hls.partsPerSecond)} (${f2(expected(r))})`));
  row('parts/s from egress status lines', ...results.map((r) => `${f2(r.status.rate)} (${r.status.lines} lines)`));
  row(`video frames/s in the last segments (${FPS})`, ...results.map((r) => `${f1(r.video.fps)} (${r.video.segments ?? 0} segs)`));
  row('media time listed / wall time', ...results.map((r) => f2(r.hls.mediaPerWall)));
  row('newest part behind wall clock first/last/max (s)',
    ...results.map((r) => `${f2(r.hls.lagFirst)} / ${f2(r.hls.lagLast)} / ${f2(r.hls.lagMax)}`));
  row('kept up', ...results.map((r) => keptUp(r, expected(r))));
  row(`wait for the newest part < ${STEADY_AGE} s old (s)`, ...results.map((r) => f1(r.steadyWait)));
  row('Janus CPU (%)', ...results.map((r) => f1(r.janusCpu)));
  row('serve CPU (%) / RSS (MiB)', ...results.map((r) => `${f1(r.serveCpu)} / ${mib(r.serveRssKb)}`));
  row('nats-server CPU (%)', ...results.map((r) => f1(r.natsCpu)));
  row('Chromium CPU, all pages (%)', ...results.map((r) => `${f1(r.chromiumCpu)} (${r.chromiumProcesses} procs)`));
  row('pages on stage / remote feeds per page', ...results.map((r) => `${r.onStage} / ${r.feeds}`));
  row('load average before the window', ...results.map((r) => r.loadBefore));
  row('load average after the window', ...results.map((r) => r.loadAfter));
  for (const r of results) console.log(`  egress CPU by thread, ${r.publishers} publisher(s): ${r.egressThreads}`);
  for (const r of results) console.log(`  Chromium CPU by process, ${r.publishers} publisher(s): ${r.chromiumByType}`);
  console.log('Everything shares the same 2 cores with whatever else runs: figures under load are noisy.');
}

// "yes": parts listed at >= 95% of the expected rate, the media clock within 5% of the
// wall and >= 95% of the frames in the newest segments. "NO": one of these fell short.
// "catching up": the media clock ran > 5% ahead of the wall (it was behind at the start).
function keptUp(r, expected) {
  if (r.hls.partsPerSecond < 0.95 * expected || r.hls.mediaPerWall < 0.95 || !(r.video.fps >= 0.95 * FPS)) return 'NO';
  return r.hls.mediaPerWall > 1.05 ? 'catching up' : 'yes';
}

// ------------------------------------------------------------------ main

async function main() {
  if (!STEPS.length || STEPS.at(-1) > MAX_STAGE) throw new Error(`--publishers: 1 to ${MAX_STAGE}`);
  log(`load average at the start: ${loadAverage()}`);
  serve = await startServe({
    amphiBin: AMPHI_BIN, readyTimeoutMs: 60000, extraArgs: ['--egress-source', 'janus', ...EXTRA],
  });
  invites = await waitUntil(() => {
    const text = readFileSync(serve.logFile, 'utf8');
    const m = /Moderator invite:\s+(\S+)/.exec(text);
    const v = /Viewer invite:\s+(\S+)/.exec(text);
    return m && v ? { moderator: m[1], viewer: v[1] } : null;
  }, { timeoutMs: 10000, what: "room demo's invite links in serve's output" });
  const extraArgs = CAMERA_FPS ? [`--use-fake-device-for-media-stream=fps=${CAMERA_FPS}`, '--mute-audio'] : ['--mute-audio'];
  browser = await launchBrowser({ extraArgs });
  await moderatorGoesLive();
  await waitUntil(async () => {
    const r = await get(serve.url(`/hls/${ROOM}/media.m3u8`), { timeoutMs: 5000 }).catch(() => null);
    return r && r.status === 200 && /#EXT-X-PART:/.test(r.body);
  }, { timeoutMs: 60000, intervalMs: 500, what: 'the broadcast playlist with parts' });
  const results = [];
  for (const n of STEPS) {
    while (pages.length < n) await promoteViewer(pages.length);
    await waitForwarded();
    results.push(await measure(n));
  }
  report(results);
}

let code = 0;
try {
  await main();
} catch (e) {
  console.error(`egress bench: ${e.stack || e}`);
  if (serve) console.error(`serve log:\n${tail(serve.logFile, 30)}\negress log:\n${egressLogText().split('\n').slice(-30).join('\n')}`);
  code = 1;
} finally {
  await browser?.close().catch(() => {});
  if (serve) {
    await serve.stop();
    if (!KEEP) rmSync(serve.dataDir, { recursive: true, force: true });
    else log(`kept ${serve.dataDir}`);
  }
}
process.exit(code);
