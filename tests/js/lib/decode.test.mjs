import assert from "node:assert/strict";
import { test } from "node:test";
import {
  atlasUnitDead, bytesOf, cropRGBA, exemplarRect, gridScale, isDead, rawToRGBA, readFloat32, readInt32, readStats,
  tileRect,
} from "../../../js/src/lib/decode.js";

test("bytesOf reads DataViews (as ipywidgets delivers bytes), buffers and typed arrays", () => {
  const buffer = new Uint8Array([9, 1, 2, 3, 9]).buffer;
  assert.deepEqual([...bytesOf(new DataView(buffer, 1, 3))], [1, 2, 3]);
  assert.deepEqual([...bytesOf(buffer)], [9, 1, 2, 3, 9]);
  assert.deepEqual([...bytesOf(new Uint8Array(buffer, 4, 1))], [9]);
  assert.equal(bytesOf(null), null);
  assert.equal(bytesOf("text"), null);
});

test("float32 values are read little-endian; missing bytes read as NaN", () => {
  const bytes = new Uint8Array(new Float32Array([1.5, -2, NaN]).buffer);
  assert.deepEqual(Array.from(readFloat32(new DataView(bytes.buffer), 3)).slice(0, 2), [1.5, -2]);
  assert.ok(Number.isNaN(readFloat32(bytes, 3)[2]));
  assert.ok(readFloat32(null, 2).every(Number.isNaN));
});

test("int32 values of a binary trait", () => {
  const view = new DataView(new ArrayBuffer(8));
  view.setInt32(0, -3, true);
  view.setInt32(4, 285, true);
  assert.deepEqual([...readInt32(view, 2)], [-3, 285]);
  assert.deepEqual([...readInt32(null, 2)], [0, 0]);
});

test("readStats decodes little-endian float32 rows, one array per column", () => {
  const rows = new Float32Array([-1, 2, 0.5, 0.25, 2, 0, 0, 0, 0, 2]);
  const atlas = { count: 2, stats: new DataView(rows.buffer), stats_columns: ["min", "max", "mean", "fraction_active", "scale"] };
  const stats = readStats(atlas);
  assert.deepEqual([...stats.min], [-1, 0]);
  assert.deepEqual([...stats.max], [2, 0]);
  assert.deepEqual([...stats.mean], [0.5, 0]);
  assert.deepEqual([...stats.fraction_active], [0.25, 0]);
  assert.equal(isDead(stats, 0), false);
  assert.equal(isDead(stats, 1), true);
});

test("readStats of a missing or short buffer gives zeros, not garbage", () => {
  const stats = readStats({ count: 3, stats: new DataView(new ArrayBuffer(8)) });
  assert.deepEqual([...stats.max], [0, 0, 0]);
});

test("tileRect lays tiles row-major", () => {
  assert.deepEqual(tileRect(0, 3, [4, 5]), { x: 0, y: 0, width: 5, height: 4 });
  assert.deepEqual(tileRect(2, 3, [4, 5]), { x: 10, y: 0, width: 5, height: 4 });
  assert.deepEqual(tileRect(4, 3, [4, 5]), { x: 5, y: 4, width: 5, height: 4 });
});

test("cropRGBA copies exactly the tile's pixels out of the sheet", () => {
  // a 4×2 sheet of two 2×2 tiles: tile 0 pixels have red = 10 + i, tile 1 red = 20 + i
  const sheetWidth = 4;
  const sheet = new Uint8ClampedArray(4 * 2 * 4);
  const red = [[10, 11, 20, 21], [12, 13, 22, 23]];
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) sheet[(y * sheetWidth + x) * 4] = red[y][x];
  const tile1 = cropRGBA(sheet, sheetWidth, tileRect(1, 2, [2, 2]));
  assert.deepEqual([0, 4, 8, 12].map((i) => tile1[i]), [20, 21, 22, 23]);
  const tile0 = cropRGBA(sheet, sheetWidth, tileRect(0, 2, [2, 2]));
  assert.deepEqual([0, 4, 8, 12].map((i) => tile0[i]), [10, 11, 12, 13]);
});

test("the layer atlas's sheets: a row per unit, its exemplars strongest first; dead units", () => {
  assert.deepEqual(exemplarRect(2, 4, 9, [3, 5]), { x: 20, y: 6, width: 5, height: 3 });
  const stats = { fired: new Float32Array([0, 2]) };
  assert.equal(atlasUnitDead({ images: 4 }, stats, 0), true);
  assert.equal(atlasUnitDead({ images: 4 }, stats, 1), false);
  assert.equal(atlasUnitDead({ images: 0 }, stats, 0), false);
});

test("raw pictures become RGBA: RGB copied, one channel repeated, alpha opaque", () => {
  const rgb = rawToRGBA({ shape: [1, 2], channels: 3, data: new DataView(new Uint8Array([1, 2, 3, 4, 5, 6]).buffer) });
  assert.deepEqual([rgb.width, rgb.height], [2, 1]);
  assert.deepEqual([...rgb.rgba], [1, 2, 3, 255, 4, 5, 6, 255]);
  const gray = rawToRGBA({ shape: [2, 1], channels: 1, data: new Uint8Array([7, 200]) });
  assert.deepEqual([...gray.rgba], [7, 7, 7, 255, 200, 200, 200, 255]);
});

test("the grid's scale: its value, half brightness on a square-root ramp, and the clipped channels", () => {
  // Peaks 2, 16, 64 (the last a negative value of a signed layer) on a scale of 16: the third is clipped.
  const stats = { min: Float32Array.from([0, -1, -64]), max: Float32Array.from([2, 16, 3]),
    scale: Float32Array.from([16, 16, 16]) };
  assert.deepEqual(gridScale({ count: 3, gamma: 0.5, percentile: 95, signed: true }, stats),
    { scale: 16, gamma: 0.5, percentile: 95, signed: true, half: 4, clipped: [2] });
  const linear = gridScale({ count: 3 }, stats); // saved before the ramp: the layer's largest value, linearly
  assert.equal(linear.half, 8);
  assert.equal(linear.percentile, 100);
  assert.equal(gridScale({ count: 3, gamma: 0.5, percentile: null }, stats).percentile, null); // per-tile
  assert.deepEqual(gridScale({ count: 0 }, { min: [], max: [], scale: [] }).clipped, []);
});
