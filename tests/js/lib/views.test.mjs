import assert from "node:assert/strict";
import { test } from "node:test";
import { autoLabel, CROP_CHOICES, DISPLAY_CHOICES, patchCaption, projectionCaption, RULE_CHOICES,
  viewLine } from "../../../js/src/lib/views.js";

test("every view trait offers auto first, then the values Python accepts", () => {
  assert.deepEqual(RULE_CHOICES.map(([v]) => v), ["auto", "deconvnet", "guided", "gradient"]);
  assert.deepEqual(DISPLAY_CHOICES.map(([v]) => v), ["auto", "raw", "gray", "norm", "blurred_norm"]);
  assert.deepEqual(CROP_CHOICES.map(([v]) => v), ["auto", "field", "center"]);
});

test("the auto button says what auto shows on this layer", () => {
  const view = { rule: "guided", display: "blurred_norm", crop: "center" };
  assert.equal(autoLabel("rule", view), "auto · guided");
  assert.equal(autoLabel("display", view), "auto · blurred");
  assert.equal(autoLabel("crop", view), "auto · central half");
  assert.equal(autoLabel("crop", null), "auto", "a layer whose default is not known (yet)");
});

test("the view line says what is shown and why", () => {
  assert.equal(viewLine({ text: "guided backprop · gray · central half", why: "the clearest view at this depth" }),
    "guided backprop · gray · central half — the clearest view at this depth");
  assert.equal(viewLine({ text: "deconvnet · raw colour · receptive field" }), "deconvnet · raw colour · receptive field");
  assert.equal(viewLine(undefined), "");
});

test("captions name the rule, display, place and crop", () => {
  const view = { rule: "deconvnet", display: "gray", crop: "center" };
  assert.equal(projectionCaption(view, [3, 4]), "deconvnet · gray at (3, 4) · central half");
  assert.equal(projectionCaption({ ...view, crop: "field" }, null), "deconvnet · gray · whole map");
  // A 63×63 field at (88, 88): its central half is 32×32; a 3×3 field is shown widened to 24×24.
  assert.equal(patchCaption("center", [88, 88, 151, 151], [103, 103, 135, 135]),
    "image patch · central half of the 63×63 px field (32×32 px)");
  assert.equal(patchCaption("field", [60, 38, 63, 41], [49, 27, 73, 51]),
    "image patch · receptive field 3×3 px (24×24 px shown)");
  assert.equal(patchCaption("field", [88, 88, 151, 151], [88, 88, 151, 151]), "image patch · receptive field 63×63 px");
});
