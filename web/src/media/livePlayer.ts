// The composite stream for passive viewers: LL-HLS through hls.js in low-latency mode
// wherever it runs (Media Source Extensions); the browser's own HLS only where hls.js
// cannot run (iOS Safari before MMS). hls.js is loaded on demand, in its own chunk.
import type Hls from 'hls.js';
import type { ErrorData } from 'hls.js';

export type PlayerState = 'loading' | 'playing' | 'stalled' | 'blocked' | 'retrying' | 'unsupported';

export interface PlayerStatus {
  state: PlayerState;
  /** seconds behind the live edge, when known */
  latency: number | null;
  /** which engine plays: hls.js or the browser's native HLS */
  engine: 'hls.js' | 'native' | null;
  message: string | null;
}

export interface LivePlayerOptions {
  onStatus(status: PlayerStatus): void;
  /** back-off when the playlist is not there yet (egress starting) or the network fails */
  retryMs?: number[];
  loadHls?: () => Promise<typeof Hls>;
}

const HLS_MIME = 'application/vnd.apple.mpegurl';

export class LivePlayer {
  private readonly video: HTMLVideoElement;
  private readonly url: string;
  private readonly opts: LivePlayerOptions;
  private hls: Hls | null = null;
  private status: PlayerStatus = { state: 'loading', latency: null, engine: null, message: null };
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private latencyTimer: ReturnType<typeof setInterval> | null = null;
  private failures = 0;
  private destroyed = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(video: HTMLVideoElement, url: string, opts: LivePlayerOptions) {
    this.video = video;
    this.url = url;
    this.opts = opts;
  }

  private set(patch: Partial<PlayerStatus>): void {
    this.status = { ...this.status, ...patch };
    this.opts.onStatus(this.status);
  }

  async start(): Promise<void> {
    this.listenToVideo();
    const HlsClass = await (this.opts.loadHls ?? (() => import('hls.js/light').then((m) => m.default)))();
    if (this.destroyed) return;
    if (HlsClass.isSupported()) {
      this.set({ engine: 'hls.js' });
      this.startHls(HlsClass);
    } else if (this.video.canPlayType(HLS_MIME)) {
      this.set({ engine: 'native' });
      this.video.src = this.url;
      this.play();
    } else {
      this.set({ state: 'unsupported', message: 'This browser cannot play HLS video.' });
    }
    this.latencyTimer = setInterval(() => this.measure(), 1000);
  }

  private listenToVideo(): void {
    const on = (type: string, fn: () => void) => {
      this.video.addEventListener(type, fn);
      this.cleanups.push(() => this.video.removeEventListener(type, fn));
    };
    on('playing', () => {
      this.failures = 0;
      this.set({ state: 'playing', message: null });
    });
    on('waiting', () => this.status.state === 'playing' && this.set({ state: 'stalled' }));
  }

  private play(): void {
    this.video.play().catch((e: unknown) => {
      // even muted autoplay can be refused (e.g. power saving): the user starts it
      if (e instanceof Error && e.name === 'NotAllowedError') this.set({ state: 'blocked', message: null });
    });
  }

  private startHls(HlsClass: typeof Hls): void {
    const hls = new HlsClass({
      lowLatencyMode: true,
      liveDurationInfinity: true,
      backBufferLength: 10,
      // catch up to the target latency by playing a little faster after a stall
      maxLiveSyncPlaybackRate: 1.5,
      // hls.js adds this to its target latency after every stall and never takes it back:
      // the default (1 s) left a viewer that stalled once at start ~2.9 s behind for good.
      liveSyncOnStallIncrease: 0.25,
    });
    this.hls = hls;
    hls.on(HlsClass.Events.MANIFEST_PARSED, () => this.play());
    hls.on(HlsClass.Events.ERROR, (_e, data) => this.onError(HlsClass, hls, data));
    hls.loadSource(this.url);
    hls.attachMedia(this.video);
  }

  private onError(HlsClass: typeof Hls, hls: Hls, data: ErrorData): void {
    if (!data.fatal || this.hls !== hls) return;
    if (data.type === HlsClass.ErrorTypes.MEDIA_ERROR && this.failures === 0) {
      this.failures += 1;
      hls.recoverMediaError();
      return;
    }
    // playlist missing (the broadcast is starting), network down, or media broken:
    // start over from the live edge after a pause
    hls.destroy();
    this.hls = null;
    const steps = this.opts.retryMs ?? [1000, 2000, 4000, 8000];
    const wait = steps[Math.min(this.failures, steps.length - 1)];
    this.failures += 1;
    const waiting = data.response?.code === 404 ? 'Waiting for the broadcast to start…' : `Reconnecting to the stream (${data.details})…`;
    this.set({ state: 'retrying', message: waiting, latency: null });
    this.retryTimer = setTimeout(() => {
      if (!this.destroyed) this.startHls(HlsClass);
    }, wait);
  }

  private measure(): void {
    let latency: number | null = null;
    if (this.hls) {
      latency = Number.isFinite(this.hls.latency) && this.hls.latency > 0 ? this.hls.latency : null;
    } else if (this.video.seekable.length > 0) {
      latency = Math.max(0, this.video.seekable.end(this.video.seekable.length - 1) - this.video.currentTime);
    }
    if (latency !== this.status.latency) this.set({ latency });
  }

  /** Starts playback after the browser refused autoplay (call from a click). */
  resume(): void {
    this.play();
  }

  destroy(): void {
    this.destroyed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.latencyTimer) clearInterval(this.latencyTimer);
    for (const c of this.cleanups.splice(0)) c();
    this.hls?.destroy();
    this.hls = null;
    this.video.removeAttribute('src');
    this.video.load();
  }
}
