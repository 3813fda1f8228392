// Layout and navigation: tile order, keyboard moves, display sizes, receptive-field boxes, upload sizes.

/**
 * Display order of the tiles: by channel, or strongest (largest max) first, ties by channel.
 * @param {number} count
 * @param {Float32Array|number[]|null} strength  per-channel max activation
 * @param {"channel"|"strength"} by
 * @returns {number[]}
 */
export function tileOrder(count, strength, by) {
  const order = Array.from({ length: count }, (_, i) => i);
  if (by === "strength" && strength) order.sort((a, b) => strength[b] - strength[a] || a - b);
  return order;
}

/**
 * The channel a key moves to in a grid showing `order` with `cols` tiles per row, or null if the key does not move.
 * ←/→ step one tile, ↑/↓ one row; moves stop at the edges.
 * @param {number[]} order
 * @param {number} channel  current channel
 * @param {string} key  KeyboardEvent.key
 * @param {number} cols
 * @returns {number|null}
 */
export function moveInGrid(order, channel, key, cols) {
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -Math.max(1, cols), ArrowDown: Math.max(1, cols) }[key];
  if (step === undefined || order.length === 0) return null;
  const here = order.indexOf(channel);
  const next = here < 0 ? 0 : here + step;
  if (next < 0 || next >= order.length) return null;
  return order[next];
}

/**
 * The layers the picker lists and PageUp/PageDown steps through: the model's stages (layers marked `stage`), or
 * every layer when `all` (or when no layer is marked) — always with the current layer, so the selection stays listed.
 * @param {Array<{name: string, stage?: boolean}>} layers  in forward order
 * @param {string} current
 * @param {boolean} all
 */
export function shownLayers(layers, current, all) {
  if (all || !layers.some((l) => l.stage)) return layers;
  return layers.filter((l) => l.stage || l.name === current);
}

/**
 * Each stage's number, from 1 in forward order (the paper's "layer 1 … layer 5" on a ZF-like net).
 * @param {Array<{name: string, stage?: boolean}>} layers
 * @returns {Map<string, number>}
 */
export function stageNumbers(layers) {
  const out = new Map();
  for (const layer of layers) if (layer.stage) out.set(layer.name, out.size + 1);
  return out;
}

/**
 * The layer PageUp/PageDown moves to, or null.
 * @param {string[]} names  layer names in forward order
 * @param {string} layer
 * @param {string} key
 */
export function moveLayer(names, layer, key) {
  const step = { PageUp: -1, PageDown: 1 }[key];
  if (step === undefined) return null;
  const next = names.indexOf(layer) + step;
  return next >= 0 && next < names.length ? names[next] : null;
}

/**
 * On-screen side of a tile in CSS pixels: big for few channels, small for many.
 * @param {number} count
 */
export function tileDisplaySize(count) {
  if (count <= 16) return 88;
  if (count <= 64) return 60;
  if (count <= 256) return 42;
  return 30;
}

/**
 * Columns of a rendered grid, from the tiles' positions (elements of one row share their offsetTop).
 * @param {Array<{offsetTop: number}>} tiles
 */
export function renderedColumns(tiles) {
  if (tiles.length === 0) return 1;
  const top = tiles[0].offsetTop;
  let n = 0;
  while (n < tiles.length && tiles[n].offsetTop === top) n++;
  return Math.max(1, n);
}

/**
 * A receptive field (top, left, bottom, right; input pixels, half-open, unclipped) as percentages of the input,
 * clipped to it — for an absolutely positioned box over the image.
 * @param {number[]|null|undefined} field
 * @param {number[]} size  [height, width] of the input
 * @returns {{left: number, top: number, width: number, height: number}|null}
 */
export function fieldBox(field, size) {
  if (!field || !size) return null;
  const [top, left, bottom, right] = field;
  const [height, width] = size;
  const clip = (v, n) => Math.min(Math.max(v, 0), n);
  const t = clip(top, height), b = clip(bottom, height), l = clip(left, width), r = clip(right, width);
  if (b <= t || r <= l) return null;
  return { left: (100 * l) / width, top: (100 * t) / height, width: (100 * (r - l)) / width,
    height: (100 * (b - t)) / height };
}

/**
 * The map position under a click at (px, py) on an element of size (w, h) showing a map of `shape` [rows, cols].
 * @returns {[number, number]}
 */
export function positionAt(px, py, w, h, shape) {
  const [rows, cols] = shape;
  const y = Math.min(rows - 1, Math.max(0, Math.floor((py / h) * rows)));
  const x = Math.min(cols - 1, Math.max(0, Math.floor((px / w) * cols)));
  return [y, x];
}

/** Uploads up to this many bytes are sent as they are: the kernel reads them and names any problem. */
export const SEND_AS_IS = 2 * 1024 * 1024;
/** Larger files are decoded in the browser and sent downscaled to this longest side (JPEG). */
export const UPLOAD_SIDE = 1024;
/** Undecodable files larger than this are refused in the browser (Jupyter's websocket caps messages near 10 MB). */
export const MAX_RAW = 8 * 1024 * 1024;

/**
 * Size of an image of `width`×`height` scaled down so its longer side is at most `side` (never scaled up).
 * @returns {{width: number, height: number}}
 */
export function downscaleSize(width, height, side = UPLOAD_SIDE) {
  const scale = Math.min(1, side / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
