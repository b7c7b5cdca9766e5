// Real readiness of media, from the browser's own signals (no fixed delays).

type FrameCallbackVideo = HTMLVideoElement & {
  requestVideoFrameCallback?: (cb: () => void) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

/**
 * Resolves when `stream` has produced a first video frame (or, audio only, when it
 * plays), observed in an off-screen muted <video>: requestVideoFrameCallback where the
 * browser has it, else 'loadeddata' / 'playing'. Rejects when `signal` aborts.
 */
export function firstFrame(stream: MediaStream, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted'));
      return;
    }
    const video = document.createElement('video') as FrameCallbackVideo;
    video.muted = true;
    video.playsInline = true;
    let frameHandle: number | null = null;
    const cleanup = () => {
      video.removeEventListener('loadeddata', onData);
      video.removeEventListener('playing', onData);
      signal?.removeEventListener('abort', onAbort);
      if (frameHandle != null) video.cancelVideoFrameCallback?.(frameHandle);
      video.pause();
      video.srcObject = null;
    };
    const onData = () => {
      cleanup();
      resolve();
    };
    const onAbort = () => {
      cleanup();
      reject(new Error('aborted'));
    };
    video.addEventListener('loadeddata', onData);
    video.addEventListener('playing', onData);
    signal?.addEventListener('abort', onAbort);
    if (stream.getVideoTracks().length > 0 && typeof video.requestVideoFrameCallback === 'function') {
      frameHandle = video.requestVideoFrameCallback(onData);
    }
    video.srcObject = stream;
    const played = video.play();
    if (played && typeof played.catch === 'function') played.catch(() => undefined);
  });
}

/** Camera and microphone; falls back to one of them when the other is missing. */
export async function openCamera(
  getUserMedia: (c: MediaStreamConstraints) => Promise<MediaStream> = (c) => navigator.mediaDevices.getUserMedia(c),
): Promise<MediaStream> {
  const video: MediaTrackConstraints = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };
  try {
    return await getUserMedia({ audio: true, video });
  } catch (first) {
    const name = first instanceof Error ? first.name : '';
    // permission refused: asking again for less will not help
    if (name === 'NotAllowedError' || name === 'SecurityError') throw first;
    for (const c of [{ audio: true }, { video }] as MediaStreamConstraints[]) {
      try {
        return await getUserMedia(c);
      } catch {
        /* try the next */
      }
    }
    throw first;
  }
}

export function mediaErrorMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  switch (e.name) {
    case 'NotAllowedError':
      return 'permission was refused (allow camera and microphone for this site)';
    case 'NotFoundError':
      return 'no camera or microphone found';
    case 'NotReadableError':
      return 'the camera or microphone is in use by another program';
    default:
      return e.message || e.name;
  }
}

export function stopStream(stream: MediaStream | null | undefined): void {
  for (const t of stream?.getTracks() ?? []) t.stop();
}
