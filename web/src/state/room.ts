// The room as one member sees it: a pure reducer over /state snapshots and SSE events.
//
// Ordering rules:
// - A snapshot reflects every event up to its `lastEventId`; events with an id at or
//   below the model's `lastEventId` are stale and ignored (they arrive when the event
//   stream opened before the snapshot was taken, or when a stream resumes).
// - Events that arrive before the first snapshot (or after a RESET, until the refetch)
//   are held in `pending` and replayed on top of the next snapshot.
// - The hand queue is ordered by raise time (FIFO), as the server keeps it. Moderators
//   see every hand; a viewer only learns its own position.
import type { HandEntry, Role, RoomEvent, RoomSnapshot, StageMember } from '../api/types';

export interface Me {
  userId: string;
  displayName: string;
  role: Role;
  /** 1-based place in the hand queue, null when the hand is down */
  handPosition: number | null;
  onStage: boolean;
}

export interface RoomModel {
  /** false until the first snapshot, and again after a RESET until the refetch */
  loaded: boolean;
  roomId: string;
  title: string;
  live: boolean;
  maxStage: number;
  /** FIFO by raise time; filled for moderators only */
  hands: HandEntry[];
  stage: StageMember[];
  viewers: number;
  moderators: number;
  /** hands in the queue (the viewer's count comes from snapshots only) */
  handCount: number;
  /** the highest event id reflected in this model */
  lastEventId: number;
  me: Me | null;
  /** events received while not loaded, replayed on the next snapshot */
  pending: RoomEvent[];
  /** a RESET came: the owner must refetch /state */
  needsRefetch: boolean;
}

export type RoomAction =
  | { type: 'snapshot'; snapshot: RoomSnapshot }
  | { type: 'event'; event: RoomEvent }
  /** the answer of this user's own raise-hand / lower-hand call */
  | { type: 'own-hand'; position: number | null }
  /** room info (GET /api/rooms/:id) before a session exists, or a periodic refresh */
  | { type: 'info'; title: string; live: boolean; viewers: number };

const MAX_PENDING = 1000;

export function emptyRoom(roomId: string): RoomModel {
  return {
    loaded: false,
    roomId,
    title: '',
    live: false,
    maxStage: 0,
    hands: [],
    stage: [],
    viewers: 0,
    moderators: 0,
    handCount: 0,
    lastEventId: 0,
    me: null,
    pending: [],
    needsRefetch: false,
  };
}

export function sortHands(hands: HandEntry[]): HandEntry[] {
  // Array.prototype.sort is stable: equal raise times keep their arrival order.
  return [...hands].sort((a, b) => a.raisedAt - b.raisedAt);
}

function isModerator(m: RoomModel): boolean {
  return m.me?.role === 'moderator';
}

/** Re-derives `me` from the hand list and stage (moderators see the whole queue). */
function withMe(m: RoomModel): RoomModel {
  if (!m.me) return m;
  const onStage = m.stage.some((s) => s.userId === m.me!.userId);
  let handPosition = m.me.handPosition;
  if (isModerator(m)) {
    const i = m.hands.findIndex((h) => h.userId === m.me!.userId);
    handPosition = i >= 0 ? i + 1 : null;
  }
  if (onStage) handPosition = null;
  if (onStage === m.me.onStage && handPosition === m.me.handPosition) return m;
  return { ...m, me: { ...m.me, onStage, handPosition } };
}

function applySnapshot(m: RoomModel, s: RoomSnapshot): RoomModel {
  // taken before events this model already applied: it would roll them back
  if (m.loaded && s.lastEventId < m.lastEventId) return m;
  const base: RoomModel = {
    ...m,
    loaded: true,
    needsRefetch: false,
    roomId: s.roomId,
    title: s.title,
    live: s.live,
    maxStage: s.maxStage,
    hands: sortHands(
      s.hands.map(({ userId, displayName, raisedAt }) => ({ userId, displayName, raisedAt })),
    ),
    stage: s.stage.map((x) => ({ ...x })),
    viewers: s.counts.viewers,
    moderators: s.counts.moderators,
    handCount: s.counts.hands,
    lastEventId: s.lastEventId,
    me: { ...s.you },
    pending: [],
  };
  // Events held while loading: only those the snapshot does not reflect yet.
  let next = base;
  for (const e of m.pending) next = applyEvent(next, e);
  return next;
}

function removeHand(hands: HandEntry[], userId: string): HandEntry[] {
  return hands.some((h) => h.userId === userId) ? hands.filter((h) => h.userId !== userId) : hands;
}

function handEvent(m: RoomModel, e: RoomEvent): RoomModel {
  const mine = m.me?.userId === e.userId;
  if (e.type === 'RAISE_HAND') {
    let hands = m.hands;
    if (isModerator(m) && !hands.some((h) => h.userId === e.userId)) {
      hands = sortHands([...hands, { userId: e.userId, displayName: e.displayName, raisedAt: e.timestamp }]);
    }
    const me = mine && m.me ? { ...m.me, handPosition: e.position ?? m.me.handPosition ?? null } : m.me;
    const handCount = isModerator(m) ? hands.length : m.handCount + (mine && m.me?.handPosition == null ? 1 : 0);
    return { ...m, hands, me, handCount };
  }
  // LOWER_HAND, and PROMOTE (promotion takes the hand down)
  const hands = removeHand(m.hands, e.userId);
  const me = mine && m.me ? { ...m.me, handPosition: null } : m.me;
  const handCount = isModerator(m) ? hands.length : Math.max(0, m.handCount - (mine && m.me?.handPosition != null ? 1 : 0));
  return { ...m, hands, me, handCount };
}

function stageEvent(m: RoomModel, e: RoomEvent): RoomModel {
  if (e.type === 'STAGE_CHANGED' && Array.isArray(e.stage)) {
    const stage = e.stage.map((x) => ({ ...x }));
    // whoever is on stage has no hand up
    let hands = m.hands;
    for (const s of stage) hands = removeHand(hands, s.userId);
    return { ...m, stage, hands, handCount: isModerator(m) ? hands.length : m.handCount };
  }
  if (e.type === 'PROMOTE') {
    const m2 = handEvent(m, e);
    if (m2.stage.some((s) => s.userId === e.userId)) return m2;
    return { ...m2, stage: [...m2.stage, { userId: e.userId, displayName: e.displayName, since: e.timestamp }] };
  }
  // DEMOTE
  return { ...m, stage: m.stage.filter((s) => s.userId !== e.userId) };
}

function applyEvent(m: RoomModel, e: RoomEvent): RoomModel {
  if (e.type === 'RESET') {
    return { ...m, loaded: false, needsRefetch: true, pending: [], lastEventId: Math.max(m.lastEventId, e.id) };
  }
  if (!m.loaded) {
    const pending = [...m.pending, e];
    return { ...m, pending: pending.length > MAX_PENDING ? pending.slice(-MAX_PENDING) : pending };
  }
  if (e.id > 0 && e.id <= m.lastEventId) return m; // stale: the snapshot reflects it
  const at = e.id > 0 ? { ...m, lastEventId: e.id } : m;
  switch (e.type) {
    case 'RAISE_HAND':
    case 'LOWER_HAND':
      return withMe(handEvent(at, e));
    case 'PROMOTE':
    case 'DEMOTE':
    case 'STAGE_CHANGED':
      return withMe(stageEvent(at, e));
    case 'PARTICIPANT_JOINED':
    case 'PARTICIPANT_LEFT':
      return {
        ...at,
        viewers: typeof e.viewers === 'number' ? e.viewers : at.viewers,
        moderators: typeof e.moderators === 'number' ? e.moderators : at.moderators,
      };
    case 'ROOM_LIVE':
      return { ...at, live: true };
    case 'ROOM_ENDED':
      return { ...at, live: false };
    default:
      return at;
  }
}

export function roomReducer(m: RoomModel, a: RoomAction): RoomModel {
  switch (a.type) {
    case 'snapshot':
      return applySnapshot(m, a.snapshot);
    case 'event':
      return applyEvent(m, a.event);
    case 'own-hand':
      if (!m.me) return m;
      if (isModerator(m)) return m; // derived from the queue
      return { ...m, me: { ...m.me, handPosition: m.me.onStage ? null : a.position } };
    case 'info':
      return { ...m, title: a.title, live: m.loaded ? m.live : a.live, viewers: m.loaded ? m.viewers : a.viewers };
  }
}

// ---- selectors ----

export function stageFull(m: RoomModel): boolean {
  return m.maxStage > 0 && m.stage.length >= m.maxStage;
}

/** Why Promote is disabled for `userId`, or null when it is allowed. */
export function promoteBlocked(m: RoomModel, userId: string): string | null {
  if (m.stage.some((s) => s.userId === userId)) return 'already on stage';
  if (stageFull(m)) return `The stage is full (${m.stage.length} of ${m.maxStage}); demote someone first`;
  return null;
}

export function ordinal(n: number): string {
  const mod100 = n % 100;
  if (mod100 >= 11 && mod100 <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}

export function queueLabel(position: number): string {
  return `${ordinal(position)} in line`;
}

/** "45 s", "3 min 05 s", "1 h 02 min" */
export function formatWaited(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}
