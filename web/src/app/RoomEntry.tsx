import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { ApiError, type Api } from '../api/client';
import type { RoomInfo, SessionInfo } from '../api/types';
import { exposeDebug } from '../debug';
import { ModeratorRoom } from './ModeratorRoom';
import { roomPath } from './route';
import { enteredBefore, lastDisplayName, markEntered, rememberDisplayName, rememberInvite } from './storage';
import { ViewerRoom } from './ViewerRoom';

interface Props {
  api: Api;
  roomId: string;
  invite: string | null;
}

type Phase =
  | { kind: 'checking' }
  | { kind: 'missing'; message: string }
  | { kind: 'join' }
  | { kind: 'continue'; session: SessionInfo }
  | { kind: 'in'; session: SessionInfo };

const roleName = (r: string) => (r === 'moderator' ? 'moderator' : 'viewer');

/** Join page (name, then in), or the offer to continue a session this browser holds. */
export function RoomEntry({ api, roomId, invite }: Props) {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });
  const [info, setInfo] = useState<RoomInfo | null>(null);

  useEffect(() => {
    let cancelled = false;
    const sessionP = api.session(roomId).catch((e: unknown) => {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return null;
      throw e;
    });
    Promise.all([api.roomInfo(roomId), sessionP])
      .then(([room, session]) => {
        if (cancelled) return;
        setInfo(room);
        if (session && !invite && enteredBefore(roomId)) setPhase({ kind: 'in', session });
        else if (session) setPhase({ kind: 'continue', session });
        else if (invite) setPhase({ kind: 'join' });
        else setPhase({ kind: 'missing', message: 'You need an invite link to join this room. Ask the host for one.' });
      })
      .catch((e: unknown) => {
        if (cancelled) return;
        const msg =
          e instanceof ApiError && e.status === 404
            ? `There is no room “${roomId}”. Check the link.`
            : `Cannot load the room: ${(e as Error).message}`;
        setPhase({ kind: 'missing', message: msg });
      });
    return () => {
      cancelled = true;
    };
  }, [api, roomId, invite]);

  const enter = (session: SessionInfo) => {
    markEntered(roomId);
    // the invite stays out of the address bar (and out of screenshots and shares)
    if (location.hash) history.replaceState(null, '', roomPath(roomId));
    setPhase({ kind: 'in', session });
  };

  useEffect(() => {
    if (phase.kind === 'in') exposeDebug({ roomId, userId: phase.session.userId, role: phase.session.role });
  }, [phase, roomId]);

  if (phase.kind === 'in') {
    const s = phase.session;
    return s.role === 'moderator' ? <ModeratorRoom api={api} roomId={roomId} me={s} /> : <ViewerRoom api={api} roomId={roomId} me={s} />;
  }

  const title = info?.title ?? 'Amphi';
  return (
    <main className="entry">
      <h1>{title}</h1>
      {info && (
        <p className="hint">
          {info.live ? 'Live now' : 'Not live yet'} · {info.viewers} watching
        </p>
      )}
      {phase.kind === 'checking' && <p role="status">Loading…</p>}
      {phase.kind === 'missing' && (
        <p className="error" role="alert">
          {phase.message}
        </p>
      )}
      {phase.kind === 'continue' && (
        <div className="card">
          <p data-testid="session-role">
            You are already in this room as <strong>{roleName(phase.session.role)}</strong> ({phase.session.displayName}).
          </p>
          <button type="button" className="primary" autoFocus onClick={() => enter(phase.session)} data-testid="join-continue">
            Continue as {phase.session.displayName}
          </button>
          {invite && (
            <>
              <p className="hint">Or join again with this invite link under another name:</p>
              <JoinForm api={api} roomId={roomId} invite={invite} onJoined={enter} focus={false} />
            </>
          )}
        </div>
      )}
      {phase.kind === 'join' && invite && (
        <div className="card">
          <JoinForm api={api} roomId={roomId} invite={invite} onJoined={enter} focus />
        </div>
      )}
    </main>
  );
}

function JoinForm({
  api,
  roomId,
  invite,
  onJoined,
  focus,
}: {
  api: Api;
  roomId: string;
  invite: string;
  onJoined: (s: SessionInfo) => void;
  focus: boolean;
}) {
  const initial = useMemo(() => lastDisplayName(), []);
  const [name, setName] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const displayName = name.trim();
    if (!displayName) {
      setError('Please enter your name.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await api.join(roomId, invite, displayName);
      rememberInvite(roomId, r.role, invite);
      rememberDisplayName(displayName);
      onJoined({ userId: r.userId, role: r.role, displayName: r.displayName, roomId: r.roomId, expiresAt: r.expiresAt });
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} className="join-form">
      <label htmlFor="join-name">Your name</label>
      <input
        id="join-name"
        data-testid="join-name"
        value={name}
        maxLength={64}
        autoComplete="name"
        autoFocus={focus}
        required
        onChange={(e) => setName(e.target.value)}
      />
      <button type="submit" className="primary" disabled={busy} data-testid="join-submit">
        {busy ? 'Joining…' : 'Join the room'}
      </button>
      {error && (
        <p className="error" role="alert" data-testid="join-error">
          {error}
        </p>
      )}
    </form>
  );
}
