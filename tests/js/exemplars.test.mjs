import assert from "node:assert/strict";
import { test } from "node:test";
import {
  atlasUnitDead, classMixText, exemplarCaption, exemplarRect, miningText, percent, readFloat32, unitSummary,
} from "../../js/src/exemplars.js";
import { layerAtlasAnswers, top9Answers } from "../../js/src/protocol.js";

const selection = { image: 3, layer: "a", channel: 5, position: [1, 2], rule: "deconvnet" };

test("a top-9 answers the unit and the rule, whatever the image or the position", () => {
  const request = { layer: "a", channel: 5, rule: "deconvnet" };
  assert.ok(top9Answers(request, selection));
  assert.ok(top9Answers(request, { ...selection, image: 9, position: "map" }));
  for (const [key, value] of [["layer", "b"], ["channel", 4], ["rule", "guided"]]) {
    assert.equal(top9Answers({ ...request, [key]: value }, selection), false, key);
  }
  assert.equal(top9Answers(undefined, selection), false);
});

test("a layer-atlas page answers its layer, page, rule and order", () => {
  const state = { layer: "a", layer_atlas_page: 2, rule: "guided", sort_by: "strength" };
  const model = { get: (k) => state[k] };
  const request = { layer: "a", page: 2, rule: "guided", sort_by: "strength" };
  assert.ok(layerAtlasAnswers(request, model));
  for (const [key, value] of [["layer", "b"], ["page", 0], ["rule", "deconvnet"], ["sort_by", "channel"]]) {
    assert.equal(layerAtlasAnswers({ ...request, [key]: value }, model), false, key);
  }
});

test("float32 values are read little-endian; missing bytes read as NaN", () => {
  const bytes = new Uint8Array(new Float32Array([1.5, -2, NaN]).buffer);
  assert.deepEqual(Array.from(readFloat32(new DataView(bytes.buffer), 3)).slice(0, 2), [1.5, -2]);
  assert.ok(Number.isNaN(readFloat32(bytes, 3)[2]));
  assert.ok(readFloat32(null, 2).every(Number.isNaN));
});

test("words for people", () => {
  assert.deepEqual([percent(0.8), percent(0.003), percent(0), percent(1), percent(null)], ["80%", "0.3%", "0%",
    "100%", "–"]);
  assert.equal(exemplarCaption({ value: 12.3456, label_name: "tabby" }), "12.3 · tabby");
  assert.equal(exemplarCaption({ value: 0.5, label_name: null }), "0.5");
  assert.equal(classMixText([[1, "dog", 3], [0, "cat", 2], [7, null, 1], [4, "car", 1]]),
    "dog ×3, cat ×2, class 7 ×1 …");
  assert.equal(unitSummary({ count: 9, complete: true, stats: { images: 33, firing_rate: 0.5, dead: false,
    class_mix: [[1, "dog", 3]] } }), "fires on 50% of 33 images · top-9 classes: dog ×3");
  assert.equal(unitSummary({ count: 1, complete: false, stats: { images: 1, firing_rate: 1, dead: false,
    class_mix: [] } }), "fires on 100% of 1 image · partial (mining goes on)");
  assert.equal(unitSummary({ stats: { images: 4, dead: true } }), "dead: fired on none of the 4 images mined");
});

test("the mining status says what runs, what was stopped and what is there", () => {
  const base = { dataset: "demo photos", done: 3, total: 10, images: 3, skipped: 0, message: "" };
  assert.deepEqual(miningText({}), { text: "", running: false });
  assert.deepEqual(miningText({ ...base, state: "running" }), { text: "mining demo photos: 3 of 10 images",
    running: true });
  assert.equal(miningText({ ...base, state: "running", skipped: 1 }).text,
    "mining demo photos: 3 of 10 images (1 unreadable)");
  assert.equal(miningText({ ...base, state: "cancelling" }).running, true);
  assert.deepEqual(miningText({ ...base, state: "cancelled" }), { text: "mining cancelled after 3 of 10 images: "
    + "partial exemplars (mine again to resume)", running: false });
  assert.equal(miningText({ ...base, state: "complete", images: 10 }).text, "exemplars: 10 images of demo photos");
  assert.equal(miningText({ ...base, state: "failed", message: "boom" }).text, "mining failed: boom");
});

test("the layer atlas's sheets: a row per unit, its exemplars strongest first; dead units", () => {
  assert.deepEqual(exemplarRect(2, 4, 9, [3, 5]), { x: 20, y: 6, width: 5, height: 3 });
  const stats = { fired: new Float32Array([0, 2]) };
  assert.equal(atlasUnitDead({ images: 4 }, stats, 0), true);
  assert.equal(atlasUnitDead({ images: 4 }, stats, 1), false);
  assert.equal(atlasUnitDead({ images: 0 }, stats, 0), false);
});
