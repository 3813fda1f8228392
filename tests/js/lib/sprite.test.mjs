import assert from "node:assert/strict";
import { test } from "node:test";
import { pngSize, tileBackground } from "../../../js/src/lib/sprite.js";

test("pngSize reads the header of a PNG and nothing else", () => {
  const header = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
    0, 0, 0x01, 0xa0, 0, 0, 0, 0x41, 8, 0, 0, 0, 0];
  assert.deepEqual(pngSize(new Uint8Array(header)), { width: 416, height: 65 });
  assert.equal(pngSize(new Uint8Array([0xff, 0xd8, ...header.slice(2)])), null);
  assert.equal(pngSize(new Uint8Array(header.slice(0, 20))), null);
  assert.equal(pngSize(null), null);
});

test("a tile's background places its rect of the sheet on the whole box", () => {
  // A 3×2 sheet of 13×13 tiles (39×26 px): tile 4 is at column 1, row 1. The box shows the sheet at 3×2 its own
  // size; CSS puts p% of the free space (box − sheet) before the image: p = 13 / (39 − 13) = 50 %, 13 / 13 = 100 %.
  assert.deepEqual(tileBackground({ x: 13, y: 13, width: 13, height: 13 }, { width: 39, height: 26 }),
    { backgroundSize: "300% 200%", backgroundPosition: "50% 100%" });
  assert.deepEqual(tileBackground({ x: 0, y: 0, width: 8, height: 4 }, { width: 8, height: 4 }),
    { backgroundSize: "100% 100%", backgroundPosition: "0% 0%" });
});
