import { useEffect, useRef } from 'react';

interface Props {
  stream: MediaStream;
  label: string;
  testId: string;
  /** this user's own preview: muted, mirrored */
  self?: boolean;
  /** the other side's audio is allowed to play (false until the user allowed sound) */
  audible?: boolean;
  /** autoplay with sound was refused: the page asks for a click */
  onSoundBlocked?: () => void;
  videoOff?: boolean;
}

/** One person on stage: a <video> bound to a MediaStream. */
export function VideoTile({ stream, label, testId, self = false, audible = true, onSoundBlocked, videoOff }: Props) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    if (video.srcObject !== stream) video.srcObject = stream;
    video.muted = self || !audible;
    video.play().catch((e: unknown) => {
      if (e instanceof Error && e.name === 'NotAllowedError' && !video.muted) {
        video.muted = true; // play the picture now, the sound after a click
        onSoundBlocked?.();
        video.play().catch(() => undefined);
      }
    });
  }, [stream, self, audible, onSoundBlocked]);
  useEffect(() => {
    const video = ref.current;
    return () => {
      if (video) video.srcObject = null;
    };
  }, []);
  return (
    <figure className={`tile${self ? ' tile-self' : ''}`}>
      <video ref={ref} data-testid={testId} autoPlay playsInline muted={self} aria-label={label} />
      {videoOff && <div className="tile-off">Camera off</div>}
      <figcaption>{label}</figcaption>
    </figure>
  );
}
