import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../src/api/client';
import type { StageCredentials } from '../src/api/types';
import type { LinkFailure, RemoteFeed } from '../src/janus/stageLink';
import { JanusError } from '../src/janus/session';
import { StageController, type LinkLike, type StageDeps } from '../src/stage/controller';
import type { StageMode } from '../src/state/stage';

// ---- fakes ----

interface FakeTrack {
  kind: 'audio' | 'video';
  enabled: boolean;
  stopped: boolean;
  stop(): void;
}

function fakeStream(kinds: ('audio' | 'video')[] = ['audio', 'video']): MediaStream {
  const tracks: FakeTrack[] = kinds.map((kind): FakeTrack => ({
    kind,
    enabled: true,
    stopped: false,
    stop() {
      this.stopped = true;
    },
  }));
  return {
    getTracks: () => tracks,
    getAudioTracks: () => tracks.filter((t) => t.kind === 'audio'),
    getVideoTracks: () => tracks.filter((t) => t.kind === 'video'),
    addTrack: (t: FakeTrack) => tracks.push(t),
  } as unknown as MediaStream;
}

const stopped = (s: MediaStream) => (s.getTracks() as unknown as FakeTrack[]).every((t) => t.stopped);

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

class FakeLink implements LinkLike {
  readonly creds: StageCredentials;
  list: RemoteFeed[] = [];
  changeFns = new Set<() => void>();
  failFns = new Set<(f: LinkFailure) => void>();
  published: { stream: MediaStream; display: string }[] = [];
  publishResult = deferred();
  discovering = false;
  refreshed = 0;
  closed = false;
  constructor(creds: StageCredentials) {
    this.creds = creds;
  }
  feeds() {
    return this.list;
  }
  onChange(fn: () => void) {
    this.changeFns.add(fn);
    return () => this.changeFns.delete(fn);
  }
  onFailure(fn: (f: LinkFailure) => void) {
    this.failFns.add(fn);
    return () => this.failFns.delete(fn);
  }
  startDiscovery() {
    this.discovering = true;
  }
  refresh() {
    this.refreshed += 1;
  }
  publish(stream: MediaStream, display: string) {
    this.published.push({ stream, display });
    return this.publishResult.promise;
  }
  async close() {
    this.closed = true;
  }
  addFeed(userId: string, kinds: ('audio' | 'video')[] = ['video']): RemoteFeed {
    const feed: RemoteFeed = { feedId: this.list.length + 1, userId, stream: fakeStream(kinds), live: kinds.length > 0 };
    this.list = [...this.list, feed];
    for (const fn of [...this.changeFns]) fn();
    return feed;
  }
  fail(f: LinkFailure) {
    for (const fn of [...this.failFns]) fn(f);
  }
}

const creds = (mode: 'publish' | 'subscribe', token = 'tok-1'): StageCredentials => ({
  janusUrl: 'ws://serve/janus/j1',
  janusRoom: 1234,
  token,
  display: 'me',
  mode,
  expiresAt: 0,
  iceServers: [],
});

function setup(role: 'viewer' | 'moderator' = 'viewer', over: Partial<StageDeps> = {}) {
  const links: FakeLink[] = [];
  const cameras: MediaStream[] = [];
  const frames = new Map<MediaStream, ReturnType<typeof deferred<void>>>();
  const modes: StageMode[] = [];
  const api = {
    stageCredentials: vi.fn(async (_room: string, mode: 'publish' | 'subscribe') => creds(mode)),
    demote: vi.fn(async () => ({})),
  };
  const deps: StageDeps = {
    roomId: 'r1',
    userId: 'me',
    role,
    api,
    openLink: vi.fn(async (c: StageCredentials) => {
      const l = new FakeLink(c);
      links.push(l);
      return l;
    }),
    openCamera: vi.fn(async () => {
      const s = fakeStream();
      cameras.push(s);
      return s;
    }),
    firstFrame: vi.fn((stream: MediaStream, signal: AbortSignal) => {
      const d = deferred<void>();
      frames.set(stream, d);
      signal.addEventListener('abort', () => d.reject(new Error('aborted')));
      return d.promise;
    }),
    readyTimeoutMs: 5000,
    onTransition: (s) => {
      if (modes[modes.length - 1] !== s.mode) modes.push(s.mode);
    },
    ...over,
  };
  const c = new StageController(deps);
  return { c, api, deps, links, cameras, frames, modes };
}

/** Lets pending promise chains run. */
async function settle(rounds = 30) {
  for (let i = 0; i < rounds; i += 1) await Promise.resolve();
}

const mode = (c: StageController) => c.getView().state.mode;

afterEach(() => {
  vi.useRealTimers();
});

// ---- tests ----

describe('StageController: joining', () => {
  it('cold join with nobody else on stage: credentials, camera, Janus, publish → stage', async () => {
    const { c, api, links, cameras, modes } = setup();
    c.dispatch({ type: 'join' });
    await settle();
    expect(api.stageCredentials).toHaveBeenCalledWith('r1', 'publish');
    expect(cameras).toHaveLength(1);
    expect(links).toHaveLength(1);
    expect(links[0].discovering).toBe(true);
    expect(links[0].published[0].display).toBe('me');
    expect(mode(c)).toBe('joining'); // publish not confirmed yet
    links[0].publishResult.resolve();
    await settle();
    expect(mode(c)).toBe('stage');
    expect(c.getView().local).toBe(cameras[0]);
    expect(modes).toEqual(['joining', 'stage']);
  });

  it('with others on stage, stays joining until a first remote frame is rendered', async () => {
    const { c, links, frames } = setup();
    c.dispatch({ type: 'join' });
    await settle();
    const feed = links[0].addFeed('host');
    links[0].publishResult.resolve();
    await settle();
    expect(mode(c)).toBe('joining');
    expect(c.getView().state.step).toBe('ready-check');
    frames.get(feed.stream)!.resolve();
    await settle();
    expect(mode(c)).toBe('stage');
    expect(c.getView().feeds.map((f) => f.userId)).toEqual(['host']);
  });

  it('waits for tracks before watching for a frame; any one feed is enough', async () => {
    const { c, links, frames, deps } = setup();
    c.dispatch({ type: 'join' });
    await settle();
    links[0].addFeed('silent', []); // subscribed, no tracks yet
    links[0].publishResult.resolve();
    await settle();
    expect(deps.firstFrame).not.toHaveBeenCalled();
    const second = links[0].addFeed('host');
    await settle();
    expect(deps.firstFrame).toHaveBeenCalledTimes(1);
    frames.get(second.stream)!.resolve();
    await settle();
    expect(mode(c)).toBe('stage');
  });

  it('credentials refused (403): back to passive with the reason; no camera, no Janus', async () => {
    const { c, api, deps } = setup('viewer', {});
    api.stageCredentials.mockRejectedValueOnce(new ApiError(403, 'forbidden', 'only people on stage may join the stage'));
    c.dispatch({ type: 'join' });
    await settle();
    const s = c.getView().state;
    expect(s.mode).toBe('passive');
    expect(s.error).toMatchObject({ kind: 'credentials', status: 403 });
    expect(s.error?.message).toMatch(/only people on stage/);
    expect(deps.openCamera).not.toHaveBeenCalled();
    expect(deps.openLink).not.toHaveBeenCalled();
    expect(api.demote).toHaveBeenCalledWith('r1', 'me'); // the server learns at once
  });

  it('camera refused: back to passive with a media error, nothing left open', async () => {
    const err = Object.assign(new Error('denied'), { name: 'NotAllowedError' });
    const { c, deps } = setup('viewer', { openCamera: vi.fn(async () => Promise.reject(err)) });
    c.dispatch({ type: 'join' });
    await settle();
    expect(c.getView().state.error).toMatchObject({ kind: 'media' });
    expect(c.getView().state.error?.message).toMatch(/permission/);
    expect(deps.openLink).not.toHaveBeenCalled();
    expect(mode(c)).toBe('passive');
  });

  it('Janus refuses the publisher: error, the link is closed and the camera released', async () => {
    const { c, links, cameras } = setup();
    c.dispatch({ type: 'join' });
    await settle();
    links[0].publishResult.reject(new JanusError('join', 433, 'Unauthorized (not in the allowed list)'));
    await settle();
    expect(mode(c)).toBe('passive');
    expect(c.getView().state.error).toMatchObject({ kind: 'janus' });
    expect(c.getView().state.error?.message).toMatch(/433/);
    expect(links[0].closed).toBe(true);
    expect(stopped(cameras[0])).toBe(true);
    expect(c.getView().local).toBeNull();
  });

  it('opening Janus fails: a janus error', async () => {
    const { c } = setup('viewer', { openLink: vi.fn(async () => Promise.reject(new JanusError('connect', 0, 'cannot open ws://x'))) });
    c.dispatch({ type: 'join' });
    await settle();
    expect(c.getView().state.error).toMatchObject({ kind: 'janus' });
  });

  it('ICE fails while publishing: an ice error', async () => {
    const { c, links } = setup();
    c.dispatch({ type: 'join' });
    await settle();
    links[0].publishResult.reject(new JanusError('stage', 0, 'ICE failed: no network path to the media server'));
    await settle();
    expect(c.getView().state.error?.kind).toBe('ice');
  });

  it('no first frame before the deadline: timeout error, everything released', async () => {
    vi.useFakeTimers();
    const { c, links, cameras } = setup();
    c.dispatch({ type: 'join' });
    await settle();
    links[0].addFeed('host');
    links[0].publishResult.resolve();
    await settle();
    expect(mode(c)).toBe('joining');
    await vi.advanceTimersByTimeAsync(5001);
    await settle();
    expect(mode(c)).toBe('passive');
    expect(c.getView().state.error?.kind).toBe('timeout');
    expect(links[0].closed).toBe(true);
    expect(stopped(cameras[0])).toBe(true);
  });

  it('DEMOTE while joining: the join is abandoned and its late success ignored', async () => {
    const { c, links, cameras, api } = setup();
    c.dispatch({ type: 'join' });
    await settle();
    c.dispatch({ type: 'demoted', reason: 'moderator' });
    await settle();
    expect(mode(c)).toBe('passive');
    expect(links[0].closed).toBe(true);
    expect(stopped(cameras[0])).toBe(true);
    expect(api.demote).not.toHaveBeenCalled(); // the server decided it
    links[0].publishResult.resolve();
    await settle();
    expect(mode(c)).toBe('passive');
  });

  it('DEMOTE while the camera is still opening: the camera is stopped when it arrives', async () => {
    const cam = deferred<MediaStream>();
    const { c, deps } = setup('viewer', { openCamera: vi.fn(() => cam.promise) });
    c.dispatch({ type: 'join' });
    await settle();
    c.dispatch({ type: 'demoted' });
    await settle();
    const s = fakeStream();
    cam.resolve(s);
    await settle();
    expect(stopped(s)).toBe(true);
    expect(deps.openLink).not.toHaveBeenCalled();
    expect(mode(c)).toBe('passive');
  });
});

describe('StageController: on stage and leaving', () => {
  async function onStage(role: 'viewer' | 'moderator' = 'viewer') {
    const t = setup(role);
    t.c.dispatch({ type: 'join' });
    await settle();
    t.links[0].publishResult.resolve();
    await settle();
    expect(mode(t.c)).toBe('stage');
    return t;
  }

  it('"Leave stage": tells the server (demote self), leaves Janus, releases the camera', async () => {
    const { c, api, links, cameras, modes } = await onStage();
    c.dispatch({ type: 'leave' });
    expect(stopped(cameras[0])).toBe(true); // at once
    await settle();
    expect(api.demote).toHaveBeenCalledWith('r1', 'me');
    expect(links[0].closed).toBe(true);
    expect(mode(c)).toBe('passive');
    expect(modes).toEqual(['joining', 'stage', 'leaving', 'passive']);
    expect(c.getView().state.notice).toBe('You left the stage.');
  });

  it('a moderator leaving is not demoted (they are not on the stage list)', async () => {
    const { c, api } = await onStage('moderator');
    c.dispatch({ type: 'leave' });
    await settle();
    expect(api.demote).not.toHaveBeenCalled();
    expect(mode(c)).toBe('passive');
  });

  it('ICE fails on stage: back to passive with the error', async () => {
    const { c, links } = await onStage();
    links[0].fail({ kind: 'ice', message: 'ICE failed' });
    await settle();
    expect(mode(c)).toBe('passive');
    expect(c.getView().state.error?.kind).toBe('ice');
  });

  it('kicked by Janus then DEMOTE: a notice, not an error', async () => {
    const { c, links } = await onStage();
    links[0].fail({ kind: 'kicked', message: 'kicked' });
    c.dispatch({ type: 'demoted', reason: 'moderator' });
    await settle();
    expect(mode(c)).toBe('passive');
    expect(c.getView().state.error).toBeNull();
    expect(c.getView().state.notice).toMatch(/moderator/);
  });

  it('failures of a link no longer in use are ignored', async () => {
    const { c, links } = await onStage();
    c.dispatch({ type: 'leave' });
    await settle();
    links[0].fail({ kind: 'ice', message: 'late' });
    await settle();
    expect(c.getView().state.error).toBeNull();
  });

  it('promoted again during the cleanup: joins again afterwards with a fresh connection', async () => {
    const { c, links } = await onStage();
    c.dispatch({ type: 'demoted' });
    c.dispatch({ type: 'join' });
    await settle();
    expect(mode(c)).toBe('joining');
    expect(links).toHaveLength(2);
    links[1].publishResult.resolve();
    await settle();
    expect(mode(c)).toBe('stage');
  });

  it('mute and camera toggles switch the local tracks', async () => {
    const { c, cameras } = await onStage();
    const [audio] = cameras[0].getAudioTracks();
    const [video] = cameras[0].getVideoTracks();
    c.toggleAudio();
    expect(audio.enabled).toBe(false);
    expect(c.getView().audioOn).toBe(false);
    c.toggleVideo();
    expect(video.enabled).toBe(false);
    c.toggleAudio();
    expect(audio.enabled).toBe(true);
  });

  it('STAGE_CHANGED asks the link to look for publishers now', async () => {
    const { c, links } = await onStage();
    c.refreshFeeds();
    expect(links[0].refreshed).toBe(1);
  });

  it('dispose releases the camera and the link without telling the server', async () => {
    const { c, links, cameras, api } = await onStage();
    c.dispose();
    await settle();
    expect(links[0].closed).toBe(true);
    expect(stopped(cameras[0])).toBe(true);
    expect(api.demote).not.toHaveBeenCalled();
  });
});

describe('StageController: warm-up with the hand raised', () => {
  it('opens the camera and a subscribe-only connection that discovers the stage', async () => {
    const { c, api, links, cameras } = setup();
    c.setWarm(true);
    expect(c.getView().warm).toBe('warming');
    await settle();
    expect(api.stageCredentials).toHaveBeenCalledWith('r1', 'subscribe');
    expect(links).toHaveLength(1);
    expect(links[0].discovering).toBe(true);
    expect(c.getView().warm).toBe('warm');
    expect(c.getView().local).toBe(cameras[0]);
    links[0].addFeed('host');
    expect(c.getView().feeds.map((f) => f.userId)).toEqual(['host']);
  });

  it('promotion reuses the warm camera and connection, publishing while credentials confirm', async () => {
    const { c, api, links, cameras, deps, frames } = setup();
    c.setWarm(true);
    await settle();
    const host = links[0].addFeed('host');
    const creds = deferred<StageCredentials>();
    api.stageCredentials.mockImplementationOnce(() => creds.promise);
    c.dispatch({ type: 'join' });
    await settle();
    // publishing already started on the warm session, credentials still pending
    expect(links[0].published).toHaveLength(1);
    expect(links[0].published[0].stream).toBe(cameras[0]);
    creds.resolve({ ...links[0].creds, mode: 'publish' });
    links[0].publishResult.resolve();
    await settle();
    frames.get(host.stream)!.resolve();
    await settle();
    expect(mode(c)).toBe('stage');
    expect(deps.openCamera).toHaveBeenCalledTimes(1);
    expect(deps.openLink).toHaveBeenCalledTimes(1);
    expect(c.getView().warm).toBe('off');
  });

  it('promotion while the warm-up is still under way waits for it and uses it', async () => {
    const cam = deferred<MediaStream>();
    const { c, deps, links } = setup('viewer', { openCamera: vi.fn(() => cam.promise) });
    c.setWarm(true);
    c.dispatch({ type: 'join' });
    c.setWarm(false); // the hand went down with the promotion: ignored while joining
    cam.resolve(fakeStream());
    await settle();
    expect(deps.openCamera).toHaveBeenCalledTimes(1);
    expect(links).toHaveLength(1);
    links[0].publishResult.resolve();
    await settle();
    expect(mode(c)).toBe('stage');
  });

  it('warm credentials whose token changed: the join fails rather than publish blindly', async () => {
    const { c, api, links } = setup();
    c.setWarm(true);
    await settle();
    api.stageCredentials.mockResolvedValueOnce(creds('publish', 'tok-OTHER'));
    c.dispatch({ type: 'join' });
    links[0].publishResult.reject(new JanusError('join', 433, 'unauthorized'));
    await settle();
    expect(mode(c)).toBe('passive');
    expect(c.getView().state.error?.kind).toBe('credentials');
  });

  it('a refused warm-up keeps the camera; promotion then connects afresh', async () => {
    const { c, api, deps, links } = setup();
    api.stageCredentials.mockRejectedValueOnce(new ApiError(403, 'forbidden', 'raise your hand first'));
    c.setWarm(true);
    await settle();
    expect(c.getView().warm).toBe('failed');
    expect(c.getView().warmError).toMatch(/raise your hand/);
    c.dispatch({ type: 'join' });
    await settle();
    expect(deps.openCamera).toHaveBeenCalledTimes(1);
    expect(links).toHaveLength(1);
    links[0].publishResult.resolve();
    await settle();
    expect(mode(c)).toBe('stage');
  });

  it('lowering the hand cools down: camera off, connection closed', async () => {
    const { c, links, cameras } = setup();
    c.setWarm(true);
    await settle();
    c.setWarm(false);
    await settle();
    expect(c.getView().warm).toBe('off');
    expect(links[0].closed).toBe(true);
    expect(stopped(cameras[0])).toBe(true);
    expect(c.getView().local).toBeNull();
  });

  it('cooling down before the camera arrives stops it on arrival', async () => {
    const cam = deferred<MediaStream>();
    const { c, deps } = setup('viewer', { openCamera: vi.fn(() => cam.promise) });
    c.setWarm(true);
    c.setWarm(false);
    const s = fakeStream();
    cam.resolve(s);
    await settle();
    expect(stopped(s)).toBe(true);
    expect(deps.openLink).not.toHaveBeenCalled();
  });

  it('moderators never warm up', async () => {
    const { c, deps } = setup('moderator');
    c.setWarm(true);
    await settle();
    expect(deps.openCamera).not.toHaveBeenCalled();
    expect(c.getView().warm).toBe('off');
  });
});

describe('StageController: view updates', () => {
  let t: ReturnType<typeof setup>;
  beforeEach(() => {
    t = setup();
  });
  it('notifies subscribers and hands out a new view on each change', async () => {
    const seen: string[] = [];
    t.c.subscribe(() => seen.push(t.c.getView().state.mode));
    const before = t.c.getView();
    t.c.dispatch({ type: 'join' });
    expect(t.c.getView()).not.toBe(before);
    await settle();
    t.links[0].publishResult.resolve();
    await settle();
    expect(seen).toContain('joining');
    expect(seen[seen.length - 1]).toBe('stage');
  });
});
