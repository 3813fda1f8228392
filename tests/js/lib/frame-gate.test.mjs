import assert from "node:assert/strict";
import { test } from "node:test";
import { cameraProblem, createFrameGate, FRAME_SIDE, MAX_FPS } from "../../../js/src/lib/frame-gate.js";
import { downscaleSize } from "../../../js/src/lib/layout.js";

/** Offer a frame every `every` ms for `duration` ms; the kernel answers `delay` ms after a frame is sent. */
function simulate({ every, duration, delay }) {
  const gate = createFrameGate();
  const sentAt = [];
  let answerAt = null;
  let pending = null;
  let maxInFlight = 0;
  for (let now = 0; now <= duration; now += every) {
    if (answerAt !== null && now >= answerAt) {
      assert.ok(gate.answered(pending));
      answerAt = pending = null;
    }
    const seq = gate.take(now);
    if (seq !== null) {
      sentAt.push(now);
      pending = seq;
      answerAt = now + delay;
    }
    maxInFlight = Math.max(maxInFlight, gate.inFlight === null ? 0 : 1);
  }
  return { gate, sentAt, maxInFlight };
}

test("a fast kernel gets at most MAX_FPS frames a second", () => {
  const { sentAt } = simulate({ every: 16, duration: 10_000, delay: 0 });
  assert.equal(MAX_FPS, 5);
  assert.ok(sentAt.length <= 10 * MAX_FPS + 1, `${sentAt.length} frames in 10 s`);
  for (let i = 1; i < sentAt.length; i++) assert.ok(sentAt[i] - sentAt[i - 1] >= 200, `gap ${i}`);
  assert.equal(sentAt.length, 49); // every 13th offer of 16 ms (208 ms apart), t = 0 … 9984 ms
});

test("a slow kernel gets one frame at a time; the others are dropped, not queued", () => {
  const { gate, sentAt, maxInFlight } = simulate({ every: 40, duration: 10_000, delay: 1000 });
  assert.equal(maxInFlight, 1);
  assert.equal(sentAt.length, 11); // t = 0, 1000, …, 10000 ms: each waits for the answer to the last
  assert.equal(gate.counts.sent, 11);
  assert.equal(gate.counts.busy + gate.counts.early + gate.counts.sent, 10_000 / 40 + 1);
  assert.ok(gate.counts.busy > 200);
});

test("a kernel that never answers gets exactly one frame", () => {
  const gate = createFrameGate();
  assert.equal(gate.take(0), 1);
  for (let t = 40; t < 60_000; t += 40) assert.equal(gate.take(t), null);
  assert.equal(gate.counts.sent, 1);
  assert.equal(gate.counts.busy, 1499);
});

test("only the answer to the frame in flight frees the gate; stopping forgets it", () => {
  const gate = createFrameGate();
  const first = gate.take(0);
  assert.equal(gate.answered(first + 1), false);
  assert.equal(gate.take(500), null);
  assert.equal(gate.answered(first), true);
  assert.equal(gate.answered(first), false, "an answer counts once");
  const second = gate.take(500);
  assert.equal(second, 2);
  gate.reset();
  assert.equal(gate.answered(second), false, "the answer to a frame sent before a stop is ignored");
  assert.equal(gate.take(700), 3);
});

test("frames are downscaled before they leave the browser", () => {
  assert.equal(FRAME_SIDE, 320);
  assert.deepEqual(downscaleSize(640, 480, FRAME_SIDE), { width: 320, height: 240 });
  assert.deepEqual(downscaleSize(1080, 1920, FRAME_SIDE), { width: 180, height: 320 });
  assert.deepEqual(downscaleSize(160, 120, FRAME_SIDE), { width: 160, height: 120 });
});

test("a refused or missing camera is explained", () => {
  assert.match(cameraProblem({ name: "NotAllowedError", message: "Permission denied" }), /^Camera access was refused/);
  assert.match(cameraProblem({ name: "NotFoundError" }), /^No camera was found/);
  assert.match(cameraProblem({ name: "NoMediaDevices" }), /secure pages/);
  assert.equal(cameraProblem({ name: "Weird", message: "boom" }), "The camera could not be started: boom.");
});
