import assert from "node:assert/strict";
import { test } from "node:test";
import { ANSWER_TIMEOUT, createSelectionGate, MIN_INTERVAL } from "../../../js/src/lib/selection-gate.js";

/** A model whose `save_changes` records the channel it would send; a clock and timers run by hand. */
function setup({ answered = () => false } = {}) {
  const model = { channel: 0, sent: [], save_changes() { this.sent.push(this.channel); } };
  const clock = { now: 1000 };
  const timers = new Map();
  let next = 1;
  const gate = createSelectionGate(model, {
    answered,
    now: () => clock.now,
    setTimer: (fn, ms) => { timers.set(next, { fn, at: clock.now + ms }); return next++; },
    clearTimer: (id) => timers.delete(id),
  });
  const click = (channel) => { model.channel = channel; gate.request(); };
  /** Move the clock to `t`, firing the timers due on the way. */
  const advance = (t) => {
    for (;;) {
      const [id, timer] = [...timers].filter(([, x]) => x.at <= t).sort((a, b) => a[1].at - b[1].at)[0] ?? [];
      if (!timer) break;
      timers.delete(id);
      clock.now = timer.at;
      timer.fn();
    }
    clock.now = t;
  };
  return { model, gate, timers, click, advance, clock };
}

test("100 rapid clicks send the first selection, then only the newest once it is answered", () => {
  const { model, gate, click, advance } = setup();
  for (let c = 1; c <= 100; c++) click(c);
  assert.deepEqual(model.sent, [1]);
  assert.equal(gate.counts.held, 99);
  advance(1000 + MIN_INTERVAL + 20);
  gate.answer(); // the kernel answers channel 1 after the interval: channel 100 goes at once, 2–99 never
  assert.deepEqual(model.sent, [1, 100]);
  gate.answer();
  assert.deepEqual(model.sent, [1, 100]);
  assert.equal(gate.inFlight, false);
  advance(2000);
  click(7); // quiet again: a click goes at once
  assert.deepEqual(model.sent, [1, 100, 7]);
});

test("a quick answer still leaves MIN_INTERVAL between two selections sent", () => {
  const { model, gate, click, advance } = setup();
  click(1);
  advance(1010);
  click(2);
  gate.answer(); // 10 ms after channel 1 went
  assert.deepEqual(model.sent, [1]);
  click(3); // the newest replaces the one waiting
  advance(1000 + MIN_INTERVAL - 1);
  assert.deepEqual(model.sent, [1]);
  advance(1000 + MIN_INTERVAL);
  assert.deepEqual(model.sent, [1, 3]);
  assert.equal(gate.inFlight, true);
});

test("a click with nothing in flight goes at once, however soon after the last answer", () => {
  const { model, gate, click, advance } = setup();
  click(1);
  advance(1010);
  gate.answer();
  advance(1020);
  click(2); // the user saw the answer and clicked again: not a burst
  assert.deepEqual(model.sent, [1, 2]);
});

test("an answer that already answers the selection waiting sends nothing", () => {
  let shown = false;
  const { model, gate, click, advance } = setup({ answered: () => shown });
  click(5);
  click(6);
  click(5); // back to the unit in flight
  shown = true; // its answer answers the selection now in the model
  advance(1200);
  gate.answer();
  advance(1500);
  assert.deepEqual(model.sent, [5]);
  assert.equal(gate.waiting, false);
});

test("a selection the kernel never answers is sent on after ANSWER_TIMEOUT", () => {
  const { model, gate, click, advance } = setup();
  click(1);
  click(2);
  advance(1000 + ANSWER_TIMEOUT - 1);
  assert.deepEqual(model.sent, [1]);
  advance(1000 + ANSWER_TIMEOUT);
  assert.deepEqual(model.sent, [1, 2]);
  assert.equal(gate.counts.timeouts, 1);
});

test("another change sent meanwhile carries the selection waiting; closing stops the timers", () => {
  const { model, gate, timers, click, advance } = setup();
  click(1);
  click(2);
  gate.flush(); // e.g. the sort order: ipywidgets sends every change set so far
  assert.deepEqual(model.sent, [1, 2]);
  advance(1200);
  gate.answer();
  assert.deepEqual(model.sent, [1, 2]);
  click(3);
  gate.close();
  assert.equal(timers.size, 0);
  assert.equal(gate.inFlight, false);
});
