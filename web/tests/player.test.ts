import { afterEach, describe, expect, it, vi } from 'vitest';
import type Hls from 'hls.js';
import { LivePlayer, type PlayerStatus } from '../src/media/livePlayer';

type Handler = (event: string, data: unknown) => void;

/** Just enough of hls.js: records config and calls, lets tests emit events. */
class FakeHls {
  static supported = true;
  static instances: FakeHls[] = [];
  static Events = { MANIFEST_PARSED: 'hlsManifestParsed', ERROR: 'hlsError' };
  static ErrorTypes = { NETWORK_ERROR: 'networkError', MEDIA_ERROR: 'mediaError' };
  static isSupported() {
    return FakeHls.supported;
  }
  handlers = new Map<string, Handler[]>();
  source: string | null = null;
  media: unknown = null;
  destroyed = false;
  recovered = 0;
  latency = NaN;
  constructor(readonly config: Record<string, unknown>) {
    FakeHls.instances.push(this);
  }
  on(event: string, fn: Handler) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
  }
  emit(event: string, data: unknown = {}) {
    for (const fn of this.handlers.get(event) ?? []) fn(event, data);
  }
  loadSource(url: string) {
    this.source = url;
  }
  attachMedia(m: unknown) {
    this.media = m;
  }
  recoverMediaError() {
    this.recovered += 1;
  }
  destroy() {
    this.destroyed = true;
  }
}

function fakeVideo(native = false) {
  const target = new EventTarget();
  const video = Object.assign(target, {
    play: vi.fn(async () => undefined),
    canPlayType: (t: string) => (native && t === 'application/vnd.apple.mpegurl' ? 'maybe' : ''),
    src: '',
    currentTime: 10,
    seekable: { length: 1, end: () => 12.5 },
    removeAttribute: vi.fn(),
    load: vi.fn(),
  });
  return video as unknown as HTMLVideoElement & { play: ReturnType<typeof vi.fn> };
}

const loadHls = () => Promise.resolve(FakeHls as unknown as typeof Hls);

function start(video = fakeVideo()) {
  const statuses: PlayerStatus[] = [];
  const p = new LivePlayer(video, '/hls/r/index.m3u8', { onStatus: (s) => statuses.push(s), loadHls, retryMs: [1000, 2000] });
  return { p, video, statuses, started: p.start() };
}

afterEach(() => {
  FakeHls.instances = [];
  FakeHls.supported = true;
  vi.useRealTimers();
});

describe('LivePlayer', () => {
  it('uses hls.js in low-latency mode and plays muted once the manifest is parsed', async () => {
    const { video, started, statuses } = start();
    await started;
    const hls = FakeHls.instances[0];
    expect(hls.config.lowLatencyMode).toBe(true);
    expect(hls.source).toBe('/hls/r/index.m3u8');
    expect(hls.media).toBe(video);
    expect(statuses[statuses.length - 1].engine).toBe('hls.js');
    hls.emit(FakeHls.Events.MANIFEST_PARSED);
    expect(video.play).toHaveBeenCalled();
    video.dispatchEvent(new Event('playing'));
    expect(statuses[statuses.length - 1].state).toBe('playing');
  });

  it('a missing playlist (broadcast starting): waits, then starts over with a fresh hls.js', async () => {
    vi.useFakeTimers();
    const { started, statuses } = start();
    await started;
    const first = FakeHls.instances[0];
    first.emit(FakeHls.Events.ERROR, { fatal: true, type: 'networkError', details: 'manifestLoadError', response: { code: 404 } });
    expect(first.destroyed).toBe(true);
    expect(statuses[statuses.length - 1]).toMatchObject({ state: 'retrying', message: 'Waiting for the broadcast to start…' });
    await vi.advanceTimersByTimeAsync(999);
    expect(FakeHls.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2);
    expect(FakeHls.instances).toHaveLength(2);
    expect(FakeHls.instances[1].source).toBe('/hls/r/index.m3u8');
  });

  it('non-fatal errors are left to hls.js; a first media error is recovered in place', async () => {
    const { started } = start();
    await started;
    const hls = FakeHls.instances[0];
    hls.emit(FakeHls.Events.ERROR, { fatal: false, type: 'networkError', details: 'fragLoadError' });
    hls.emit(FakeHls.Events.ERROR, { fatal: true, type: 'mediaError', details: 'bufferStalledError' });
    expect(hls.recovered).toBe(1);
    expect(hls.destroyed).toBe(false);
  });

  it('reports the delay behind live from hls.latency', async () => {
    vi.useFakeTimers();
    const { started, statuses } = start();
    await started;
    FakeHls.instances[0].latency = 2.4;
    await vi.advanceTimersByTimeAsync(1000);
    expect(statuses[statuses.length - 1].latency).toBe(2.4);
  });

  it('uses the browser’s own HLS only where hls.js cannot run', async () => {
    FakeHls.supported = false;
    const video = fakeVideo(true);
    const { started, statuses } = start(video);
    await started;
    expect(FakeHls.instances).toHaveLength(0);
    expect(video.src).toBe('/hls/r/index.m3u8');
    expect(statuses[statuses.length - 1].engine).toBe('native');
    expect(video.play).toHaveBeenCalled();
  });

  it('says so when neither works', async () => {
    FakeHls.supported = false;
    const { started, statuses } = start(fakeVideo(false));
    await started;
    expect(statuses[statuses.length - 1].state).toBe('unsupported');
  });

  it('muted autoplay refused: asks the user to start playback', async () => {
    const video = fakeVideo();
    video.play.mockRejectedValueOnce(Object.assign(new Error('no'), { name: 'NotAllowedError' }));
    const { started, statuses } = start(video);
    await started;
    FakeHls.instances[0].emit(FakeHls.Events.MANIFEST_PARSED);
    await Promise.resolve();
    await Promise.resolve();
    expect(statuses[statuses.length - 1].state).toBe('blocked');
  });

  it('destroy stops hls.js and any pending restart', async () => {
    vi.useFakeTimers();
    const { p, started } = start();
    await started;
    FakeHls.instances[0].emit(FakeHls.Events.ERROR, { fatal: true, type: 'networkError', details: 'x' });
    p.destroy();
    await vi.advanceTimersByTimeAsync(5000);
    expect(FakeHls.instances).toHaveLength(1);
  });
});
