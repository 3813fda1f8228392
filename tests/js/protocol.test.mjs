import assert from "node:assert/strict";
import { test } from "node:test";
import { pending, requestKey, samePosition, selectionChanges, selectionOf, unitAnswers } from "../../js/src/protocol.js";

function model(state) {
  return { get: (k) => state[k] };
}

const LAYERS = [{ name: "a", shape: [8, 4, 4] }, { name: "b", shape: [3, 2, 2] }, { name: "fc", shape: [10] }];
const base = { picture: { id: 2 }, layer: "a", channel: 5, position: "max", rule: "deconvnet", layers: LAYERS };

test("a unit answers only the exact selection it was computed for", () => {
  const selection = selectionOf(model(base));
  const request = { image: 2, layer: "a", channel: 5, position: "max", rule: "deconvnet" };
  assert.ok(unitAnswers(request, selection));
  for (const [key, value] of [["image", 1], ["layer", "b"], ["channel", 4], ["position", "map"], ["rule", "guided"]]) {
    assert.equal(unitAnswers({ ...request, [key]: value }, selection), false, key);
  }
  assert.equal(unitAnswers(null, selection), false);
});

test("positions compare by value", () => {
  assert.ok(samePosition([1, 2], [1, 2]));
  assert.ok(!samePosition([1, 2], [2, 1]));
  assert.ok(!samePosition("max", [0, 0]));
  assert.ok(samePosition("map", "map"));
});

test("pending tells what still waits for the kernel", () => {
  const request = { image: 2, layer: "a", channel: 5, position: "max", rule: "deconvnet" };
  const done = { ...base, atlas: { layer: "a", image: 2 }, unit: { request } };
  assert.deepEqual(pending(model(done)), { atlas: false, unit: false });
  assert.deepEqual(pending(model({ ...done, channel: 6 })), { atlas: false, unit: true });
  assert.deepEqual(pending(model({ ...done, picture: { id: 3 } })), { atlas: true, unit: true });
  assert.deepEqual(pending(model({})), { atlas: false, unit: false }, "an empty state waits for nothing");
});

test("selecting a layer with fewer channels clamps the channel and drops a picked position", () => {
  const m = model({ ...base, position: [1, 3] });
  assert.deepEqual(selectionChanges(m, { layer: "b" }), { layer: "b", channel: 2, position: "max" });
  assert.deepEqual(selectionChanges(m, { layer: "b", channel: 1 }), { layer: "b", channel: 1, position: "max" });
  assert.deepEqual(selectionChanges(model(base), { layer: "b", channel: 0 }), { layer: "b", channel: 0 });
});

test("unchanged values are not sent", () => {
  assert.deepEqual(selectionChanges(model(base), { channel: 5, rule: "deconvnet", position: "max" }), {});
  assert.deepEqual(selectionChanges(model(base), { channel: 6 }), { channel: 6 });
  assert.deepEqual(selectionChanges(model(base), { position: [0, 1] }), { position: [0, 1] });
});

test("requestKey is stable text", () => {
  assert.equal(requestKey({ image: 2, layer: "a", channel: 5, position: [1, 2], rule: "guided" }), "2|a|5|1,2|guided");
  assert.equal(requestKey(null), "");
});
