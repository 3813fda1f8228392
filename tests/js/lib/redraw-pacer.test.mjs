import assert from "node:assert/strict";
import { test } from "node:test";
import { createRedrawPacer, REDRAW_INTERVAL } from "../../../js/src/lib/redraw-pacer.js";

/** A pacer on a clock and timers run by hand; `endTask()` ends the current task (runs its microtasks). */
function setup() {
  const clock = { now: 0 };
  const timers = new Map();
  const microtasks = [];
  let next = 1;
  const pacer = createRedrawPacer({
    now: () => clock.now,
    setTimer: (fn, ms) => { timers.set(next, { fn, at: clock.now + ms }); return next++; },
    clearTimer: (id) => timers.delete(id),
    afterTask: (fn) => microtasks.push(fn),
  });
  const endTask = () => { while (microtasks.length) microtasks.shift()(); };
  const advance = (t) => {
    endTask();
    for (const [id, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at > t) break;
      timers.delete(id);
      clock.now = timer.at;
      timer.fn();
      endTask();
    }
    clock.now = t;
  };
  return { pacer, advance, endTask, timers };
}

test("a click redraws at once: every change of its task, and each panel", () => {
  const { pacer } = setup();
  const runs = [];
  pacer.call(() => runs.push("grid"));
  pacer.call(() => runs.push("card")); // the same task: the layer, then its channel
  assert.deepEqual(runs, ["grid", "card"]);
});

test("a burst redraws once per REDRAW_INTERVAL, the newest state, and last once it is over", () => {
  const { pacer, advance } = setup();
  let runs = 0;
  const redraw = () => { runs++; };
  pacer.call(redraw); // t = 0: at once
  for (let t = 10; t <= 1000; t += 10) {
    advance(t);
    pacer.call(redraw);
  }
  advance(1000 + REDRAW_INTERVAL);
  assert.equal(runs, 1 + Math.ceil(1000 / REDRAW_INTERVAL));
  assert.equal(pacer.counts.run, runs);
  advance(5000);
  pacer.call(redraw); // quiet again
  assert.equal(runs, 2 + Math.ceil(1000 / REDRAW_INTERVAL));
});

test("closing drops the redraws held back", () => {
  const { pacer, advance, timers } = setup();
  let runs = 0;
  pacer.call(() => { runs++; });
  advance(10);
  pacer.call(() => { runs++; });
  pacer.close();
  advance(1000);
  assert.equal(runs, 1);
  assert.equal(timers.size, 0);
});
