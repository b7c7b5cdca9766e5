// The room model fed by the event stream and /state snapshots.
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import type { Api } from '../api/client';
import type { Role, RoomEvent, RoomSnapshot } from '../api/types';
import { EventGate } from '../state/gate';
import { RoomEventStream, type ConnState } from '../sse/eventStream';
import { emptyRoom, roomReducer, type RoomAction, type RoomModel } from '../state/room';

export interface RoomHandle {
  model: RoomModel;
  conn: ConnState;
  dispatch: (a: RoomAction) => void;
  /** fetch /state now */
  refetch: () => void;
  /** why the last /state fetch failed */
  loadError: string | null;
}

export interface RoomListeners {
  /** events that are news (not reflected in the snapshot), in order */
  onEvent(e: RoomEvent): void;
  /** every snapshot applied, after its held events */
  onSnapshot?(s: RoomSnapshot): void;
}

/**
 * Opens the room's event stream (moderators: /events; everyone else: /user-events),
 * then takes a snapshot; events at or below the snapshot's id are ignored by the model
 * and not passed to `onEvent`.
 */
export function useRoom(api: Api, roomId: string, role: Role, listeners: RoomListeners): RoomHandle {
  const [model, dispatch] = useReducer(roomReducer, roomId, emptyRoom);
  const [conn, setConn] = useState<ConnState>('connecting');
  const [loadError, setLoadError] = useState<string | null>(null);
  const listenersRef = useRef(listeners);
  listenersRef.current = listeners;
  const gate = useRef(new EventGate());
  const fetching = useRef(false);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const refetch = useCallback(() => {
    if (fetching.current) return;
    fetching.current = true;
    api
      .state(roomId)
      .then((snapshot) => {
        setLoadError(null);
        dispatch({ type: 'snapshot', snapshot });
        const fresh = gate.current.snapshot(snapshot.lastEventId);
        if (!fresh) return; // stale: the model ignores it as well
        listenersRef.current.onSnapshot?.(snapshot);
        for (const e of fresh) listenersRef.current.onEvent(e);
      })
      .catch((e: unknown) => {
        setLoadError(e instanceof Error ? e.message : String(e));
        if (retryTimer.current) clearTimeout(retryTimer.current);
        retryTimer.current = setTimeout(() => refetchRef.current(), 3000);
      })
      .finally(() => {
        fetching.current = false;
      });
  }, [api, roomId]);
  const refetchRef = useRef(refetch);
  refetchRef.current = refetch;

  useEffect(() => {
    gate.current = new EventGate();
    const path = role === 'moderator' ? 'events' : 'user-events';
    let wasOpen = false;
    const stream = new RoomEventStream({
      url: `/api/rooms/${encodeURIComponent(roomId)}/${path}`,
      onEvent: (e) => {
        dispatch({ type: 'event', event: e });
        for (const fresh of gate.current.event(e)) listenersRef.current.onEvent(fresh);
      },
      onState: (s) => {
        setConn(s);
        // back after an outage: resume replays what was missed; a snapshot also
        // refreshes what events never say (a viewer's place in the queue)
        if (s === 'open' && wasOpen) refetchRef.current();
        if (s === 'open') wasOpen = true;
      },
    });
    refetchRef.current();
    return () => {
      stream.close();
      if (retryTimer.current) clearTimeout(retryTimer.current);
    };
  }, [roomId, role]);

  // RESET: the stream skipped events it no longer holds; start again from /state
  useEffect(() => {
    if (model.needsRefetch) refetch();
  }, [model.needsRefetch, refetch]);

  return { model, conn, dispatch, refetch, loadError };
}
