// The protocol between the model's state and the panels, in one place: what the selection is and how a change of it
// stays consistent; which stamped result answers which selection (a panel paints a result only when its stamp
// answers, so stale answers are dropped); which run of an experiment to follow; and the keys under which a page with
// no kernel (static-model.js) finds the saved result for a selection, built from a spec defined in Python (state/keys.py;
// the export writes it into the saved document). Pure: no DOM, importable from node.
import { clampText, unheldText } from "./lib/format.js";

/**
 * @typedef {{image: number|null, layer: string, channel: number, position: string|number[], rule: string,
 *   display: string, crop: string}} Selection
 */

/** How a projection is shown: each "auto" (the layer's default view, `layers[].view`) or an explicit choice. */
export const VIEW_TRAITS = ["rule", "display", "crop"];

/** The traits of a selection that `selectionChanges` keeps consistent (the image is the `picture`'s). */
export const SELECTION_TRAITS = ["layer", "channel", "position", ...VIEW_TRAITS];

/**
 * The current selection, read from a model (anything with `get`).
 * @param {{get: (key: string) => any}} model
 * @returns {Selection}
 */
export function selectionOf(model) {
  return {
    image: model.get("picture")?.id ?? null,
    layer: model.get("layer"),
    channel: model.get("channel"),
    position: model.get("position"),
    rule: model.get("rule"),
    display: model.get("display"),
    crop: model.get("crop"),
  };
}

/**
 * What "auto" shows on `layer`: its default view `{rule, display, crop}` from the `layers` trait (null: unknown).
 * An explicit choice of the selection stays when the layer changes; only "auto" follows the layer.
 * @param {{get: (key: string) => any}} model
 * @param {string} layer
 * @returns {{rule: string, display: string, crop: string}|null}
 */
export function defaultView(model, layer) {
  return (model.get("layers") ?? []).find((l) => l.name === layer)?.view ?? null;
}

/** @param {any} a @param {any} b */
export function samePosition(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]);
  }
  return a === b;
}

/**
 * The trait changes that select `changes` from the current state, kept consistent: a new layer keeps the channel
 * when it has it, else clamps it to its last one and says so in `note` (`{layer, channel, text}`, shown while that
 * unit is selected; `{}` clears an older note), and drops a position picked on the old layer's map. On a saved page
 * that holds some units of the new layer only (`holds.units`, strongest first), a channel it does not hold moves to
 * the first it holds, and the note says so.
 * @param {{get: (key: string) => any}} model
 * @param {Partial<Selection>} changes
 * @returns {Record<string, any>}
 */
export function selectionChanges(model, changes) {
  const out = {};
  const layer = changes.layer ?? model.get("layer");
  if (changes.layer != null && changes.layer !== model.get("layer")) {
    out.layer = changes.layer;
    const info = (model.get("layers") ?? []).find((l) => l.name === layer);
    const channels = info?.shape?.[0] ?? 1;
    const asked = changes.channel ?? model.get("channel");
    let channel = Math.min(asked, channels - 1);
    out.note = channel < asked ? { layer, channel, text: clampText(layer, asked, channel, channels) } : {};
    const held = model.get("holds")?.units?.[layer];
    if (changes.channel == null && held?.length && !held.includes(channel)) {
      out.note = { layer, channel: held[0], text: unheldText(layer, asked, held[0], held.length, channels) };
      channel = held[0];
    }
    if (channel !== model.get("channel") || changes.channel != null) out.channel = channel;
    const position = changes.position ?? model.get("position");
    out.position = Array.isArray(position) ? "max" : position;
  } else {
    if (changes.channel != null) out.channel = changes.channel;
    if (changes.position != null) out.position = changes.position;
  }
  for (const key of VIEW_TRAITS) if (changes[key] != null) out[key] = changes[key];
  for (const key of Object.keys(out)) {
    const same = key === "position" ? samePosition(out[key], model.get(key))
      : key === "note" ? sameNote(out[key], model.get(key)) : out[key] === model.get(key);
    if (same) delete out[key];
  }
  return out;
}

/**
 * Whether two notes say the same about the same unit (no note: `{}` or nothing).
 * @param {any} a @param {any} b
 */
function sameNote(a, b) {
  return (a?.text ?? "") === (b?.text ?? "") && (!a?.text || (a.layer === b.layer && a.channel === b.channel));
}

/**
 * The note to show for the current selection: its text while its unit is selected, else "".
 * @param {{get: (key: string) => any}} model
 */
export function noteText(model) {
  const note = model.get("note");
  return note?.text && note.layer === model.get("layer") && note.channel === model.get("channel") ? note.text : "";
}

/**
 * Whether the page can answer `value` of a selection field ("rule", "display", "crop" or "position"): always in the
 * live widget (no `holds`); on a saved page only what it holds (static-model.js) — a position picked on the map
 * ([y, x]) never.
 * @param {{rules?: string[], displays?: string[], crops?: string[], positions?: string[]}|null|undefined} holds
 *   `model.get("holds")`
 * @param {"rule"|"display"|"crop"|"position"} field
 * @param {any} value
 */
export function offered(holds, field, value) {
  if (!holds) return true;
  if (field === "position") return !Array.isArray(value) && (holds.positions ?? ["max"]).includes(value);
  return (holds[`${field}s`] ?? []).includes(value);
}

/**
 * A stable text key for a stamp or a selection (for data attributes and events).
 * @param {Partial<Selection>|null|undefined} s
 */
export function requestKey(s) {
  if (!s) return "";
  const position = Array.isArray(s.position) ? s.position.join(",") : s.position;
  return `${s.image}|${s.layer}|${s.channel}|${position}|${s.rule}|${s.display}|${s.crop}`;
}

/**
 * Whether a stamp shows the selection's rule, display and crop (as selected: "auto" answers "auto" only).
 * @param {{rule?: string, display?: string, crop?: string}} request
 * @param {{rule?: string, display?: string, crop?: string}} selection
 */
function sameView(request, selection) {
  return VIEW_TRAITS.every((key) => request[key] === selection[key]);
}

// -------------------------------------------------------------------------- stamps: which result answers the selection
/**
 * Whether a unit result's stamp (`unit.request`) answers `selection`.
 * @param {Partial<Selection>|null|undefined} request
 * @param {Selection} selection
 */
export function unitAnswers(request, selection) {
  return !!request && request.image === selection.image && request.layer === selection.layer
    && request.channel === selection.channel && sameView(request, selection)
    && samePosition(request.position, selection.position);
}

/**
 * Whether an atlas answers the selection's layer and image.
 * @param {{layer?: string, image?: number}|null|undefined} atlas
 * @param {Selection} selection
 */
export function atlasAnswers(atlas, selection) {
  return !!atlas && atlas.layer === selection.layer && atlas.image === selection.image;
}

/**
 * What the front end still waits for: nothing when every result answers the selection.
 * A model with no picture yet (an empty state) waits for nothing.
 * @param {{get: (key: string) => any}} model
 * @returns {{atlas: boolean, unit: boolean}}
 */
export function pending(model) {
  const selection = selectionOf(model);
  if (selection.image == null) return { atlas: false, unit: false };
  return {
    atlas: !atlasAnswers(model.get("atlas"), selection),
    unit: !unitAnswers(model.get("unit")?.request, selection),
  };
}

/**
 * Whether a top-9 answer's stamp (`top9.request`) answers `selection`: it depends on the unit and how projections
 * are shown (rule, display, crop), not on the image or the position.
 * @param {{layer?: string, channel?: number, rule?: string, display?: string, crop?: string}|null|undefined} request
 * @param {Selection} selection
 */
export function top9Answers(request, selection) {
  return !!request && request.layer === selection.layer && request.channel === selection.channel
    && sameView(request, selection);
}

/**
 * Whether a layer-atlas page's stamp (`layer_atlas.request`) answers the current layer, page, view and order.
 * @param {{layer?: string, page?: number, rule?: string, display?: string, crop?: string,
 *   sort_by?: string}|null|undefined} request
 * @param {{get: (key: string) => any}} model
 */
export function layerAtlasAnswers(request, model) {
  return !!request && request.layer === model.get("layer") && request.page === model.get("layer_atlas_page")
    && sameView(request, selectionOf(model)) && request.sort_by === model.get("sort_by");
}

/**
 * Whether a synthesised image (stamped `synthesis_result.request`) belongs to the selected unit of the model shown.
 * @param {{model?: string, layer?: string, channel?: number}|null|undefined} request
 * @param {{layer: string, channel: number}} selection
 * @param {string|null|undefined} model  `model_info.name`
 */
export function synthesisAnswers(request, selection, model) {
  return !!request && request.layer === selection.layer && request.channel === selection.channel
    && request.model === model;
}

// ------------------------------------------------------------------------------------ class evidence: its own selection
/**
 * @typedef {{image: number|null, target: number|null, layer: string, counterfactual: boolean}} ClassSelection
 */

/**
 * The class panel's selection, read from a model: the image (`picture.id`), the class (`class_target`, null: none),
 * the layer (`class_layer`) and whether the map is the counterfactual one (`class_counterfactual`).
 * @param {{get: (key: string) => any}} model
 * @returns {ClassSelection}
 */
export function classSelectionOf(model) {
  return {
    image: model.get("picture")?.id ?? null,
    target: model.get("class_target") ?? null,
    layer: model.get("class_layer") ?? "",
    counterfactual: Boolean(model.get("class_counterfactual")),
  };
}

/**
 * Whether a class-evidence answer's stamp (`class_evidence.request`) answers the class selection: same image, class,
 * layer and map. No class chosen: nothing answers.
 * @param {Partial<ClassSelection>|null|undefined} request
 * @param {ClassSelection} selection
 */
export function classEvidenceAnswers(request, selection) {
  return !!request && selection.target != null && request.image === selection.image
    && request.target === selection.target && request.layer === selection.layer
    && Boolean(request.counterfactual) === selection.counterfactual;
}

/**
 * A stable text key for a class-evidence stamp or selection (for data attributes and events).
 * @param {Partial<ClassSelection>|null|undefined} s
 */
export function classRequestKey(s) {
  if (!s) return "";
  return `${s.image}|${s.target}|${s.layer}|${Boolean(s.counterfactual)}`;
}

// ---------------------------------------------------------------------------------------------- runs: the `jobs` trait
const ACTIVE = new Set(["queued", "running", "cancelling"]);

/**
 * Whether a run (an entry of the `jobs` trait) is still under way.
 * @param {{state?: string}|null|undefined} job
 */
export function isActive(job) {
  return !!job && ACTIVE.has(job.state ?? "");
}

/**
 * Whether an experiment's result (stamped `request.id`) should be painted: not older than what is painted already,
 * and not superseded by a newer run that is still under way (then what is painted stays, dimmed, until the newer
 * answer arrives). A newer run that failed or was cancelled leaves the result it could not replace.
 * @param {{id?: number}|null|undefined} request  the result's stamp
 * @param {{id?: number, state?: string}|null|undefined} job  the experiment's latest run
 * @param {number} [paintedId]  the stamp of what this view painted last (0: nothing)
 */
export function experimentAnswers(request, job, paintedId = 0) {
  if (!request || typeof request.id !== "number" || request.id < paintedId) return false;
  if (!job || job.id === request.id) return true;
  return !(isActive(job) && (job.id ?? 0) > request.id);
}

/**
 * The experiment whose run started last, among `kinds` (for the panel tabs to follow what the user just ran).
 * @param {Record<string, {id: number}>|null|undefined} jobs
 * @param {string[]} kinds
 * @returns {string|null}
 */
export function newestKind(jobs, kinds) {
  let best = null;
  let id = -1;
  for (const kind of kinds) {
    const job = jobs?.[kind];
    if (job && job.id > id) {
      best = kind;
      id = job.id;
    }
  }
  return best;
}

// ----------------------------------------------------------------------------------------- answer keys of a saved page
/**
 * The answer keys of a document saved before documents carried their spec (format 1); export/ writes the same
 * spec into format 2 as `keys`.
 * @type {Record<string, {fields: string[], when?: string}>}
 */
export const FORMAT_1_KEYS = {
  atlas: { fields: ["layer"] },
  unit: { fields: ["layer", "channel", "position", "rule"] },
  top9: { fields: ["layer", "channel", "rule"] },
  layer_atlas: { fields: ["layer", "layer_atlas_page", "rule", "sort_by"], when: "layer_atlas_open" },
  synthesis_result: { fields: ["layer", "channel"] },
};

/**
 * A trait's value as a part of a key: an array's items joined with ",", nothing for null, true/false, a number or a
 * string as it is (Python's export/ writes the same text).
 * @param {any} value
 * @returns {string}
 */
export function fieldText(value) {
  if (Array.isArray(value)) return value.join(",");
  if (value == null) return "";
  return String(value);
}

/**
 * The key of each answered trait for the current state, following `spec` ({trait: {fields, when}}): the fields'
 * texts joined with "|", or `null` when the trait named by `when` is falsy (the panel is not asked for now).
 * @param {{get: (k: string) => any}} model
 * @param {Record<string, {fields: string[], when?: string}>} spec
 * @returns {Record<string, string|null>}
 */
export function answerKeys(model, spec) {
  return Object.fromEntries(Object.entries(spec).map(([trait, { fields, when }]) => [trait,
    when != null && !model.get(when) ? null : fields.map((field) => fieldText(model.get(field))).join("|")]));
}

/**
 * The traits a change of which asks for new answers: every field and `when` of `spec`.
 * @param {Record<string, {fields: string[], when?: string}>} spec
 * @returns {Set<string>}
 */
export function keyTraits(spec) {
  return new Set(Object.values(spec).flatMap(({ fields, when }) => (when != null ? [...fields, when] : fields)));
}
