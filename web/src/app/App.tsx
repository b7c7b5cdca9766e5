import { useEffect, useMemo, useState } from 'react';
import { Api } from '../api/client';
import { parseRoute, type Route } from './route';
import { RoomEntry } from './RoomEntry';

function currentRoute(): Route {
  return parseRoute(location.pathname, location.hash);
}

export function App({ api: given }: { api?: Api }) {
  const api = useMemo(() => given ?? new Api(), [given]);
  const [route, setRoute] = useState<Route>(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener('popstate', update);
    window.addEventListener('hashchange', update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener('hashchange', update);
    };
  }, []);

  switch (route.kind) {
    case 'room':
      // keyed: another room (or invite) is a fresh page
      return <RoomEntry key={`${route.roomId}#${route.invite ?? ''}`} api={api} roomId={route.roomId} invite={route.invite} />;
    case 'home':
      return <Home />;
    default:
      return (
        <main className="entry">
          <h1>Page not found</h1>
          <p>
            Nothing at <code>{route.path}</code>. Room links look like <code>/r/&lt;room&gt;#invite=…</code>.
          </p>
        </main>
      );
  }
}

function Home() {
  const [link, setLink] = useState('');
  const [error, setError] = useState<string | null>(null);
  const open = (e: React.FormEvent) => {
    e.preventDefault();
    try {
      const u = new URL(link.trim(), location.href);
      if (parseRoute(u.pathname, u.hash).kind !== 'room') throw new Error('not a room link');
      location.assign(`${u.pathname}${u.hash}`);
    } catch {
      setError('That is not an Amphi invite link (they look like …/r/<room>#invite=…).');
    }
  };
  return (
    <main className="entry">
      <h1>Amphi</h1>
      <p>A live classroom: watch the class, raise your hand, and speak on stage when the host invites you.</p>
      <form onSubmit={open} className="join-form">
        <label htmlFor="invite-link">Invite link</label>
        <input id="invite-link" value={link} onChange={(e) => setLink(e.target.value)} required placeholder="https://…/r/room#invite=…" />
        <button type="submit" className="primary">
          Open
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
