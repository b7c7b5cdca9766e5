import { useEffect, useRef, useState } from 'react';
import { LivePlayer, type PlayerStatus } from '../media/livePlayer';

interface Props {
  url: string;
  onStatus?: (s: PlayerStatus) => void;
}

/**
 * The composite stream, muted autoplay with a clear Unmute button. Mounting starts at
 * the live edge; unmounting stops all downloads.
 */
export function HlsPlayer({ url, onStatus }: Props) {
  const video = useRef<HTMLVideoElement>(null);
  const player = useRef<LivePlayer | null>(null);
  const [status, setStatus] = useState<PlayerStatus>({ state: 'loading', latency: null, engine: null, message: null });
  const [muted, setMuted] = useState(true);
  const statusRef = useRef(onStatus);
  statusRef.current = onStatus;

  useEffect(() => {
    const el = video.current;
    if (!el) return;
    const p = new LivePlayer(el, url, {
      onStatus: (s) => {
        setStatus(s);
        statusRef.current?.(s);
      },
    });
    player.current = p;
    void p.start();
    const onVolume = () => setMuted(el.muted);
    el.addEventListener('volumechange', onVolume);
    return () => {
      el.removeEventListener('volumechange', onVolume);
      p.destroy();
      player.current = null;
    };
  }, [url]);

  const unmute = () => {
    const el = video.current;
    if (!el) return;
    el.muted = false;
    setMuted(false);
    player.current?.resume();
  };

  const overlay =
    status.state === 'loading'
      ? 'Loading the stream…'
      : status.state === 'retrying' || status.state === 'unsupported'
        ? status.message
        : status.state === 'stalled'
          ? 'Buffering…'
          : null;

  return (
    <div className="player">
      <video ref={video} data-testid="hls-video" muted autoPlay playsInline aria-label="Live class video" />
      {overlay && (
        <div className="player-overlay" role="status">
          {overlay}
        </div>
      )}
      <div className="player-controls">
        {status.state === 'blocked' && (
          <button type="button" className="primary" onClick={() => player.current?.resume()} data-testid="play">
            Play
          </button>
        )}
        {muted ? (
          <button type="button" className="primary" onClick={unmute} data-testid="unmute">
            Unmute
          </button>
        ) : (
          <button
            type="button"
            onClick={() => {
              if (video.current) video.current.muted = true;
              setMuted(true);
            }}
            data-testid="mute"
          >
            Mute
          </button>
        )}
      </div>
    </div>
  );
}
