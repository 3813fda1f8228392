// How a projection is shown — its view: the rule, the display and the crop (cnnviz_widget/views.py) — in words for
// the controls and captions. The view itself (what "auto" resolves to on each layer, and why) comes from Python:
// `layers[].view` and each answer's `view`. No DOM here: tested with node (tests/js/lib/views.test.mjs).

/** @typedef {{rule: string, display: string, crop: string}} View */

/** Each choice: [value, button label, help]. "auto" follows the layer's default view (by depth). */
export const RULE_CHOICES = [
  ["auto", "auto", "the clearest rule at this depth, chosen per layer by a measure of structure"],
  ["deconvnet", "deconvnet", "Zeiler & Fergus (the paper's rule): ReLU applied to the signal going down"],
  ["guided", "guided", "guided backprop: deconvnet and gradient masks together"],
  ["gradient", "gradient", "plain gradient of the unit with respect to the pixels"],
];
export const DISPLAY_CHOICES = [
  ["auto", "auto", "the clearest display at this depth"],
  ["raw", "raw", "colour centred on gray, one scale for the three channels (the paper's)"],
  ["gray", "gray", "the mean of the colour channels, centred on gray: no colour speckle"],
  ["norm", "norm", "the length of each pixel's colour vector, from black: where the signal is, not its sign"],
  ["blurred_norm", "blurred", "the norm blurred (σ = 4 px): where the signal is, smoothly"],
];
export const CROP_CHOICES = [
  ["auto", "auto", "the clearest crop at this depth"],
  ["field", "receptive field", "the unit's whole receptive field"],
  ["center", "central half", "the central half of the receptive field, where a deep unit's projection lies, "
    + "shown twice as large"],
];

const SHORT = {
  rule: Object.fromEntries(RULE_CHOICES.map(([v, label]) => [v, label])),
  display: Object.fromEntries(DISPLAY_CHOICES.map(([v, label]) => [v, label])),
  crop: Object.fromEntries(CROP_CHOICES.map(([v, label]) => [v, label])),
};

/**
 * The "auto" button's label: what auto shows on this layer ("auto · guided"), or "auto" when unknown.
 * @param {"rule"|"display"|"crop"} field
 * @param {View|null|undefined} view  the layer's default view
 */
export function autoLabel(field, view) {
  const value = view?.[field];
  return value ? `auto · ${SHORT[field][value] ?? value}` : "auto";
}

/**
 * The line under the card's controls: what the projection shows and why ("guided backprop · gray · central half —
 * the clearest view at this depth"), from an answer's `view`.
 * @param {{text?: string, why?: string}|null|undefined} view
 */
export function viewLine(view) {
  if (!view?.text) return "";
  return view.why ? `${view.text} — ${view.why}` : view.text;
}

/**
 * The caption under the card's projection: rule and display, where, and the crop.
 * @param {View} view
 * @param {number[]|null|undefined} location  [y, x], or none (the whole map)
 */
export function projectionCaption(view, location) {
  const what = `${SHORT.rule[view.rule] ?? view.rule} · ${SHORT.display[view.display] ?? view.display}`;
  if (!location) return `${what} · whole map`;
  return `${what} at (${location.join(", ")}) · ${SHORT.crop[view.crop] ?? view.crop}`;
}

/**
 * The caption under the card's image patch: which part of the receptive field it is, the field's size, and the size
 * shown when the patch was widened to 24 px or cut to the central half.
 * @param {string} crop  "field" or "center"
 * @param {number[]} field  [top, left, bottom, right] (unclipped)
 * @param {number[]} box  [top, left, bottom, right] of the patch shown
 */
export function patchCaption(crop, field, box) {
  const size = (b) => `${b[2] - b[0]}×${b[3] - b[1]}`;
  const whole = `${size(field)} px`;
  const shown = size(box);
  if (crop === "center") return `image patch · central half of the ${whole} field (${shown} px)`;
  return shown === size(field) ? `image patch · receptive field ${whole}` : `image patch · receptive field ${whole} `
    + `(${shown} px shown)`;
}
