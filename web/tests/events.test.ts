import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseEvent, RoomEventStream, type ConnState, type EventSourceLike } from '../src/sse/eventStream';
import { EventGate } from '../src/state/gate';
import { ev } from './helpers';

describe('EventGate (what the stage acts on)', () => {
  it('holds events until the first snapshot, then passes only those it does not reflect', () => {
    const g = new EventGate();
    expect(g.event(ev('PROMOTE', 10, 'me'))).toEqual([]);
    expect(g.event(ev('DEMOTE', 12, 'me'))).toEqual([]);
    const fresh = g.snapshot(11)!;
    expect(fresh.map((e) => e.id)).toEqual([12]);
  });

  it('drops stale and duplicate events after the snapshot', () => {
    const g = new EventGate();
    g.snapshot(100);
    expect(g.event(ev('PROMOTE', 99, 'me'))).toEqual([]);
    expect(g.event(ev('PROMOTE', 100, 'me'))).toEqual([]);
    expect(g.event(ev('PROMOTE', 101, 'me'))).toHaveLength(1);
    expect(g.event(ev('PROMOTE', 101, 'me'))).toEqual([]);
  });

  it('a snapshot older than what was acted on is reported stale', () => {
    const g = new EventGate();
    g.snapshot(100);
    g.event(ev('DEMOTE', 105, 'me'));
    expect(g.snapshot(103)).toBeNull();
    expect(g.snapshot(105)).toEqual([]);
  });

  it('RESET passes through and holds what follows until the refetch', () => {
    const g = new EventGate();
    g.snapshot(100);
    expect(g.event(ev('RESET', 400))).toHaveLength(1);
    expect(g.event(ev('PROMOTE', 401, 'me'))).toEqual([]);
    expect(g.snapshot(450)!.map((e) => e.id)).toEqual([]);
    expect(g.event(ev('DEMOTE', 451, 'me'))).toHaveLength(1);
  });
});

describe('parseEvent', () => {
  it('takes the id from the SSE frame and keeps extra fields', () => {
    const e = parseEvent('RAISE_HAND', '{"type":"RAISE_HAND","roomId":"r","userId":"u","displayName":"U","timestamp":5,"position":3}', '77');
    expect(e).toMatchObject({ id: 77, type: 'RAISE_HAND', userId: 'u', position: 3, timestamp: 5 });
  });
  it('refuses data that is not a JSON object', () => {
    expect(parseEvent('RESET', 'nope', '1')).toBeNull();
    expect(parseEvent('RESET', '3', '1')).toBeNull();
  });
  it('an event without an id gets 0', () => {
    expect(parseEvent('RESET', '{}', '')?.id).toBe(0);
  });
});

class FakeSource implements EventSourceLike {
  static all: FakeSource[] = [];
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  closed = false;
  constructor(readonly url: string) {
    FakeSource.all.push(this);
  }
  addEventListener(type: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  frame(type: string, id: number, data: object) {
    for (const fn of this.listeners.get(type) ?? []) fn({ data: JSON.stringify(data), lastEventId: String(id) } as MessageEvent);
  }
  error(closed: boolean) {
    this.readyState = closed ? 2 : 0;
    this.onerror?.(new Event('error'));
  }
}

describe('RoomEventStream', () => {
  afterEach(() => {
    FakeSource.all = [];
    vi.useRealTimers();
  });

  function open(opts: { lastEventId?: number } = {}) {
    const states: ConnState[] = [];
    const events: number[] = [];
    const s = new RoomEventStream({
      url: '/api/rooms/r/user-events',
      factory: (u) => new FakeSource(u),
      onEvent: (e) => events.push(e.id),
      onState: (st) => states.push(st),
      retryMs: [1000],
      ...opts,
    });
    return { s, states, events };
  }

  it('reports connecting → open, delivers events and remembers the last id', () => {
    const { s, states, events } = open();
    const src = FakeSource.all[0];
    expect(src.url).toBe('/api/rooms/r/user-events');
    src.open();
    src.frame('ROOM_LIVE', 5, { type: 'ROOM_LIVE' });
    src.frame('PROMOTE', 6, { type: 'PROMOTE', userId: 'me' });
    expect(states).toEqual(['connecting', 'open']);
    expect(events).toEqual([5, 6]);
    expect(s.lastEventId).toBe(6);
  });

  it('while the browser reconnects by itself, reports down and keeps the same source', () => {
    const { states } = open();
    const src = FakeSource.all[0];
    src.open();
    src.error(false);
    expect(states[states.length - 1]).toBe('down');
    src.open();
    expect(states[states.length - 1]).toBe('open');
    expect(FakeSource.all).toHaveLength(1);
  });

  it('when the browser gives up (CLOSED), reopens after a back-off resuming from the last id', async () => {
    vi.useFakeTimers();
    open();
    const src = FakeSource.all[0];
    src.open();
    src.frame('RAISE_HAND', 41, {});
    src.error(true);
    expect(src.closed).toBe(true);
    expect(FakeSource.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1300);
    expect(FakeSource.all).toHaveLength(2);
    expect(FakeSource.all[1].url).toBe('/api/rooms/r/user-events?lastEventId=41');
  });

  it('close stops everything, including a pending reopen', async () => {
    vi.useFakeTimers();
    const { s } = open();
    FakeSource.all[0].error(true);
    s.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(FakeSource.all).toHaveLength(1);
  });
});
