import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Api } from '../api/client';
import type { RoomEvent, RoomSnapshot, SessionInfo } from '../api/types';
import { ConnBanner } from '../components/ConnBanner';
import { HlsPlayer } from '../components/HlsPlayer';
import { RoomHeader } from '../components/RoomHeader';
import { StageView } from '../components/StageView';
import { VideoTile } from '../components/VideoTile';
import { exposeDebug } from '../debug';
import type { PlayerStatus } from '../media/livePlayer';
import { queueLabel } from '../state/room';
import { describeError, STEP_LABELS } from '../state/stage';
import { viaPageOrigin } from './urls';
import { useRoom } from './useRoom';
import { useStage } from './useStage';

/** How often a viewer with the hand up re-reads its place in line, besides stage changes. */
export const HAND_REFRESH_MS = 20_000;

interface Props {
  api: Api;
  roomId: string;
  me: SessionInfo;
}

/** A viewer: the LL-HLS stream, the hand, and the stage once promoted. */
export function ViewerRoom({ api, roomId, me }: Props) {
  const { controller, view } = useStage(api, roomId, me.userId, 'viewer');
  const ctrl = useRef(controller);
  ctrl.current = controller;
  const handUpRef = useRef(false);
  const refetchRef = useRef<() => void>(() => {});

  const onEvent = useCallback(
    (e: RoomEvent) => {
      const c = ctrl.current;
      if (!c) return;
      if (e.type === 'PROMOTE' && e.userId === me.userId) c.dispatch({ type: 'join' });
      else if (e.type === 'DEMOTE' && e.userId === me.userId) c.dispatch({ type: 'demoted', reason: e.reason });
      else if (e.type === 'STAGE_CHANGED') {
        c.refreshFeeds();
        // someone ahead in line may have gone on stage: the place in line is stale
        if (handUpRef.current) refetchRef.current();
      }
    },
    [me.userId],
  );
  // A reload while on stage: the first snapshot has this user on stage, back on. Only
  // before any join of this page: later, a snapshot may predate our own leave.
  const onSnapshot = useCallback((s: RoomSnapshot) => {
    const c = ctrl.current;
    if (c && s.you.onStage && c.mode === 'passive' && c.getView().state.attempt === 0) c.dispatch({ type: 'join' });
  }, []);
  const { model, conn, dispatch, refetch, loadError } = useRoom(api, roomId, 'viewer', { onEvent, onSnapshot });
  refetchRef.current = refetch;

  // the controller may be created after the first snapshot: catch up once
  const caughtUp = useRef(false);
  useEffect(() => {
    if (!controller || caughtUp.current || !model.loaded) return;
    caughtUp.current = true;
    if (model.me?.onStage && controller.mode === 'passive' && controller.getView().state.attempt === 0) {
      controller.dispatch({ type: 'join' });
    }
  }, [controller, model.loaded, model.me?.onStage]);

  const [hlsUrl, setHlsUrl] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    const load = () =>
      api
        .roomInfo(roomId)
        .then((info) => {
          if (cancelled) return;
          setHlsUrl(viaPageOrigin(info.hlsUrl));
          dispatch({ type: 'info', title: info.title, live: info.live, viewers: info.viewers });
        })
        .catch(() => {
          if (!cancelled) setTimeout(load, 3000);
        });
    load();
    return () => {
      cancelled = true;
    };
  }, [api, roomId, dispatch]);

  const handUp = model.me?.handPosition != null;
  handUpRef.current = handUp;
  const mode = view.state.mode;

  // With the hand up: warm up (camera permission, subscribe-only stage connection).
  useEffect(() => {
    controller?.setWarm(handUp && mode === 'passive');
  }, [controller, handUp, mode]);

  // Others' hands are invisible to a viewer: besides the refresh on every stage change
  // (above), a slow backstop catches hands lowered ahead in line.
  useEffect(() => {
    if (!handUp) return;
    const t = setInterval(refetch, HAND_REFRESH_MS);
    return () => clearInterval(t);
  }, [handUp, refetch]);

  const [handBusy, setHandBusy] = useState(false);
  const [handError, setHandError] = useState<string | null>(null);
  const hand = async (raise: boolean) => {
    setHandBusy(true);
    setHandError(null);
    try {
      if (raise) {
        const r = await api.raiseHand(roomId);
        dispatch({ type: 'own-hand', position: r.position });
      } else {
        await api.lowerHand(roomId);
        dispatch({ type: 'own-hand', position: null });
      }
    } catch (e) {
      setHandError((e as Error).message);
    } finally {
      setHandBusy(false);
    }
  };

  const [player, setPlayer] = useState<PlayerStatus | null>(null);
  const onPlayerStatus = useCallback((s: PlayerStatus) => setPlayer(s), []);
  const showStage = mode === 'stage';
  const playing = model.live && !showStage && hlsUrl;

  useEffect(() => {
    exposeDebug({
      live: model.live,
      handPosition: model.me?.handPosition ?? null,
      onStage: model.me?.onStage ?? false,
      conn,
      player: playing ? (player?.state ?? 'loading') : null,
      latency: playing ? (player?.latency ?? null) : null,
    });
  }, [model.live, model.me?.handPosition, model.me?.onStage, conn, player, playing]);

  const names = useMemo(() => new Map(model.stage.map((s) => [s.userId, s.displayName])), [model.stage]);
  const title = model.title || roomId;

  return (
    <div className="room viewer">
      <RoomHeader title={title} live={model.live} viewers={model.viewers} latency={playing ? player?.latency : null}>
        <span className="me">{me.displayName}</span>
      </RoomHeader>
      <ConnBanner conn={conn} />
      {loadError && (
        <p className="error" role="alert" data-testid="load-error">
          Cannot load the room: {loadError}
        </p>
      )}
      <main>
        {showStage ? (
          <StageView
            view={view}
            names={names}
            selfName={me.displayName}
            onLeave={() => controller?.dispatch({ type: 'leave' })}
            onToggleAudio={() => controller?.toggleAudio()}
            onToggleVideo={() => controller?.toggleVideo()}
          />
        ) : playing ? (
          <HlsPlayer url={hlsUrl} onStatus={onPlayerStatus} />
        ) : (
          <div className="notice" role="status" data-testid="not-live">
            <p>
              <strong>The class is not live{model.loaded ? '' : ' yet'}.</strong>
            </p>
            <p>The video starts by itself when the host goes live.</p>
          </div>
        )}
        {mode === 'joining' && (
          <p className="joining" role="status" data-testid="stage-joining">
            You are invited on stage. {STEP_LABELS[view.state.step ?? 'credentials']}
          </p>
        )}
        {mode === 'leaving' && (
          <p className="joining" role="status">
            Leaving the stage…
          </p>
        )}
        <StageMessages
          error={view.state.error ? describeError(view.state.error) : null}
          notice={view.state.notice}
          onDismiss={() => controller?.dispatch({ type: 'clear-error' })}
        />
        {!showStage && mode !== 'joining' && (
          <section className="hand" aria-label="Ask to speak">
            {handUp ? (
              <>
                <p className="position" data-testid="queue-position" aria-live="polite">
                  Hand raised — {queueLabel(model.me!.handPosition!)}
                </p>
                <button type="button" disabled={handBusy} onClick={() => void hand(false)} data-testid="lower-hand">
                  Lower hand
                </button>
                <WarmStatus warm={view.warm} error={view.warmError} local={view.local} />
              </>
            ) : (
              <button
                type="button"
                className="primary"
                disabled={handBusy || !model.loaded}
                onClick={() => void hand(true)}
                data-testid="raise-hand"
              >
                Raise hand
              </button>
            )}
            {handError && (
              <p className="error" role="alert">
                {handError}
              </p>
            )}
          </section>
        )}
      </main>
    </div>
  );
}

function StageMessages({ error, notice, onDismiss }: { error: string | null; notice: string | null; onDismiss: () => void }) {
  if (!error && !notice) return null;
  return (
    <div className={error ? 'stage-error' : 'stage-notice'} role={error ? 'alert' : 'status'}>
      <p data-testid={error ? 'stage-error' : 'stage-notice'}>{error ?? notice}</p>
      <button type="button" onClick={onDismiss} aria-label="Dismiss this message">
        OK
      </button>
    </div>
  );
}

function WarmStatus({ warm, error, local }: { warm: string; error: string | null; local: MediaStream | null }) {
  return (
    <div className="warm" data-testid="warm-status" data-warm={warm}>
      {warm === 'warming' && <p className="hint">Getting your camera ready for the stage…</p>}
      {warm === 'warm' && <p className="hint">Camera ready. Nothing is sent until the host puts you on stage.</p>}
      {warm === 'failed' && <p className="hint">Could not prepare the stage ({error}); you can still be promoted.</p>}
      {local && <VideoTile stream={local} testId="warm-preview" label="Your camera (not shared)" self />}
    </div>
  );
}
