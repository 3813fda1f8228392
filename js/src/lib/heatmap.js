// A class-evidence map over the image: the map's codes upsampled to the input as PyTorch upsamples a map (bilinear,
// align_corners=False — what Explorer.grad_cam(..., upsample=True) returns; codes being linear in the values, within
// one code of it), rounded back to codes, and blended over the image. No DOM here: tested with node
// (tests/js/lib/heatmap.test.mjs).

/**
 * Where output index `i` of `outSize` samples an axis of `inSize` values, as torch's bilinear interpolation with
 * align_corners=False: source position (i + ½)·in/out − ½, clamped at 0; its two neighbours and the weight of the
 * second.
 * @param {number} i
 * @param {number} inSize
 * @param {number} outSize
 * @returns {[number, number, number]} [first index, second index, weight of the second]
 */
export function sourceIndex(i, inSize, outSize) {
  const src = Math.max(0, ((i + 0.5) * inSize) / outSize - 0.5);
  const i0 = Math.min(Math.floor(src), inSize - 1);
  const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
  return [i0, i1, src - i0];
}

/**
 * A row-major `h`×`w` map resized to `height`×`width` by bilinear interpolation (torch's align_corners=False).
 * @param {ArrayLike<number>} values
 * @param {number} h
 * @param {number} w
 * @param {number} height
 * @param {number} width
 * @returns {Float64Array}
 */
export function bilinear(values, h, w, height, width) {
  const cols = Array.from({ length: width }, (_, x) => sourceIndex(x, w, width));
  const out = new Float64Array(height * width);
  for (let y = 0; y < height; y++) {
    const [r0, r1, ly] = sourceIndex(y, h, height);
    for (let x = 0; x < width; x++) {
      const [c0, c1, lx] = cols[x];
      const top = (1 - lx) * values[r0 * w + c0] + lx * values[r0 * w + c1];
      const bottom = (1 - lx) * values[r1 * w + c0] + lx * values[r1 * w + c1];
      out[y * width + x] = (1 - ly) * top + ly * bottom;
    }
  }
  return out;
}

/**
 * Values as colour codes stretched from `min` (0) to `max` (255): floor(255·(v − min)/(max − min) + ½), as
 * cnnviz_widget/encode/ `value_map` codes a map; all 0 for a flat map.
 * @param {ArrayLike<number>} values
 * @param {number} min
 * @param {number} max
 * @returns {Uint8Array}
 */
export function stretchCodes(values, min, max) {
  const out = new Uint8Array(values.length);
  if (!(max > min)) return out;
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.min(255, Math.max(0, Math.floor((255 * (values[i] - min)) / (max - min) + 0.5)));
  }
  return out;
}

/**
 * Codes laid over an image, each pixel as opaque as its code is high: colour c = table[code], weight
 * a = alpha·code/255, pixel = round((1 − a)·image + a·c) — where the map is 0 the image shows unchanged.
 * @param {Uint8ClampedArray|Uint8Array} image  RGBA, one pixel per code
 * @param {Uint8Array} codes
 * @param {Uint8Array} table  a colour map's look-up table (colormap.js `lut`)
 * @param {number} alpha  the weight of the highest code
 * @returns {Uint8ClampedArray}
 */
export function heatOverlay(image, codes, table, alpha) {
  const out = new Uint8ClampedArray(codes.length * 4);
  for (let i = 0; i < codes.length; i++) {
    const a = (alpha * codes[i]) / 255;
    for (let k = 0; k < 3; k++) out[i * 4 + k] = Math.round((1 - a) * image[i * 4 + k] + a * table[codes[i] * 3 + k]);
    out[i * 4 + 3] = 255;
  }
  return out;
}
