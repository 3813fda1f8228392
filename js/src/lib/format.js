// Numbers and words for people: every text the panels build from numbers or from a state (values, rates, amounts,
// captions, the mining and run status lines). No DOM here: tested with node (tests/js/lib/format.test.mjs).

/**
 * Short number for people: 3 significant digits, no exponent for ordinary magnitudes.
 * @param {number|null|undefined} value
 */
export function formatNumber(value) {
  if (value == null || Number.isNaN(value)) return "–";
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(2);
  return Number(value.toPrecision(3)).toString();
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
 * An amount of a transform for people: "+10 px", "1.25×", "90°".
 * @param {number} value
 * @param {string} unit  "px", "×" or "°"
 */
export function amountText(value, unit) {
  const v = Number(value.toPrecision(6));
  if (unit === "px") return `${v > 0 ? "+" : ""}${v} px`;
  if (unit === "×") return `${v}×`;
  return `${v}${unit}`;
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
 * The activation grid's legend in words: what full and half brightness are, and how many tiles are clipped.
 * @param {{scale: number, gamma: number, percentile: number|null, signed: boolean, half: number, clipped: number[]}} g
 *   lib/decode.js `gridScale`
 */
export function gridLegendText(g) {
  if (g.percentile == null) return "each tile stretched to its own peak: tiles do not compare";
  const which = g.percentile >= 100 ? "the layer's largest value" : `the ${ordinal(g.percentile)} percentile of the `
    + "units' peaks";
  const ends = g.signed ? `white = ${formatNumber(g.scale)}, black = ${formatNumber(-g.scale)}, gray = 0`
    : `full brightness = ${formatNumber(g.scale)}`;
  const parts = [`${ends}: ${which}`];
  const curve = g.gamma === 0.5 ? "√" : `power ${g.gamma}`;
  if (g.gamma !== 1) parts.push(`${g.signed ? "halfway = ±" : "half = "}${formatNumber(g.half)} (${curve} scale)`);
  const n = g.clipped.length;
  if (n) parts.push(`◥ ${n} unit${n === 1 ? "" : "s"} above it, clipped`);
  return parts.join(" · ");
}

/** @param {number} n */
function ordinal(n) {
  const v = Number(n.toPrecision(4));
  const teen = v % 100 >= 11 && v % 100 <= 13;
  const suffix = teen || !Number.isInteger(v) ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[v % 10] ?? "th");
  return `${v}${suffix}`;
}

/**
 * The note said when a layer change moves the channel: the new layer has fewer channels.
 * @param {string} layer  the new layer
 * @param {number} from  the channel asked for
 * @param {number} to  the channel selected
 * @param {number} channels  the new layer's channel count
 */
export function clampText(layer, from, to, channels) {
  return `channel ${from} → ${to}: ${layer} has ${channels} channel${channels === 1 ? "" : "s"}`;
}

/**
 * The note when a new layer on a saved page does not hold the selected channel and the first it holds is selected.
 * @param {string} layer
 * @param {number} from
 * @param {number} to
 * @param {number} held  units the page holds of the layer
 * @param {number} channels
 */
export function unheldText(layer, from, to, held, channels) {
  return `channel ${from} → ${to}: this saved page holds ${held} of ${layer}'s ${channels} units`;
}

/**
 * What the unit card says of a unit whose projection is empty (`unit.silent`, cnnviz_widget/state/units.py
 * `silence`), or "" for one that fires where it is shown.
 * @param {string|null|undefined} silent  "here", "everywhere" or nothing
 */
export function silenceText(silent) {
  if (silent === "everywhere") {
    return "Silent everywhere on this image: its activation map is all 0, so its projection is empty. Its top-9 "
      + "exemplars show what makes it fire.";
  }
  if (silent === "here") {
    return "Silent here: its activation at this location is 0, so its projection is empty. Pick a bright spot of "
      + "its map (or its strongest location); its top-9 exemplars show what makes it fire.";
  }
  return "";
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
 * A run's status for people, and whether its progress bar and cancel button show.
 * @param {string} what  e.g. "occlusion"
 * @param {any} job
 * @returns {{text: string, running: boolean}}
 */
export function jobText(what, job) {
  if (!job?.state) return { text: "", running: false };
  const progress = job.total ? ` ${job.done} of ${job.total}` : "";
  switch (job.state) {
    case "queued":
      return { text: `${what}: waiting for the run before it`, running: true };
    case "running":
      return { text: `${what}:${progress || " starting"}`, running: true };
    case "cancelling":
      return { text: `${what}: cancelling…`, running: true };
    case "cancelled":
      return { text: `${what} cancelled${job.total ? ` after${progress}` : ""}`, running: false };
    case "failed":
      return { text: `${what} failed: ${job.message ?? ""}`, running: false };
    default:
      return { text: "", running: false };
  }
}
