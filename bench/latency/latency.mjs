// LL-HLS glass-to-glass latency and viewer/egress cost (a benchmark, not a test: it
// prints figures and exits 0 when a target is missed, non-zero only when it cannot set up).
//
// For each part duration (default 0.5 s, then 0.2 s): `amphi serve --demo-source test`
// (room demo goes live at start; the test source burns the wall clock into the picture
// and the playlist carries EXT-X-PROGRAM-DATE-TIME from capture time), then in headless
// Chromium (plain HTTP on loopback, no namespace needed):
//   1. latency: a page on serve's origin with hls.js (the app's light build and the
//      app's player settings: lowLatencyMode, liveDurationInfinity, backBufferLength 10,
//      maxLiveSyncPlaybackRate 1.5) plays /hls/demo/index.m3u8; every 250 ms
//      latency = Date.now() − hls.playingDate (the PDT of the playhead). p50/p95, stalls
//      ('waiting' events, hls.js bufferStalledError) and their time.
//   2. cost (first part duration only, unless --cost-all): the app's own viewer page
//      (/r/demo through the viewer invite) playing for the same time, alone in a fresh
//      Chromium: CPU of all Chromium processes (utime+stime from /proc) as % of one core.
//   Over both windows: CPU% and RSS of the `amphi egress` child (test source).
//
//   AMPHI_BIN=/path/to/amphi node latency.mjs [--seconds 60] [--warmup 5] [--parts 0.5,0.2]
//                                             [--cost-all] [--skip-cost] [--hls-config JSON]
//                                             [--start-trials N]
// --start-trials N: afterwards, N fresh hls.js sessions of 12 s each on the same serve:
// how often playback stalls at start, and hls.js's target latency after it (hls.js adds
// liveSyncOnStallIncrease, 1 s by default, to its target for every stall).
import { readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServe, launchBrowser, waitUntil, get, log } from '../../tests/e2e/lib/harness.mjs';
import { newAppPage, joinByInvite, percentile } from '../../tests/e2e/lib/app-page.mjs';
import {
  procStat, vmHwmKb, cpuSnapshot, cpuDelta, shares, chromiumProcs, egressProc, loadAverage as la,
} from '../lib/procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const HLS_JS = join(here, '../../web/node_modules/hls.js/dist/hls.light.min.js');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}
const SECONDS = Number(arg('seconds', 60));
const WARMUP = Number(arg('warmup', 5));
const PARTS = String(arg('parts', '0.5,0.2')).split(',').map(Number).filter((x) => x > 0);
const COST_ALL = !!arg('cost-all', false);
const SKIP_COST = !!arg('skip-cost', false);
const START_TRIALS = Number(arg('start-trials', 0));
const AMPHI_BIN = process.env.AMPHI_BIN || arg('amphi', null);
if (!AMPHI_BIN) { console.error('set AMPHI_BIN or --amphi PATH'); process.exit(2); }
const EXTRA = (process.env.BENCH_SERVE_ARGS ?? '').split(/\s+/).filter(Boolean);
// extra hls.js settings for the latency page only (the app's viewer keeps its own)
const HLS_EXTRA = JSON.parse(String(arg('hls-config', '{}')));

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

// ------------------------------------------------------------------ pages

// hls.js on serve's origin (so no CORS, no request interception), with the app's settings.
async function latencyPage(browser, serve) {
  const context = await browser.newContext({ viewport: { width: 960, height: 600 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => log(`[latency page] ${e.message}`));
  await page.goto(serve.url('/healthz'));
  await page.addScriptTag({ content: readFileSync(HLS_JS, 'utf8') });
  await page.evaluate(([src, extra]) => {
    document.body.innerHTML = '<video id="v" muted autoplay playsinline style="width:640px"></video>';
    const v = document.getElementById('v');
    const hls = new window.Hls({
      lowLatencyMode: true, liveDurationInfinity: true, backBufferLength: 10, maxLiveSyncPlaybackRate: 1.5, ...extra,
    });
    const b = (window.__bench = { hls, samples: [], waiting: [], stalledErrors: [], fatal: [], playingAt: null, loadAt: Date.now() });
    v.addEventListener('playing', () => { if (!b.playingAt) b.playingAt = Date.now(); });
    v.addEventListener('waiting', () => { if (b.playingAt) b.waiting.push({ at: Date.now(), until: null }); });
    v.addEventListener('ratechange', () => { b.rates = (b.rates || 0) + 1; });
    v.addEventListener('playing', () => { const w = b.waiting.at(-1); if (w && !w.until) w.until = Date.now(); });
    hls.on(window.Hls.Events.ERROR, (_e, d) => {
      if (d.details === 'bufferStalledError') b.stalledErrors.push(Date.now());
      if (d.fatal) b.fatal.push(d.details);
    });
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => v.play().catch(() => {}));
    hls.loadSource(src);
    hls.attachMedia(v);
    setInterval(() => {
      const d = hls.playingDate;
      b.samples.push({
        at: Date.now(), latency: d ? (Date.now() - d.getTime()) / 1000 : null,
        hlsLatency: hls.latency, target: hls.targetLatency, rate: v.playbackRate, ct: v.currentTime,
      });
    }, 250);
  }, [serve.url('/hls/demo/index.m3u8'), HLS_EXTRA]);
  return page;
}

function summarizeLatency(b, fromMs, toMs) {
  const s = b.samples.filter((x) => x.at >= fromMs && x.at <= toMs && x.latency != null);
  const lat = s.map((x) => x.latency);
  const stalls = b.waiting.filter((w) => w.at >= fromMs && w.at <= toMs);
  const stallMs = stalls.reduce((a, w) => a + ((w.until ?? toMs) - w.at), 0);
  const nowPlaying = s.length ? s.at(-1).ct - s[0].ct : NaN;
  return {
    n: s.length, p50: percentile(lat, 50), p95: percentile(lat, 95), min: Math.min(...lat), max: Math.max(...lat),
    hlsLatencyP50: percentile(s.map((x) => x.hlsLatency).filter(Number.isFinite), 50),
    target: s.length ? s.at(-1).target : NaN,
    fastShare: s.filter((x) => x.rate > 1.001).length / Math.max(1, s.length),
    stalls: stalls.length, stallMs, fatal: b.fatal,
    stalledErrors: b.stalledErrors.filter((t) => t >= fromMs && t <= toMs).length,
    // before the window: from the first frame to the end of the warm-up
    earlyStalls: b.waiting.filter((w) => w.at < fromMs).length,
    earlyStalledErrors: b.stalledErrors.filter((t) => t < fromMs).length,
    played: nowPlaying, wall: (toMs - fromMs) / 1000,
  };
}

// ------------------------------------------------------------------ runs

async function startServeFor(partSeconds) {
  const serve = await startServe({
    amphiBin: AMPHI_BIN, readyTimeoutMs: 60000,
    extraArgs: ['--demo-source', 'test', '--janus', 'false', '--part-seconds', String(partSeconds), ...EXTRA],
  });
  let playlist;
  try {
    playlist = await waitUntil(async () => {
      const r = await get(serve.url('/hls/demo/media.m3u8'), { timeoutMs: 5000 }).catch(() => null);
      return r && r.status === 200 && /EXT-X-PART:/.test(r.body) ? r.body : null;
    }, { timeoutMs: 30000, intervalMs: 250, what: 'the demo playlist with parts' });
  } catch (e) {
    await serve.stop();
    rmSync(serve.dataDir, { recursive: true, force: true });
    throw e;
  }
  const lines = playlist.split('\n');
  log(`playlist: ${lines.filter((l) => /SERVER-CONTROL|PART-INF|TARGETDURATION/.test(l)).join(' | ')}`);
  const invite = /Viewer invite:\s+(\S+)/.exec(readFileSync(serve.logFile, 'utf8'));
  serve.viewerInvite = invite && invite[1];
  return serve;
}

async function measureLatency(serve) {
  const browser = await launchBrowser();
  try {
    const page = await latencyPage(browser, serve);
    const playingAt = await waitUntil(() => page.evaluate(() => window.__bench.playingAt),
      { timeoutMs: 30000, intervalMs: 200, what: 'hls.js playing' });
    await sleep(WARMUP * 1000);
    const from = Date.now();
    const eg = egressProc(serve);
    const egBefore = eg && procStat(eg.pid);
    const chBefore = cpuSnapshot(chromiumProcs());
    await sleep(SECONDS * 1000);
    const to = Date.now();
    const chAfter = cpuSnapshot(chromiumProcs());
    const egAfter = eg && procStat(eg.pid);
    const b = await page.evaluate(() => ({ ...window.__bench, hls: undefined }));
    const lat = summarizeLatency(b, from, to);
    lat.browser = browser.version();
    lat.chromiumProcesses = chAfter.size;
    lat.startupMs = playingAt - b.loadAt;
    const ch = cpuDelta(chBefore, chAfter);
    lat.chromiumCpu = (100 * ch.sum) / ((to - from) / 1000);
    lat.chromiumByType = shares(ch.byType, (to - from) / 1000);
    lat.egress = egAfter ? {
      cpu: (100 * (egAfter.cpu - egBefore.cpu)) / ((to - from) / 1000), rssKb: egAfter.rssKb, hwmKb: vmHwmKb(eg.pid),
    } : null;
    return lat;
  } finally {
    await browser.close().catch(() => {});
  }
}

async function startTrials(serve, n) {
  const out = [];
  const browser = await launchBrowser();
  try {
    for (let i = 0; i < n; i += 1) {
      const page = await latencyPage(browser, serve);
      await sleep(12000);
      const b = await page.evaluate(() => ({ ...window.__bench, hls: undefined }));
      const last = b.samples.slice(-8).filter((x) => x.latency != null);
      out.push({ stalls: b.stalledErrors.length, target: b.samples.at(-1)?.target,
        latency: percentile(last.map((x) => x.latency), 50) });
      await page.context().close();
    }
  } finally {
    await browser.close().catch(() => {});
  }
  return out;
}

async function measureAppViewer(serve) {
  if (!serve.viewerInvite) throw new Error("no viewer invite in serve's output");
  const browser = await launchBrowser();
  try {
    const page = await newAppPage(browser, 'viewer', { viewport: { width: 960, height: 640 } });
    // media events of the app's <video> from the start (capture: they do not bubble)
    await page.context().addInitScript(() => {
      const ev = (window.__benchMedia = []);
      for (const type of ['waiting', 'playing', 'seeking', 'ratechange']) {
        document.addEventListener(type, (e) => ev.push({ type, at: Date.now(), ct: e.target.currentTime, rate: e.target.playbackRate }), true);
      }
    });
    const joinAt = Date.now();
    await joinByInvite(page, serve.viewerInvite, 'Bench viewer');
    await page.waitForFunction(() => window.__amphi?.player === 'playing', null, { timeout: 30000 });
    await sleep(WARMUP * 1000);
    const from = Date.now();
    const eg = egressProc(serve);
    const egBefore = eg && procStat(eg.pid);
    const procs = chromiumProcs();
    const chBefore = cpuSnapshot(procs);
    const lat = [];
    const until = from + SECONDS * 1000;
    while (Date.now() < until) {
      await sleep(1000);
      const a = await page.evaluate(() => window.__amphi);
      if (Number.isFinite(a.latency)) lat.push(a.latency);
    }
    const to = Date.now();
    const chAfter = cpuSnapshot(chromiumProcs());
    const egAfter = eg && procStat(eg.pid);
    const ch = cpuDelta(chBefore, chAfter);
    const media = await page.evaluate(() => window.__benchMedia);
    const count = (type, a, z) => media.filter((m) => m.type === type && m.at >= a && m.at < z).length;
    const firstPlaying = media.find((m) => m.type === 'playing');
    return {
      startupMs: firstPlaying ? firstPlaying.at - joinAt : null,
      earlyStalls: count('waiting', 0, from), stalls: count('waiting', from, to + 1),
      seeks: count('seeking', 0, to + 1),
      chromiumCpu: (100 * ch.sum) / ((to - from) / 1000), processes: procs.length, gone: ch.gone,
      chromiumByType: shares(ch.byType, (to - from) / 1000),
      appLatencyP50: percentile(lat, 50),
      egress: egAfter ? { cpu: (100 * (egAfter.cpu - egBefore.cpu)) / ((to - from) / 1000), rssKb: egAfter.rssKb, hwmKb: vmHwmKb(eg.pid) } : null,
    };
  } finally {
    await browser.close().catch(() => {});
  }
}

async function runParts(partSeconds, withCost) {
  log(`=== parts ${partSeconds} s (load ${la()})`);
  const serve = await startServeFor(partSeconds);
  try {
    const lat = await measureLatency(serve);
    log(`latency: ${JSON.stringify(lat)}`);
    const cost = withCost ? await measureAppViewer(serve) : null;
    if (cost) log(`app viewer: ${JSON.stringify(cost)}`);
    const trials = START_TRIALS > 0 ? await startTrials(serve, START_TRIALS) : null;
    if (trials) log(`start trials: ${JSON.stringify(trials)}`);
    return { partSeconds, lat, cost, trials, load: la(), browser: lat.browser };
  } finally {
    await serve.stop();
    rmSync(serve.dataDir, { recursive: true, force: true });
  }
}

function report(results) {
  const row = (name, ...cols) => console.log(name.padEnd(46) + cols.map((c) => String(c).padEnd(22)).join(''));
  console.log('');
  console.log(`LL-HLS latency and cost, ${SECONDS} s windows after ${WARMUP} s of playback; Chromium ${results[0].browser}` +
    (Object.keys(HLS_EXTRA).length ? `; latency page hls.js config + ${JSON.stringify(HLS_EXTRA)}` : ''));
  row('figure', ...results.map((r) => `parts ${r.partSeconds} s`), 'target');
  console.log('-'.repeat(46 + 22 * (results.length + 1)));
  row('latency p50 / p95 (s)', ...results.map((r) => `${f2(r.lat.p50)} / ${f2(r.lat.p95)}`), 'p50 <= 2.0, p95 <= 2.5');
  row('latency min / max (s)', ...results.map((r) => `${f2(r.lat.min)} / ${f2(r.lat.max)}`));
  row('verdict', ...results.map((r) => (r.lat.p50 <= 2.0 && r.lat.p95 <= 2.5 ? 'PASS' : 'MISS')));
  row('hls.latency p50 / target (s)', ...results.map((r) => `${f2(r.lat.hlsLatencyP50)} / ${f2(r.lat.target)}`));
  row('stalls (waiting) / stalled time (ms)', ...results.map((r) => `${r.lat.stalls} / ${Math.round(r.lat.stallMs)}`));
  row('hls.js bufferStalledError / fatal', ...results.map((r) => `${r.lat.stalledErrors} / ${r.lat.fatal.length}`));
  row('before the window: waiting / bufferStalled', ...results.map((r) => `${r.lat.earlyStalls} / ${r.lat.earlyStalledErrors}`));
  row('start: loadSource → playing (ms)', ...results.map((r) => r.lat.startupMs));
  row('played / wall (s), time at rate > 1', ...results.map((r) => `${f1(r.lat.played)} / ${f1(r.lat.wall)}, ${Math.round(100 * r.lat.fastShare)}%`));
  row('Chromium CPU, hls.js page (% of a core)', ...results.map((r) => f1(r.lat.chromiumCpu)));
  row('Chromium CPU, app viewer page (%)', ...results.map((r) => (r.cost ? f1(r.cost.chromiumCpu) : '-')), 'seed 4.2');
  row('app viewer: its latency badge p50 (s)', ...results.map((r) => (r.cost ? f2(r.cost.appLatencyP50) : '-')));
  row('app viewer: waiting before / in window', ...results.map((r) => (r.cost ? `${r.cost.earlyStalls} / ${r.cost.stalls}` : '-')));
  const eg = (r) => r.lat.egress;
  for (const r of results) {
    console.log(`  Chromium CPU by process, hls.js page, parts ${r.partSeconds} s: ${r.lat.chromiumByType}`);
    if (r.cost) console.log(`  Chromium CPU by process, app viewer page, parts ${r.partSeconds} s: ${r.cost.chromiumByType}`);
  }
  row('egress CPU (% of a core)', ...results.map((r) => (eg(r) ? f1(eg(r).cpu) : 'n/a')));
  row('egress RSS / peak (MiB)', ...results.map((r) => (eg(r) ? `${f1(eg(r).rssKb / 1024)} / ${f1(eg(r).hwmKb / 1024)}` : 'n/a')));
  if (results.some((r) => r.trials)) {
    const tr = (r) => r.trials || [];
    row('start trials: sessions that stalled', ...results.map((r) => `${tr(r).filter((t) => t.stalls > 0).length} of ${tr(r).length}`));
    row('  latency after 10 s, no stall p50 (s)', ...results.map((r) => f2(percentile(tr(r).filter((t) => !t.stalls).map((t) => t.latency), 50))));
    row('  latency after 10 s, stalled p50 (s)', ...results.map((r) => f2(percentile(tr(r).filter((t) => t.stalls).map((t) => t.latency), 50))));
  }
  row('load average at the end', ...results.map((r) => r.load));
}

const results = [];
try {
  for (const [i, p] of PARTS.entries()) results.push(await runParts(p, !SKIP_COST && (COST_ALL || i === 0)));
} catch (e) {
  console.error(`latency bench: ${e.stack || e}`);
  process.exit(1);
}
report(results);
