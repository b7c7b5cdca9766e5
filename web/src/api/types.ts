// Shapes of Amphi's HTTP API (src/api/routes_*.cpp) as the browser sees them.

export type Role = 'moderator' | 'viewer';

/** GET /api/rooms/:roomId */
export interface RoomInfo {
  id: string;
  title: string;
  live: boolean;
  hlsUrl: string;
  viewers: number;
}

/** POST /api/rooms/:roomId/join */
export interface JoinResult {
  token: string;
  userId: string;
  role: Role;
  displayName: string;
  roomId: string;
  expiresAt: number;
}

/** GET /api/rooms/:roomId/session: who holds the room's cookie. */
export interface SessionInfo {
  userId: string;
  role: Role;
  displayName: string;
  roomId: string;
  expiresAt: number;
}

export interface HandEntry {
  userId: string;
  displayName: string;
  /** ms since the epoch (server clock) */
  raisedAt: number;
}

export interface StageMember {
  userId: string;
  displayName: string;
  since: number;
}

export interface Counts {
  viewers: number;
  moderators: number;
  stage: number;
  hands: number;
}

/** GET /api/rooms/:roomId/state. `hands` is filled for moderators only. */
export interface RoomSnapshot {
  roomId: string;
  title: string;
  live: boolean;
  maxStage: number;
  hands: (HandEntry & { position: number })[];
  stage: StageMember[];
  counts: Counts;
  lastEventId: number;
  you: {
    userId: string;
    displayName: string;
    role: Role;
    handPosition: number | null;
    onStage: boolean;
  };
}

/** POST /api/rooms/:roomId/stage/credentials[?mode=subscribe] */
export interface StageCredentials {
  janusUrl: string;
  janusRoom: number;
  token: string;
  display: string;
  mode: 'publish' | 'subscribe';
  expiresAt: number;
  iceServers: RTCIceServer[];
}

export interface InviteLink {
  code: string;
  link: string;
  expiresAt?: number;
}

/** POST /api/rooms (admin) and POST /api/rooms/:roomId/invites (admin) */
export interface RoomInvites {
  id: string;
  title: string;
  maxStage: number;
  invites: { moderator: InviteLink; viewer: InviteLink };
}

export interface RaiseResult {
  raised: true;
  position: number;
  changed: boolean;
}

export interface StageChangeResult {
  userId: string;
  onStage: boolean;
  changed: boolean;
  stage: StageMember[];
}

export const EVENT_TYPES = [
  'RAISE_HAND',
  'LOWER_HAND',
  'PROMOTE',
  'DEMOTE',
  'STAGE_CHANGED',
  'PARTICIPANT_JOINED',
  'PARTICIPANT_LEFT',
  'ROOM_LIVE',
  'ROOM_ENDED',
  'RESET',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One SSE frame: `id` is the JetStream sequence (0 when the frame had none), the rest is
 * the JSON data. Extra fields depend on the type: RAISE_HAND `position`; LOWER_HAND
 * `by`; PROMOTE `by`; DEMOTE `by`, `reason`; STAGE_CHANGED `action`, `stage`;
 * PARTICIPANT_* `viewers`, `moderators`.
 */
export interface RoomEvent {
  id: number;
  type: EventType;
  roomId: string;
  userId: string;
  displayName: string;
  timestamp: number;
  position?: number;
  by?: string;
  reason?: string;
  action?: string;
  stage?: StageMember[];
  viewers?: number;
  moderators?: number;
}
