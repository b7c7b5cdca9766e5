// Smoke test of the browser-side Janus client (lib/janus-page.js) against a Janus this
// test starts itself (no amphi serve): token auth, VideoRoom `allowed` list, a fake
// camera published by one Chromium page and decoded by another, a kick.
// Run inside the network namespace: ./run-janus-direct.sh (or netns-run.sh node --test ...).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startJanus, startBlankServer, launchBrowser, newStagePage, screenshot, waitForFrames,
  waitUntil, randomId, log, MEDIA_IP,
} from './lib/harness.mjs';

let janus;
let blank;
let browser;
let pageA; // publisher
let pageB; // subscriber
let room;
const tokA = `pub-${randomId()}`;
const tokB = `sub-${randomId()}`;
const tokStranger = `stranger-${randomId()}`; // a valid Janus token, not in the room's allowed list
let feedA;

before(async () => {
  log(`media address ${MEDIA_IP}`);
  janus = await startJanus();
  blank = await startBlankServer();
  browser = await launchBrowser();
  await janus.addToken(tokA);
  await janus.addToken(tokB);
  await janus.addToken(tokStranger);
  room = await janus.createRoom({ room: 4242, publishers: 2, allowed: [tokA, tokB] });
  pageA = await newStagePage(browser, blank.url, { name: 'A' });
  pageB = await newStagePage(browser, blank.url, { name: 'B' });
});

after(async () => {
  for (const p of [pageA, pageB]) await p?.evaluate(() => window.amphiStage.leave()).catch(() => {});
  await browser?.close().catch(() => {});
  await blank?.close();
  await janus?.stop();
});

const creds = (token, extra = {}) => ({ janusUrl: janus.wsUrl, janusRoom: room.room, token, ...extra });

test('Janus refuses a session without a valid token, and a join not in the allowed list', async () => {
  const noToken = await pageA.evaluate((c) => window.amphiStage.tryJoinPublisher(c), creds(undefined, { display: 'nobody' }));
  log('no token →', noToken);
  assert.equal(noToken.ok, false);
  assert.equal(noToken.stage, 'create');
  assert.equal(noToken.code, 403);

  const madeUp = await pageA.evaluate((c) => window.amphiStage.tryJoinPublisher(c), creds(`made-up-${randomId()}`, { display: 'forger' }));
  log('made-up token →', madeUp);
  assert.equal(madeUp.ok, false);
  assert.equal(madeUp.code, 403);

  const stranger = await pageA.evaluate((c) => window.amphiStage.tryJoinPublisher(c), creds(tokStranger, { display: 'stranger' }));
  log('valid Janus token, not in allowed →', stranger);
  assert.equal(stranger.ok, false);
  assert.equal(stranger.stage, 'join');
  assert.equal(stranger.code, 433); // JANUS_VIDEOROOM_ERROR_UNAUTHORIZED
  await screenshot(pageA, 'janus-direct-1-refused');
});

test('page A publishes its fake camera, page B decodes it', async () => {
  const t0 = Date.now();
  const pub = await pageA.evaluate((c) => window.amphiStage.publish(c), creds(tokA, { display: 'Alice' }));
  log(`A published feed ${pub.feedId} in ${Date.now() - t0} ms`);
  feedA = pub.feedId;
  const t1 = Date.now();
  const sub = await pageB.evaluate((c) => window.amphiStage.subscribe(c), creds(tokB));
  log(`B subscribed to feed ${sub.feedId} in ${Date.now() - t1} ms`);
  assert.equal(sub.feedId, feedA);
  const first = await waitForFrames(pageB, { min: 0, timeoutMs: 15000 });
  log(`B: first frames decoded (${first}) ${Date.now() - t1} ms after subscribing`);
  await new Promise((r) => setTimeout(r, 2000));
  const stats = await pageB.evaluate(() => window.amphiStage.videoStats());
  log('B video stats after 2 s more:', JSON.stringify(stats));
  assert.ok(stats[0].framesDecoded > first, 'frames keep coming');
  const parts = await janus.videoroom({ request: 'listparticipants', room: room.room });
  log('participants:', JSON.stringify(parts.participants));
  assert.ok(parts.participants.some((p) => p.id === feedA && p.publisher));
  await screenshot(pageA, 'janus-direct-2-publisher');
  await screenshot(pageB, 'janus-direct-2-subscriber');
});

test('a subscriber whose token is not in the allowed list (informational)', async () => {
  // Tells the server side whether subscribe-only tokens must be in `allowed`.
  const r = await pageB.evaluate((c) => window.amphiStage.trySubscribe(c), creds(tokStranger, { feedId: feedA }));
  log(`subscriber join with a token outside 'allowed' → ${JSON.stringify(r)}`);
  if (r.ok) await pageB.evaluate(() => window.amphiStage.subscribers.pop()?.pc.close());
});

test('kick: page A notices within a second; its token, once removed, no longer joins', async () => {
  const t0 = Date.now();
  await janus.videoroom({ request: 'kick', room: room.room, secret: room.secret, id: feedA });
  await janus.videoroom({ request: 'allowed', room: room.room, secret: room.secret, action: 'remove', allowed: [tokA] });
  await janus.removeToken(tokA);
  await waitUntil(() => pageA.evaluate(() => window.amphiStage.kicked), { timeoutMs: 1000, intervalMs: 20, what: 'A kicked' });
  const kick = await pageA.evaluate(() => ({ at: window.amphiStage.kickedAt, reason: window.amphiStage.kickReason }));
  log(`A kicked after ${kick.at - t0} ms (${kick.reason})`);
  await screenshot(pageA, 'janus-direct-3-kicked');
  const again = await pageA.evaluate((c) => window.amphiStage.tryJoinPublisher(c), creds(tokA, { display: 'Alice again' }));
  log('old token →', again);
  assert.equal(again.ok, false);
  assert.equal(again.code, 403);
});
