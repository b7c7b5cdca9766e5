import type { EventType, RoomEvent, RoomSnapshot } from '../src/api/types';

export function snapshot(over: Partial<RoomSnapshot> = {}, you: Partial<RoomSnapshot['you']> = {}): RoomSnapshot {
  return {
    roomId: 'r1',
    title: 'Physics',
    live: false,
    maxStage: 2,
    hands: [],
    stage: [],
    counts: { viewers: 3, moderators: 1, stage: 0, hands: 0 },
    lastEventId: 100,
    ...over,
    you: { userId: 'mod', displayName: 'Teacher', role: 'moderator', handPosition: null, onStage: false, ...you },
  };
}

let clock = 1_000_000;

export function ev(type: EventType, id: number, userId = '', extra: Partial<RoomEvent> = {}): RoomEvent {
  clock += 1000;
  return { id, type, roomId: 'r1', userId, displayName: userId ? userId.toUpperCase() : '', timestamp: clock, ...extra };
}
