// Pacing camera frames to the kernel. At most one frame is in flight: the next goes only once the kernel has
// answered the last (`frame_done`); and at most MAX_FPS frames a second. A frame offered while one is in flight, or
// too soon after the last, is dropped and counted — frames are never queued, so a slow kernel sees fewer frames,
// not a growing backlog.

/** Frames a second, at most. */
export const MAX_FPS = 5;
/** Frames are downscaled in the browser to at most this many pixels on their longer side before they are sent. */
export const FRAME_SIDE = 320;

/**
 * @param {{maxFps?: number}} [options]
 */
export function createFrameGate({ maxFps = MAX_FPS } = {}) {
  const interval = 1000 / maxFps;
  /** @type {number|null} */
  let inFlight = null;
  let lastSent = -Infinity;
  let seq = 0;
  /** sent: frames let through; answered: frames the kernel answered; busy: dropped while one was in flight;
   * early: dropped to keep under maxFps. */
  const counts = { sent: 0, answered: 0, busy: 0, early: 0 };
  return {
    counts,
    /**
     * May a frame captured at `now` (ms) go? If so it is in flight from now on, with the returned sequence number;
     * `null`: drop it.
     * @param {number} now
     * @returns {number|null}
     */
    take(now) {
      if (inFlight !== null) {
        counts.busy++;
        return null;
      }
      if (now - lastSent < interval) {
        counts.early++;
        return null;
      }
      seq += 1;
      inFlight = seq;
      lastSent = now;
      counts.sent++;
      return seq;
    },
    /**
     * Frame `s` was answered (or never left): the next may go. Any other number is ignored.
     * @param {number} s
     */
    answered(s) {
      if (s !== inFlight) return false;
      inFlight = null;
      counts.answered++;
      return true;
    },
    /** Forget the frame in flight (the camera was stopped; its answer, if it comes, is ignored). */
    reset() {
      inFlight = null;
    },
    get inFlight() {
      return inFlight;
    },
  };
}

/**
 * The banner's words for a getUserMedia failure.
 * @param {{name?: string, message?: string}|null|undefined} error
 */
export function cameraProblem(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera access was refused. Allow the camera for this page (the camera icon in the address bar, or the "
        + "browser's site settings), then press Camera again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found. Connect one (or use a photo: drop a file or pick a sample), then press Camera "
        + "again.";
    case "NotReadableError":
    case "AbortError":
      return "The camera could not be started: another application may be using it. Close it and press Camera again.";
    case "NoMediaDevices":
      return "This page cannot use a camera: browsers allow it only on secure pages (https:// or localhost).";
    default:
      return `The camera could not be started: ${error?.message || error?.name || "unknown error"}.`;
  }
}
