// TURN benchmark (not a test: prints figures). Time for a promoted user to connect to the
// stage directly vs relayed by serve's embedded coturn over TCP (all its UDP dropped).
// The publisher's Chromium runs in a namespace of its own (10.99.0.2) whose nftables
// rules are switched on for the TURN runs; serve, Janus, coturn and the moderator's
// Chromium are at 10.99.0.1. Runs alternate between the modes to spread load noise.
//   AMPHI_BIN=/path/to/amphi netns-run.sh node turn.mjs [--runs 7]
// Per run, t0 = just before the moderator's POST /promote; then
//   creds   the user has its credentials (POST …/stage/credentials),
//   up      publish() resolved: Janus webrtcup and ICE connected   ← the figure,
//   frame   first video frame of that user decoded at the moderator.
import { loadavg } from 'node:os';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  startServe, launchBrowser, newStagePage, waitForFrames, randomId, log,
  MEDIA_IP,
} from '../../tests/e2e/lib/harness.mjs';
import { startClientNamespace } from '../../tests/e2e/lib/client-netns.mjs';

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 || process.argv[i + 1] === undefined ? def : process.argv[i + 1];
}
const RUNS = Number(arg('runs', 7));
const AMPHI_BIN = process.env.AMPHI_BIN;
if (!AMPHI_BIN) { console.error('set AMPHI_BIN'); process.exit(2); }

const la = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : NaN;
};

let serve; let ns; const browsers = []; const pages = {}; const users = {}; let roomId;

async function setup() {
  ns = await startClientNamespace({ dropUdp: false });
  serve = await startServe({
    amphiBin: AMPHI_BIN, host: MEDIA_IP,
    extraArgs: ['--turn', '--turn-port', '0', '--turn-host', MEDIA_IP, '--join-per-minute', '0'],
  });
  const room = await serve.createRoom({ id: `turnb-${randomId(3)}`, title: 'TURN bench', maxStage: 1 });
  roomId = room.id;
  users.M = await serve.join(roomId, room.invites.moderator, 'Mona');
  users.A = await serve.join(roomId, room.invites.viewer, 'Ada');
  const secure = [`--unsafely-treat-insecure-origin-as-secure=${serve.base}`];
  const inside = await launchBrowser({ extraArgs: secure });
  const remote = await launchBrowser({ executablePath: ns.chromium, extraArgs: secure });
  browsers.push(inside, remote);
  pages.M = await newStagePage(inside, serve.url('/healthz'), { name: 'M' });
  pages.A = await newStagePage(remote, serve.url('/healthz'), { name: 'A' });
}

async function localCandidate(page) {
  return page.evaluate(async () => {
    const stats = await window.amphiStage.publisher.pc.getStats();
    let pair = null;
    stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId); });
    const c = pair && stats.get(pair.localCandidateId);
    return c ? `${c.candidateType}${c.relayProtocol ? `/${c.relayProtocol}` : ''}` : 'none';
  });
}

async function oneRun(mode) {
  ns.setDropUdp(mode === 'turn');
  const t0 = Date.now();
  const p = await serve.post(`/api/rooms/${roomId}/promote/${users.A.userId}`, users.M.token);
  if (p.status !== 200) throw new Error(`promote ${p.status}`);
  const c = await serve.post(`/api/rooms/${roomId}/stage/credentials`, users.A.token);
  const creds = Date.now() - t0;
  const pub = await pages.A.evaluate((x) => window.amphiStage.publish(x), c.body);
  const up = Date.now() - t0;
  const via = await localCandidate(pages.A);
  const m = await serve.post(`/api/rooms/${roomId}/stage/credentials`, users.M.token);
  await pages.M.evaluate((x) => window.amphiStage.subscribe(x), { ...m.body, feedId: pub.feedId });
  await waitForFrames(pages.M, { min: 0, timeoutMs: 20000 });
  const frame = Date.now() - t0;
  await pages.A.evaluate(() => window.amphiStage.leave());
  await pages.M.evaluate(() => window.amphiStage.leave());
  await serve.post(`/api/rooms/${roomId}/demote/${users.A.userId}`, users.M.token);
  await sleep(1000);
  return { creds, up, frame, via };
}

async function main() {
  await setup();
  const results = { direct: [], turn: [] };
  await oneRun('direct'); // warm-up (Chromium, Janus), discarded
  await oneRun('turn');
  for (let i = 0; i < RUNS; i++) {
    for (const mode of i % 2 ? ['turn', 'direct'] : ['direct', 'turn']) {
      const r = await oneRun(mode);
      log(`${mode} run ${i + 1}: ${JSON.stringify(r)} load ${la()}`);
      results[mode].push(r);
    }
  }
  console.log(`\n=== promoted user: POST /promote → connected (publish: webrtcup + ICE), ms; ${RUNS} runs each ===`);
  console.log('mode    via          p50 up  min   max  | p50 creds  p50 first frame at moderator');
  for (const [mode, rs] of Object.entries(results)) {
    const via = [...new Set(rs.map((r) => r.via))].join(',');
    const ups = rs.map((r) => r.up);
    console.log(`${mode.padEnd(7)} ${via.padEnd(12)} ${String(pct(ups, 50)).padStart(6)} ${String(Math.min(...ups)).padStart(4)} ${String(Math.max(...ups)).padStart(5)}  | ${String(pct(rs.map((r) => r.creds), 50)).padStart(9)}  ${String(pct(rs.map((r) => r.frame), 50)).padStart(6)}`);
  }
  console.log(`load average at the end: ${la()}`);
}

try {
  await main();
} catch (e) {
  console.error(`bench failed: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  for (const b of browsers) await b.close().catch(() => {});
  if (serve) {
    await serve.stop();
    if (!process.env.E2E_KEEP) rmSync(serve.dataDir, { recursive: true, force: true });
  }
  await ns?.stop();
}
