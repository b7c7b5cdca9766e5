import { useEffect, useState } from 'react';
import type { HandEntry } from '../api/types';
import { formatWaited } from '../state/room';

interface Props {
  hands: HandEntry[];
  /** why promoting is impossible now (stage full), or null */
  promoteBlocked: string | null;
  busy: Set<string>;
  onPromote: (h: HandEntry) => void;
  onDismiss: (h: HandEntry) => void;
}

function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

/** Raised hands, first come first served, with Promote and Dismiss. */
export function HandQueue({ hands, promoteBlocked, busy, onPromote, onDismiss }: Props) {
  const now = useNow(1000);
  return (
    <section className="panel" aria-labelledby="queue-title">
      <h2 id="queue-title">
        Raised hands <span className="count">{hands.length}</span>
      </h2>
      {promoteBlocked && hands.length > 0 && (
        <p className="hint" id="promote-blocked" data-testid="promote-blocked">
          {promoteBlocked}
        </p>
      )}
      {hands.length === 0 ? (
        <p className="hint">No hands raised.</p>
      ) : (
        <ol className="queue">
          {hands.map((h, i) => (
            <li key={h.userId} data-testid={`queue-item-${h.userId}`}>
              <span className="who">
                <span className="pos" aria-hidden="true">{i + 1}.</span> {h.displayName}
              </span>
              <span className="waited" aria-label={`waiting ${formatWaited(now - h.raisedAt)}`}>
                {formatWaited(now - h.raisedAt)}
              </span>
              <span className="actions">
                <button
                  type="button"
                  className="primary"
                  disabled={promoteBlocked !== null || busy.has(h.userId)}
                  aria-describedby={promoteBlocked ? 'promote-blocked' : undefined}
                  title={promoteBlocked ?? undefined}
                  aria-label={`Promote ${h.displayName} to the stage`}
                  onClick={() => onPromote(h)}
                  data-testid={`promote-${h.userId}`}
                >
                  Promote
                </button>
                <button
                  type="button"
                  disabled={busy.has(h.userId)}
                  aria-label={`Dismiss ${h.displayName}'s hand`}
                  onClick={() => onDismiss(h)}
                  data-testid={`dismiss-${h.userId}`}
                >
                  Dismiss
                </button>
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
