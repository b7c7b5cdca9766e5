// Issue 6: TURN. A promoted user whose browser sits behind a UDP-blocking firewall still
// publishes: its Chromium runs in a namespace of its own whose nftables rules drop all
// UDP, and the media reaches Janus relayed by serve's embedded coturn over TCP.
//
//   AMPHI_BIN=/path/to/amphi ./netns-run.sh ./node_modules/.bin/node --test turn.e2e.mjs
// or simply: tests/e2e/run-turn.sh /path/to/amphi
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  startServe, launchBrowser, newStagePage, screenshot, waitForFrames,
  log, tail, MEDIA_IP,
} from './lib/harness.mjs';
import { startClientNamespace } from './lib/client-netns.mjs';

const AMPHI_BIN = process.env.AMPHI_BIN;
const T = { timeout: 90000 };

let serve;
let clientNs;
const browsers = [];
const pages = {};
const users = {};
let roomId;

// The publisher's selected ICE candidate pair, as getStats reports it.
async function selectedPair(page) {
  return page.evaluate(async () => {
    const pc = window.amphiStage.publisher && window.amphiStage.publisher.pc;
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
    });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId);
    const remote = stats.get(pair.remoteCandidateId);
    return {
      state: pair.state, bytesSent: pair.bytesSent,
      local: { type: local.candidateType, protocol: local.protocol, relayProtocol: local.relayProtocol, address: local.address },
      remote: { type: remote.candidateType, protocol: remote.protocol, address: remote.address },
    };
  });
}

before(async () => {
  assert.ok(AMPHI_BIN, 'set AMPHI_BIN to the amphi binary');
  clientNs = await startClientNamespace({ dropUdp: true });
  log(`client namespace (pid ${clientNs.pid}) at ${clientNs.ip}: all UDP dropped`);
  // serve listens on the veth address, so the other namespace reaches it.
  serve = await startServe({
    amphiBin: AMPHI_BIN, host: MEDIA_IP,
    extraArgs: ['--turn', '--turn-port', '0', '--turn-host', MEDIA_IP,
      '--turn-relay-min', '42000', '--turn-relay-max', '42999'],
  });
  const room = await serve.createRoom({ id: `turn-${Date.now() % 100000}`, title: 'TURN e2e', maxStage: 1 });
  roomId = room.id;
  users.M = await serve.join(roomId, room.invites.moderator, 'Mona (moderator)');
  users.A = await serve.join(roomId, room.invites.viewer, 'Ada (behind a firewall)');
  // http://10.99.0.1 is no secure context by itself; getUserMedia needs one.
  const secure = [`--unsafely-treat-insecure-origin-as-secure=${serve.base}`];
  const inside = await launchBrowser({ extraArgs: secure });
  const remote = await launchBrowser({ executablePath: clientNs.chromium, extraArgs: secure });
  browsers.push(inside, remote);
  const origin = serve.url('/healthz');
  pages.M = await newStagePage(inside, origin, { name: 'M' });
  pages.A = await newStagePage(remote, origin, { name: 'A' });
});

after(async () => {
  for (const p of Object.values(pages)) await p.evaluate(() => window.amphiStage.leave()).catch(() => {});
  for (const b of browsers) await b.close().catch(() => {});
  if (serve) {
    const r = await serve.stop();
    log(`serve stopped: ${JSON.stringify(r)}`);
    if (process.exitCode || process.env.E2E_KEEP) {
      log(`serve log:\n${tail(serve.logFile, 40)}`);
      log(`coturn log:\n${tail(`${serve.dataDir}/turn/turnserver.log`, 20)}`);
    }
    if (!process.env.E2E_KEEP) rmSync(serve.dataDir, { recursive: true, force: true });
  }
  await clientNs?.stop();
});

test('a promoted user behind a UDP-blocking firewall publishes through coturn over TCP', T, async () => {
  const p = await serve.post(`/api/rooms/${roomId}/promote/${users.A.userId}`, users.M.token);
  assert.equal(p.status, 200, `promote: ${p.status} ${JSON.stringify(p.body)}`);
  const c = await serve.post(`/api/rooms/${roomId}/stage/credentials`, users.A.token);
  assert.equal(c.status, 200, `credentials: ${c.status} ${JSON.stringify(c.body)}`);
  const turn = c.body.iceServers.find((s) => [].concat(s.urls).some((u) => u.startsWith('turn:')));
  assert.ok(turn, `a TURN server in iceServers: ${JSON.stringify(c.body.iceServers)}`);
  assert.ok([].concat(turn.urls).some((u) => u.startsWith(`turn:${MEDIA_IP}:`) && u.endsWith('?transport=tcp')),
    `a TCP URL: ${JSON.stringify(turn.urls)}`);
  assert.match(turn.username, new RegExp(`^\\d+:${users.A.userId}$`));

  const t0 = Date.now();
  const pub = await pages.A.evaluate((creds) => window.amphiStage.publish(creds), c.body);
  log(`A publishing as feed ${pub.feedId} after ${Date.now() - t0} ms`);
  const pair = await selectedPair(pages.A);
  log('publisher selected pair:', JSON.stringify(pair));
  assert.ok(pair, 'a selected candidate pair');
  assert.equal(pair.local.type, 'relay', 'the publisher is relayed');
  assert.equal(pair.local.relayProtocol, 'tcp', 'to coturn over TCP');
  const dropped = clientNs.udpDropped();
  log(`UDP packets dropped by the firewall: ${dropped}`);
  assert.ok(dropped > 0, 'the browser did try UDP, and the firewall dropped it');
  await screenshot(pages.A, 'turn-publisher');

  const m = await serve.post(`/api/rooms/${roomId}/stage/credentials`, users.M.token);
  assert.equal(m.status, 200);
  await pages.M.evaluate((creds) => window.amphiStage.subscribe(creds), { ...m.body, feedId: pub.feedId });
  const frames = await waitForFrames(pages.M, { min: 0, timeoutMs: 20000 });
  const more = await waitForFrames(pages.M, { min: frames, timeoutMs: 10000 });
  log(`moderator decoded ${more} frames of the relayed publisher`);
  await screenshot(pages.M, 'turn-moderator-sees-A');
});
