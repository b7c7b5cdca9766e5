// Runs the stage machine's effects: credentials, camera, Janus, readiness, teardown, and
// the warm-up of a raised hand. Framework-free; React reads it via subscribe/getView.
import { ApiError } from '../api/client';
import type { Role, StageCredentials } from '../api/types';
import type { LinkFailure, RemoteFeed } from '../janus/stageLink';
import { JanusError } from '../janus/session';
import { mediaErrorMessage, stopStream } from '../media/readiness';
import {
  initialStage,
  stageEffects,
  stageReducer,
  type JoinStep,
  type StageEffect,
  type StageError,
  type StageEvent,
  type StageState,
} from '../state/stage';

/** What the controller needs of a stage connection (StageLink; a fake in tests). */
export interface LinkLike {
  readonly creds: Pick<StageCredentials, 'janusUrl' | 'janusRoom' | 'token'>;
  feeds(): RemoteFeed[];
  onChange(fn: () => void): () => void;
  onFailure(fn: (f: LinkFailure) => void): () => void;
  startDiscovery(): void;
  refresh(): void;
  publish(stream: MediaStream, display: string): Promise<void>;
  close(): Promise<void>;
}

export interface StageDeps {
  roomId: string;
  userId: string;
  role: Role;
  api: {
    stageCredentials(roomId: string, mode: 'publish' | 'subscribe'): Promise<StageCredentials>;
    demote(roomId: string, userId: string): Promise<unknown>;
  };
  openLink(creds: StageCredentials): Promise<LinkLike>;
  openCamera(): Promise<MediaStream>;
  /** resolves on the stream's first rendered frame */
  firstFrame(stream: MediaStream, signal: AbortSignal): Promise<void>;
  /** the longest a join may take before it counts as failed */
  readyTimeoutMs?: number;
  /** called after every change of the machine's state */
  onTransition?(state: StageState, view: StageView): void;
}

export type WarmState = 'off' | 'warming' | 'warm' | 'failed';

export interface StageView {
  state: StageState;
  warm: WarmState;
  warmError: string | null;
  /** this user's camera/mic (preview), while warm, joining or on stage */
  local: MediaStream | null;
  /** the other people on stage */
  feeds: RemoteFeed[];
  audioOn: boolean;
  videoOn: boolean;
}

interface Warm {
  state: WarmState;
  error: string | null;
  cancelled: boolean;
  stream: MediaStream | null;
  link: LinkLike | null;
  creds: StageCredentials | null;
  ready: Promise<void>;
  offChange: (() => void) | null;
}

/** A failed join step, already classified. */
class StepFailure extends Error {
  readonly error: StageError;
  constructor(error: StageError) {
    super(error.message);
    this.error = error;
  }
}

function janusFailure(e: unknown): StageError {
  if (e instanceof JanusError) {
    const ice = /ice/i.test(e.reason);
    return { kind: ice ? 'ice' : 'janus', message: e.message };
  }
  return { kind: 'janus', message: e instanceof Error ? e.message : String(e) };
}

function sameTarget(a: StageCredentials | null, b: StageCredentials): boolean {
  return !!a && a.janusUrl === b.janusUrl && a.janusRoom === b.janusRoom && a.token === b.token;
}

export class StageController {
  private readonly deps: StageDeps;
  private state: StageState = initialStage;
  private view: StageView;
  private readonly listeners = new Set<() => void>();
  private link: LinkLike | null = null;
  private linkOff: (() => void)[] = [];
  private local: MediaStream | null = null;
  private warm: Warm | null = null;
  private joinAbort: AbortController | null = null;
  private audioOn = true;
  private videoOn = true;
  private disposed = false;

  constructor(deps: StageDeps) {
    this.deps = deps;
    this.view = this.makeView();
  }

  getView = (): StageView => this.view;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  get mode(): StageState['mode'] {
    return this.state.mode;
  }

  private makeView(): StageView {
    const w = this.warm;
    return {
      state: this.state,
      warm: w ? w.state : 'off',
      warmError: w?.error ?? null,
      local: this.local ?? w?.stream ?? null,
      feeds: (this.link ?? w?.link)?.feeds() ?? [],
      audioOn: this.audioOn,
      videoOn: this.videoOn,
    };
  }

  private emit(): void {
    this.view = this.makeView();
    for (const fn of [...this.listeners]) fn();
  }

  dispatch = (event: StageEvent): void => {
    if (this.disposed) return;
    const prev = this.state;
    const next = stageReducer(prev, event);
    if (next === prev) return;
    this.state = next;
    this.emit();
    this.deps.onTransition?.(next, this.view);
    for (const effect of stageEffects(prev, next)) this.run(effect);
  };

  private run(effect: StageEffect): void {
    if (effect.kind === 'join') void this.join(effect.attempt);
    else void this.teardown(effect.attempt, effect.demoteSelf);
  }

  private step(attempt: number, step: JoinStep): void {
    this.dispatch({ type: 'step', attempt, step });
  }

  private alive(attempt: number): boolean {
    return !this.disposed && this.state.attempt === attempt && this.state.mode === 'joining';
  }

  // ---- join ----

  private async join(attempt: number): Promise<void> {
    const abort = new AbortController();
    this.joinAbort = abort;
    const timeoutMs = this.deps.readyTimeoutMs ?? 20000;
    // the one timer: a deadline for failure (success is driven by media events)
    const deadline = setTimeout(() => {
      this.dispatch({
        type: 'failed',
        attempt,
        error: { kind: 'timeout', message: `no working audio/video after ${Math.round(timeoutMs / 1000)} s` },
      });
    }, timeoutMs);
    const warm = this.warm; // the join owns the warm-up's camera and connection now
    this.warm = null;
    try {
      await this.joinSteps(attempt, warm, abort.signal);
      if (this.alive(attempt)) this.dispatch({ type: 'ready', attempt });
    } catch (e) {
      const error = e instanceof StepFailure ? e.error : janusFailure(e);
      if (this.alive(attempt)) this.dispatch({ type: 'failed', attempt, error });
    } finally {
      clearTimeout(deadline);
      if (this.joinAbort === abort) this.joinAbort = null;
    }
  }

  private async credentials(): Promise<StageCredentials> {
    try {
      return await this.deps.api.stageCredentials(this.deps.roomId, 'publish');
    } catch (e) {
      const status = e instanceof ApiError ? e.status : undefined;
      const kind = e instanceof ApiError && e.status === 0 ? 'network' : 'credentials';
      throw new StepFailure({ kind, status, message: e instanceof Error ? e.message : String(e) });
    }
  }

  private async joinSteps(attempt: number, warm: Warm | null, signal: AbortSignal): Promise<void> {
    if (warm) await warm.ready;
    if (!this.alive(attempt)) return this.release(warm);
    this.step(attempt, 'credentials');
    const creds = this.credentials();
    creds.catch(() => undefined); // observed below
    const link =
      warm?.link && warm.stream
        ? await this.publishWarm(attempt, warm, creds)
        : await this.publishCold(attempt, warm, creds);
    if (!link || !this.alive(attempt)) return;
    this.step(attempt, 'ready-check');
    await this.remoteReady(link, signal);
  }

  /**
   * Warm: camera and Janus session are up, and promotion keeps the token, so publishing
   * starts at once while the credentials call confirms the grant.
   */
  private async publishWarm(attempt: number, warm: Warm, creds: Promise<StageCredentials>): Promise<LinkLike | null> {
    const link = warm.link!;
    warm.offChange?.();
    this.local = warm.stream;
    this.applyToggles();
    this.adopt(link, attempt);
    this.step(attempt, 'publishing');
    const published = link.publish(warm.stream!, warm.creds!.display);
    published.catch(() => undefined);
    const fresh = await creds; // a refusal here explains a publish failure best
    if (!sameTarget(warm.creds, fresh)) throw new StepFailure({ kind: 'credentials', message: 'stage access changed; try again' });
    await published.catch((e: unknown) => {
      throw new StepFailure(janusFailure(e));
    });
    return link;
  }

  /** Cold: credentials, camera, Janus session, publish, one after the other. */
  private async publishCold(attempt: number, warm: Warm | null, credsP: Promise<StageCredentials>): Promise<LinkLike | null> {
    const gone = () => !this.alive(attempt);
    const creds = await credsP.catch((e: unknown) => {
      this.release(warm);
      throw e;
    });
    if (gone()) {
      this.release(warm);
      return null;
    }

    this.step(attempt, 'camera');
    let stream = warm?.stream ?? null;
    if (!stream) {
      try {
        stream = await this.deps.openCamera();
      } catch (e) {
        this.release(warm);
        throw new StepFailure({ kind: 'media', message: mediaErrorMessage(e) });
      }
      if (gone()) {
        stopStream(stream);
        this.release(warm);
        return null;
      }
    }
    this.local = stream;
    this.applyToggles();
    this.emit();

    this.step(attempt, 'connecting');
    if (warm) {
      warm.offChange?.();
      void warm.link?.close();
    }
    const link = await this.deps.openLink(creds).catch((e: unknown) => {
      throw new StepFailure(janusFailure(e));
    });
    if (gone()) {
      void link.close();
      return null;
    }
    this.adopt(link, attempt);

    this.step(attempt, 'publishing');
    link.startDiscovery();
    await link.publish(stream, creds.display).catch((e: unknown) => {
      throw new StepFailure(janusFailure(e));
    });
    return link;
  }

  /** Makes `link` the current stage connection; its failures fail `attempt`. */
  private adopt(link: LinkLike, attempt: number): void {
    this.link = link;
    this.linkOff = [
      link.onChange(() => this.emit()),
      link.onFailure((f) => {
        if (this.link !== link) return;
        const kind = f.kind === 'ice' ? 'ice' : f.kind === 'kicked' ? 'kicked' : 'janus';
        this.dispatch({ type: 'failed', attempt, error: { kind, message: f.message } });
      }),
    ];
    this.emit();
  }

  /** Resolves on a first frame from any other person on stage, or at once if nobody is. */
  private remoteReady(link: LinkLike, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const started = new Set<number>();
      let off: () => void = () => undefined;
      const finish = () => {
        off();
        resolve();
      };
      const check = () => {
        const feeds = link.feeds();
        if (feeds.length === 0) return finish();
        for (const f of feeds) {
          if (started.has(f.feedId) || f.stream.getTracks().length === 0) continue;
          started.add(f.feedId);
          this.deps.firstFrame(f.stream, signal).then(finish, () => undefined);
        }
      };
      off = link.onChange(check);
      signal.addEventListener('abort', () => {
        off();
        reject(new StepFailure({ kind: 'timeout', message: 'no video arrived' }));
      });
      check();
    });
  }

  // ---- leave ----

  private async teardown(attempt: number, demoteSelf: boolean): Promise<void> {
    this.joinAbort?.abort();
    const link = this.link;
    this.link = null;
    for (const off of this.linkOff.splice(0)) off();
    stopStream(this.local); // the camera goes off at once
    this.local = null;
    this.coolDown();
    this.emit();
    const tell =
      demoteSelf && this.deps.role === 'viewer'
        ? this.deps.api.demote(this.deps.roomId, this.deps.userId).catch(() => undefined)
        : undefined;
    await Promise.all([link?.close().catch(() => undefined), tell]);
    this.dispatch({ type: 'left', attempt });
  }

  /** Releases what a warm-up held (when a join gives up before using it). */
  private release(warm: Warm | null): void {
    if (!warm) return;
    warm.cancelled = true;
    warm.offChange?.();
    stopStream(warm.stream);
    void warm.link?.close();
  }

  // ---- warm-up (hand raised) ----

  /** With the hand up: camera permission and a subscribe-only stage connection. */
  setWarm(on: boolean): void {
    if (this.disposed || this.deps.role !== 'viewer') return;
    if (!on) {
      if (this.state.mode === 'passive') this.coolDown();
      return;
    }
    if (this.warm || this.state.mode !== 'passive') return;
    let done!: () => void;
    const w: Warm = {
      state: 'warming',
      error: null,
      cancelled: false,
      stream: null,
      link: null,
      creds: null,
      ready: new Promise<void>((r) => (done = r)),
      offChange: null,
    };
    this.warm = w;
    this.emit();
    void this.warmUp(w).finally(done);
  }

  private async warmUp(w: Warm): Promise<void> {
    try {
      const stream = await this.deps.openCamera().catch((e: unknown) => {
        throw new Error(`camera: ${mediaErrorMessage(e)}`);
      });
      if (w.cancelled) return stopStream(stream);
      w.stream = stream;
      this.applyToggles();
      this.emitIfWarm(w);
      const creds = await this.deps.api.stageCredentials(this.deps.roomId, 'subscribe');
      if (w.cancelled) return;
      const link = await this.deps.openLink(creds);
      if (w.cancelled) return void link.close();
      w.link = link;
      w.creds = creds;
      w.offChange = link.onChange(() => this.emitIfWarm(w));
      link.startDiscovery();
      w.state = 'warm';
    } catch (e) {
      w.state = 'failed';
      w.error = e instanceof Error ? e.message : String(e);
    }
    this.emitIfWarm(w);
  }

  private emitIfWarm(w: Warm): void {
    if (this.warm === w) this.emit();
  }

  private coolDown(): void {
    const w = this.warm;
    if (!w) return;
    this.warm = null;
    this.release(w);
    this.emit();
  }

  // ---- while on stage ----

  /** After STAGE_CHANGED: look for new publishers now rather than at the next poll. */
  refreshFeeds(): void {
    (this.link ?? this.warm?.link)?.refresh();
  }

  private applyToggles(): void {
    const s = this.local ?? this.warm?.stream;
    for (const t of s?.getAudioTracks() ?? []) t.enabled = this.audioOn;
    for (const t of s?.getVideoTracks() ?? []) t.enabled = this.videoOn;
  }

  toggleAudio = (): void => {
    this.audioOn = !this.audioOn;
    this.applyToggles();
    this.emit();
  };

  toggleVideo = (): void => {
    this.videoOn = !this.videoOn;
    this.applyToggles();
    this.emit();
  };

  /** Unmount: leave Janus and release the camera without telling the server. */
  dispose(): void {
    if (this.disposed) return;
    this.joinAbort?.abort();
    this.coolDown();
    for (const off of this.linkOff.splice(0)) off();
    void this.link?.close();
    this.link = null;
    stopStream(this.local);
    this.local = null;
    this.disposed = true;
    this.listeners.clear();
  }
}
