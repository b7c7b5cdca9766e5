// A small client for the Janus WebSocket API (subprotocol "janus-protocol"): one socket
// is one Janus session; handles are attached plugin instances. Raw JSON, no janus.js.
//
// Requests carry a transaction id; Janus answers with `success`/`error`, or with `ack`
// and later an `event` carrying the same transaction (asynchronous plugin requests).
// Everything else (webrtcup, hangup, media, trickle, unsolicited events) goes to the
// listener of the handle named in `sender`.

export class JanusError extends Error {
  /** which request failed: connect, create, attach, join, configure, start, … */
  readonly step: string;
  /** Janus or VideoRoom error code (0 for transport problems and timeouts) */
  readonly code: number;
  readonly reason: string;
  constructor(step: string, code: number, reason: string) {
    super(`${step} failed${code ? ` (${code})` : ''}: ${reason}`);
    this.name = 'JanusError';
    this.step = step;
    this.code = code;
    this.reason = reason;
  }
}

export interface Jsep {
  type: RTCSdpType;
  sdp: string;
}

export interface JanusCandidate {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  completed?: boolean;
}

/** A message from Janus (only the fields this client reads). */
export interface JanusMessage {
  janus: string;
  transaction?: string;
  session_id?: number;
  sender?: number;
  data?: { id?: number };
  plugindata?: { plugin: string; data: Record<string, unknown> };
  jsep?: Jsep;
  error?: { code: number; reason: string };
  candidate?: JanusCandidate;
  reason?: string;
  type?: string;
  receiving?: boolean;
  uplink?: boolean;
}

/** What the session needs of a WebSocket (a fake one in tests). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
}

export type SocketFactory = (url: string, protocol: string) => SocketLike;

export interface SessionOptions {
  /** for a fake socket in tests */
  socketFactory?: SocketFactory;
  /** ms for opening the socket and for each request */
  timeoutMs?: number;
  /** Janus drops sessions after 60 s of silence */
  keepaliveMs?: number;
}

const OPEN = 1;

type Pending = {
  resolve: (m: JanusMessage) => void;
  reject: (e: Error) => void;
  step: string;
  timer: ReturnType<typeof setTimeout>;
};

export type HandleListener = (msg: JanusMessage) => void;

function randomId(): string {
  return Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
}

function failure(step: string, msg: JanusMessage): JanusError {
  if (msg.error) return new JanusError(step, msg.error.code, msg.error.reason);
  return new JanusError(step, 0, `unexpected reply ${JSON.stringify(msg).slice(0, 200)}`);
}

export class JanusSession {
  readonly url: string;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly socket: SocketLike;
  private readonly pending = new Map<string, Pending>();
  private readonly handles = new Map<number, HandleListener>();
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private sessionId: number | null = null;
  private isClosed = false;
  private closing = false;

  private constructor(url: string, token: string, socket: SocketLike, timeoutMs: number) {
    this.url = url;
    this.token = token;
    this.socket = socket;
    this.timeoutMs = timeoutMs;
  }

  /** Opens the socket and creates the Janus session. */
  static async connect(url: string, token: string, opts: SessionOptions = {}): Promise<JanusSession> {
    const timeoutMs = opts.timeoutMs ?? 10000;
    const factory: SocketFactory = opts.socketFactory ?? ((u, p) => new WebSocket(u, p) as unknown as SocketLike);
    let socket: SocketLike;
    try {
      socket = factory(url, 'janus-protocol');
    } catch (e) {
      throw new JanusError('connect', 0, e instanceof Error ? e.message : String(e));
    }
    const session = new JanusSession(url, token, socket, timeoutMs);
    await session.waitOpen();
    try {
      const r = await session.request({ janus: 'create' }, 'create');
      if (r.janus !== 'success' || typeof r.data?.id !== 'number') throw failure('create', r);
      session.sessionId = r.data.id;
    } catch (e) {
      session.shutdown('create failed');
      throw e;
    }
    const every = opts.keepaliveMs ?? 25000;
    session.keepalive = setInterval(() => {
      session.request({ janus: 'keepalive' }, 'keepalive').catch(() => undefined);
    }, every);
    return session;
  }

  get id(): number | null {
    return this.sessionId;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Called once when the session ends for any reason but destroy(). */
  onClose(fn: (reason: string) => void): void {
    this.closeListeners.push(fn);
  }

  private waitOpen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new JanusError('connect', 0, `no answer from ${this.url} in ${this.timeoutMs} ms`));
        this.shutdown('connect timeout');
      }, this.timeoutMs);
      this.socket.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
      this.socket.onerror = () => {
        clearTimeout(timer);
        reject(new JanusError('connect', 0, `cannot open ${this.url}`));
      };
      // before the open: the connect fails; after it: the session is lost
      this.socket.onclose = (ev) => {
        clearTimeout(timer);
        reject(new JanusError('connect', 0, `connection closed (${ev.code})`));
        this.shutdown(`connection to the media server lost (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`);
      };
      this.socket.onmessage = (ev) => this.onMessage(String(ev.data));
    });
  }

  private onMessage(text: string): void {
    let msg: JanusMessage;
    try {
      msg = JSON.parse(text) as JanusMessage;
    } catch {
      return;
    }
    const tx = msg.transaction;
    const p = tx ? this.pending.get(tx) : undefined;
    if (p) {
      if (msg.janus === 'ack' && p.step !== 'keepalive' && p.step !== 'trickle') return; // the event follows
      this.pending.delete(tx!);
      clearTimeout(p.timer);
      p.resolve(msg);
      // an event answering a request may carry room news (publishers) as well
      if (msg.janus !== 'event') return;
    }
    if (msg.janus === 'timeout') {
      this.shutdown('the media server timed the session out');
      return;
    }
    if (msg.sender != null) this.handles.get(msg.sender)?.(msg);
  }

  /** Sends one request and resolves with Janus's final answer (never the ack). */
  request(body: Record<string, unknown>, step: string): Promise<JanusMessage> {
    if (this.isClosed || this.socket.readyState !== OPEN) {
      return Promise.reject(new JanusError(step, 0, 'not connected to the media server'));
    }
    const transaction = randomId();
    const msg: Record<string, unknown> = { ...body, transaction, token: this.token };
    if (this.sessionId != null && body.janus !== 'create') msg.session_id = this.sessionId;
    return new Promise<JanusMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        reject(new JanusError(step, 0, `no answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(transaction, { resolve, reject, step, timer });
      try {
        this.socket.send(JSON.stringify(msg));
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(transaction);
        reject(new JanusError(step, 0, e instanceof Error ? e.message : String(e)));
      }
    });
  }

  /** Attaches a VideoRoom handle; `listener` gets everything Janus pushes for it. */
  async attach(listener: HandleListener, plugin = 'janus.plugin.videoroom'): Promise<JanusHandle> {
    const r = await this.request({ janus: 'attach', plugin }, 'attach');
    if (r.janus !== 'success' || typeof r.data?.id !== 'number') throw failure('attach', r);
    this.handles.set(r.data.id, listener);
    return new JanusHandle(this, r.data.id);
  }

  /** @internal */
  forget(handleId: number): void {
    this.handles.delete(handleId);
  }

  private shutdown(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new JanusError(p.step, 0, reason));
    }
    this.pending.clear();
    this.socket.onclose = null;
    this.socket.onmessage = null;
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
    if (!this.closing) for (const fn of this.closeListeners) fn(reason);
    this.handles.clear();
  }

  /** Destroys the Janus session and closes the socket; never throws. */
  async destroy(): Promise<void> {
    if (this.isClosed) return;
    this.closing = true;
    if (this.sessionId != null) {
      await this.request({ janus: 'destroy' }, 'destroy').catch(() => undefined);
    }
    this.shutdown('closed');
  }
}

/** One attached plugin handle. */
export class JanusHandle {
  readonly session: JanusSession;
  readonly id: number;

  constructor(session: JanusSession, id: number) {
    this.session = session;
    this.id = id;
  }

  /**
   * A plugin request. Resolves with the plugin's data (and jsep); rejects with a
   * JanusError for a Janus error or a VideoRoom `error_code`.
   */
  async message(body: Record<string, unknown>, step: string, jsep?: Jsep): Promise<{ data: Record<string, unknown>; jsep?: Jsep }> {
    const req: Record<string, unknown> = { janus: 'message', handle_id: this.id, body };
    if (jsep) req.jsep = jsep;
    const r = await this.session.request(req, step);
    if (r.janus === 'error') throw failure(step, r);
    const data = r.plugindata?.data;
    if (!data) throw failure(step, r);
    if (data.error_code != null || data.error != null) {
      throw new JanusError(step, Number(data.error_code ?? 0), String(data.error ?? 'refused'));
    }
    return { data, jsep: r.jsep };
  }

  /** Sends one local candidate, or end-of-candidates for null. */
  trickle(candidate: RTCIceCandidate | null): void {
    const c: JanusCandidate = candidate
      ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex }
      : { completed: true };
    this.session.request({ janus: 'trickle', handle_id: this.id, candidate: c }, 'trickle').catch(() => undefined);
  }

  async detach(): Promise<void> {
    this.session.forget(this.id);
    if (this.session.closed) return;
    await this.session.request({ janus: 'detach', handle_id: this.id }, 'detach').catch(() => undefined);
  }
}
