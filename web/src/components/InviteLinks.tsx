import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, type Api } from '../api/client';
import type { Role } from '../api/types';
import { inviteLinkFor } from '../app/route';
import { knownInvite, rememberInvite } from '../app/storage';

interface Props {
  api: Api;
  roomId: string;
}

async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function LinkRow({ role, link }: { role: Role; link: string | null }) {
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  const label = role === 'viewer' ? 'Viewer link' : 'Moderator link';
  const id = `invite-${role}`;
  return (
    <div className="invite">
      <label htmlFor={id}>{label}</label>
      {link ? (
        <div className="invite-row">
          <input id={id} readOnly value={link} onFocus={(e) => e.currentTarget.select()} data-testid={id} />
          <button
            type="button"
            aria-label={`Copy the ${label.toLowerCase()}`}
            onClick={() => void copy(link).then((ok) => setCopied(ok ? 'yes' : 'no'))}
          >
            {copied === 'yes' ? 'Copied' : 'Copy'}
          </button>
        </div>
      ) : (
        <p className="hint" id={id}>
          Could not be read from the server. Use the link printed when the room was created, or get new links below.
        </p>
      )}
      {copied === 'no' && <p className="hint">Copying was refused: select the link and copy it by hand.</p>}
    </div>
  );
}

/**
 * Invite links: read from the server (the moderator may read them), falling back to the
 * codes this browser has seen; with the admin key it can issue new ones (the old links
 * stop working).
 */
export function InviteLinks({ api, roomId }: Props) {
  const origin = typeof location === 'undefined' ? '' : location.origin;
  const linkFor = (role: Role) => {
    const code = knownInvite(roomId, role);
    return code ? inviteLinkFor(origin, roomId, code) : null;
  };
  const [links, setLinks] = useState(() => ({ moderator: linkFor('moderator'), viewer: linkFor('viewer') }));
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let current = true;
    api.invites(roomId).then(
      (r) => {
        if (!current) return;
        rememberInvite(roomId, 'moderator', r.invites.moderator.code);
        rememberInvite(roomId, 'viewer', r.invites.viewer.code);
        setLinks({ moderator: r.invites.moderator.link, viewer: r.invites.viewer.link });
      },
      () => {}, // keeps the links this browser knows; the panel says when none are known
    );
    return () => {
      current = false;
    };
  }, [api, roomId]);

  const rotate = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.rotateInvites(roomId, key.trim());
      rememberInvite(roomId, 'moderator', r.invites.moderator.code);
      rememberInvite(roomId, 'viewer', r.invites.viewer.code);
      setLinks({ moderator: r.invites.moderator.link, viewer: r.invites.viewer.link });
      setKey('');
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Wrong admin key.' : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="invites-title">
      <h2 id="invites-title">Invite links</h2>
      <LinkRow role="viewer" link={links.viewer} />
      <LinkRow role="moderator" link={links.moderator} />
      <details className="rotate">
        <summary>New links (admin key)</summary>
        <form onSubmit={(e) => void rotate(e)}>
          <label htmlFor="admin-key">Admin key</label>
          <input
            id="admin-key"
            type="password"
            autoComplete="off"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            required
          />
          <button type="submit" disabled={busy || !key.trim()}>
            Issue new links (old ones stop working)
          </button>
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
        </form>
      </details>
    </section>
  );
}
