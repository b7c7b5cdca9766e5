// The stage machine of one browser: passive → joining → stage → leaving → passive.
//
// Pure: `stageReducer` gives the next state, `stageEffects` the work a transition asks
// for (join, tear down). Async results carry the `attempt` they belong to, so a result
// of an abandoned attempt (e.g. a join that finishes after a DEMOTE) changes nothing.
//
// A viewer enters `joining` on PROMOTE; a moderator on 'join' (they need no promotion).
// Failure paths (credentials refused, camera refused, Janus error, ICE failed, no first
// frame in time, kicked) all go through `leaving` (cleanup) back to `passive` with the
// error kept for display.

export type StageMode = 'passive' | 'joining' | 'stage' | 'leaving';

export type StageErrorKind = 'credentials' | 'media' | 'janus' | 'ice' | 'timeout' | 'kicked' | 'network';

export interface StageError {
  kind: StageErrorKind;
  message: string;
  /** HTTP status for credentials errors */
  status?: number;
}

/** Steps of a join, for progress display. */
export type JoinStep = 'credentials' | 'camera' | 'connecting' | 'publishing' | 'ready-check';

export interface StageState {
  mode: StageMode;
  /** increments on every join; async results name the attempt they belong to */
  attempt: number;
  step: JoinStep | null;
  /** why the last join or stay on stage ended badly */
  error: StageError | null;
  /** a neutral message about the last exit (e.g. "The moderator took you off the stage") */
  notice: string | null;
  /** promoted again while leaving: join as soon as the cleanup is done */
  rejoin: boolean;
  /** the current leave was asked for by this user (the server must be told) */
  selfLeave: boolean;
}

export type StageEvent =
  /** PROMOTE for this user, or the moderator's own join */
  | { type: 'join' }
  | { type: 'step'; attempt: number; step: JoinStep }
  /** media flows both ways: ICE connected and a first remote frame (or nobody to see) */
  | { type: 'ready'; attempt: number }
  | { type: 'failed'; attempt: number; error: StageError }
  /** DEMOTE for this user (moderator or server decided) */
  | { type: 'demoted'; reason?: string }
  /** the user pressed "Leave stage" */
  | { type: 'leave' }
  /** cleanup of `attempt` finished */
  | { type: 'left'; attempt: number }
  /** the user dismissed the error message */
  | { type: 'clear-error' };

export type StageEffect =
  | { kind: 'join'; attempt: number }
  | { kind: 'teardown'; attempt: number; demoteSelf: boolean };

export const initialStage: StageState = {
  mode: 'passive',
  attempt: 0,
  step: null,
  error: null,
  notice: null,
  rejoin: false,
  selfLeave: false,
};

function startJoin(s: StageState): StageState {
  return { ...s, mode: 'joining', attempt: s.attempt + 1, step: null, error: null, notice: null, rejoin: false, selfLeave: false };
}

function leave(s: StageState, patch: Partial<StageState>): StageState {
  return { ...s, mode: 'leaving', step: null, rejoin: false, selfLeave: false, ...patch };
}

export function demoteNotice(reason?: string): string {
  switch (reason) {
    case 'self':
      return 'You left the stage.';
    case 'left':
      return 'You were taken off the stage because your video stopped.';
    default:
      return 'The moderator moved you back to the audience.';
  }
}

export function stageReducer(s: StageState, e: StageEvent): StageState {
  switch (e.type) {
    case 'join':
      if (s.mode === 'passive') return startJoin(s);
      if (s.mode === 'leaving') return { ...s, rejoin: true };
      return s; // joining or on stage already
    case 'step':
      return s.mode === 'joining' && e.attempt === s.attempt ? { ...s, step: e.step } : s;
    case 'ready':
      return s.mode === 'joining' && e.attempt === s.attempt ? { ...s, mode: 'stage', step: null } : s;
    case 'failed':
      if (e.attempt !== s.attempt || (s.mode !== 'joining' && s.mode !== 'stage')) return s;
      // a failure on stage or while joining: this user leaves, and says so to the server
      return leave(s, { error: e.error, notice: null, selfLeave: true });
    case 'demoted': {
      if (s.mode === 'joining' || s.mode === 'stage') return leave(s, { notice: demoteNotice(e.reason) });
      // Janus kicks a demoted publisher before DEMOTE goes out: the kick was no error.
      const kicked = s.error?.kind === 'kicked';
      const explained = kicked ? { error: null, notice: demoteNotice(e.reason) } : {};
      if (s.mode === 'leaving') return { ...s, rejoin: false, ...explained };
      return kicked ? { ...s, ...explained } : s;
    }
    case 'leave':
      if (s.mode === 'joining' || s.mode === 'stage') return leave(s, { notice: demoteNotice('self'), error: null, selfLeave: true });
      return s;
    case 'left':
      if (s.mode !== 'leaving' || e.attempt !== s.attempt) return s;
      if (s.rejoin) return startJoin({ ...s, mode: 'passive' });
      return { ...s, mode: 'passive', selfLeave: false };
    case 'clear-error':
      return { ...s, error: null, notice: null };
  }
}

/** The work a transition from `prev` to `next` asks for. */
export function stageEffects(prev: StageState, next: StageState): StageEffect[] {
  const out: StageEffect[] = [];
  if (next.mode === 'leaving' && prev.mode !== 'leaving') {
    out.push({ kind: 'teardown', attempt: next.attempt, demoteSelf: next.selfLeave });
  }
  if (next.mode === 'joining' && (prev.mode !== 'joining' || prev.attempt !== next.attempt)) {
    out.push({ kind: 'join', attempt: next.attempt });
  }
  return out;
}

export function describeError(e: StageError): string {
  switch (e.kind) {
    case 'credentials':
      return `The server refused stage access: ${e.message}`;
    case 'media':
      return `Your camera or microphone could not be used: ${e.message}`;
    case 'janus':
      return `The stage connection failed: ${e.message}`;
    case 'ice':
      return `The connection to the media server failed: ${e.message}`;
    case 'timeout':
      return `Joining the stage took too long: ${e.message}`;
    case 'kicked':
      return `You were disconnected from the stage: ${e.message}`;
    case 'network':
      return `Network problem: ${e.message}`;
  }
}

export const STEP_LABELS: Record<JoinStep, string> = {
  credentials: 'Getting stage access…',
  camera: 'Starting your camera…',
  connecting: 'Connecting to the stage…',
  publishing: 'Sending your video…',
  'ready-check': 'Waiting for video…',
};
