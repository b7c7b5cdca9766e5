// Typed calls to Amphi's REST API. The session is the room-scoped HttpOnly cookie set by
// /join, so no token is handled here (the admin key is the one exception).
import type {
  JoinResult,
  RaiseResult,
  RoomInfo,
  RoomInvites,
  RoomSnapshot,
  SessionInfo,
  StageChangeResult,
  StageCredentials,
} from './types';

/** An API refusal or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

async function readError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(res.status, code, message);
}

export class Api {
  private readonly fetchFn: FetchLike;

  constructor(fetchFn?: FetchLike) {
    this.fetchFn = fetchFn ?? ((input, init) => fetch(input, init));
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, bearer?: string): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (method === 'POST') headers['Content-Type'] = 'application/json';
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    let res: Response;
    try {
      res = await this.fetchFn(path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined,
      });
    } catch (e) {
      throw new ApiError(0, 'network', `cannot reach the server (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!res.ok) throw await readError(res);
    return (await res.json()) as T;
  }

  private static room(roomId: string): string {
    return `/api/rooms/${encodeURIComponent(roomId)}`;
  }

  roomInfo(roomId: string): Promise<RoomInfo> {
    return this.call('GET', Api.room(roomId));
  }

  join(roomId: string, invite: string, displayName: string): Promise<JoinResult> {
    return this.call('POST', `${Api.room(roomId)}/join`, { invite, displayName });
  }

  /** Who holds this room's session cookie; 401 when nobody. */
  session(roomId: string): Promise<SessionInfo> {
    return this.call('GET', `${Api.room(roomId)}/session`);
  }

  state(roomId: string): Promise<RoomSnapshot> {
    return this.call('GET', `${Api.room(roomId)}/state`);
  }

  raiseHand(roomId: string): Promise<RaiseResult> {
    return this.call('POST', `${Api.room(roomId)}/raise-hand`);
  }

  /** Lowers the caller's hand, or (moderator) `userId`'s. */
  lowerHand(roomId: string, userId?: string): Promise<{ raised: false; userId: string; changed: boolean }> {
    return this.call('POST', `${Api.room(roomId)}/lower-hand`, userId ? { userId } : {});
  }

  setLive(roomId: string, live: boolean): Promise<{ live: boolean; changed: boolean }> {
    return this.call('POST', `${Api.room(roomId)}/${live ? 'live' : 'end'}`);
  }

  promote(roomId: string, userId: string): Promise<StageChangeResult> {
    return this.call('POST', `${Api.room(roomId)}/promote/${encodeURIComponent(userId)}`);
  }

  demote(roomId: string, userId: string): Promise<StageChangeResult> {
    return this.call('POST', `${Api.room(roomId)}/demote/${encodeURIComponent(userId)}`);
  }

  stageCredentials(roomId: string, mode: 'publish' | 'subscribe'): Promise<StageCredentials> {
    const q = mode === 'subscribe' ? '?mode=subscribe' : '';
    return this.call('POST', `${Api.room(roomId)}/stage/credentials${q}`);
  }

  /** Moderator of the room: the current invite links to share. */
  invites(roomId: string): Promise<RoomInvites> {
    return this.call('GET', `${Api.room(roomId)}/invites`);
  }

  /** Admin only: new invite codes (the old ones stop working). */
  rotateInvites(roomId: string, adminKey: string): Promise<RoomInvites> {
    return this.call('POST', `${Api.room(roomId)}/invites`, {}, adminKey);
  }
}
