import type { ReactNode } from 'react';

interface Props {
  title: string;
  live: boolean;
  viewers: number;
  /** seconds behind live (viewers on HLS) */
  latency?: number | null;
  children?: ReactNode;
}

export function RoomHeader({ title, live, viewers, latency, children }: Props) {
  return (
    <header className="room-header">
      <h1>{title || 'Amphi'}</h1>
      <div className="meta">
        <span className={`badge ${live ? 'badge-live' : 'badge-off'}`} data-testid="live-badge" data-live={live}>
          {live ? 'LIVE' : 'Not live'}
          {live && latency != null && <span className="latency"> · {latency.toFixed(1)} s behind</span>}
        </span>
        <span className="count" data-testid="viewer-count" aria-label={`${viewers} watching`}>
          {viewers} watching
        </span>
        {children}
      </div>
    </header>
  );
}
