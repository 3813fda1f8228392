// Pure helpers of the experiment panels (occlusion, invariance, evolution, synthesis): colour scales and legends,
// where an occluder sits, line plots in SVG coordinates. No DOM here: tested with node (tests/js/lib/scales.test.mjs).

/** Colours of a most-probable-class map's legend codes 0–9 (Tableau 10); code 10 ("other") is OTHER_COLOUR. */
export const CLASS_PALETTE = [[78, 121, 167], [242, 142, 43], [225, 87, 89], [118, 183, 178], [89, 161, 79],
  [237, 201, 72], [176, 122, 161], [255, 157, 167], [156, 117, 95], [186, 176, 172]];
export const OTHER_COLOUR = [96, 96, 96];

/**
 * The colour of a class map's legend code (cnnviz_widget/encode/ `class_map`: the commonest class is code 0).
 * @param {number} code
 * @returns {number[]} [r, g, b]
 */
export function classColour(code) {
  return CLASS_PALETTE[code] ?? OTHER_COLOUR;
}

/**
 * Colour a class map's codes (one per RGBA pixel's red byte, or a plain array of codes) into RGBA pixels.
 * @param {ArrayLike<number>} codes  one code per cell
 * @returns {Uint8ClampedArray}
 */
export function classRGBA(codes) {
  const out = new Uint8ClampedArray(codes.length * 4);
  for (let i = 0; i < codes.length; i++) {
    const [r, g, b] = classColour(codes[i]);
    out.set([r, g, b, 255], i * 4);
  }
  return out;
}

/**
 * The legend of a class map: the first `colours` classes with their own colour, then one "other" line.
 * @param {Array<[number, string, number]>} classes  [index, name, count], commonest first
 * @param {number} colours
 * @returns {Array<{code: number, name: string, count: number, index: number|null}>}
 */
export function classLegend(classes, colours) {
  const own = (classes ?? []).slice(0, colours).map(([index, name, count], code) => ({ code, name, count, index }));
  const rest = (classes ?? []).slice(colours);
  if (rest.length) {
    own.push({ code: colours, name: `${rest.length} other class${rest.length === 1 ? "" : "es"}`,
      count: rest.reduce((n, c) => n + c[2], 0), index: null });
  }
  return own;
}

/**
 * The default occluder of a `height`×`width` input: about a fifth of it (48 px on 227), moving by a third of its
 * side — the same rule as `CNNViz.occlusion` in cnnviz_widget/experiment_panels.py.
 * @returns {{size: number, stride: number}}
 */
export function defaultOccluder(height, width) {
  const size = Math.max(1, roundHalfEven((Math.min(height, width) * 48) / 227));
  return { size, stride: Math.max(1, roundHalfEven(size / 3)) };
}

/** Python's round(): halves to even. @param {number} x */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The occluder of map cell (i, j): [top, left, bottom, right], half-open, cut at the input's border.
 * @param {{tops: number[], lefts: number[], size: number, input_size: number[]}} occlusion
 * @param {number} i
 * @param {number} j
 */
export function occluderBox(occlusion, i, j) {
  const [height, width] = occlusion.input_size;
  const top = occlusion.tops[i];
  const left = occlusion.lefts[j];
  return [top, left, Math.min(top + occlusion.size, height), Math.min(left + occlusion.size, width)];
}

/**
 * For every pixel along an axis of `extent` pixels, the occluder position whose window centre is nearest to the
 * pixel's centre (ties: the first) — how a map is laid over the image.
 * @param {number[]} starts  tops (or lefts)
 * @param {number} size
 * @param {number} extent
 * @returns {Int32Array}
 */
export function nearestCells(starts, size, extent) {
  const centres = starts.map((s) => (s + Math.min(s + size, extent)) / 2);
  const out = new Int32Array(extent);
  let k = 0;
  for (let p = 0; p < extent; p++) {
    const c = p + 0.5;
    while (k + 1 < centres.length && Math.abs(centres[k + 1] - c) < Math.abs(centres[k] - c)) k++;
    out[p] = k;
  }
  return out;
}

/**
 * The input image with the occluder `box` painted in `fill`: a new RGBA array.
 * @param {Uint8ClampedArray} rgba  width×height×4
 * @param {number} width
 * @param {number[]} box  [top, left, bottom, right]
 * @param {number[]} fill  [r, g, b]
 */
export function occludedRGBA(rgba, width, box, fill) {
  const out = new Uint8ClampedArray(rgba);
  const [top, left, bottom, right] = box;
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) out.set([fill[0], fill[1], fill[2], 255], (y * width + x) * 4);
  }
  return out;
}

/** Opacity of a map laid over the image. */
export const OVERLAY_ALPHA = 0.6;

/**
 * A map laid over the image: each pixel takes its nearest cell's colour (`cellRGBA`, one RGBA per cell, row-major
 * over `cols`), blended with the image: `round((1 − α)·image + α·colour)`.
 * @param {Uint8ClampedArray} image  width×height×4
 * @param {number} width
 * @param {number} height
 * @param {Uint8ClampedArray} cellRGBA
 * @param {Int32Array} rowCells  nearestCells over rows
 * @param {Int32Array} colCells  nearestCells over columns
 * @param {number} cols
 * @param {number} [alpha]
 */
export function overlayRGBA(image, width, height, cellRGBA, rowCells, colCells, cols, alpha = OVERLAY_ALPHA) {
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      const c = (rowCells[y] * cols + colCells[x]) * 4;
      for (let k = 0; k < 3; k++) out[p + k] = Math.round((1 - alpha) * image[p + k] + alpha * cellRGBA[c + k]);
      out[p + 3] = 255;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ line plots
/**
 * Round tick values within [lo, hi]: steps of 1, 2 or 5 × 10^k, about `count` of them.
 * @param {number} lo
 * @param {number} hi
 * @param {number} [count]
 * @returns {number[]}
 */
export function niceTicks(lo, hi, count = 4) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const error = raw / power; // 1 ≤ error < 10: the multiple nearest (geometrically) to it
  const step = power * (error >= Math.sqrt(50) ? 10 : error >= Math.sqrt(10) ? 5 : error >= Math.sqrt(2) ? 2 : 1);
  const ticks = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

/**
 * A linear map from `domain` to `range` (a flat domain maps to the range's middle).
 * @param {[number, number]} domain
 * @param {[number, number]} range
 * @returns {(v: number) => number}
 */
export function linearScale([d0, d1], [r0, r1]) {
  if (d1 === d0) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/**
 * The geometry of a line plot in a `width`×`height` box: x spans the values' range exactly, y `yDomain` (default:
 * the finite values' range widened to include 0 — distances and probabilities start at 0). Points with a
 * non-finite y break the line.
 * @param {ArrayLike<number>} xs
 * @param {ArrayLike<number>} ys
 * @param {{width: number, height: number, margin?: {top: number, right: number, bottom: number, left: number},
 *   yDomain?: [number, number]}} box
 * @returns {{path: string, points: Array<[number, number]|null>, x: (v: number) => number,
 *   y: (v: number) => number, xTicks: number[], yTicks: number[], xDomain: [number, number],
 *   yDomain: [number, number], plot: {left: number, top: number, right: number, bottom: number}}}
 */
export function linePlot(xs, ys, box) {
  const margin = box.margin ?? { top: 6, right: 8, bottom: 18, left: 40 };
  const plot = { left: margin.left, top: margin.top, right: box.width - margin.right,
    bottom: box.height - margin.bottom };
  const xv = Array.from(xs);
  const yv = Array.from(ys);
  const xDomain = /** @type {[number, number]} */ ([Math.min(...xv), Math.max(...xv)]);
  const finite = yv.filter(Number.isFinite);
  const yDomain = box.yDomain ?? /** @type {[number, number]} */ (
    [Math.min(0, ...finite), finite.length ? Math.max(0, ...finite) : 1]);
  if (yDomain[1] === yDomain[0]) yDomain[1] = yDomain[0] + 1;
  const x = linearScale(xDomain, [plot.left, plot.right]);
  const y = linearScale(yDomain, [plot.bottom, plot.top]);
  const points = xv.map((v, i) => (Number.isFinite(yv[i]) ? /** @type {[number, number]} */ ([x(v), y(yv[i])]) : null));
  let path = "";
  let pen = false;
  for (const p of points) {
    if (!p) {
      pen = false;
      continue;
    }
    path += `${pen ? "L" : "M"}${p[0].toFixed(2)},${p[1].toFixed(2)}`;
    pen = true;
  }
  return { path, points, x, y, xTicks: niceTicks(xDomain[0], xDomain[1], 4), yTicks: niceTicks(yDomain[0], yDomain[1], 3),
    xDomain, yDomain, plot };
}

/**
 * Points of an SVG path made by linePlot (M/L commands) back as [x, y] pairs.
 * @param {string} d
 * @returns {Array<[number, number]>}
 */
export function pathPoints(d) {
  return Array.from(d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g), (m) => [Number(m[1]), Number(m[2])]);
}
