import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Api } from '../api/client';
import type { HandEntry, RoomEvent, SessionInfo, StageMember } from '../api/types';
import { ConnBanner } from '../components/ConnBanner';
import { HandQueue } from '../components/HandQueue';
import { InviteLinks } from '../components/InviteLinks';
import { RoomHeader } from '../components/RoomHeader';
import { StageList } from '../components/StageList';
import { StageView } from '../components/StageView';
import { exposeDebug } from '../debug';
import { stageFull } from '../state/room';
import { describeError, STEP_LABELS } from '../state/stage';
import { useRoom } from './useRoom';
import { useStage } from './useStage';

interface Props {
  api: Api;
  roomId: string;
  me: SessionInfo;
}

/** The moderator's console: own stage over WebRTC, live switch, hands, stage, invites. */
export function ModeratorRoom({ api, roomId, me }: Props) {
  const { controller, view } = useStage(api, roomId, me.userId, 'moderator');
  const ctrl = useRef(controller);
  ctrl.current = controller;
  const onEvent = useCallback((e: RoomEvent) => {
    if (e.type === 'STAGE_CHANGED') ctrl.current?.refreshFeeds();
  }, []);
  const { model, conn, loadError } = useRoom(api, roomId, 'moderator', { onEvent });

  // the moderator needs no promotion: on the stage from the start
  useEffect(() => {
    controller?.dispatch({ type: 'join' });
  }, [controller]);

  const [busy, setBusy] = useState<Set<string>>(new Set());
  const [actionError, setActionError] = useState<string | null>(null);
  const act = async (key: string, fn: () => Promise<unknown>) => {
    setBusy((b) => new Set(b).add(key));
    setActionError(null);
    try {
      await fn();
    } catch (e) {
      setActionError((e as Error).message);
    } finally {
      setBusy((b) => {
        const n = new Set(b);
        n.delete(key);
        return n;
      });
    }
  };

  const full = stageFull(model);
  const blocked = full ? `The stage is full (${model.stage.length} of ${model.maxStage}): demote someone first.` : null;
  const names = useMemo(() => new Map(model.stage.map((s) => [s.userId, s.displayName])), [model.stage]);
  const mode = view.state.mode;

  useEffect(() => {
    exposeDebug({ live: model.live, conn, onStage: mode === 'stage' });
  }, [model.live, conn, mode]);

  return (
    <div className="room moderator">
      <RoomHeader title={model.title || roomId} live={model.live} viewers={model.viewers}>
        <span className="count" data-testid="stage-members" aria-label={`${model.stage.length} on stage`}>
          {model.stage.length} on stage
        </span>
        {model.live ? (
          <button type="button" className="danger" disabled={busy.has('live')} onClick={() => void act('live', () => api.setLive(roomId, false))} data-testid="end-live">
            End broadcast
          </button>
        ) : (
          <button
            type="button"
            className="primary"
            disabled={busy.has('live') || !model.loaded}
            onClick={() => void act('live', () => api.setLive(roomId, true))}
            data-testid="go-live"
          >
            Go live
          </button>
        )}
      </RoomHeader>
      <ConnBanner conn={conn} />
      {loadError && (
        <p className="error" role="alert" data-testid="load-error">
          Cannot load the room: {loadError}
        </p>
      )}
      {actionError && (
        <p className="error" role="alert" data-testid="action-error">
          {actionError}
        </p>
      )}
      <div className="console">
        <main className="console-stage">
          {mode === 'stage' ? (
            <StageView
              view={view}
              names={names}
              selfName={me.displayName}
              onLeave={() => controller?.dispatch({ type: 'leave' })}
              onToggleAudio={() => controller?.toggleAudio()}
              onToggleVideo={() => controller?.toggleVideo()}
            />
          ) : (
            <div className="notice" role="status">
              {mode === 'joining' && <p>{STEP_LABELS[view.state.step ?? 'credentials']}</p>}
              {mode === 'leaving' && <p>Leaving the stage…</p>}
              {mode === 'passive' && (
                <>
                  {view.state.error ? (
                    <p className="error" data-testid="stage-error">
                      {describeError(view.state.error)}
                    </p>
                  ) : (
                    <p>You are not on the stage.</p>
                  )}
                  <button type="button" className="primary" onClick={() => controller?.dispatch({ type: 'join' })} data-testid="join-stage">
                    Join the stage with camera and microphone
                  </button>
                </>
              )}
            </div>
          )}
        </main>
        <aside className="console-side">
          <HandQueue
            hands={model.hands}
            promoteBlocked={blocked}
            busy={busy}
            onPromote={(h: HandEntry) => void act(h.userId, () => api.promote(roomId, h.userId))}
            onDismiss={(h: HandEntry) => void act(h.userId, () => api.lowerHand(roomId, h.userId))}
          />
          <StageList
            stage={model.stage}
            maxStage={model.maxStage}
            busy={busy}
            onDemote={(m: StageMember) => void act(m.userId, () => api.demote(roomId, m.userId))}
          />
          <InviteLinks api={api} roomId={roomId} />
        </aside>
      </div>
    </div>
  );
}
