// Pacing selections to the kernel: at most one in flight. A burst of clicks changes the selection in the page at
// once (every view of the model repaints from it), but the kernel is sent the first selection and then — when its
// answer arrives — the newest one, never those in between: a superseded selection costs no kernel work, and the last
// of 100 rapid clicks is answered after at most two computations, not after the 99 before it. (ipywidgets' models
// in JupyterLab hold back their sync messages until the kernel is idle, to the same effect; this holds on every host
// — marimo, VS Code, the test harness — and is released by the answer itself.) Like lib/frame-gate.js for camera
// frames, nothing is queued: the newest selection replaces the one waiting. Pure: the model and timers are passed in.

/** ms after which the selection waiting is sent even though no answer came (a selection the kernel refused). */
export const ANSWER_TIMEOUT = 2000;

/**
 * @param {{save_changes: () => void}} model
 * @param {{answered?: () => boolean, timeout?: number, setTimer?: typeof setTimeout,
 *   clearTimer?: typeof clearTimeout}} [options]  `answered()`: whether the result shown answers the model's
 *   current selection (then a waiting selection needs no message: the kernel is there already)
 */
export function createSelectionGate(model, { answered = () => false, timeout = ANSWER_TIMEOUT,
  setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  let inFlight = false;
  let waiting = false;
  /** @type {any} */
  let timer = null;
  /** sent: selections sent; held: changes held back while one was in flight (each superseded or sent later);
   * timeouts: sent after ANSWER_TIMEOUT without an answer. */
  const counts = { sent: 0, held: 0, timeouts: 0 };

  function send() {
    model.save_changes();
    inFlight = true;
    waiting = false;
    counts.sent++;
    clearTimer(timer);
    timer = setTimer(() => {
      counts.timeouts++;
      release();
    }, timeout);
  }

  function release() {
    if (!inFlight) return;
    inFlight = false;
    clearTimer(timer);
    timer = null;
    if (!waiting) return;
    if (answered()) waiting = false;
    else send();
  }

  return {
    counts,
    /** The selection changed in the model (already `set`): send it now, or once the one in flight is answered. */
    request() {
      if (inFlight) {
        waiting = true;
        counts.held++;
      } else {
        send();
      }
    },
    /** Something else changed (already `set`) and goes now; a selection waiting goes with it. */
    flush() {
      model.save_changes();
      waiting = false;
    },
    /** An answer came from the kernel (a result or an error): the next selection may go. */
    answer: release,
    /** Stop (the last view went): nothing more is sent. */
    close() {
      clearTimer(timer);
      timer = null;
      inFlight = waiting = false;
    },
    get inFlight() {
      return inFlight;
    },
    get waiting() {
      return waiting;
    },
  };
}
