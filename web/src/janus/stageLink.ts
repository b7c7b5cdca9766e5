// One browser's connection to the stage: a Janus session in the room's VideoRoom, with
// an optional publisher (this user's camera and microphone) and one subscriber handle
// per other publisher. Serve pins every publisher's display to its Amphi user id, so a
// feed's display names the user it shows.
//
// Without a publisher (warm-up with subscribe-only credentials) Janus sends no room
// notifications, so publishers are discovered with `listparticipants`; once publishing,
// the publisher handle's events say who comes and goes.
import type { StageCredentials } from '../api/types';
import { JanusError, JanusHandle, JanusSession, type JanusMessage, type Jsep, type SessionOptions } from './session';

export interface RemoteFeed {
  feedId: number;
  /** the publisher's Amphi user id */
  userId: string;
  /** remote audio/video; has tracks once the subscription delivers them */
  stream: MediaStream;
  /** ICE connected and at least one track arrived */
  live: boolean;
}

export type LinkFailureKind = 'kicked' | 'ice' | 'janus';

export interface LinkFailure {
  kind: LinkFailureKind;
  message: string;
}

export interface StageLinkOptions {
  creds: Pick<StageCredentials, 'janusUrl' | 'janusRoom' | 'token' | 'iceServers'>;
  /** this user's id: never subscribe to oneself */
  selfUserId: string;
  session?: SessionOptions;
  /** tests inject fakes */
  peerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  mediaStream?: () => MediaStream;
  /** discovery interval while not publishing */
  pollMs?: number;
}

interface Subscription {
  feed: RemoteFeed;
  handle: JanusHandle | null;
  pc: RTCPeerConnection | null;
  closed: boolean;
}

interface Publisher {
  handle: JanusHandle;
  feedId: number;
  privateId: number | null;
  pc: RTCPeerConnection | null;
  webrtcup: boolean;
  onUp: (() => void) | null;
}

type PublisherInfo = { id: number; display?: string; publisher?: boolean };

const ICE_UP = new Set<RTCIceConnectionState>(['connected', 'completed']);

/** Local candidates wait until the offer or answer has gone out, then trickle. */
function trickler(handle: JanusHandle, pc: RTCPeerConnection): () => void {
  const queue: (RTCIceCandidate | null)[] = [];
  let open = false;
  pc.onicecandidate = (ev) => {
    if (open) handle.trickle(ev.candidate);
    else queue.push(ev.candidate);
  };
  return () => {
    open = true;
    for (const c of queue.splice(0)) handle.trickle(c);
  };
}

function addRemoteCandidate(pc: RTCPeerConnection | null, msg: JanusMessage): void {
  const c = msg.candidate;
  if (!pc || !c) return;
  const init = c.completed ? null : { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
  pc.addIceCandidate(init ?? undefined).catch(() => undefined);
}

export class StageLink {
  readonly creds: StageLinkOptions['creds'];
  private readonly opts: StageLinkOptions;
  private readonly session: JanusSession;
  private readonly subs = new Map<number, Subscription>();
  private readonly changeListeners = new Set<() => void>();
  private readonly failureListeners = new Set<(f: LinkFailure) => void>();
  private publisher: Publisher | null = null;
  private control: JanusHandle | null = null;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private discovering = false;
  private closed = false;
  private failed = false;
  private readonly closedSignal: Promise<never>;
  private rejectClosed!: (e: Error) => void;

  private constructor(opts: StageLinkOptions, session: JanusSession) {
    this.opts = opts;
    this.creds = opts.creds;
    this.session = session;
    this.closedSignal = new Promise<never>((_, reject) => {
      this.rejectClosed = reject;
    });
    this.closedSignal.catch(() => undefined);
    session.onClose((reason) => this.fail({ kind: 'janus', message: reason }));
  }

  static async open(opts: StageLinkOptions): Promise<StageLink> {
    const session = await JanusSession.connect(opts.creds.janusUrl, opts.creds.token, opts.session);
    return new StageLink(opts, session);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get publishing(): boolean {
    return this.publisher?.webrtcup === true;
  }

  feeds(): RemoteFeed[] {
    return [...this.subs.values()].map((s) => s.feed);
  }

  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  onFailure(fn: (f: LinkFailure) => void): () => void {
    this.failureListeners.add(fn);
    return () => this.failureListeners.delete(fn);
  }

  private changed(): void {
    for (const fn of [...this.changeListeners]) fn();
  }

  private fail(f: LinkFailure): void {
    if (this.closed || this.failed) return;
    this.failed = true;
    this.rejectClosed(new JanusError('stage', 0, f.message));
    for (const fn of [...this.failureListeners]) fn(f);
  }

  private newPc(): RTCPeerConnection {
    const config: RTCConfiguration = { iceServers: this.creds.iceServers ?? [] };
    return this.opts.peerConnection ? this.opts.peerConnection(config) : new RTCPeerConnection(config);
  }

  private newStream(): MediaStream {
    return this.opts.mediaStream ? this.opts.mediaStream() : new MediaStream();
  }

  /** Resolves when `cond` holds, checked on `subscribe`'s notifications; rejects on close. */
  private until(cond: () => boolean, subscribe: (check: () => void) => () => void): Promise<void> {
    if (cond()) return Promise.resolve();
    let unsubscribe: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      unsubscribe = subscribe(() => {
        if (cond()) resolve();
      });
    });
    return Promise.race([done, this.closedSignal]).finally(() => unsubscribe());
  }

  // ---- discovery and subscriptions ----

  /** Subscribes to every publisher on stage, now and later. */
  startDiscovery(): void {
    if (this.discovering || this.closed) return;
    this.discovering = true;
    void this.poll();
  }

  /** Asks Janus for the publishers now (e.g. after STAGE_CHANGED). */
  refresh(): void {
    if (this.discovering && !this.closed) void this.poll(true);
  }

  private async poll(once = false): Promise<void> {
    if (this.closed) return;
    if (!once && this.pollTimer) clearTimeout(this.pollTimer);
    try {
      if (!this.control) this.control = await this.session.attach(() => undefined);
      const { data } = await this.control.message({ request: 'listparticipants', room: this.creds.janusRoom }, 'listparticipants');
      const list = (data.participants as PublisherInfo[] | undefined) ?? [];
      this.syncPublishers(list.filter((p) => p.publisher));
    } catch {
      /* transient: the next poll tries again; a lost session fails the link */
    }
    if (!once && !this.closed) {
      // while publishing, the publisher's events keep us informed; poll rarely as a check
      const every = this.publishing ? 10000 : (this.opts.pollMs ?? 2000);
      this.pollTimer = setTimeout(() => void this.poll(), every);
    }
  }

  /** The full list of publishers now in the room. */
  private syncPublishers(list: PublisherInfo[]): void {
    const present = new Set(list.map((p) => p.id));
    for (const [id, s] of this.subs) if (!present.has(id)) this.unsubscribe(id, s);
    this.addPublishers(list);
  }

  private addPublishers(list: PublisherInfo[]): void {
    if (!this.discovering) return;
    for (const p of list) {
      if (typeof p.id !== 'number' || this.subs.has(p.id)) continue;
      if (p.id === this.publisher?.feedId || p.display === this.opts.selfUserId) continue;
      void this.subscribe(p.id, p.display ?? String(p.id));
    }
  }

  private unsubscribe(feedId: number, s: Subscription): void {
    s.closed = true;
    this.subs.delete(feedId);
    s.pc?.close();
    for (const t of s.feed.stream.getTracks()) t.stop();
    void s.handle?.detach();
    this.changed();
  }

  private async subscribe(feedId: number, userId: string): Promise<void> {
    const feed: RemoteFeed = { feedId, userId, stream: this.newStream(), live: false };
    const sub: Subscription = { feed, handle: null, pc: null, closed: false };
    this.subs.set(feedId, sub);
    this.changed();
    try {
      sub.handle = await this.session.attach((msg) => this.onSubscriberMessage(sub, msg));
      if (sub.closed) return void sub.handle.detach();
      const body: Record<string, unknown> = {
        request: 'join',
        ptype: 'subscriber',
        room: this.creds.janusRoom,
        streams: [{ feed: feedId }],
        token: this.creds.token,
      };
      if (this.publisher?.privateId != null) body.private_id = this.publisher.privateId;
      const { data, jsep } = await sub.handle.message(body, 'subscribe');
      if (data.videoroom !== 'attached' || !jsep) throw new JanusError('subscribe', 0, 'no offer from the media server');
      if (sub.closed) return;
      await this.answer(sub, jsep);
    } catch {
      // the publisher left meanwhile, or Janus refused: drop it; discovery retries
      if (this.subs.get(feedId) === sub) this.unsubscribe(feedId, sub);
    }
  }

  private async answer(sub: Subscription, offer: Jsep): Promise<void> {
    const pc = this.newPc();
    sub.pc = pc;
    const handle = sub.handle!;
    pc.ontrack = (ev) => {
      if (!sub.feed.stream.getTracks().includes(ev.track)) sub.feed.stream.addTrack(ev.track);
      this.updateLive(sub);
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === 'failed' && this.subs.get(sub.feed.feedId) === sub) {
        this.unsubscribe(sub.feed.feedId, sub); // discovery subscribes again
      } else {
        this.updateLive(sub);
      }
    };
    const flush = trickler(handle, pc);
    await pc.setRemoteDescription(offer);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const started = handle.message({ request: 'start' }, 'start', { type: 'answer', sdp: answer.sdp ?? '' });
    flush();
    await started;
  }

  private updateLive(sub: Subscription): void {
    const live = !!sub.pc && ICE_UP.has(sub.pc.iceConnectionState) && sub.feed.stream.getTracks().length > 0;
    if (live === sub.feed.live) return;
    sub.feed = { ...sub.feed, live };
    this.changed();
  }

  private onSubscriberMessage(sub: Subscription, msg: JanusMessage): void {
    if (msg.janus === 'trickle') addRemoteCandidate(sub.pc, msg);
    else if (msg.janus === 'hangup' && this.subs.get(sub.feed.feedId) === sub) this.unsubscribe(sub.feed.feedId, sub);
  }

  // ---- publishing ----

  /**
   * Joins as a publisher and sends `stream`. Resolves once Janus reports `webrtcup`
   * and ICE is connected; rejects with a JanusError (or when the link closes).
   */
  async publish(stream: MediaStream, display: string): Promise<void> {
    if (this.publisher) throw new JanusError('publish', 0, 'already publishing');
    let ref: Publisher | null = null;
    const handle = await this.session.attach((msg) => ref && this.onPublisherMessage(ref, msg));
    const { data } = await handle.message(
      { request: 'join', ptype: 'publisher', room: this.creds.janusRoom, display, token: this.creds.token },
      'join',
    );
    if (data.videoroom !== 'joined') throw new JanusError('join', 0, `unexpected reply ${String(data.videoroom)}`);
    ref = {
      handle,
      feedId: Number(data.id),
      privateId: typeof data.private_id === 'number' ? data.private_id : null,
      pc: null,
      webrtcup: false,
      onUp: null,
    };
    this.publisher = ref;
    this.addPublishers((data.publishers as PublisherInfo[] | undefined) ?? []);
    const pc = this.newPc();
    ref.pc = pc;
    const publisher = ref;
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === 'failed') this.fail({ kind: 'ice', message: 'ICE failed: no network path to the media server' });
      publisher.onUp?.();
    };
    const flush = trickler(handle, pc);
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const configured = handle.message(
      { request: 'configure', audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 },
      'configure',
      { type: 'offer', sdp: offer.sdp ?? '' },
    );
    flush();
    const { jsep } = await configured;
    if (!jsep) throw new JanusError('configure', 0, 'no answer from the media server');
    await pc.setRemoteDescription(jsep);
    await this.until(
      () => publisher.webrtcup && ICE_UP.has(pc.iceConnectionState),
      (check) => {
        publisher.onUp = check;
        return () => {
          publisher.onUp = null;
        };
      },
    );
  }

  private onPublisherMessage(p: Publisher, msg: JanusMessage): void {
    if (msg.janus === 'webrtcup') {
      p.webrtcup = true;
      p.onUp?.();
    } else if (msg.janus === 'trickle') {
      addRemoteCandidate(p.pc, msg);
    } else if (msg.janus === 'hangup') {
      this.fail({ kind: 'kicked', message: `the media server hung up${msg.reason ? ` (${msg.reason})` : ''}` });
    } else if (msg.janus === 'detached') {
      this.fail({ kind: 'kicked', message: 'the media server detached this stage connection' });
    } else if (msg.janus === 'event' && msg.plugindata) {
      this.onRoomEvent(p, msg.plugindata.data);
    }
  }

  private onRoomEvent(p: Publisher, data: Record<string, unknown>): void {
    if (Array.isArray(data.publishers)) this.addPublishers(data.publishers as PublisherInfo[]);
    if (data.videoroom === 'destroyed') {
      this.fail({ kind: 'kicked', message: 'the stage was closed' });
      return;
    }
    // Kicked: {"leaving":"ok","reason":"kicked"}, or a notice naming our own feed.
    if (data.leaving === 'ok' || data.unpublished === 'ok' || data.kicked === p.feedId) {
      this.fail({ kind: 'kicked', message: String(data.reason ?? 'removed from the stage') });
      return;
    }
    for (const key of ['unpublished', 'leaving', 'kicked'] as const) {
      const id = data[key];
      if (typeof id === 'number') {
        const s = this.subs.get(id);
        if (s) this.unsubscribe(id, s);
      }
    }
  }

  /** Leaves Janus: hangs up every PeerConnection and destroys the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.rejectClosed(new JanusError('stage', 0, 'closed'));
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const [id, s] of [...this.subs]) this.unsubscribe(id, s);
    const p = this.publisher;
    this.publisher = null;
    if (p) {
      // no need to wait for the answer: destroying the session ends the publisher anyway
      p.handle.message({ request: 'leave' }, 'leave').catch(() => undefined);
      p.pc?.close();
    }
    await this.session.destroy();
    this.changeListeners.clear();
    this.failureListeners.clear();
  }
}
