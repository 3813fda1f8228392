// Pure helpers of the dataset-exemplar panels (top-9, layer atlas, mining status): the words and numbers they show,
// and the binary parts of their state. The kernel side is cnnviz_widget/exemplar_panels.py.
import { bytesOf, formatNumber, tileRect } from "./atlas.js";

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
 * A rate as a percentage for people: "45%", "0.3%", "100%".
 * @param {number|null|undefined} rate  0–1
 */
export function percent(rate) {
  if (rate == null || Number.isNaN(rate)) return "–";
  const p = 100 * rate;
  return `${p === 0 || p >= 10 ? Math.round(p) : Number(p.toPrecision(2))}%`;
}

/**
 * The caption under an exemplar: its activation value, and its label when known.
 * @param {{value: number, label_name?: string|null}} exemplar
 */
export function exemplarCaption(exemplar) {
  const value = formatNumber(exemplar.value);
  return exemplar.label_name ? `${value} · ${exemplar.label_name}` : value;
}

/**
 * Labels among a unit's top-k, commonest first: "tabby ×3, tiger cat ×2 …".
 * @param {Array<[number, string|null, number]>} mix  [label, name, count]
 * @param {number} [shown]
 */
export function classMixText(mix, shown = 3) {
  if (!mix?.length) return "";
  const parts = mix.slice(0, shown).map(([label, name, count]) => `${name ?? `class ${label}`} ×${count}`);
  return parts.join(", ") + (mix.length > shown ? " …" : "");
}

/**
 * The line under the top-9 grids: how often the unit fires on the mined images, and its class mix.
 * @param {{stats?: any, complete?: boolean}} top9
 */
export function unitSummary(top9) {
  const s = top9?.stats;
  if (!s) return "";
  const images = `${s.images} image${s.images === 1 ? "" : "s"}`;
  if (s.dead) return `dead: fired on none of the ${images} mined`;
  const parts = [`fires on ${percent(s.firing_rate)} of ${images}`];
  const mix = classMixText(s.class_mix);
  if (mix) parts.push(`top-${top9.count ?? "k"} classes: ${mix}`);
  if (top9.complete === false) parts.push("partial (mining goes on)");
  return parts.join(" · ");
}

/**
 * The mining status for people, from the `mining` trait.
 * @param {any} mining
 * @returns {{text: string, running: boolean}}
 */
export function miningText(mining) {
  if (!mining?.state) return { text: "", running: false };
  const of = `${mining.done} of ${mining.total} images`;
  const skipped = mining.skipped ? ` (${mining.skipped} unreadable)` : "";
  switch (mining.state) {
    case "running":
      return { text: `mining ${mining.dataset}: ${of}${skipped}`, running: true };
    case "cancelling":
      return { text: `cancelling after the current batch: ${of}`, running: true };
    case "cancelled":
      return { text: `mining cancelled after ${of}: partial exemplars (mine again to resume)`, running: false };
    case "partial":
      return { text: `exemplars of ${mining.images} images of ${mining.dataset} (an unfinished pass)`, running: false };
    case "failed":
      return { text: `mining failed: ${mining.message}`, running: false };
    default:
      return { text: `exemplars: ${mining.images} images of ${mining.dataset}${skipped}`, running: false };
  }
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
 * Whether a unit of the layer atlas is dead (never fired on the mined images).
 * @param {{images?: number}} atlas
 * @param {Record<string, Float32Array>} stats  columns of the atlas's stats
 * @param {number} i  row
 */
export function atlasUnitDead(atlas, stats, i) {
  return (atlas.images ?? 0) > 0 && stats.fired[i] === 0;
}
