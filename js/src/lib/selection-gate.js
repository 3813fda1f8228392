// Pacing selections to the kernel: at most one in flight. A burst of clicks changes the selection in the page at
// once (every view of the model shows it), but the kernel is sent the first selection and then — when its answer
// has arrived, and MIN_INTERVAL after the one before — the newest one, never those in between: a superseded
// selection costs no kernel work, and the last of 100 rapid clicks is answered after at most two computations, not
// after the 99 before it. The interval bounds a burst's round trips: in JupyterLab each costs the page ~7 ms (the
// kernel's busy/idle redraws the notebook's toolbar), and thirty a second kept a page that was also drawing the
// clicks seconds behind them. A click with nothing in flight goes at once, however soon after the last answer. (ipywidgets' models in JupyterLab hold back sync messages until
// the kernel is idle, but not on every host — marimo, VS Code, the test harness.) Like lib/frame-gate.js for
// camera frames, nothing is queued: the newest selection replaces the one waiting. Pure: the model, clock and timers
// are passed in.

/** ms after which the selection waiting is sent even though no answer came (a selection the kernel refused). */
export const ANSWER_TIMEOUT = 2000;
/** ms between two selections sent, at least. */
export const MIN_INTERVAL = 100;

/**
 * @param {{save_changes: () => void}} model
 * @param {{answered?: () => boolean, timeout?: number, minInterval?: number, now?: () => number,
 *   setTimer?: typeof setTimeout, clearTimer?: typeof clearTimeout}} [options]  `answered()`: whether the result
 *   shown answers the model's current selection (then a waiting selection needs no message: the kernel is there)
 */
export function createSelectionGate(model, { answered = () => false, timeout = ANSWER_TIMEOUT,
  minInterval = MIN_INTERVAL, now = () => performance.now(), setTimer = setTimeout,
  clearTimer = clearTimeout } = {}) {
  let inFlight = false;
  let waiting = false;
  let lastSent = -Infinity;
  /** @type {any} the answer's timeout */
  let timer = null;
  /** @type {any} the end of the interval, when a selection waits for it */
  let due = null;
  /** sent: selections sent; held: changes held back (each superseded or sent later); timeouts: sent on after
   * ANSWER_TIMEOUT without an answer. */
  const counts = { sent: 0, held: 0, timeouts: 0 };

  function send() {
    model.save_changes();
    inFlight = true;
    waiting = false;
    lastSent = now();
    counts.sent++;
    clearTimer(timer);
    timer = setTimer(() => {
      counts.timeouts++;
      release();
    }, timeout);
  }

  /** Send the selection waiting, unless the answer shown answers it already, or wait for the interval's end. */
  function next() {
    if (!waiting || inFlight || due !== null) return;
    if (answered()) {
      waiting = false;
    } else if (now() - lastSent >= minInterval) {
      send();
    } else {
      due = setTimer(() => {
        due = null;
        next();
      }, lastSent + minInterval - now());
    }
  }

  function release() {
    if (!inFlight) return;
    inFlight = false;
    clearTimer(timer);
    timer = null;
    next();
  }

  return {
    counts,
    /** The selection changed in the model (already `set`): send it now, or once the one in flight is answered. */
    request() {
      waiting = true;
      if (inFlight || due !== null) counts.held++;
      else send();
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
      clearTimer(due);
      timer = due = null;
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
