import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type Api } from '../src/api/client';
import type { RoomSnapshot } from '../src/api/types';
import { RoomEntry } from '../src/app/RoomEntry';
import { parseRoute } from '../src/app/route';
import { ConnBanner } from '../src/components/ConnBanner';
import { HandQueue } from '../src/components/HandQueue';
import { StageList } from '../src/components/StageList';
import { snapshot } from './helpers';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

class NoopEventSource {
  static opened: string[] = [];
  static last: NoopEventSource | null = null;
  readyState = 0;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  constructor(url: string) {
    NoopEventSource.opened.push(url);
    NoopEventSource.last = this;
  }
  addEventListener(type: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {}
  /** delivers one SSE frame */
  frame(type: string, id: number, data: Record<string, unknown>) {
    const body = JSON.stringify({ type, roomId: 'demo', displayName: '', timestamp: Date.now(), ...data });
    for (const fn of this.listeners.get(type) ?? []) fn({ data: body, lastEventId: String(id) } as MessageEvent);
  }
}

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  vi.stubGlobal('EventSource', NoopEventSource);
  NoopEventSource.opened = [];
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
  localStorage.clear();
  sessionStorage.clear();
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
});

const $ = (id: string) => container.querySelector<HTMLElement>(`[data-testid="${id}"]`);

async function flush() {
  await act(async () => {
    for (let i = 0; i < 10; i += 1) await Promise.resolve();
  });
}

function setInput(el: HTMLInputElement, value: string) {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  setter.call(el, value);
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

function fakeApi(over: Partial<Record<keyof Api, unknown>> = {}): Api {
  const viewerSnap: RoomSnapshot = snapshot({ live: false }, { userId: 'u1', displayName: 'Ann', role: 'viewer' });
  return {
    roomInfo: vi.fn(async () => ({ id: 'demo', title: 'Demo class', live: false, hlsUrl: '/hls/demo/index.m3u8', viewers: 4 })),
    session: vi.fn(async () => {
      throw new ApiError(401, 'unauthorized', 'no session');
    }),
    join: vi.fn(async (_r: string, _i: string, name: string) => ({ token: 't', userId: 'u1', role: 'viewer', displayName: name, roomId: 'demo', expiresAt: 0 })),
    state: vi.fn(async () => viewerSnap),
    raiseHand: vi.fn(async () => ({ raised: true, position: 3, changed: true })),
    lowerHand: vi.fn(async () => ({ raised: false, userId: 'u1', changed: true })),
    ...over,
  } as unknown as Api;
}

describe('join page', () => {
  it('asks for a name, joins with the invite, and enters the viewer page', async () => {
    const api = fakeApi();
    history.replaceState(null, '', '/r/demo#invite=CODE1');
    act(() => root.render(<RoomEntry api={api} roomId="demo" invite="CODE1" />));
    await flush();
    const name = $('join-name') as HTMLInputElement;
    expect(name).not.toBeNull();
    expect(container.textContent).toContain('Demo class');
    act(() => setInput(name, '  Ann  '));
    await act(async () => {
      $('join-submit')!.click();
    });
    await flush();
    expect(api.join).toHaveBeenCalledWith('demo', 'CODE1', 'Ann');
    // the viewer page: event stream of this user, the hand, the not-live notice
    expect(NoopEventSource.opened).toEqual(['/api/rooms/demo/user-events']);
    expect($('raise-hand')).not.toBeNull();
    expect($('not-live')).not.toBeNull();
    expect(location.hash).toBe(''); // the invite left the address bar
    expect(localStorage.getItem('amphi.invite.demo.viewer')).toBe('CODE1');
  });

  it('shows why a join was refused', async () => {
    const api = fakeApi({
      join: vi.fn(async () => {
        throw new ApiError(403, 'invalid_invite', "this invite is not valid for room 'demo' (expired or rotated)");
      }),
    });
    act(() => root.render(<RoomEntry api={api} roomId="demo" invite="OLD" />));
    await flush();
    act(() => setInput($('join-name') as HTMLInputElement, 'Ann'));
    await act(async () => {
      $('join-submit')!.click();
    });
    await flush();
    expect($('join-error')!.textContent).toMatch(/expired or rotated/);
  });

  it('with a session in this browser: says which role and offers to continue', async () => {
    const api = fakeApi({
      session: vi.fn(async () => ({ userId: 'm1', role: 'moderator', displayName: 'Prof', roomId: 'demo', expiresAt: 0 })),
    });
    act(() => root.render(<RoomEntry api={api} roomId="demo" invite={null} />));
    await flush();
    expect($('session-role')!.textContent).toMatch(/as moderator \(Prof\)/);
    expect($('join-continue')!.textContent).toMatch(/Continue/);
    expect($('join-name')).toBeNull(); // no invite: no new join offered
  });

  it('without a session or an invite: explains that an invite is needed', async () => {
    act(() => root.render(<RoomEntry api={fakeApi()} roomId="demo" invite={null} />));
    await flush();
    expect(container.textContent).toMatch(/need an invite link/);
  });

  it('an unknown room says so', async () => {
    const api = fakeApi({
      roomInfo: vi.fn(async () => {
        throw new ApiError(404, 'not_found', "no room 'nope'");
      }),
    });
    act(() => root.render(<RoomEntry api={api} roomId="nope" invite="x" />));
    await flush();
    expect(container.textContent).toMatch(/no room “nope”/);
  });
});

describe('viewer page', () => {
  it('raising the hand shows the place in line and offers to lower it', async () => {
    sessionStorage.setItem('amphi.entered.demo', '1');
    const api = fakeApi({
      session: vi.fn(async () => ({ userId: 'u1', role: 'viewer', displayName: 'Ann', roomId: 'demo', expiresAt: 0 })),
    });
    // no getUserMedia in jsdom: the warm-up fails quietly
    act(() => root.render(<RoomEntry api={api} roomId="demo" invite={null} />));
    await flush();
    await act(async () => {
      $('raise-hand')!.click();
    });
    await flush();
    expect(api.raiseHand).toHaveBeenCalledWith('demo');
    expect($('queue-position')!.textContent).toMatch(/3rd in line/);
    expect($('lower-hand')).not.toBeNull();
    expect(window.__amphi?.mode).toBe('passive');
    expect(window.__amphi?.handPosition).toBe(3);
    await act(async () => {
      $('lower-hand')!.click();
    });
    await flush();
    expect($('raise-hand')).not.toBeNull();
  });

  it('with the hand up, a stage change re-reads the place in line (no fast polling)', async () => {
    sessionStorage.setItem('amphi.entered.demo', '1');
    let position: number | null = null;
    const api = fakeApi({
      session: vi.fn(async () => ({ userId: 'u1', role: 'viewer', displayName: 'Ann', roomId: 'demo', expiresAt: 0 })),
      state: vi.fn(async () =>
        snapshot(
          { live: true, lastEventId: position === 2 ? 200 : 100 },
          { userId: 'u1', displayName: 'Ann', role: 'viewer', handPosition: position },
        ),
      ),
      raiseHand: vi.fn(async () => {
        position = 3;
        return { raised: true, position: 3, changed: true };
      }),
    });
    act(() => root.render(<RoomEntry api={api} roomId="demo" invite={null} />));
    await flush();
    await act(async () => $('raise-hand')!.click());
    await flush();
    expect($('queue-position')!.textContent).toMatch(/3rd in line/);
    const reads = vi.mocked(api.state).mock.calls.length;
    position = 2; // the person ahead was promoted
    act(() => NoopEventSource.last!.frame('STAGE_CHANGED', 200, { userId: 'x', stage: [{ userId: 'x', displayName: 'X', since: 1 }] }));
    await flush();
    expect(vi.mocked(api.state).mock.calls.length).toBe(reads + 1);
    expect($('queue-position')!.textContent).toMatch(/2nd in line/);
  });
});

describe('moderator console', () => {
  function moderatorApi(snap: RoomSnapshot) {
    sessionStorage.setItem('amphi.entered.demo', '1');
    return fakeApi({
      session: vi.fn(async () => ({ userId: 'm1', role: 'moderator', displayName: 'Prof', roomId: 'demo', expiresAt: 0 })),
      state: vi.fn(async () => snap),
      setLive: vi.fn(async () => ({ live: true, changed: true })),
      promote: vi.fn(async () => ({})),
      lowerHand: vi.fn(async () => ({})),
      demote: vi.fn(async () => ({})),
      invites: vi.fn(async () => ({
        id: 'demo',
        title: 'Demo class',
        maxStage: 2,
        invites: {
          moderator: { code: 'mc0de', link: 'http://class.example/r/demo#invite=mc0de' },
          viewer: { code: 'vc0de', link: 'http://class.example/r/demo#invite=vc0de' },
        },
      })),
      // the moderator's own stage join fails here (no camera in jsdom): shown, not fatal
      stageCredentials: vi.fn(async () => {
        throw new ApiError(503, 'unavailable', 'the stage is not available');
      }),
    });
  }

  it('shows the invite links read from the server, ready to copy', async () => {
    const api = moderatorApi(snapshot({}, { userId: 'm1', displayName: 'Prof', role: 'moderator' }));
    act(() => root.render(<RoomEntry api={api} roomId="demo" invite={null} />));
    await flush();
    expect(api.invites).toHaveBeenCalledWith('demo');
    expect(($('invite-viewer') as HTMLInputElement).value).toBe('http://class.example/r/demo#invite=vc0de');
    expect(($('invite-moderator') as HTMLInputElement).value).toBe('http://class.example/r/demo#invite=mc0de');
    const copy = container.querySelector('button[aria-label="Copy the viewer link"]');
    expect(copy).not.toBeNull();
  });

  it('shows the queue from /state, applies new events, ignores stale ones', async () => {
    const snap = snapshot(
      {
        lastEventId: 50,
        maxStage: 2,
        hands: [{ userId: 'a', displayName: 'Ada', raisedAt: Date.now() - 10_000, position: 1 }],
      },
      { userId: 'm1', displayName: 'Prof', role: 'moderator' },
    );
    const api = moderatorApi(snap);
    act(() => root.render(<RoomEntry api={api} roomId="demo" invite={null} />));
    await flush();
    expect(NoopEventSource.opened).toEqual(['/api/rooms/demo/events']);
    expect($('queue-item-a')).not.toBeNull();
    expect($('stage-error')!.textContent).toMatch(/not available/);
    const es = NoopEventSource.last!;
    act(() => {
      es.frame('RAISE_HAND', 49, { userId: 'old', displayName: 'Old' }); // reflected in the snapshot
      es.frame('RAISE_HAND', 51, { userId: 'b', displayName: 'Bob' });
    });
    expect($('queue-item-old')).toBeNull();
    const order = [...container.querySelectorAll('[data-testid^="queue-item-"]')].map((e) => e.getAttribute('data-testid'));
    expect(order).toEqual(['queue-item-a', 'queue-item-b']);

    await act(async () => $('promote-a')!.click());
    expect(api.promote).toHaveBeenCalledWith('demo', 'a');
    await act(async () => $('dismiss-b')!.click());
    expect(api.lowerHand).toHaveBeenCalledWith('demo', 'b');
    await act(async () => $('go-live')!.click());
    expect(api.setLive).toHaveBeenCalledWith('demo', true);

    // the stage fills up: Promote is disabled with the reason
    act(() =>
      es.frame('STAGE_CHANGED', 52, {
        userId: 'x',
        stage: [
          { userId: 'x', displayName: 'X', since: 1 },
          { userId: 'y', displayName: 'Y', since: 2 },
        ],
      }),
    );
    expect(($('promote-a') as HTMLButtonElement).disabled).toBe(true);
    expect($('promote-blocked')!.textContent).toMatch(/full \(2 of 2\)/);
    expect($('demote-x')).not.toBeNull();
    act(() => es.frame('ROOM_LIVE', 53, { userId: 'm1' }));
    expect($('live-badge')!.getAttribute('data-live')).toBe('true');
    expect($('end-live')).not.toBeNull();

    // the stream drops: the banner shows
    act(() => {
      es.readyState = 0;
      es.onerror?.();
    });
    expect($('conn-banner')).not.toBeNull();
  });
});

describe('moderator widgets', () => {
  const hands = [
    { userId: 'a', displayName: 'Ada', raisedAt: Date.now() - 65_000 },
    { userId: 'b', displayName: 'Bob', raisedAt: Date.now() - 5_000 },
  ];

  it('the hand queue lists hands in order with time waited and named buttons', () => {
    const onPromote = vi.fn();
    const onDismiss = vi.fn();
    vi.useFakeTimers({ toFake: ['Date'] }); // the wait shown does not depend on how slow this run is
    vi.setSystemTime(hands[0].raisedAt + 65_000);
    try {
      act(() => root.render(<HandQueue hands={hands} promoteBlocked={null} busy={new Set()} onPromote={onPromote} onDismiss={onDismiss} />));
    } finally {
      vi.useRealTimers();
    }
    const items = container.querySelectorAll('[data-testid^="queue-item-"]');
    expect([...items].map((i) => i.getAttribute('data-testid'))).toEqual(['queue-item-a', 'queue-item-b']);
    expect($('queue-item-a')!.textContent).toMatch(/1 min 05 s/);
    expect($('promote-a')!.getAttribute('aria-label')).toBe('Promote Ada to the stage');
    expect($('dismiss-b')!.getAttribute('aria-label')).toBe("Dismiss Bob's hand");
    act(() => $('promote-a')!.click());
    act(() => $('dismiss-b')!.click());
    expect(onPromote).toHaveBeenCalledWith(hands[0]);
    expect(onDismiss).toHaveBeenCalledWith(hands[1]);
  });

  it('Promote is disabled with the reason when the stage is full', () => {
    const reason = 'The stage is full (2 of 2): demote someone first.';
    act(() => root.render(<HandQueue hands={hands} promoteBlocked={reason} busy={new Set()} onPromote={vi.fn()} onDismiss={vi.fn()} />));
    const btn = $('promote-a') as HTMLButtonElement;
    expect(btn.disabled).toBe(true);
    expect(btn.getAttribute('aria-describedby')).toBe('promote-blocked');
    expect(container.querySelector('#promote-blocked')!.textContent).toBe(reason);
    expect(($('dismiss-a') as HTMLButtonElement).disabled).toBe(false);
  });

  it('the stage list offers Demote per person', () => {
    const onDemote = vi.fn();
    act(() =>
      root.render(<StageList stage={[{ userId: 's', displayName: 'Sue', since: 1 }]} maxStage={4} busy={new Set()} onDemote={onDemote} />),
    );
    expect($('stage-count')!.textContent).toBe('1 / 4');
    act(() => $('demote-s')!.click());
    expect(onDemote).toHaveBeenCalled();
  });

  it('the connection banner shows only while the stream is down', () => {
    act(() => root.render(<ConnBanner conn="open" />));
    expect($('conn-banner')).toBeNull();
    act(() => root.render(<ConnBanner conn="down" />));
    expect($('conn-banner')!.getAttribute('role')).toBe('status');
  });
});

describe('routes', () => {
  it('reads room and invite from /r/<room>#invite=<code>', () => {
    expect(parseRoute('/r/demo', '#invite=abc')).toEqual({ kind: 'room', roomId: 'demo', invite: 'abc' });
    expect(parseRoute('/r/demo/', '')).toEqual({ kind: 'room', roomId: 'demo', invite: null });
    expect(parseRoute('/', '')).toEqual({ kind: 'home' });
    expect(parseRoute('/r/BAD_ID', '').kind).toBe('not-found');
    expect(parseRoute('/x/demo', '').kind).toBe('not-found');
  });
});
