import assert from "node:assert/strict";
import { test } from "node:test";
import { COLORMAPS, colorize, lut, scaleBar } from "../../../js/src/lib/colormap.js";

test("gray is the identity on codes", () => {
  const table = lut("gray");
  for (const code of [0, 1, 127, 128, 254, 255]) assert.deepEqual([...table.subarray(code * 3, code * 3 + 3)], [code, code, code]);
});

test("stops land exactly on their codes; halves round up", () => {
  const heat = lut("heat");
  assert.deepEqual([...heat.subarray(0, 3)], [0, 0, 4]);
  assert.deepEqual([...heat.subarray(64 * 3, 64 * 3 + 3)], [87, 16, 110]);
  assert.deepEqual([...heat.subarray(255 * 3)], [252, 255, 164]);
  // code 32: halfway between (0,0,4) and (87,16,110): 43.5 → 44, 8, 57
  assert.deepEqual([...heat.subarray(32 * 3, 32 * 3 + 3)], [44, 8, 57]);
  const diverging = lut("diverging");
  assert.deepEqual([...diverging.subarray(128 * 3, 128 * 3 + 3)], [247, 247, 247], "zero of signed codes is white");
});

test("every map covers all 256 codes", () => {
  for (const name of Object.keys(COLORMAPS)) {
    const stops = COLORMAPS[name];
    assert.equal(stops[0][0], 0);
    assert.equal(stops.at(-1)[0], 255);
    assert.equal(lut(name).length, 768);
  }
  assert.throws(() => lut("rainbow"), /unknown colour map/);
});

test("colorize maps the red channel of RGBA pixels and makes them opaque", () => {
  const rgba = new Uint8ClampedArray([0, 0, 0, 0, 128, 128, 128, 7, 255, 1, 2, 3]);
  assert.deepEqual([...colorize(rgba, "diverging")], [33, 102, 172, 255, 247, 247, 247, 255, 178, 24, 43, 255]);
});

test("a scale bar is the colour map's 256 colours, opaque, low to high", () => {
  const bar = scaleBar("gray");
  assert.equal(bar.length, 256 * 4);
  assert.deepEqual([...bar.slice(0, 4)], [0, 0, 0, 255]);
  assert.deepEqual([...bar.slice(255 * 4)], [255, 255, 255, 255]);
});
