// Pacing the panels' redraws of the selection. A click redraws at once; in a burst of clicks (a held arrow key, a
// hundred clicks a second) the panels redraw the newest selection at most once every `interval` ms, not once per
// click: in JupyterLab every frame costs ~6 ms whatever changed, and the panels' work per change ~4 ms more, so a
// page redrawing every click of a burst fell seconds behind it (issue 12). The model itself changes at once — the
// kernel is told by the selection gate, and an answer is painted as soon as it arrives (its own event, not paced).
// Pure: the clock, timers and the end of the current task are passed in.

/** ms between two redraws during a burst. */
export const REDRAW_INTERVAL = 80;

/**
 * @param {{interval?: number, now?: () => number, setTimer?: typeof setTimeout, clearTimer?: typeof clearTimeout,
 *   afterTask?: (fn: () => void) => void}} [options]  `afterTask`: run `fn` once the current task's code is done
 *   (a microtask): every change made in the task that opened a window redraws at once, as one click sets several
 *   traits (a layer and its channel)
 */
export function createRedrawPacer({ interval = REDRAW_INTERVAL, now = () => performance.now(),
  setTimer = setTimeout, clearTimer = clearTimeout, afterTask = queueMicrotask } = {}) {
  let windowEnd = -Infinity;
  let inTask = false;
  /** @type {any} */
  let timer = null;
  /** @type {Set<Function>} */
  const pending = new Set();
  /** run: redraws run at once; held: redraws held back (each ran once, later, with others). */
  const counts = { run: 0, held: 0 };

  function open() {
    windowEnd = now() + interval;
    inTask = true;
    afterTask(() => {
      inTask = false;
    });
  }

  function flush() {
    timer = null;
    open();
    const fns = [...pending];
    pending.clear();
    for (const fn of fns) {
      counts.run++;
      fn();
    }
  }

  return {
    counts,
    /**
     * Redraw with `fn` now, or once at the end of the burst's window (the same `fn` asked for twice runs once).
     * @param {Function} fn
     */
    call(fn) {
      if (!inTask && now() >= windowEnd) open();
      if (inTask) {
        counts.run++;
        fn();
        return;
      }
      counts.held++;
      pending.add(fn);
      if (timer === null) timer = setTimer(flush, Math.max(0, windowEnd - now()));
    },
    /** Stop: nothing held back runs. */
    close() {
      clearTimer(timer);
      timer = null;
      pending.clear();
    },
  };
}
