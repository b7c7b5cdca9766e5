import { afterEach, describe, expect, it, vi } from 'vitest';
import { JanusError, JanusSession, type SocketLike } from '../src/janus/session';
import { StageLink } from '../src/janus/stageLink';

/** A Janus server in a box: answers create/attach/message with scripted replies. */
class FakeJanus implements SocketLike {
  static last: FakeJanus | null = null;
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  sent: Record<string, unknown>[] = [];
  nextId = 1000;
  /** replies to plugin messages, by body.request */
  plugin: Record<string, (body: Record<string, unknown>, msg: Record<string, unknown>) => Record<string, unknown>[] | null> = {};
  constructor(
    readonly url: string,
    readonly protocol: string,
  ) {
    FakeJanus.last = this;
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.(new Event('open'));
    });
  }
  push(msg: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(msg) } as MessageEvent);
  }
  send(data: string) {
    const msg = JSON.parse(data) as Record<string, unknown>;
    this.sent.push(msg);
    const tx = msg.transaction;
    queueMicrotask(() => this.answer(msg, tx));
  }
  private answer(msg: Record<string, unknown>, tx: unknown) {
    switch (msg.janus) {
      case 'create':
        if (msg.token !== 'good') return this.push({ janus: 'error', transaction: tx, error: { code: 403, reason: 'Unauthorized request (wrong or missing secret/token)' } });
        return this.push({ janus: 'success', transaction: tx, data: { id: 1 } });
      case 'attach':
        return this.push({ janus: 'success', transaction: tx, data: { id: this.nextId++ } });
      case 'keepalive':
      case 'trickle':
        return this.push({ janus: 'ack', transaction: tx });
      case 'detach':
      case 'destroy':
        return this.push({ janus: 'success', transaction: tx });
      case 'message': {
        const body = msg.body as Record<string, unknown>;
        const replies = this.plugin[String(body.request)]?.(body, msg) ?? null;
        if (!replies) return; // never answers
        for (const r of replies) this.push({ transaction: tx, sender: msg.handle_id, ...r });
        return;
      }
    }
  }
  close() {
    this.readyState = 3;
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' } as CloseEvent);
  }
}

const factory = (u: string, p: string) => new FakeJanus(u, p);

afterEach(() => {
  vi.useRealTimers();
});

describe('JanusSession', () => {
  it('opens with the janus-protocol subprotocol and creates a session with the token', async () => {
    const s = await JanusSession.connect('ws://h/janus/j1', 'good', { socketFactory: factory });
    const ws = FakeJanus.last!;
    expect(ws.protocol).toBe('janus-protocol');
    expect(s.id).toBe(1);
    expect(ws.sent[0]).toMatchObject({ janus: 'create', token: 'good' });
    await s.destroy();
  });

  it('a wrong token fails the connect with Janus code and reason', async () => {
    const err = await JanusSession.connect('ws://h', 'bad', { socketFactory: factory }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JanusError);
    expect((err as JanusError).code).toBe(403);
    expect((err as JanusError).step).toBe('create');
  });

  it('plugin requests: the ack is skipped, the event answers; session and token ride along', async () => {
    const s = await JanusSession.connect('ws://h', 'good', { socketFactory: factory });
    const ws = FakeJanus.last!;
    ws.plugin.join = () => [{ janus: 'ack' }, { janus: 'event', plugindata: { plugin: 'janus.plugin.videoroom', data: { videoroom: 'joined', id: 7 } } }];
    const h = await s.attach(() => undefined);
    const r = await h.message({ request: 'join', room: 1 }, 'join');
    expect(r.data).toMatchObject({ videoroom: 'joined', id: 7 });
    const sent = ws.sent.find((m) => m.janus === 'message')!;
    expect(sent).toMatchObject({ session_id: 1, handle_id: h.id, token: 'good' });
    await s.destroy();
  });

  it('VideoRoom error codes become JanusErrors', async () => {
    const s = await JanusSession.connect('ws://h', 'good', { socketFactory: factory });
    FakeJanus.last!.plugin.join = () => [{ janus: 'event', plugindata: { plugin: 'x', data: { videoroom: 'event', error_code: 433, error: 'Unauthorized (not in the allowed list)' } } }];
    const h = await s.attach(() => undefined);
    const err = (await h.message({ request: 'join' }, 'join').catch((e: unknown) => e)) as JanusError;
    expect(err.code).toBe(433);
    expect(err.reason).toMatch(/allowed/);
    await s.destroy();
  });

  it('unsolicited messages reach the handle named in sender', async () => {
    const s = await JanusSession.connect('ws://h', 'good', { socketFactory: factory });
    const got: string[] = [];
    const h = await s.attach((m) => got.push(m.janus));
    FakeJanus.last!.push({ janus: 'webrtcup', sender: h.id });
    FakeJanus.last!.push({ janus: 'hangup', sender: 999 });
    expect(got).toEqual(['webrtcup']);
    await s.destroy();
  });

  it('a lost socket rejects pending requests and reports the close once', async () => {
    const s = await JanusSession.connect('ws://h', 'good', { socketFactory: factory });
    const ws = FakeJanus.last!;
    ws.plugin.slow = () => null;
    const h = await s.attach(() => undefined);
    const closes: string[] = [];
    s.onClose((r) => closes.push(r));
    const pending = h.message({ request: 'slow' }, 'slow').catch((e: unknown) => e);
    ws.drop(1006);
    expect(((await pending) as JanusError).reason).toMatch(/lost \(1006\)/);
    expect(closes).toHaveLength(1);
    expect(s.closed).toBe(true);
  });

  it('requests without an answer time out', async () => {
    const s = await JanusSession.connect('ws://h', 'good', { socketFactory: factory, timeoutMs: 50 });
    FakeJanus.last!.plugin.slow = () => null;
    const h = await s.attach(() => undefined);
    const err = (await h.message({ request: 'slow' }, 'slow').catch((e: unknown) => e)) as JanusError;
    expect(err.reason).toMatch(/no answer in 50 ms/);
    await s.destroy();
  });

  it('sends keepalives while open; destroy ends the session without reporting a loss', async () => {
    vi.useFakeTimers();
    const p = JanusSession.connect('ws://h', 'good', { socketFactory: factory, keepaliveMs: 1000 });
    await vi.advanceTimersByTimeAsync(0);
    const s = await p;
    const closes: string[] = [];
    s.onClose((r) => closes.push(r));
    await vi.advanceTimersByTimeAsync(2500);
    expect(FakeJanus.last!.sent.filter((m) => m.janus === 'keepalive')).toHaveLength(2);
    const d = s.destroy();
    await vi.advanceTimersByTimeAsync(0);
    await d;
    expect(FakeJanus.last!.sent.some((m) => m.janus === 'destroy')).toBe(true);
    expect(closes).toEqual([]);
  });
});

describe('StageLink discovery and kicks (no media)', () => {
  it('without publishing, finds publishers with listparticipants and skips itself', async () => {
    const link = await StageLink.open({
      creds: { janusUrl: 'ws://h', janusRoom: 55, token: 'good', iceServers: [] },
      selfUserId: 'me',
      session: { socketFactory: factory },
      // no subscription can complete here: the fake never answers subscriber joins
      mediaStream: () => ({ getTracks: () => [], addTrack: () => undefined }) as unknown as MediaStream,
    });
    const ws = FakeJanus.last!;
    ws.plugin.listparticipants = (body) => {
      expect(body.room).toBe(55);
      return [
        {
          janus: 'success',
          plugindata: {
            plugin: 'janus.plugin.videoroom',
            data: {
              participants: [
                { id: 1, display: 'host', publisher: true },
                { id: 2, display: 'me', publisher: true },
                { id: 3, display: 'lurker', publisher: false },
              ],
            },
          },
        },
      ];
    };
    ws.plugin.join = () => null;
    link.startDiscovery();
    await vi.waitFor(() => expect(link.feeds().map((f) => f.userId)).toEqual(['host']));
    const join = ws.sent.find((m) => (m.body as { request?: string })?.request === 'join')!;
    expect(join.body).toMatchObject({ ptype: 'subscriber', room: 55, streams: [{ feed: 1 }], token: 'good' });
    await link.close();
  });

  it('PeerConnections get the iceServers of the credentials (the TURN relay)', async () => {
    const iceServers: RTCIceServer[] = [
      { urls: ['turn:203.0.113.5:3478?transport=udp', 'turn:203.0.113.5:3478?transport=tcp'], username: '1700000000:me', credential: 'c3VwZXI=' },
    ];
    const configs: RTCConfiguration[] = [];
    const link = await StageLink.open({
      creds: { janusUrl: 'ws://h', janusRoom: 55, token: 'good', iceServers },
      selfUserId: 'me',
      session: { socketFactory: factory },
      peerConnection: (config) => {
        configs.push(config);
        throw new Error('no media in unit tests'); // the subscription is dropped; enough here
      },
      mediaStream: () => ({ getTracks: () => [], addTrack: () => undefined }) as unknown as MediaStream,
    });
    const ws = FakeJanus.last!;
    ws.plugin.listparticipants = () => [
      { janus: 'success', plugindata: { plugin: 'janus.plugin.videoroom', data: { participants: [{ id: 1, display: 'host', publisher: true }] } } },
    ];
    ws.plugin.join = () => [
      { janus: 'event', plugindata: { plugin: 'janus.plugin.videoroom', data: { videoroom: 'attached', id: 1 } }, jsep: { type: 'offer', sdp: 'v=0' } },
    ];
    link.startDiscovery();
    await vi.waitFor(() => expect(configs.length).toBeGreaterThan(0));
    expect(configs[0].iceServers).toEqual(iceServers);
    await link.close();
  });

  it('a lost Janus connection is a link failure', async () => {
    const link = await StageLink.open({
      creds: { janusUrl: 'ws://h', janusRoom: 55, token: 'good', iceServers: [] },
      selfUserId: 'me',
      session: { socketFactory: factory },
    });
    const failures: string[] = [];
    link.onFailure((f) => failures.push(f.kind));
    FakeJanus.last!.drop();
    expect(failures).toEqual(['janus']);
  });
});
