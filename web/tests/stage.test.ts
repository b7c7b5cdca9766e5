import { describe, expect, it } from 'vitest';
import {
  describeError,
  initialStage,
  stageEffects,
  stageReducer,
  type StageEvent,
  type StageState,
} from '../src/state/stage';

const run = (events: StageEvent[], start: StageState = initialStage) => events.reduce(stageReducer, start);

describe('stage machine: the happy path', () => {
  it('passive → joining → stage → leaving → passive', () => {
    const joining = run([{ type: 'join' }]);
    expect(joining.mode).toBe('joining');
    expect(joining.attempt).toBe(1);
    const onStage = run([{ type: 'step', attempt: 1, step: 'publishing' }, { type: 'ready', attempt: 1 }], joining);
    expect(onStage.mode).toBe('stage');
    expect(onStage.step).toBeNull();
    const leaving = run([{ type: 'demoted', reason: 'moderator' }], onStage);
    expect(leaving.mode).toBe('leaving');
    expect(leaving.selfLeave).toBe(false);
    expect(leaving.notice).toMatch(/moderator/);
    const back = run([{ type: 'left', attempt: 1 }], leaving);
    expect(back.mode).toBe('passive');
    expect(back.error).toBeNull();
  });

  it('tracks join steps of the current attempt only', () => {
    const s = run([{ type: 'join' }, { type: 'step', attempt: 1, step: 'camera' }, { type: 'step', attempt: 7, step: 'publishing' }]);
    expect(s.step).toBe('camera');
  });

  it('"Leave stage" leaves and marks the leave as the user\'s own (the server is told)', () => {
    const s = run([{ type: 'join' }, { type: 'ready', attempt: 1 }, { type: 'leave' }]);
    expect(s.mode).toBe('leaving');
    expect(s.selfLeave).toBe(true);
    expect(s.notice).toBe('You left the stage.');
  });

  it('a second join while joining or on stage changes nothing', () => {
    const joining = run([{ type: 'join' }]);
    expect(stageReducer(joining, { type: 'join' })).toBe(joining);
    const onStage = run([{ type: 'ready', attempt: 1 }], joining);
    expect(stageReducer(onStage, { type: 'join' })).toBe(onStage);
  });
});

describe('stage machine: failures go back to passive with the reason', () => {
  const cases: [string, StageEvent][] = [
    ['credentials refused (403)', { type: 'failed', attempt: 1, error: { kind: 'credentials', status: 403, message: 'not on stage' } }],
    ['camera refused', { type: 'failed', attempt: 1, error: { kind: 'media', message: 'permission was refused' } }],
    ['Janus error', { type: 'failed', attempt: 1, error: { kind: 'janus', message: 'join failed (433): unauthorized' } }],
    ['ICE failed', { type: 'failed', attempt: 1, error: { kind: 'ice', message: 'ICE failed' } }],
    ['no first frame in time', { type: 'failed', attempt: 1, error: { kind: 'timeout', message: 'no video after 20 s' } }],
  ];
  for (const [name, failure] of cases) {
    it(`while joining: ${name}`, () => {
      const leaving = run([{ type: 'join' }, failure]);
      expect(leaving.mode).toBe('leaving');
      expect(leaving.selfLeave).toBe(true);
      const back = run([{ type: 'left', attempt: 1 }], leaving);
      expect(back.mode).toBe('passive');
      expect(back.error).toEqual((failure as Extract<StageEvent, { type: 'failed' }>).error);
      expect(describeError(back.error!)).toContain((failure as Extract<StageEvent, { type: 'failed' }>).error.message);
    });
  }

  it('on stage: ICE failure or a kick leaves the stage with the error', () => {
    const s = run([
      { type: 'join' },
      { type: 'ready', attempt: 1 },
      { type: 'failed', attempt: 1, error: { kind: 'ice', message: 'ICE failed' } },
      { type: 'left', attempt: 1 },
    ]);
    expect(s.mode).toBe('passive');
    expect(s.error?.kind).toBe('ice');
  });

  it('a kick explained by a DEMOTE right after is no error but a notice', () => {
    const kicked = run([
      { type: 'join' },
      { type: 'ready', attempt: 1 },
      { type: 'failed', attempt: 1, error: { kind: 'kicked', message: 'kicked' } },
    ]);
    expect(kicked.error?.kind).toBe('kicked');
    const explained = run([{ type: 'demoted', reason: 'moderator' }], kicked);
    expect(explained.error).toBeNull();
    expect(explained.notice).toMatch(/moderator/);
    // the DEMOTE may also come after the cleanup
    const late = run([{ type: 'left', attempt: 1 }, { type: 'demoted', reason: 'moderator' }], kicked);
    expect(late.mode).toBe('passive');
    expect(late.error).toBeNull();
  });

  it('a real error stays when a DEMOTE follows', () => {
    const s = run([
      { type: 'join' },
      { type: 'failed', attempt: 1, error: { kind: 'media', message: 'no camera' } },
      { type: 'demoted', reason: 'self' },
      { type: 'left', attempt: 1 },
    ]);
    expect(s.error?.kind).toBe('media');
  });

  it('clear-error dismisses the message', () => {
    const s = run([
      { type: 'join' },
      { type: 'failed', attempt: 1, error: { kind: 'media', message: 'x' } },
      { type: 'left', attempt: 1 },
      { type: 'clear-error' },
    ]);
    expect(s.error).toBeNull();
    expect(s.notice).toBeNull();
  });

  it('a new join clears the previous error', () => {
    const s = run([
      { type: 'join' },
      { type: 'failed', attempt: 1, error: { kind: 'media', message: 'x' } },
      { type: 'left', attempt: 1 },
      { type: 'join' },
    ]);
    expect(s.mode).toBe('joining');
    expect(s.attempt).toBe(2);
    expect(s.error).toBeNull();
  });
});

describe('stage machine: stale results of abandoned attempts', () => {
  it('a join that finishes after a DEMOTE does not put the user on stage', () => {
    const s = run([{ type: 'join' }, { type: 'demoted' }, { type: 'ready', attempt: 1 }]);
    expect(s.mode).toBe('leaving');
  });

  it('ready / failed / left of an older attempt are ignored', () => {
    const second = run([{ type: 'join' }, { type: 'demoted' }, { type: 'left', attempt: 1 }, { type: 'join' }]);
    expect(second.attempt).toBe(2);
    expect(stageReducer(second, { type: 'ready', attempt: 1 })).toBe(second);
    expect(stageReducer(second, { type: 'failed', attempt: 1, error: { kind: 'ice', message: 'x' } })).toBe(second);
    const leaving = run([{ type: 'leave' }], second);
    expect(stageReducer(leaving, { type: 'left', attempt: 1 })).toBe(leaving);
  });

  it('failures while passive or leaving change nothing', () => {
    expect(stageReducer(initialStage, { type: 'failed', attempt: 0, error: { kind: 'ice', message: 'x' } })).toBe(initialStage);
    const leaving = run([{ type: 'join' }, { type: 'leave' }]);
    expect(stageReducer(leaving, { type: 'failed', attempt: 1, error: { kind: 'ice', message: 'x' } })).toBe(leaving);
  });

  it('DEMOTE or leave while passive change nothing', () => {
    expect(stageReducer(initialStage, { type: 'demoted' })).toBe(initialStage);
    expect(stageReducer(initialStage, { type: 'leave' })).toBe(initialStage);
  });

  it('promoted again while leaving: joins right after the cleanup', () => {
    const s = run([{ type: 'join' }, { type: 'ready', attempt: 1 }, { type: 'demoted' }, { type: 'join' }]);
    expect(s.mode).toBe('leaving');
    expect(s.rejoin).toBe(true);
    const next = run([{ type: 'left', attempt: 1 }], s);
    expect(next.mode).toBe('joining');
    expect(next.attempt).toBe(2);
    // ...unless demoted again before that
    const cancelled = run([{ type: 'demoted' }, { type: 'left', attempt: 1 }], s);
    expect(cancelled.mode).toBe('passive');
  });
});

describe('stage effects', () => {
  it('asks for a join on entering joining and a teardown on entering leaving', () => {
    const p = initialStage;
    const j = stageReducer(p, { type: 'join' });
    expect(stageEffects(p, j)).toEqual([{ kind: 'join', attempt: 1 }]);
    const st = stageReducer(j, { type: 'ready', attempt: 1 });
    expect(stageEffects(j, st)).toEqual([]);
    const l = stageReducer(st, { type: 'leave' });
    expect(stageEffects(st, l)).toEqual([{ kind: 'teardown', attempt: 1, demoteSelf: true }]);
    const d = stageReducer(st, { type: 'demoted' });
    expect(stageEffects(st, d)).toEqual([{ kind: 'teardown', attempt: 1, demoteSelf: false }]);
    const back = stageReducer(l, { type: 'left', attempt: 1 });
    expect(stageEffects(l, back)).toEqual([]);
  });

  it('a rejoin after the cleanup asks for a new join', () => {
    const l = run([{ type: 'join' }, { type: 'demoted' }, { type: 'join' }]);
    const next = stageReducer(l, { type: 'left', attempt: 1 });
    expect(stageEffects(l, next)).toEqual([{ kind: 'join', attempt: 2 }]);
  });

  it('a failed join tears down and tells the server', () => {
    const j = run([{ type: 'join' }]);
    const f = stageReducer(j, { type: 'failed', attempt: 1, error: { kind: 'janus', message: 'x' } });
    expect(stageEffects(j, f)).toEqual([{ kind: 'teardown', attempt: 1, demoteSelf: true }]);
  });
});
