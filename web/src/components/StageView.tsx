import { useCallback, useState } from 'react';
import type { StageView as View } from '../stage/controller';
import { VideoTile } from './VideoTile';

interface Props {
  view: View;
  /** user id → display name (stage list; unknown ids are the host) */
  names: Map<string, string>;
  selfName: string;
  onLeave: () => void;
  onToggleAudio: () => void;
  onToggleVideo: () => void;
  leaveLabel?: string;
}

/** The live stage over WebRTC: everyone's video, the own preview and the controls. */
export function StageView({ view, names, selfName, onLeave, onToggleAudio, onToggleVideo, leaveLabel = 'Leave stage' }: Props) {
  const [soundBlocked, setSoundBlocked] = useState(false);
  const [soundAllowed, setSoundAllowed] = useState(false);
  const blocked = useCallback(() => setSoundBlocked(true), []);
  const audible = !soundBlocked || soundAllowed;
  return (
    <section className="stage" data-testid="stage" aria-label="Stage">
      <div className={`tiles tiles-${Math.min(view.feeds.length + 1, 4)}`}>
        {view.feeds.map((f) => (
          <VideoTile
            key={f.feedId}
            stream={f.stream}
            testId={`stage-video-${f.userId}`}
            label={names.get(f.userId) ?? 'Host'}
            audible={audible}
            onSoundBlocked={blocked}
          />
        ))}
        {view.local && (
          <VideoTile stream={view.local} testId="self-preview" label={`${selfName} (you)`} self videoOff={!view.videoOn} />
        )}
      </div>
      {view.feeds.length === 0 && <p className="hint">Nobody else is on stage yet.</p>}
      <div className="controls" role="group" aria-label="Your microphone and camera">
        {soundBlocked && !soundAllowed && (
          <button type="button" className="primary" onClick={() => setSoundAllowed(true)} data-testid="stage-sound">
            Turn on stage sound
          </button>
        )}
        <button type="button" aria-pressed={!view.audioOn} onClick={onToggleAudio} data-testid="toggle-mic">
          {view.audioOn ? 'Mute microphone' : 'Unmute microphone'}
        </button>
        <button type="button" aria-pressed={!view.videoOn} onClick={onToggleVideo} data-testid="toggle-camera">
          {view.videoOn ? 'Turn camera off' : 'Turn camera on'}
        </button>
        <button type="button" className="danger" onClick={onLeave} data-testid="leave-stage">
          {leaveLabel}
        </button>
      </div>
    </section>
  );
}
