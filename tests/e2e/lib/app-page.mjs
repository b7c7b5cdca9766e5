// Helpers for end-to-end tests that drive the web app itself (web/dist, served by
// `amphi serve`) through its data-testid attributes and `window.__amphi`.
//
// Every page gets an init script that records, in page time (Date.now(), the same clock
// as the test's since all runs on one machine):
//   window.__e2eFrames  [{id, at}]  the first presented frame of every <video> element
//                                   that appears (requestVideoFrameCallback), by data-testid
//   window.__e2eClicks  [{id, at}]  every click on an element with a data-testid (capture)
// so that "the moderator clicked Promote" and "the viewer saw the moderator's video"
// are measured where they happen, not where Playwright's round trips put them.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ARTIFACTS, log, waitUntil } from './harness.mjs';

function pageProbes() {
  const frames = (window.__e2eFrames = []);
  const clicks = (window.__e2eClicks = []);
  const seen = new WeakSet();
  const watch = (v) => {
    if (seen.has(v)) return;
    seen.add(v);
    const first = () => frames.push({ id: v.getAttribute('data-testid') || '', at: Date.now() });
    if ('requestVideoFrameCallback' in v) v.requestVideoFrameCallback(first);
    else v.addEventListener('loadeddata', first, { once: true });
  };
  const scan = (n) => {
    if (n.nodeName === 'VIDEO') watch(n);
    if (n.querySelectorAll) n.querySelectorAll('video').forEach(watch);
  };
  new MutationObserver((ms) => {
    for (const m of ms) for (const n of m.addedNodes) if (n.nodeType === 1) scan(n);
  }).observe(document, { childList: true, subtree: true });
  document.addEventListener('click', (e) => {
    const el = e.target instanceof Element ? e.target.closest('[data-testid]') : null;
    if (el) clicks.push({ id: el.getAttribute('data-testid'), at: Date.now() });
  }, true);
}

// A page of the app in its own browser context (own cookies), camera and microphone
// allowed (Chromium's fake devices). Page errors and console errors go to the test log.
export async function newAppPage(browser, name, { viewport = { width: 1100, height: 760 } } = {}) {
  const context = await browser.newContext({ viewport, permissions: ['camera', 'microphone'] });
  await context.addInitScript(pageProbes);
  const page = await context.newPage();
  page.errors = [];
  page.webSockets = []; // URLs of the WebSockets the page opened (the Janus relay)
  page.on('websocket', (ws) => page.webSockets.push(ws.url()));
  page.on('pageerror', (e) => {
    page.errors.push(e.message);
    log(`[${name} pageerror] ${e.message}`);
  });
  page.on('console', (m) => {
    const noise = m.text().startsWith('Failed to load resource');
    if (process.env.E2E_VERBOSE || (m.type() === 'error' && !noise)) log(`[${name} ${m.type()}] ${m.text()}`);
  });
  page.amphiName = name;
  return page;
}

// Opens an invite link (/r/<room>#invite=…), types the name, joins; resolves with
// window.__amphi once the page knows who it is.
export async function joinByInvite(page, link, displayName) {
  await page.goto(link);
  await page.getByTestId('join-name').fill(displayName);
  await page.getByTestId('join-submit').click();
  return waitUntil(() => page.evaluate(() => window.__amphi?.userId && window.__amphi),
    { timeoutMs: 15000, what: `${page.amphiName} joined` });
}

export const amphi = (page) => page.evaluate(() => window.__amphi);

export async function waitMode(page, mode, timeoutMs = 20000) {
  try {
    await page.waitForFunction((m) => window.__amphi?.mode === m, mode, { timeout: timeoutMs });
  } catch (e) {
    const a = await amphi(page).catch(() => null);
    throw new Error(`${page.amphiName}: mode ${mode} not reached in ${timeoutMs} ms; __amphi=${JSON.stringify(a)}`);
  }
}

// The state of the <video> with this data-testid, or null when there is none.
export function videoState(page, testId) {
  return page.evaluate((id) => {
    const v = document.querySelector(`video[data-testid="${id}"]`);
    if (!v) return null;
    const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    return {
      currentTime: v.currentTime, readyState: v.readyState, paused: v.paused,
      width: v.videoWidth, height: v.videoHeight, frames: q ? q.totalVideoFrames : null,
    };
  }, testId);
}

// Resolves when the <video> with this testid shows a picture and its currentTime moves
// on by `advance` seconds (HLS: the playhead; a MediaStream: its clock). Returns
// {from, to, waitedMs}.
export async function videoAdvances(page, testId, { advance = 1, timeoutMs = 20000 } = {}) {
  const t0 = Date.now();
  const start = await waitUntil(async () => {
    const s = await videoState(page, testId);
    return s && s.readyState >= 2 && s.width > 0 && !s.paused ? s : null;
  }, { timeoutMs, intervalMs: 100, what: `${page.amphiName}: ${testId} shows a picture` });
  const end = await waitUntil(async () => {
    const s = await videoState(page, testId);
    return s && s.currentTime >= start.currentTime + advance ? s : null;
  }, { timeoutMs: Math.max(2000, timeoutMs - (Date.now() - t0)), intervalMs: 100,
    what: `${page.amphiName}: ${testId} currentTime +${advance} s (from ${start.currentTime.toFixed(2)})` });
  return { from: start.currentTime, to: end.currentTime, waitedMs: Date.now() - t0 };
}

// The first frame presented by a <video> with this testid at or after `since` (page
// clock), or null.
export async function firstFrameSince(page, testId, since) {
  return page.evaluate(([id, t]) => {
    const f = window.__e2eFrames.find((x) => x.id === id && x.at >= t);
    return f ? f.at : null;
  }, [testId, since]);
}

export async function waitFirstFrame(page, testId, since, timeoutMs = 20000) {
  return waitUntil(() => firstFrameSince(page, testId, since),
    { timeoutMs, intervalMs: 50, what: `${page.amphiName}: first frame of ${testId}` });
}

// The time of the last click on an element with this testid (page clock).
export async function lastClick(page, testId) {
  return page.evaluate((id) => {
    const c = window.__e2eClicks.filter((x) => x.id === id).pop();
    return c ? c.at : null;
  }, testId);
}

// A screenshot into $E2E_ARTIFACTS as web-<name>.png.
export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `web-${name.replace(/[^a-zA-Z0-9_.-]+/g, '_')}.png`);
  await sleep(150); // let the last render land
  await page.screenshot({ path: file }).catch((e) => log(`screenshot ${name}: ${e.message}`));
  return file;
}

// Percentile (nearest rank) of a list of numbers.
export function percentile(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
