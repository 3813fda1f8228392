// The selection and the stamps on results: which results answer the current selection, and what is still pending.

/**
 * @typedef {{image: number|null, layer: string, channel: number, position: string|number[], rule: string}} Selection
 */

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
  };
}

/** @param {any} a @param {any} b */
export function samePosition(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]);
  }
  return a === b;
}

/**
 * Whether a unit result's stamp (`unit.request`) answers `selection`.
 * @param {Partial<Selection>|null|undefined} request
 * @param {Selection} selection
 */
export function unitAnswers(request, selection) {
  return !!request && request.image === selection.image && request.layer === selection.layer
    && request.channel === selection.channel && request.rule === selection.rule
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
 * A stable text key for a stamp or a selection (for data attributes and events).
 * @param {Partial<Selection>|null|undefined} s
 */
export function requestKey(s) {
  if (!s) return "";
  const position = Array.isArray(s.position) ? s.position.join(",") : s.position;
  return `${s.image}|${s.layer}|${s.channel}|${position}|${s.rule}`;
}

/**
 * The trait changes that select `changes` from the current state, kept consistent: a new layer clamps the
 * channel to its channel count and drops a position picked on the old layer's map.
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
    const channel = changes.channel ?? model.get("channel");
    if (channel >= channels || changes.channel != null) out.channel = Math.min(channel, channels - 1);
    const position = changes.position ?? model.get("position");
    out.position = Array.isArray(position) ? "max" : position;
  } else {
    if (changes.channel != null) out.channel = changes.channel;
    if (changes.position != null) out.position = changes.position;
  }
  if (changes.rule != null) out.rule = changes.rule;
  for (const key of Object.keys(out)) {
    if (key === "position" ? samePosition(out[key], model.get(key)) : out[key] === model.get(key)) delete out[key];
  }
  return out;
}

/**
 * Whether a top-9 answer's stamp (`top9.request`) answers `selection`: it depends on the unit and the rule, not on
 * the image or the position.
 * @param {{layer?: string, channel?: number, rule?: string}|null|undefined} request
 * @param {Selection} selection
 */
export function top9Answers(request, selection) {
  return !!request && request.layer === selection.layer && request.channel === selection.channel
    && request.rule === selection.rule;
}

/**
 * Whether a layer-atlas page's stamp (`layer_atlas.request`) answers the current layer, page, rule and order.
 * @param {{layer?: string, page?: number, rule?: string, sort_by?: string}|null|undefined} request
 * @param {{get: (key: string) => any}} model
 */
export function layerAtlasAnswers(request, model) {
  return !!request && request.layer === model.get("layer") && request.page === model.get("layer_atlas_page")
    && request.rule === model.get("rule") && request.sort_by === model.get("sort_by");
}
