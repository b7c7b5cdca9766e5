// App routes: /r/<roomId>#invite=<code> (invite links, see src/api/helpers.cpp) and /.

export type Route = { kind: 'room'; roomId: string; invite: string | null } | { kind: 'home' } | { kind: 'not-found'; path: string };

const ROOM_ID = /^[a-z0-9-]{1,64}$/;

export function parseRoute(pathname: string, hash: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { kind: 'home' };
  const m = /^\/r\/([^/]+)$/.exec(path);
  if (!m) return { kind: 'not-found', path };
  let roomId: string;
  try {
    roomId = decodeURIComponent(m[1]);
  } catch {
    return { kind: 'not-found', path };
  }
  if (!ROOM_ID.test(roomId)) return { kind: 'not-found', path };
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const invite = params.get('invite');
  return { kind: 'room', roomId, invite: invite && invite.trim() ? invite.trim() : null };
}

/** The room's path without the invite (the invite is not left in the address bar). */
export function roomPath(roomId: string): string {
  return `/r/${encodeURIComponent(roomId)}`;
}

export function inviteLinkFor(origin: string, roomId: string, code: string): string {
  return `${origin}${roomPath(roomId)}#invite=${encodeURIComponent(code)}`;
}
