import assert from "node:assert/strict";
import { test } from "node:test";
import { lut } from "../../../js/src/lib/colormap.js";
import { bilinear, heatOverlay, sourceIndex, stretchCodes } from "../../../js/src/lib/heatmap.js";

test("bilinear upsampling follows torch's align_corners=False", () => {
  // 2 → 3: output i samples (i + ½)·⅔ − ½ = −⅙ (clamped to 0), ½, 7/6 (past the last value: the last one).
  assert.deepEqual(sourceIndex(0, 2, 3), [0, 1, 0]);
  assert.deepEqual(sourceIndex(1, 2, 3), [0, 1, 0.5]);
  const [first, second, weight] = sourceIndex(2, 2, 3);
  assert.deepEqual([first, second], [1, 1]);
  assert.ok(Math.abs(weight - 1 / 6) < 1e-12);
  // The engine's hand-set CamNet (tests/engine/projection/test_class_evidence.py): its Grad-CAM map [[0, 2.5],
  // [0, 0]] upsampled to its 3×3 input is UP_RELU_0 = [[0, 1.25, 2.5], [0, 0.625, 1.25], [0, 0, 0]].
  assert.deepEqual(Array.from(bilinear([0, 2.5, 0, 0], 2, 2, 3, 3)), [0, 1.25, 2.5, 0, 0.625, 1.25, 0, 0, 0]);
  // 2 → 4: sources 0 (clamped), ¼, ¾, 1 → 0, 1, 3, 4 between 0 and 4.
  assert.deepEqual(Array.from(bilinear([0, 4], 1, 2, 1, 4)), [0, 1, 3, 4]);
  assert.deepEqual(Array.from(bilinear([7], 1, 1, 2, 2)), [7, 7, 7, 7]);
});

test("values stretch to codes as encode.value_map does", () => {
  assert.deepEqual(Array.from(stretchCodes([0, 0.5, 1, 0.25], 0, 1)), [0, 128, 255, 64]);
  assert.deepEqual(Array.from(stretchCodes([3, 3], 3, 3)), [0, 0], "a flat map is all 0");
});

test("the overlay shows the image where the map is 0 and the colour, weighed by alpha, where it is highest", () => {
  const image = new Uint8ClampedArray([100, 50, 0, 255, 100, 50, 0, 255, 100, 50, 0, 255]);
  const table = lut("heat");
  const out = heatOverlay(image, new Uint8Array([0, 255, 128]), table, 0.6);
  assert.deepEqual(Array.from(out.slice(0, 4)), [100, 50, 0, 255]);
  assert.deepEqual(Array.from(out.slice(4, 8)), [0, 1, 2].map((k) => Math.round(0.4 * image[k] + 0.6 * table[255 * 3 + k]))
    .concat(255));
  const a = (0.6 * 128) / 255;
  assert.deepEqual(Array.from(out.slice(8, 11)), [0, 1, 2].map((k) => Math.round((1 - a) * image[k] + a * table[128 * 3 + k])));
});
