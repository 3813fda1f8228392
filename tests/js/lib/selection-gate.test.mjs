import assert from "node:assert/strict";
import { test } from "node:test";
import { ANSWER_TIMEOUT, createSelectionGate } from "../../../js/src/lib/selection-gate.js";

/** A model whose `save_changes` records the channel it would send, and timers run by hand. */
function setup({ answered = () => false } = {}) {
  const model = { channel: 0, sent: [], save_changes() { this.sent.push(this.channel); } };
  const timers = new Map();
  let next = 1;
  const gate = createSelectionGate(model, {
    answered,
    setTimer: (fn, ms) => { timers.set(next, { fn, ms }); return next++; },
    clearTimer: (id) => timers.delete(id),
  });
  const click = (channel) => { model.channel = channel; gate.request(); };
  return { model, gate, timers, click };
}

test("100 rapid clicks send the first selection, then only the newest when it is answered", () => {
  const { model, gate, click } = setup();
  for (let c = 1; c <= 100; c++) click(c);
  assert.deepEqual(model.sent, [1]);
  assert.equal(gate.counts.held, 99);
  gate.answer(); // the kernel answers channel 1: channel 100 goes, 2–99 never
  assert.deepEqual(model.sent, [1, 100]);
  gate.answer();
  assert.deepEqual(model.sent, [1, 100]);
  assert.equal(gate.inFlight, false);
  click(7); // idle again: a click goes at once
  assert.deepEqual(model.sent, [1, 100, 7]);
});

test("an answer that already answers the selection waiting sends nothing", () => {
  let shown = false;
  const { model, gate, click } = setup({ answered: () => shown });
  click(5);
  click(6);
  click(5); // back to the unit in flight
  shown = true; // its answer answers the selection now in the model
  gate.answer();
  assert.deepEqual(model.sent, [5]);
  assert.equal(gate.waiting, false);
});

test("a selection the kernel never answers is sent on after ANSWER_TIMEOUT", () => {
  const { model, gate, timers, click } = setup();
  click(1);
  click(2);
  const [timer] = timers.values();
  assert.equal(timer.ms, ANSWER_TIMEOUT);
  timer.fn();
  assert.deepEqual(model.sent, [1, 2]);
  assert.equal(gate.counts.timeouts, 1);
});

test("another change sent meanwhile carries the selection waiting; closing stops the timer", () => {
  const { model, gate, timers, click } = setup();
  click(1);
  click(2);
  gate.flush(); // e.g. the sort order: ipywidgets sends every change set so far
  assert.deepEqual(model.sent, [1, 2]);
  gate.answer();
  assert.deepEqual(model.sent, [1, 2]);
  click(3);
  gate.close();
  assert.equal(timers.size, 0);
  assert.equal(gate.inFlight, false);
});
