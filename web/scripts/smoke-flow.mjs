// The browser flow of scripts/smoke.sh (see there). Uses the data-testid attributes and
// window.__amphi that the app exposes for end-to-end tests.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tests/e2e/package.json'));
const { chromium } = require('playwright-core');

const base = 'http://127.0.0.1:5173';
const serveLog = fs.readFileSync(process.env.SMOKE_SERVE_LOG, 'utf8');
const modCode = /Moderator invite:\s+\S+#invite=(\S+)/.exec(serveLog)[1];
const viewCode = /Viewer invite:\s+\S+#invite=(\S+)/.exec(serveLog)[1];
const shots = process.env.SMOKE_SHOTS ?? '/tmp/amphi-web-smoke';
// Going live makes viewers fetch LL-HLS; without a broadcast running that is only worth
// it once the origin answers (SMOKE_LIVE=1).
const live = process.env.SMOKE_LIVE === '1';
const t0 = Date.now();
const say = (...a) => console.log(`[smoke ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
});
const problems = [];
async function newPage(name, viewport) {
  const ctx = await browser.newContext({ viewport, permissions: ['camera', 'microphone'] });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
  return page;
}
const amphi = (p) => p.evaluate(() => window.__amphi);
const waitMode = (p, mode, timeout = 20000) =>
  p.waitForFunction((m) => window.__amphi?.mode === m, mode, { timeout });
const shot = (p, name) => p.screenshot({ path: path.join(shots, `${name}.png`) });
async function join(page, code, name) {
  await page.goto(`${base}/r/demo#invite=${code}`);
  await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-submit').click();
}
async function promote(M, who, userId) {
  const t = Date.now();
  await M.getByTestId(`promote-${userId}`).click();
  await waitMode(who, 'stage');
  const a = await amphi(who);
  say(`${userId} on stage ${Date.now() - t} ms after the click; steps`, JSON.stringify(a.steps.map(([s, at]) => [s, at - t])));
}

try {
  const M = await newPage('moderator', { width: 1280, height: 800 });
  await join(M, modCode, 'Teacher');
  await waitMode(M, 'stage');
  const modId = (await amphi(M)).userId;
  if (live) {
    await M.getByTestId('go-live').click();
    await M.getByTestId('end-live').waitFor();
  }
  await shot(M, '01-moderator');

  const A = await newPage('alice', { width: 390, height: 844 });
  await join(A, viewCode, 'Alice');
  await A.getByTestId('raise-hand').click();
  await A.waitForFunction(() => window.__amphi?.warm === 'warm', null, { timeout: 15000 });
  const aId = (await amphi(A)).userId;
  const B = await newPage('bob', { width: 1024, height: 700 });
  await join(B, viewCode, 'Bob');
  await B.getByTestId('raise-hand').click();
  assert.match(await B.getByTestId('queue-position').textContent(), /2nd in line/);
  const bId = (await amphi(B)).userId;
  await M.getByTestId(`queue-item-${bId}`).waitFor();
  await shot(A, '02-alice-hand-up');
  await shot(M, '03-moderator-queue');

  await promote(M, A, aId);
  await A.getByTestId(`stage-video-${modId}`).waitFor();
  await A.getByTestId('self-preview').waitFor();
  assert.equal(await A.getByTestId('hls-video').count(), 0, 'HLS stopped on stage');
  await M.getByTestId(`stage-video-${aId}`).waitFor({ timeout: 15000 });
  await shot(A, '04-alice-on-stage');
  await shot(M, '05-moderator-with-alice');

  await promote(M, B, bId);
  await B.getByTestId(`stage-video-${aId}`).waitFor({ timeout: 15000 });
  await B.getByTestId('leave-stage').click();
  await waitMode(B, 'passive');
  await B.getByTestId(live ? 'hls-video' : 'not-live').waitFor();
  await M.getByTestId(`demote-${bId}`).waitFor({ state: 'detached' });
  say('bob left the stage by himself');

  await M.getByTestId(`demote-${aId}`).click();
  await waitMode(A, 'passive');
  await A.getByTestId(live ? 'hls-video' : 'not-live').waitFor();
  assert.equal((await amphi(A)).error, null);
  say('alice demoted:', (await amphi(A)).notice);

  await B.getByTestId('raise-hand').click();
  await M.getByTestId(`dismiss-${bId}`).click();
  await B.getByTestId('raise-hand').waitFor({ timeout: 10000 });
  say('bob dismissed');

  await A.getByTestId('raise-hand').click();
  await promote(M, A, aId);
  await A.reload();
  await waitMode(A, 'stage', 25000);
  say('alice back on stage after a reload');

  process.kill(Number(process.env.SMOKE_SERVE_PID), 'SIGKILL');
  await A.getByTestId('conn-banner').waitFor({ timeout: 10000 });
  await M.getByTestId('conn-banner').waitFor({ timeout: 10000 });
  await waitMode(A, 'passive', 30000);
  await A.getByTestId('stage-error').waitFor();
  say('serve gone: banner up, alice off stage with', (await amphi(A)).error);
  await shot(A, '06-alice-serve-gone');
  assert.deepEqual(problems, []);
  say('OK');
} catch (e) {
  say('FAILED:', e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
