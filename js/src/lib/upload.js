// Getting a user's file to the kernel: small files go as they are (the kernel reads them and names any problem),
// large ones are decoded and downscaled here first (Jupyter's websocket refuses messages near 10 MB).
import { downscaleSize, MAX_RAW, SEND_AS_IS, UPLOAD_SIDE } from "./layout.js";

/**
 * The bytes to send for `file`: `{name, bytes, downscaled}`.
 * @param {File} file
 * @returns {Promise<{name: string, bytes: ArrayBuffer, downscaled: boolean}>}
 * @throws {Error} a file too large to send that the browser cannot read either (the message names it)
 */
export async function prepareUpload(file) {
  const name = file.name || "upload";
  if (file.size <= SEND_AS_IS) return { name, bytes: await file.arrayBuffer(), downscaled: false };
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    bitmap = null;
  }
  if (!bitmap) {
    if (file.size <= MAX_RAW) return { name, bytes: await file.arrayBuffer(), downscaled: false };
    throw new Error(`${name} is ${(file.size / 1048576).toFixed(1)} MB and this browser cannot read it as an image — `
      + "pass a JPEG, PNG, WebP, GIF or BMP file");
  }
  const { width, height } = downscaleSize(bitmap.width, bitmap.height, UPLOAD_SIDE);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; // transparent pixels become white, as the kernel composites them
  context.fillRect(0, 0, width, height);
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  if (!blob) throw new Error(`${name}: the browser could not re-encode it — try a smaller image`);
  return { name, bytes: await blob.arrayBuffer(), downscaled: true };
}
