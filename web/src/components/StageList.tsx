import type { StageMember } from '../api/types';

interface Props {
  stage: StageMember[];
  maxStage: number;
  busy: Set<string>;
  onDemote: (m: StageMember) => void;
}

/** Who is on stage (promoted viewers), with Demote. */
export function StageList({ stage, maxStage, busy, onDemote }: Props) {
  return (
    <section className="panel" aria-labelledby="stage-title">
      <h2 id="stage-title">
        On stage{' '}
        <span className="count" data-testid="stage-count">
          {stage.length} / {maxStage}
        </span>
      </h2>
      {stage.length === 0 ? (
        <p className="hint">Nobody promoted yet.</p>
      ) : (
        <ul className="queue">
          {stage.map((m) => (
            <li key={m.userId} data-testid={`stage-item-${m.userId}`}>
              <span className="who">{m.displayName}</span>
              <span className="actions">
                <button
                  type="button"
                  disabled={busy.has(m.userId)}
                  aria-label={`Move ${m.displayName} back to the audience`}
                  onClick={() => onDemote(m)}
                  data-testid={`demote-${m.userId}`}
                >
                  Demote
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
