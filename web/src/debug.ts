// `window.__amphi`: the page's state for end-to-end tests and for curious humans.
import type { StageMode } from './state/stage';

export interface AmphiDebug {
  mode: StageMode;
  attempt: number;
  step: string | null;
  error: string | null;
  errorKind: string | null;
  notice: string | null;
  warm: string;
  roomId: string | null;
  userId: string | null;
  role: string | null;
  live: boolean;
  handPosition: number | null;
  onStage: boolean;
  conn: string;
  /** user ids whose video this page receives over WebRTC */
  feeds: string[];
  /** the HLS player's state and delay behind live (s) */
  player: string | null;
  latency: number | null;
  /** every stage transition, oldest first: [mode, time ms] */
  transitions: [StageMode, number][];
  /** join steps of the current or last join: [step, time ms] */
  steps: [string, number][];
}

declare global {
  interface Window {
    __amphi?: AmphiDebug;
  }
}

const initial: AmphiDebug = {
  mode: 'passive',
  attempt: 0,
  step: null,
  error: null,
  errorKind: null,
  notice: null,
  warm: 'off',
  roomId: null,
  userId: null,
  role: null,
  live: false,
  handPosition: null,
  onStage: false,
  conn: 'connecting',
  feeds: [],
  player: null,
  latency: null,
  transitions: [],
  steps: [],
};

export function exposeDebug(patch: Partial<AmphiDebug>): void {
  if (typeof window === 'undefined') return;
  const cur = window.__amphi ?? { ...initial, transitions: [], steps: [] };
  const next: AmphiDebug = { ...cur, ...patch };
  if (patch.mode && patch.mode !== cur.mode) {
    next.transitions = [...cur.transitions, [patch.mode, Date.now()]].slice(-50) as [StageMode, number][];
    if (patch.mode === 'joining') next.steps = [];
  }
  if (patch.step && patch.step !== cur.step) next.steps = [...next.steps, [patch.step, Date.now()]];
  window.__amphi = next;
}
