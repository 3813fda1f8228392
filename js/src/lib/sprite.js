// Tiles cut from one sheet (the activation grid, the filters, the gallery) drawn as CSS backgrounds of that one
// picture, not as a canvas each: Chromium makes every 2D canvas a compositor layer of its own and walks all of them
// on every frame, so a grid of 512 canvases cost ~40 ms a frame — each click's redraw — whatever changed (issue 12).
// One image behind hundreds of tiles is decoded once and painted as part of the page. Pure but for `sheetURL`.

/**
 * The width and height of PNG bytes, read from its header; `null` when the bytes are not a PNG.
 * @param {Uint8Array|null} bytes
 * @returns {{width: number, height: number}|null}
 */
export function pngSize(bytes) {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!bytes || bytes.length < 24 || signature.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * The CSS background that shows `rect` of a `sheet` (its size in pixels) filling an element's whole box: the sheet
 * scaled so the rect spans the box, shifted so the rect's corner sits at the box's corner (percentages of the
 * free space, CSS's rule for `background-position`). Drawn with `image-rendering: pixelated`, a pixel of the box
 * samples the rect's own pixels only, as a canvas of the rect scaled by CSS does.
 * @param {{x: number, y: number, width: number, height: number}} rect
 * @param {{width: number, height: number}} sheet
 * @returns {{backgroundSize: string, backgroundPosition: string}}
 */
export function tileBackground(rect, sheet) {
  const at = (offset, size, total) => (total > size ? (100 * offset) / (total - size) : 0);
  return {
    backgroundSize: `${(100 * sheet.width) / rect.width}% ${(100 * sheet.height) / rect.height}%`,
    backgroundPosition: `${at(rect.x, rect.width, sheet.width)}% ${at(rect.y, rect.height, sheet.height)}%`,
  };
}

/**
 * An object URL for a sheet's bytes (PNG, or WebP on a saved page: browsers read an image's type from its bytes),
 * replacing (and revoking) the previous one of the same holder.
 * @param {{url?: string|null}} holder
 * @param {Uint8Array} bytes
 */
export function sheetURL(holder, bytes) {
  if (holder.url) URL.revokeObjectURL(holder.url);
  holder.url = URL.createObjectURL(new Blob([bytes]));
  return holder.url;
}
