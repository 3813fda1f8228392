import assert from "node:assert/strict";
import { test } from "node:test";
import { downscaleSize, fieldBox, moveInGrid, moveLayer, positionAt, renderedColumns, shownLayers, stageNumbers, tileDisplaySize, tileOrder }
  from "../../../js/src/lib/layout.js";

test("tiles sort by channel or by strength (ties by channel)", () => {
  const strength = new Float32Array([1, 5, 0, 5]);
  assert.deepEqual(tileOrder(4, strength, "channel"), [0, 1, 2, 3]);
  assert.deepEqual(tileOrder(4, strength, "strength"), [1, 3, 0, 2]);
  assert.deepEqual(tileOrder(0, null, "strength"), []);
});

test("arrows move in display order; up/down jump a row; edges stop", () => {
  const order = [1, 3, 0, 2, 4];
  assert.equal(moveInGrid(order, 3, "ArrowRight", 2), 0);
  assert.equal(moveInGrid(order, 3, "ArrowLeft", 2), 1);
  assert.equal(moveInGrid(order, 3, "ArrowDown", 2), 2);
  assert.equal(moveInGrid(order, 1, "ArrowUp", 2), null);
  assert.equal(moveInGrid(order, 4, "ArrowRight", 2), null);
  assert.equal(moveInGrid(order, 3, "Enter", 2), null);
  assert.equal(moveInGrid(order, 99, "ArrowRight", 2), 1, "an unknown channel starts at the first tile");
});

test("PageUp/PageDown move between layers", () => {
  assert.equal(moveLayer(["a", "b", "c"], "b", "PageDown"), "c");
  assert.equal(moveLayer(["a", "b", "c"], "b", "PageUp"), "a");
  assert.equal(moveLayer(["a", "b", "c"], "c", "PageDown"), null);
  assert.equal(moveLayer(["a", "b", "c"], "a", "ArrowUp"), null);
});

test("rendered columns come from the tiles' row positions", () => {
  assert.equal(renderedColumns([{ offsetTop: 0 }, { offsetTop: 0 }, { offsetTop: 0 }, { offsetTop: 40 }]), 3);
  assert.equal(renderedColumns([]), 1);
});

test("tile display size shrinks with the channel count", () => {
  assert.ok(tileDisplaySize(3) > tileDisplaySize(64));
  assert.ok(tileDisplaySize(64) > tileDisplaySize(512));
});

test("receptive-field boxes are clipped to the input and given in percent", () => {
  assert.deepEqual(fieldBox([10, 20, 30, 60], [100, 200]), { left: 10, top: 10, width: 20, height: 20 });
  assert.deepEqual(fieldBox([-10, -10, 50, 50], [100, 100]), { left: 0, top: 0, width: 50, height: 50 });
  assert.equal(fieldBox([200, 200, 300, 300], [100, 100]), null);
  assert.equal(fieldBox(null, [100, 100]), null);
});

test("a click maps to the map cell under it", () => {
  assert.deepEqual(positionAt(0, 0, 100, 100, [4, 4]), [0, 0]);
  assert.deepEqual(positionAt(99, 26, 100, 100, [4, 4]), [1, 3]);
  assert.deepEqual(positionAt(100, 100, 100, 100, [4, 4]), [3, 3]);
});

test("uploads downscale to the longest side, never up", () => {
  assert.deepEqual(downscaleSize(4000, 3000, 1024), { width: 1024, height: 768 });
  assert.deepEqual(downscaleSize(300, 200, 1024), { width: 300, height: 200 });
  assert.deepEqual(downscaleSize(5000, 10, 1024), { width: 1024, height: 2 });
});

test("the picker lists the stages, the current layer, or every layer on demand", () => {
  const layers = [{ name: "c1", stage: true }, { name: "r1" }, { name: "b2", stage: true }, { name: "b2.x" },
    { name: "fc", stage: true }];
  assert.deepEqual(shownLayers(layers, "c1", false).map((l) => l.name), ["c1", "b2", "fc"]);
  assert.deepEqual(shownLayers(layers, "r1", false).map((l) => l.name), ["c1", "r1", "b2", "fc"]);
  assert.deepEqual(shownLayers(layers, "c1", true).map((l) => l.name), ["c1", "r1", "b2", "b2.x", "fc"]);
  assert.equal(shownLayers([{ name: "a" }, { name: "b" }], "a", false).length, 2); // no stage marked: all
  assert.equal(moveLayer(shownLayers(layers, "r1", false).map((l) => l.name), "r1", "PageDown"), "b2");
  assert.deepEqual([...stageNumbers(layers)], [["c1", 1], ["b2", 2], ["fc", 3]]);
});
