// The room's event stream (Server-Sent Events, authenticated by the room cookie).
//
// While the browser's EventSource reconnects by itself it sends Last-Event-ID, and serve
// replays what was missed. When it gives up (serve answered with an error status, the
// readyState is CLOSED) a new EventSource is opened after a back-off, resuming with
// ?lastEventId= since a fresh EventSource cannot set the header.
import { EVENT_TYPES, type EventType, type RoomEvent } from '../api/types';

export type ConnState = 'connecting' | 'open' | 'down';

export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onerror: ((ev: Event) => void) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export interface EventStreamOptions {
  url: string;
  onEvent(event: RoomEvent): void;
  onState(state: ConnState): void;
  /** resume after this id (e.g. a snapshot's) on the first connection */
  lastEventId?: number;
  factory?: (url: string) => EventSourceLike;
  /** back-off before reopening a stream the browser gave up on */
  retryMs?: number[];
}

const CLOSED = 2;

/** Parses one SSE frame's data; null when it is not a room event. */
export function parseEvent(type: EventType, data: string, lastEventId: string): RoomEvent | null {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return null;
  }
  if (!body || typeof body !== 'object') return null;
  const id = Number(lastEventId);
  const o = body as Record<string, unknown>;
  return {
    ...(o as object),
    id: Number.isFinite(id) && id > 0 ? id : 0,
    type,
    roomId: String(o.roomId ?? ''),
    userId: String(o.userId ?? ''),
    displayName: String(o.displayName ?? ''),
    timestamp: typeof o.timestamp === 'number' ? o.timestamp : 0,
  } as RoomEvent;
}

export class RoomEventStream {
  private readonly opts: EventStreamOptions;
  private source: EventSourceLike | null = null;
  private lastId: number;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private state: ConnState | null = null;

  constructor(opts: EventStreamOptions) {
    this.opts = opts;
    this.lastId = opts.lastEventId ?? 0;
    this.open();
  }

  get lastEventId(): number {
    return this.lastId;
  }

  private setState(s: ConnState): void {
    if (s === this.state) return;
    this.state = s;
    this.opts.onState(s);
  }

  private open(): void {
    if (this.stopped) return;
    const sep = this.opts.url.includes('?') ? '&' : '?';
    const url = this.lastId > 0 ? `${this.opts.url}${sep}lastEventId=${this.lastId}` : this.opts.url;
    const factory = this.opts.factory ?? ((u: string) => new EventSource(u) as EventSourceLike);
    const es = factory(url);
    this.source = es;
    this.setState(this.failures > 0 ? 'down' : 'connecting');
    es.onopen = () => {
      this.failures = 0;
      this.setState('open');
    };
    es.onerror = () => {
      if (this.source !== es) return;
      this.setState('down');
      if (es.readyState === CLOSED) this.retry(es);
    };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (ev: MessageEvent) => this.onFrame(type, ev));
    }
  }

  private onFrame(type: EventType, ev: MessageEvent): void {
    const event = parseEvent(type, String(ev.data), ev.lastEventId);
    if (!event) return;
    if (event.id > this.lastId) this.lastId = event.id;
    this.opts.onEvent(event);
  }

  private retry(es: EventSourceLike): void {
    es.close();
    this.source = null;
    const steps = this.opts.retryMs ?? [1000, 2000, 5000, 10000, 20000];
    const base = steps[Math.min(this.failures, steps.length - 1)];
    this.failures += 1;
    const jitter = Math.round(base * 0.2 * Math.random());
    this.timer = setTimeout(() => this.open(), base + jitter);
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }
}
