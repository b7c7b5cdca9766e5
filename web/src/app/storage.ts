// What the browser remembers per room besides the session cookie.
import type { Role } from '../api/types';

function get(store: Storage | undefined, key: string): string | null {
  try {
    return store?.getItem(key) ?? null;
  } catch {
    return null; // storage disabled
  }
}

function set(store: Storage | undefined, key: string, value: string): void {
  try {
    store?.setItem(key, value);
  } catch {
    /* storage disabled or full: nothing to remember */
  }
}

const local = () => (typeof localStorage === 'undefined' ? undefined : localStorage);
const session = () => (typeof sessionStorage === 'undefined' ? undefined : sessionStorage);

/** Invite codes this browser has seen for a room, by role (to show the moderator). */
export function rememberInvite(roomId: string, role: Role, code: string): void {
  set(local(), `amphi.invite.${roomId}.${role}`, code);
}

export function knownInvite(roomId: string, role: Role): string | null {
  return get(local(), `amphi.invite.${roomId}.${role}`);
}

/** This tab entered the room: a reload goes straight back in. */
export function markEntered(roomId: string): void {
  set(session(), `amphi.entered.${roomId}`, '1');
}

export function enteredBefore(roomId: string): boolean {
  return get(session(), `amphi.entered.${roomId}`) === '1';
}

export function lastDisplayName(): string {
  return get(local(), 'amphi.displayName') ?? '';
}

export function rememberDisplayName(name: string): void {
  set(local(), 'amphi.displayName', name);
}
