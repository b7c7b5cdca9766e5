import { describe, expect, it } from 'vitest';
import {
  emptyRoom,
  formatWaited,
  ordinal,
  promoteBlocked,
  queueLabel,
  roomReducer,
  type RoomAction,
  type RoomModel,
} from '../src/state/room';
import { ev, snapshot } from './helpers';

const run = (actions: RoomAction[], start: RoomModel = emptyRoom('r1')) => actions.reduce(roomReducer, start);
const ids = (m: RoomModel) => m.hands.map((h) => h.userId);

describe('room model: moderator queue', () => {
  it('takes the snapshot: queue ordered by raise time, stage, counts, last event id', () => {
    const m = run([
      {
        type: 'snapshot',
        snapshot: snapshot({
          hands: [
            { userId: 'b', displayName: 'B', raisedAt: 2000, position: 2 },
            { userId: 'a', displayName: 'A', raisedAt: 1000, position: 1 },
          ],
          stage: [{ userId: 's', displayName: 'S', since: 500 }],
          counts: { viewers: 7, moderators: 2, stage: 1, hands: 2 },
          lastEventId: 42,
        }),
      },
    ]);
    expect(m.loaded).toBe(true);
    expect(ids(m)).toEqual(['a', 'b']);
    expect(m.stage.map((s) => s.userId)).toEqual(['s']);
    expect(m.viewers).toBe(7);
    expect(m.moderators).toBe(2);
    expect(m.lastEventId).toBe(42);
  });

  it('RAISE_HAND appends in raise order and is idempotent', () => {
    const m = run([
      { type: 'snapshot', snapshot: snapshot() },
      { type: 'event', event: ev('RAISE_HAND', 101, 'a') },
      { type: 'event', event: ev('RAISE_HAND', 102, 'b') },
      { type: 'event', event: ev('RAISE_HAND', 103, 'a') }, // raised again: no duplicate, keeps place
    ]);
    expect(ids(m)).toEqual(['a', 'b']);
    expect(m.handCount).toBe(2);
    expect(m.lastEventId).toBe(103);
  });

  it('orders by raise time even when events arrive out of time order', () => {
    const m = run([
      { type: 'snapshot', snapshot: snapshot() },
      { type: 'event', event: { ...ev('RAISE_HAND', 101, 'late'), timestamp: 5000 } },
      { type: 'event', event: { ...ev('RAISE_HAND', 102, 'early'), timestamp: 4000 } },
    ]);
    expect(ids(m)).toEqual(['early', 'late']);
  });

  it('LOWER_HAND (self or dismissed) removes the hand; unknown users change nothing', () => {
    const m = run([
      { type: 'snapshot', snapshot: snapshot() },
      { type: 'event', event: ev('RAISE_HAND', 101, 'a') },
      { type: 'event', event: ev('RAISE_HAND', 102, 'b') },
      { type: 'event', event: ev('LOWER_HAND', 103, 'a', { by: 'mod' }) },
      { type: 'event', event: ev('LOWER_HAND', 104, 'zz') },
    ]);
    expect(ids(m)).toEqual(['b']);
  });

  it('PROMOTE moves the user from the queue to the stage; DEMOTE takes them off', () => {
    let m = run([
      { type: 'snapshot', snapshot: snapshot() },
      { type: 'event', event: ev('RAISE_HAND', 101, 'a') },
      { type: 'event', event: ev('RAISE_HAND', 102, 'b') },
      { type: 'event', event: ev('PROMOTE', 103, 'a', { by: 'mod' }) },
    ]);
    expect(ids(m)).toEqual(['b']);
    expect(m.stage.map((s) => s.userId)).toEqual(['a']);
    m = run([{ type: 'event', event: ev('DEMOTE', 104, 'a', { reason: 'moderator' }) }], m);
    expect(m.stage).toEqual([]);
  });

  it('STAGE_CHANGED replaces the stage list and drops hands of people on it', () => {
    const m = run([
      { type: 'snapshot', snapshot: snapshot() },
      { type: 'event', event: ev('RAISE_HAND', 101, 'a') },
      { type: 'event', event: ev('RAISE_HAND', 102, 'b') },
      {
        type: 'event',
        event: ev('STAGE_CHANGED', 103, 'b', {
          action: 'promote',
          stage: [
            { userId: 'x', displayName: 'X', since: 1 },
            { userId: 'b', displayName: 'B', since: 2 },
          ],
        }),
      },
    ]);
    expect(m.stage.map((s) => s.userId)).toEqual(['x', 'b']);
    expect(ids(m)).toEqual(['a']);
  });

  it('PARTICIPANT_* update the counts; ROOM_LIVE / ROOM_ENDED the live flag', () => {
    let m = run([
      { type: 'snapshot', snapshot: snapshot() },
      { type: 'event', event: ev('PARTICIPANT_JOINED', 101, 'v', { viewers: 4, moderators: 1 }) },
      { type: 'event', event: ev('ROOM_LIVE', 102, 'mod') },
    ]);
    expect(m.viewers).toBe(4);
    expect(m.live).toBe(true);
    m = run(
      [
        { type: 'event', event: ev('PARTICIPANT_LEFT', 103, 'v', { viewers: 3, moderators: 1 }) },
        { type: 'event', event: ev('ROOM_ENDED', 104, 'mod') },
      ],
      m,
    );
    expect(m.viewers).toBe(3);
    expect(m.live).toBe(false);
  });
});

describe('room model: snapshots and stale events', () => {
  it('ignores events the snapshot already reflects (id at or below lastEventId)', () => {
    const m = run([
      {
        type: 'snapshot',
        snapshot: snapshot({ hands: [{ userId: 'b', displayName: 'B', raisedAt: 2000, position: 1 }], lastEventId: 50 }),
      },
      // the stream opened before the snapshot: these are old news
      { type: 'event', event: ev('RAISE_HAND', 48, 'a') },
      { type: 'event', event: ev('LOWER_HAND', 49, 'b') },
      { type: 'event', event: ev('ROOM_LIVE', 50, 'mod') },
      // news
      { type: 'event', event: ev('RAISE_HAND', 51, 'c') },
    ]);
    expect(ids(m)).toEqual(['b', 'c']);
    expect(m.live).toBe(false);
    expect(m.lastEventId).toBe(51);
  });

  it('holds events that arrive before the first snapshot and replays only the newer ones', () => {
    let m = run([
      { type: 'event', event: ev('RAISE_HAND', 99, 'a') },
      { type: 'event', event: ev('RAISE_HAND', 101, 'c') },
    ]);
    expect(m.loaded).toBe(false);
    expect(m.pending).toHaveLength(2);
    m = run(
      [{ type: 'snapshot', snapshot: snapshot({ hands: [{ userId: 'a', displayName: 'A', raisedAt: 1, position: 1 }], lastEventId: 100 }) }],
      m,
    );
    expect(ids(m)).toEqual(['a', 'c']);
    expect(m.pending).toEqual([]);
    expect(m.lastEventId).toBe(101);
  });

  it('a duplicate delivery (same id twice) is applied once', () => {
    const dup = ev('RAISE_HAND', 101, 'a');
    const m = run([
      { type: 'snapshot', snapshot: snapshot() },
      { type: 'event', event: dup },
      { type: 'event', event: ev('LOWER_HAND', 102, 'a') },
      { type: 'event', event: dup },
    ]);
    expect(ids(m)).toEqual([]);
  });

  it('ignores a snapshot older than events already applied (a slow poll)', () => {
    const m = run([
      { type: 'snapshot', snapshot: snapshot({ lastEventId: 100 }) },
      { type: 'event', event: ev('RAISE_HAND', 101, 'a') },
      { type: 'event', event: ev('RAISE_HAND', 102, 'b') },
      { type: 'snapshot', snapshot: snapshot({ lastEventId: 101, hands: [{ userId: 'a', displayName: 'A', raisedAt: 1, position: 1 }] }) },
    ]);
    expect(ids(m)).toEqual(['a', 'b']);
    expect(m.lastEventId).toBe(102);
  });

  it('RESET unloads the model and asks for a refetch; events until then are held', () => {
    let m = run([
      { type: 'snapshot', snapshot: snapshot({ lastEventId: 100 }) },
      { type: 'event', event: ev('RAISE_HAND', 101, 'a') },
      { type: 'event', event: ev('RESET', 500) },
    ]);
    expect(m.needsRefetch).toBe(true);
    expect(m.loaded).toBe(false);
    m = run([{ type: 'event', event: ev('RAISE_HAND', 600, 'late') }], m);
    expect(m.pending.map((e) => e.id)).toEqual([600]);
    m = run(
      [{ type: 'snapshot', snapshot: snapshot({ lastEventId: 550, hands: [{ userId: 'z', displayName: 'Z', raisedAt: 1, position: 1 }] }) }],
      m,
    );
    expect(m.needsRefetch).toBe(false);
    expect(ids(m)).toEqual(['z', 'late']);
    expect(m.lastEventId).toBe(600);
  });
});

describe('room model: a viewer', () => {
  const viewerSnap = (over = {}, you = {}) =>
    snapshot({ hands: [], ...over }, { userId: 'me', displayName: 'Me', role: 'viewer', ...you });

  it('knows its own place from the snapshot, RAISE_HAND and its own calls', () => {
    let m = run([{ type: 'snapshot', snapshot: viewerSnap({}, { handPosition: null }) }]);
    expect(m.me?.handPosition).toBeNull();
    m = run([{ type: 'own-hand', position: 3 }], m);
    expect(m.me?.handPosition).toBe(3);
    m = run([{ type: 'event', event: ev('RAISE_HAND', 101, 'me', { position: 3 }) }], m);
    expect(m.me?.handPosition).toBe(3);
    m = run([{ type: 'snapshot', snapshot: viewerSnap({ lastEventId: 120 }, { handPosition: 2 }) }], m);
    expect(m.me?.handPosition).toBe(2);
    m = run([{ type: 'event', event: ev('LOWER_HAND', 121, 'me', { by: 'mod' }) }], m);
    expect(m.me?.handPosition).toBeNull();
  });

  it('PROMOTE of itself: hand down, on stage; DEMOTE: off stage', () => {
    let m = run([
      { type: 'snapshot', snapshot: viewerSnap({}, { handPosition: 1 }) },
      { type: 'event', event: ev('PROMOTE', 101, 'me') },
    ]);
    expect(m.me?.handPosition).toBeNull();
    expect(m.me?.onStage).toBe(true);
    m = run([{ type: 'event', event: ev('DEMOTE', 102, 'me', { reason: 'moderator' }) }], m);
    expect(m.me?.onStage).toBe(false);
  });

  it("others' stage changes leave its own hand alone", () => {
    const m = run([
      { type: 'snapshot', snapshot: viewerSnap({}, { handPosition: 2 }) },
      { type: 'event', event: ev('STAGE_CHANGED', 101, 'x', { stage: [{ userId: 'x', displayName: 'X', since: 1 }] }) },
    ]);
    expect(m.me?.handPosition).toBe(2);
    expect(m.me?.onStage).toBe(false);
    expect(m.stage.map((s) => s.userId)).toEqual(['x']);
  });

  it('room info before the snapshot sets title and live; the snapshot wins after', () => {
    let m = run([{ type: 'info', title: 'T', live: true, viewers: 9 }]);
    expect(m.live).toBe(true);
    expect(m.viewers).toBe(9);
    m = run([{ type: 'snapshot', snapshot: viewerSnap({ live: false }) }, { type: 'info', title: 'T2', live: true, viewers: 1 }], m);
    expect(m.live).toBe(false);
    expect(m.title).toBe('T2');
  });
});

describe('room selectors', () => {
  it('blocks Promote with a reason when the stage is full', () => {
    const m = run([
      {
        type: 'snapshot',
        snapshot: snapshot({
          maxStage: 2,
          stage: [
            { userId: 's1', displayName: 'S1', since: 1 },
            { userId: 's2', displayName: 'S2', since: 2 },
          ],
        }),
      },
    ]);
    expect(promoteBlocked(m, 'a')).toMatch(/full \(2 of 2\)/);
    const after = run([{ type: 'event', event: ev('DEMOTE', 101, 's1') }], m);
    expect(promoteBlocked(after, 'a')).toBeNull();
  });

  it('says places in line in English', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal)).toEqual([
      '1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '23rd', '101st', '111th',
    ]);
    expect(queueLabel(3)).toBe('3rd in line');
  });

  it('formats time waited', () => {
    expect(formatWaited(-5000)).toBe('0 s');
    expect(formatWaited(45_000)).toBe('45 s');
    expect(formatWaited(185_000)).toBe('3 min 05 s');
    expect(formatWaited(3_720_000)).toBe('1 h 02 min');
  });
});
