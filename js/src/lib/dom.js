// Small DOM helpers. Text from the model (layer names, class names, file names) only ever goes in as text.

/**
 * Create an element.
 * @param {string} tag
 * @param {{className?: string, testid?: string, text?: string, attrs?: Record<string, string|number|boolean>,
 *   on?: Record<string, EventListener>}} [props]
 * @param {Array<Node|null|undefined|false>} [children]
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  if (props.className) el.className = props.className;
  if (props.testid) el.dataset.testid = props.testid;
  if (props.text != null) el.textContent = String(props.text);
  for (const [key, value] of Object.entries(props.attrs ?? {})) {
    if (value === false || value == null) continue;
    el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const [event, fn] of Object.entries(props.on ?? {})) el.addEventListener(event, fn);
  for (const child of children) if (child) el.append(child);
  return el;
}

/**
 * Set an element's text only when it differs: a write replaces the text node, which costs a layout on the next frame
 * even when the words are the same — on every click, for the panels that redraw on every selection change.
 * @param {HTMLElement} el
 * @param {string} text
 */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Show or hide an element, touching it only when that changes (as `setText`).
 * @param {HTMLElement} el
 * @param {boolean} hidden
 */
export function setHidden(el, hidden) {
  if (el.hidden !== hidden) el.hidden = hidden;
}

/**
 * Decode PNG/JPEG bytes into an ImageBitmap, without colour management (codes must stay exact).
 * @param {Uint8Array} bytes
 * @param {string} [type]
 */
export function decodeBitmap(bytes, type = "image/png") {
  return createImageBitmap(new Blob([bytes], { type }), { premultiplyAlpha: "none", colorSpaceConversion: "none" });
}

/**
 * Decode PNG bytes into ImageData (RGBA pixels).
 * @param {Uint8Array} bytes
 * @returns {Promise<ImageData>}
 */
export async function decodePixels(bytes) {
  const bitmap = await decodeBitmap(bytes);
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

/**
 * Put RGBA pixels into a canvas, resizing it to them.
 * @param {HTMLCanvasElement} canvas
 * @param {Uint8ClampedArray} rgba
 * @param {number} width
 * @param {number} height
 */
export function putPixels(canvas, rgba, width, height) {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
}

/**
 * Draw an ImageBitmap into a canvas, resizing it to the bitmap.
 * @param {HTMLCanvasElement} canvas
 * @param {ImageBitmap} bitmap
 */
export function drawBitmap(canvas, bitmap) {
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
}
