// Looks inside the broadcast: fetches whole segments of a room's LL-HLS stream from serve
// and decodes their first picture with ffmpeg (Debian's), small and in gray, so a test can
// tell live video from the static slate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FRAME_W = 160;
export const FRAME_H = 90;

async function fetchBytes(url) {
  const r = await fetch(url);
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status}`);
  return Buffer.from(await r.arrayBuffer());
}

// The newest complete segment listed now: {init, uri} (relative to the media playlist).
async function newestSegment(base, room) {
  const text = await (await fetch(`${base}/hls/${room}/media.m3u8`)).text();
  let init = null;
  let last = null;
  for (const line of text.split('\n')) {
    const map = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
    if (map) init = map[1];
    if (line && !line.startsWith('#')) last = { init, uri: line.trim() };
  }
  if (!last) throw new Error(`no complete segment in the playlist:\n${text}`);
  return last;
}

// The first picture of the newest complete segment: {uri, pixels} (FRAME_W x FRAME_H gray).
export async function newestFrame(base, room) {
  const seg = await newestSegment(base, room);
  const dir = mkdtempSync(join(tmpdir(), 'amphi-frame-'));
  try {
    const file = join(dir, 'segment.mp4');
    const root = `${base}/hls/${room}/`;
    writeFileSync(file, Buffer.concat([await fetchBytes(root + seg.init), await fetchBytes(root + seg.uri)]));
    const pixels = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-frames:v', '1',
      '-vf', `scale=${FRAME_W}:${FRAME_H},format=gray`, '-f', 'rawvideo', '-'], { maxBuffer: 1 << 20 });
    if (pixels.length !== FRAME_W * FRAME_H) throw new Error(`ffmpeg gave ${pixels.length} bytes`);
    return { uri: seg.uri, pixels };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Pixels that differ by more than `threshold` (of 255) between two frames.
export function changedPixels(a, b, threshold = 40) {
  let n = 0;
  for (let i = 0; i < a.length; i += 1) if (Math.abs(a[i] - b[i]) > threshold) n += 1;
  return n;
}
