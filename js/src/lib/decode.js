// Decoding the binary parts of the widget's state: bytes of DataViews, little-endian number arrays, statistics
// rows, tile rectangles in sheets, crops of RGBA sheets, uncompressed pictures as RGBA. No DOM here: tested with node
// (tests/js/lib/decode.test.mjs).

/**
 * Bytes of a binary trait value: Python `bytes` arrive as a DataView (ipywidgets), a mock may hold an
 * ArrayBuffer or a typed array.
 * @param {DataView|ArrayBuffer|ArrayBufferView|null|undefined} value
 * @returns {Uint8Array|null}
 */
export function bytesOf(value) {
  if (value == null) return null;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

/**
 * Little-endian float32 values of a binary trait value (NaN-filled when the bytes are missing or short).
 * @param {any} value  DataView / ArrayBuffer / typed array
 * @param {number} count
 * @returns {Float32Array}
 */
export function readFloat32(value, count) {
  const out = new Float32Array(count).fill(NaN);
  const bytes = bytesOf(value);
  if (!bytes || bytes.byteLength < count * 4) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Little-endian int32 values of a binary trait value.
 * @param {any} value
 * @param {number} count
 * @returns {Int32Array}
 */
export function readInt32(value, count) {
  const out = new Int32Array(count);
  const bytes = bytesOf(value);
  if (!bytes || bytes.byteLength < count * 4) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
  return out;
}

/**
 * Per-channel statistics of an atlas: little-endian float32 rows of `columns`.
 * @param {{stats?: any, count?: number, stats_columns?: string[]}} atlas
 * @returns {Record<string, Float32Array>}  one array per column name (min, max, mean, fraction_active, scale)
 */
export function readStats(atlas) {
  const columns = atlas?.stats_columns ?? ["min", "max", "mean", "fraction_active", "scale"];
  const count = atlas?.count ?? 0;
  const bytes = bytesOf(atlas?.stats);
  const out = Object.fromEntries(columns.map((c) => [c, new Float32Array(count)]));
  if (!bytes || bytes.byteLength < count * columns.length * 4) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < columns.length; c++) out[columns[c]][i] = view.getFloat32((i * columns.length + c) * 4, true);
  }
  return out;
}

/**
 * Whether channel `i` is silent (every value exactly zero) on this image.
 * @param {Record<string, Float32Array>} stats
 * @param {number} i
 */
export function isDead(stats, i) {
  return stats.max[i] === 0 && stats.min[i] === 0;
}

/**
 * The activation grid's one colour scale (cnnviz_widget/encode/: `code ∝ (x / scale) ** gamma`, peaks above the
 * scale clipped), read from an atlas and its statistics.
 * @param {{gamma?: number, percentile?: number|null, signed?: boolean, count?: number}} atlas
 * @param {Record<string, Float32Array>} stats  readStats(atlas)
 * @returns {{scale: number, gamma: number, percentile: number|null, signed: boolean, half: number,
 *   clipped: number[]}}  `percentile`: null when each tile has its own scale; `half`: the value shown at half
 *   brightness; `clipped`: channels whose peak is above the scale
 */
export function gridScale(atlas, stats) {
  const gamma = atlas?.gamma ?? 1;
  const count = atlas?.count ?? 0;
  const scale = count > 0 ? stats.scale[0] : 0;
  const clipped = [];
  for (let i = 0; i < count; i++) {
    if (Math.max(Math.abs(stats.min[i]), Math.abs(stats.max[i])) > stats.scale[i]) clipped.push(i);
  }
  // An atlas saved before atlases said their rule was made with the layer's largest value, linearly.
  const percentile = atlas?.percentile === undefined ? 100 : atlas.percentile;
  return { scale, gamma, percentile, signed: Boolean(atlas?.signed),
    half: scale * 0.5 ** (1 / gamma), clipped };
}

/**
 * Whether a unit of the layer atlas is dead (never fired on the mined images).
 * @param {{images?: number}} atlas
 * @param {Record<string, Float32Array>} stats  columns of the atlas's stats
 * @param {number} i  row
 */
export function atlasUnitDead(atlas, stats, i) {
  return (atlas.images ?? 0) > 0 && stats.fired[i] === 0;
}

/**
 * Where tile `index` sits in a sheet laid out row-major with `cols` tiles per row.
 * @param {number} index
 * @param {number} cols
 * @param {[number, number]} tile  [height, width]
 * @returns {{x: number, y: number, width: number, height: number}}
 */
export function tileRect(index, cols, tile) {
  const [height, width] = tile;
  return { x: (index % cols) * width, y: Math.floor(index / cols) * height, width, height };
}

/**
 * Where exemplar `rank` of row `row` sits in a sheet holding `k` exemplars a row (the layer atlas's sheets).
 * @param {number} row
 * @param {number} rank
 * @param {number} k
 * @param {[number, number]} tile  [height, width]
 */
export function exemplarRect(row, rank, k, tile) {
  return tileRect(row * k + rank, k, tile);
}

/**
 * Copy the pixels of `rect` out of an RGBA sheet `sheetWidth` pixels wide: the tile's own RGBA array.
 * @param {Uint8ClampedArray|Uint8Array} sheet
 * @param {number} sheetWidth
 * @param {{x: number, y: number, width: number, height: number}} rect
 * @returns {Uint8ClampedArray}
 */
export function cropRGBA(sheet, sheetWidth, rect) {
  const out = new Uint8ClampedArray(rect.width * rect.height * 4);
  for (let row = 0; row < rect.height; row++) {
    const start = ((rect.y + row) * sheetWidth + rect.x) * 4;
    out.set(sheet.subarray(start, start + rect.width * 4), row * rect.width * 4);
  }
  return out;
}

/**
 * An uncompressed picture from the kernel (`{shape: [h, w], channels: 1|3, data}`) as RGBA pixels; one channel
 * is gray (or codes, to be coloured).
 * @param {{shape: number[], channels?: number, data: any}} picture
 * @returns {{width: number, height: number, rgba: Uint8ClampedArray}}
 */
export function rawToRGBA(picture) {
  const [height, width] = picture.shape;
  const channels = picture.channels ?? 1;
  const bytes = bytesOf(picture.data) ?? new Uint8Array(0);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += channels) {
    rgba[i * 4] = bytes[j];
    rgba[i * 4 + 1] = bytes[channels === 3 ? j + 1 : j];
    rgba[i * 4 + 2] = bytes[channels === 3 ? j + 2 : j];
    rgba[i * 4 + 3] = 255;
  }
  return { width, height, rgba };
}
