// Stage benchmark (not a test: prints figures, exits 0 when a target is missed).
//   1. promotion latency: moderator's POST /promote/:userId → first video frame of that
//      user decoded at the moderator, cold and with warm-up, plus the split.
//   2. Janus CPU% / RSS with 1 publisher and N subscribers (default 10 and 50).
// Runs inside tests/e2e/netns-run.sh (see bench/stage/run.sh); reuses the e2e harness.
//   AMPHI_BIN=/path/to/amphi node promotion.mjs [--runs 10] [--subs 10,50] [--window 10]
//                                               [--skip-latency] [--skip-load]
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  startServe, launchBrowser, newStagePage, randomId, log, tail, MEDIA_IP,
} from '../../tests/e2e/lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BENCH_PAGE_JS = readFileSync(join(here, 'bench-page.js'), 'utf8');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}
const RUNS = Number(arg('runs', 10));
const SUBS = String(arg('subs', '10,50')).split(',').map(Number).filter((n) => n > 0);
const WINDOW_S = Number(arg('window', 10));
const SKIP_LATENCY = !!arg('skip-latency', false);
const SKIP_LOAD = !!arg('skip-load', false);
const AMPHI_BIN = process.env.AMPHI_BIN || arg('amphi', null);
if (!AMPHI_BIN) { console.error('set AMPHI_BIN or --amphi PATH'); process.exit(2); }
const SERVE_ARGS = (process.env.BENCH_SERVE_ARGS ?? '--join-per-minute 0 --hand-per-minute 0')
  .split(/\s+/).filter(Boolean);

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const la = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const pct = (xs, p) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : NaN;
};
const summary = (all) => { const xs = all.filter(Number.isFinite); return { n: xs.length, p50: pct(xs, 50), p90: pct(xs, 90), min: Math.min(...xs), max: Math.max(...xs),
  avg: xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : NaN }; };

let serve; let browser; let roomId;
const users = {};
const pages = {};

async function addPage(name) {
  const p = await newStagePage(browser, serve.url('/healthz'), { name });
  await p.evaluate(BENCH_PAGE_JS);
  pages[name] = p;
  return p;
}
const promote = (who) => serve.post(`/api/rooms/${roomId}/promote/${users[who].userId}`, users.M.token);
const demote = (who) => serve.post(`/api/rooms/${roomId}/demote/${users[who].userId}`, users.M.token);

async function setup() {
  serve = await startServe({ amphiBin: AMPHI_BIN, extraArgs: SERVE_ARGS });
  const room = await serve.createRoom({ id: `bench-${randomId(3)}`, title: 'Stage bench', maxStage: 1 });
  roomId = room.id;
  users.M = await serve.join(roomId, room.invites.moderator, 'Mona (moderator)');
  users.A = await serve.join(roomId, room.invites.viewer, 'Ada');
  const c = await serve.post(`/api/rooms/${roomId}/stage/credentials`, users.M.token);
  if (c.status !== 200) throw new Error(`moderator credentials: ${c.status} ${JSON.stringify(c.body)}`);
  users.M.creds = c.body;
  browser = await launchBrowser();
  await addPage('M');
  await addPage('A');
  const st = await pages.A.evaluate(([u, t]) => window.amphiBench.sse(u, t),
    [`/api/rooms/${roomId}/user-events`, users.A.token]);
  if (st !== 200) throw new Error('viewer SSE');
  await sleep(300);
}

// One promotion: returns {total, sse, up, frame} in ms from just before the POST.
async function onePromotion(mode) {
  const o = { roomId, token: users.A.token, userId: users.A.userId };
  let warm = null;
  if (mode === 'warm') {
    const r = await serve.post(`/api/rooms/${roomId}/raise-hand`, users.A.token);
    if (r.status !== 200) throw new Error(`raise-hand: ${r.status} ${JSON.stringify(r.body)}`);
    warm = await pages.A.evaluate((x) => window.amphiBench.warmUp(x), o);
    await pages.A.evaluate((x) => window.amphiBench.armWarm(x), o);
  } else {
    await pages.A.evaluate((x) => window.amphiBench.armCold(x), o);
  }
  // the moderator is watching the room: subscribes as soon as a publisher shows up
  const watch = pages.M.evaluate((x) => window.amphiBench.watch(x), { creds: users.M.creds, timeoutMs: 20000 });
  await sleep(250); // its Janus session is up and polling before the promote
  const t0 = Date.now();
  const p = await promote('A');
  const tPost = Date.now();
  if (p.status !== 200) throw new Error(`promote: ${p.status} ${JSON.stringify(p.body)}`);
  const v = await pages.A.evaluate((ms) => window.amphiBench.result(ms), 25000);
  const m = await watch;
  const out = {
    mode, postMs: tPost - t0, sse: v.promoteAt - t0, creds: v.credsAt - t0, up: v.upAt - t0,
    track: m.trackAt ? m.trackAt - t0 : null, frame: m.firstFrameAt - t0, warmMs: warm && warm.warmMs, error: v.error || m.error || null,
  };
  // demote and clean up for the next run
  const d = await demote('A');
  if (d.status !== 200) log(`demote: ${d.status}`);
  await pages.A.evaluate(() => Promise.all([window.amphiStage.leave(), window.amphiBench.warmTeardown()]));
  await pages.M.evaluate(() => window.amphiStage.leave());
  await serve.post(`/api/rooms/${roomId}/lower-hand`, users.A.token).catch(() => {});
  await sleep(1000);
  return out;
}

async function latency(mode) {
  const rows = [];
  await onePromotion(mode).then((r) => log(`${mode} discarded first run: ${JSON.stringify(r)}`))
    .catch((e) => log(`${mode} discarded first run failed: ${e.message}`));
  for (let i = 0; i < RUNS; i++) {
    let r;
    try { r = await onePromotion(mode); } catch (e) { r = { mode, error: e.message }; }
    log(`${mode} run ${i + 1}/${RUNS}: ${JSON.stringify(r)}  (load ${la()})`);
    rows.push(r);
  }
  return rows;
}

// --- Janus load ----------------------------------------------------------------------
function janusPid() {
  const needle = `${serve.dataDir}/janus`;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      if (cmd.includes(needle) && comm.startsWith('janus')) return Number(d);
    } catch { /* gone */ }
  }
  return null;
}
function cpuTicks(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function measure(pid, page) {
  const frames = () => page ? page.evaluate(() => window.amphiStage.framesDecoded()) : 0;
  const f0 = await frames(); const c0 = cpuTicks(pid); const t0 = process.hrtime.bigint();
  await sleep(WINDOW_S * 1000);
  const c1 = cpuTicks(pid); const t1 = process.hrtime.bigint(); const f1 = await frames();
  const secs = Number(t1 - t0) / 1e9;
  return { cpu: ((c1 - c0) / CLK_TCK / secs) * 100, rss: rssMiB(pid), fps: (f1 - f0) / secs, load: la() };
}

async function load() {
  const pid = janusPid();
  if (!pid) throw new Error(`no janus process with ${serve.dataDir}/janus in its cmdline`);
  log(`janus pid ${pid}`);
  const rows = [];
  rows.push({ n: 'idle', subs: 0, ...(await measure(pid, null)) });
  const p = await promote('A');
  if (p.status !== 200) throw new Error(`promote: ${p.status}`);
  const c = await serve.post(`/api/rooms/${roomId}/stage/credentials`, users.A.token);
  const pub = await pages.A.evaluate((x) => window.amphiStage.publish(x), c.body);
  log(`publisher feed ${pub.feedId}`);
  await sleep(2000);
  rows.push({ n: 0, subs: 0, ...(await measure(pid, null)) });
  const S = await addPage('S');
  let have = 0;
  for (const n of SUBS) {
    let failed = null;
    while (have < n && !failed) {
      const batch = Math.min(10, n - have);
      const res = await S.evaluate(async ([cr, feedId, k]) => Promise.all(Array.from({ length: k }, () =>
        window.amphiStage.trySubscribe({ ...cr, feedId, timeoutMs: 30000 }))), [users.M.creds, pub.feedId, batch]);
      const ok = res.filter((r) => r.ok).length;
      have += ok;
      if (ok < batch) failed = res.find((r) => !r.ok);
      log(`subscriptions: ${have} (load ${la()})`);
    }
    if (failed) log(`subscribe failed at ${have}: ${JSON.stringify(failed)}`);
    await sleep(3000);
    const live = (await S.evaluate(() => window.amphiStage.videoStats())).filter((s) => s.ice === 'connected' || s.ice === 'completed').length;
    const m = await measure(pid, S);
    rows.push({ n, subs: have, live, ...m });
    log(`N=${n}: ${JSON.stringify(rows.at(-1))}`);
    if (failed) break;
  }
  return rows;
}

// --- main ----------------------------------------------------------------------------
const fmt = (x) => (Number.isFinite(x) ? String(Math.round(x)) : '-');
let exitCode = 0;
try {
  log(`amphi ${AMPHI_BIN}; media ${MEDIA_IP}; runs ${RUNS}; subs ${SUBS.join(',')}; load ${la()}; cpus ${(await import('node:os')).cpus().length}`);
  await setup();
  const lat = {};
  if (!SKIP_LATENCY) {
    lat.cold = await latency('cold');
    lat.warm = await latency('warm');
  }
  let loadRows = [];
  if (!SKIP_LOAD) {
    try { loadRows = await load(); } catch (e) { log(`load part failed: ${e.stack || e}`); }
  }

  console.log('\n=== promotion latency: POST /promote → first frame decoded at the moderator (ms) ===');
  console.log('mode  ok/runs  p50   p90   min   max   avg   | split p50: POST→PROMOTE@viewer  →creds  →webrtcup  →moderator ontrack  →first frame');
  for (const mode of Object.keys(lat)) {
    const ok = lat[mode].filter((r) => !r.error && Number.isFinite(r.frame));
    const s = summary(ok.map((r) => r.frame));
    const p = (k) => pct(ok.map((r) => r[k]), 50);
    console.log(`${mode.padEnd(5)} ${String(ok.length).padStart(2)}/${String(lat[mode].length).padEnd(5)} ${[s.p50, s.p90, s.min, s.max, s.avg].map((x) => fmt(x).padStart(5)).join(' ')} | ${fmt(p('sse')).padStart(6)} ${fmt(p('creds')).padStart(8)} ${fmt(p('up')).padStart(10)} ${fmt(p('track')).padStart(18)} ${fmt(p('frame')).padStart(12)}`);
    for (const k of ['sse', 'creds', 'up', 'track', 'frame']) {
      const t = summary(ok.map((r) => r[k]));
      console.log(`        ${k.padEnd(6)} p50 ${fmt(t.p50)} p90 ${fmt(t.p90)} min ${fmt(t.min)} max ${fmt(t.max)}`);
    }
    const errs = lat[mode].filter((r) => r.error);
    if (errs.length) console.log(`        errors: ${errs.map((r) => r.error).join(' | ')}`);
    if (mode === 'warm') {
      const w = summary(ok.map((r) => r.warmMs));
      console.log(`        warm-up itself (before the promote): p50 ${fmt(w.p50)} ms; target p50 < 1000 ms: ${s.p50 < 1000 ? 'MET' : 'MISSED'}`);
    }
  }
  console.log('        seed baseline: 2300 ms average');
  if (loadRows.length) {
    console.log(`\n=== Janus with 1 publisher and N subscribers (${WINDOW_S} s windows; ${CLK_TCK} ticks/s) ===`);
    console.log('N(target)  subs  live  janus CPU % of one core  RSS MiB  frames decoded/s (page)  loadavg');
    for (const r of loadRows) {
      const label = r.n === 'idle' ? 'no pub' : String(r.n);
      console.log(`${label.padEnd(10)} ${String(r.subs).padStart(5)} ${String(r.live ?? '-').padStart(5)}  ${r.cpu.toFixed(1).padStart(22)}  ${r.rss.toFixed(1).padStart(7)}  ${r.fps.toFixed(1).padStart(23)}  ${r.load}`);
    }
  }
  console.log(`\nload average at the end: ${la()}`);
} catch (e) {
  log(`bench failed: ${e.stack || e}`);
  if (serve) log(`serve log:\n${tail(serve.logFile, 40)}`);
  exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  if (serve) {
    await serve.stop();
    if (!process.env.E2E_KEEP) rmSync(serve.dataDir, { recursive: true, force: true });
  }
}
process.exit(exitCode);
