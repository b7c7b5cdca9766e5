// One StageController per room session, read by React through useSyncExternalStore.
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { Api } from '../api/client';
import type { Role } from '../api/types';
import { exposeDebug } from '../debug';
import { StageLink } from '../janus/stageLink';
import { firstFrame, openCamera } from '../media/readiness';
import { StageController, type StageView } from '../stage/controller';
import { describeError, initialStage } from '../state/stage';
import { viaPageOrigin } from './urls';

const idle: StageView = {
  state: initialStage,
  warm: 'off',
  warmError: null,
  local: null,
  feeds: [],
  audioOn: true,
  videoOn: true,
};

const noop = () => () => undefined;

export function useStage(api: Api, roomId: string, userId: string, role: Role): { controller: StageController | null; view: StageView } {
  const [controller, setController] = useState<StageController | null>(null);
  useEffect(() => {
    const c = new StageController({
      roomId,
      userId,
      role,
      api,
      openLink: (creds) =>
        StageLink.open({ creds: { ...creds, janusUrl: viaPageOrigin(creds.janusUrl) }, selfUserId: userId }),
      openCamera: () => openCamera(),
      firstFrame,
      onTransition: (s, view) =>
        exposeDebug({
          mode: s.mode,
          attempt: s.attempt,
          step: s.step,
          error: s.error ? describeError(s.error) : null,
          errorKind: s.error?.kind ?? null,
          notice: s.notice,
          warm: view.warm,
          feeds: view.feeds.map((f) => f.userId),
        }),
    });
    setController(c);
    exposeDebug({ mode: 'passive', warm: 'off', feeds: [] });
    return () => c.dispose();
  }, [api, roomId, userId, role]);
  const view = useSyncExternalStore(controller?.subscribe ?? noop, controller?.getView ?? (() => idle));
  useEffect(() => {
    exposeDebug({ warm: view.warm, feeds: view.feeds.map((f) => f.userId) });
  }, [view.warm, view.feeds]);
  return { controller, view };
}
