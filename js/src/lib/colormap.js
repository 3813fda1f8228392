// Colour maps for activation codes (uint8). The same stops as COLORMAPS in cnnviz_widget/encode/; a Python test
// checks that both build identical look-up tables.

/** @type {Record<string, Array<[number, [number, number, number]]>>} */
export const COLORMAPS = {
  gray: [[0, [0, 0, 0]], [255, [255, 255, 255]]],
  heat: [[0, [0, 0, 4]], [64, [87, 16, 110]], [128, [188, 55, 84]], [192, [249, 142, 9]], [255, [252, 255, 164]]],
  diverging: [[0, [33, 102, 172]], [64, [146, 197, 222]], [128, [247, 247, 247]], [192, [244, 165, 130]],
    [255, [178, 24, 43]]],
};

const cache = new Map();

/**
 * The 256×3 look-up table of a colour map, as a Uint8Array of 768 bytes (r, g, b per code).
 * @param {string} name
 * @returns {Uint8Array}
 */
export function lut(name) {
  if (cache.has(name)) return cache.get(name);
  const stops = COLORMAPS[name];
  if (!stops) throw new Error(`unknown colour map ${JSON.stringify(name)}`);
  const table = new Uint8Array(256 * 3);
  for (let s = 0; s + 1 < stops.length; s++) {
    const [k0, c0] = stops[s];
    const [k1, c1] = stops[s + 1];
    for (let code = k0; code <= k1; code++) {
      const t = (code - k0) / (k1 - k0);
      for (let ch = 0; ch < 3; ch++) table[code * 3 + ch] = Math.floor(c0[ch] + (c1[ch] - c0[ch]) * t + 0.5);
    }
  }
  cache.set(name, table);
  return table;
}

/**
 * Colour RGBA pixels whose red channel holds a code (a decoded gray PNG) into a new RGBA array.
 * @param {Uint8ClampedArray|Uint8Array} rgba  decoded pixels, 4 bytes each
 * @param {string} name  colour map
 * @returns {Uint8ClampedArray}
 */
export function colorize(rgba, name) {
  const table = lut(name);
  const out = new Uint8ClampedArray(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    const k = rgba[i] * 3;
    out[i] = table[k];
    out[i + 1] = table[k + 1];
    out[i + 2] = table[k + 2];
    out[i + 3] = 255;
  }
  return out;
}

/**
 * A colour map's 256 colours as one RGBA row, low to high: a colour-scale bar to draw on a 256×1 canvas.
 * @param {string} name
 * @returns {Uint8ClampedArray}
 */
export function scaleBar(name) {
  const table = lut(name);
  const bar = new Uint8ClampedArray(256 * 4);
  for (let c = 0; c < 256; c++) bar.set([table[c * 3], table[c * 3 + 1], table[c * 3 + 2], 255], c * 4);
  return bar;
}
