import type { ConnState } from '../sse/eventStream';

/** Shown while the event stream is down (the browser keeps reconnecting). */
export function ConnBanner({ conn }: { conn: ConnState }) {
  if (conn !== 'down') return null;
  return (
    <div className="banner" role="status" aria-live="polite" data-testid="conn-banner">
      Connection to the room lost — reconnecting… Hands, promotions and counts may be out of date.
    </div>
  );
}
