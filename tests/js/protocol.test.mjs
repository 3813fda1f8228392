import assert from "node:assert/strict";
import { test } from "node:test";
import {
  answerKeys, classEvidenceAnswers, classRequestKey, classSelectionOf, defaultView, experimentAnswers, FORMAT_1_KEYS,
  isActive, keyTraits, layerAtlasAnswers, newestKind, noteText, offered, pending, requestKey, samePosition,
  selectionChanges, selectionOf, synthesisAnswers, top9Answers, unitAnswers,
} from "../../js/src/protocol.js";

function model(state) {
  return { get: (k) => state[k] };
}

const LAYERS = [{ name: "a", shape: [8, 4, 4], view: { rule: "deconvnet", display: "raw", crop: "field" } },
  { name: "b", shape: [3, 2, 2], view: { rule: "guided", display: "gray", crop: "center" } },
  { name: "fc", shape: [10] }];
const base = { picture: { id: 2 }, layer: "a", channel: 5, position: "max", rule: "deconvnet", display: "auto",
  crop: "auto", layers: LAYERS };

test("a unit answers only the exact selection it was computed for", () => {
  const selection = selectionOf(model(base));
  const request = { image: 2, layer: "a", channel: 5, position: "max", rule: "deconvnet", display: "auto",
    crop: "auto" };
  assert.ok(unitAnswers(request, selection));
  for (const [key, value] of [["image", 1], ["layer", "b"], ["channel", 4], ["position", "map"], ["rule", "guided"],
    ["display", "gray"], ["crop", "field"]]) {
    assert.equal(unitAnswers({ ...request, [key]: value }, selection), false, key);
  }
  // "auto" is answered by "auto" only, even where it shows the same picture as the explicit choice
  assert.equal(unitAnswers({ ...request, rule: "auto" }, selection), false);
  assert.equal(unitAnswers(null, selection), false);
});

test("a layer's default view comes from the layers trait; an explicit choice survives a layer change", () => {
  assert.deepEqual(defaultView(model(base), "b"), { rule: "guided", display: "gray", crop: "center" });
  assert.equal(defaultView(model(base), "fc"), null);
  assert.equal(defaultView(model({}), "a"), null);
  assert.deepEqual(selectionChanges(model(base), { layer: "b", channel: 1 }), { layer: "b", channel: 1 },
    "rule deconvnet (chosen) and display/crop auto stay as they are");
  assert.deepEqual(selectionChanges(model(base), { display: "norm", crop: "center", rule: "auto" }),
    { display: "norm", crop: "center", rule: "auto" });
  assert.deepEqual(selectionChanges(model(base), { display: "auto", crop: "auto" }), {}, "unchanged: not sent");
});

test("a saved page offers the rules, displays and crops it holds; the live widget everything", () => {
  const holds = { rules: ["auto"], displays: ["auto", "raw"], crops: ["field"], positions: ["max"] };
  assert.equal(offered(holds, "rule", "auto"), true);
  assert.equal(offered(holds, "rule", "deconvnet"), false);
  assert.equal(offered(holds, "display", "raw"), true);
  assert.equal(offered(holds, "display", "gray"), false);
  assert.equal(offered(holds, "crop", "field"), true);
  assert.equal(offered(holds, "crop", "auto"), false);
  assert.equal(offered({ rules: ["deconvnet"], positions: ["max"] }, "display", "auto"), false,
    "a page saved before displays were choices offers none");
  assert.equal(offered(null, "crop", "center"), true);
});

test("positions compare by value", () => {
  assert.ok(samePosition([1, 2], [1, 2]));
  assert.ok(!samePosition([1, 2], [2, 1]));
  assert.ok(!samePosition("max", [0, 0]));
  assert.ok(samePosition("map", "map"));
});

test("pending tells what still waits for the kernel", () => {
  const request = { image: 2, layer: "a", channel: 5, position: "max", rule: "deconvnet", display: "auto",
    crop: "auto" };
  const done = { ...base, atlas: { layer: "a", image: 2 }, unit: { request } };
  assert.deepEqual(pending(model(done)), { atlas: false, unit: false });
  assert.deepEqual(pending(model({ ...done, channel: 6 })), { atlas: false, unit: true });
  assert.deepEqual(pending(model({ ...done, picture: { id: 3 } })), { atlas: true, unit: true });
  assert.deepEqual(pending(model({ ...done, crop: "center" })), { atlas: false, unit: true });
  assert.deepEqual(pending(model({})), { atlas: false, unit: false }, "an empty state waits for nothing");
});

test("selecting a layer with fewer channels clamps the channel, says so, and drops a picked position", () => {
  const m = model({ ...base, position: [1, 3] });
  const note = { layer: "b", channel: 2, text: "channel 5 → 2: b has 3 channels" };
  assert.deepEqual(selectionChanges(m, { layer: "b" }), { layer: "b", channel: 2, note, position: "max" });
  assert.deepEqual(selectionChanges(m, { layer: "b", channel: 1 }), { layer: "b", channel: 1, position: "max" });
  assert.deepEqual(selectionChanges(model(base), { layer: "b", channel: 0 }), { layer: "b", channel: 0 });
  assert.deepEqual(selectionChanges(model(base), { layer: "b", channel: 7 }).note,
    { layer: "b", channel: 2, text: "channel 7 → 2: b has 3 channels" });
});

test("on a saved page, a new layer that does not hold the channel selects the first unit it holds", () => {
  const holds = { units: { b: [1, 0], fc: [5, 9] } }; // strongest first
  assert.deepEqual(selectionChanges(model({ ...base, holds }), { layer: "b" }), { layer: "b", channel: 1,
    note: { layer: "b", channel: 1, text: "channel 5 → 1: this saved page holds 2 of b's 3 units" } });
  assert.deepEqual(selectionChanges(model({ ...base, holds }), { layer: "fc" }), { layer: "fc" }, "held: kept");
  assert.deepEqual(selectionChanges(model({ ...base, holds }), { layer: "b", channel: 1 }),
    { layer: "b", channel: 1 }, "a unit asked for by name is asked for (the page then says it does not hold it)");
});

test("a layer that has the channel keeps it, and clears an older note", () => {
  const note = { layer: "b", channel: 2, text: "channel 5 → 2: b has 3 channels" };
  const noted = { ...base, layer: "b", channel: 2, note };
  assert.deepEqual(selectionChanges(model(noted), { layer: "a" }), { layer: "a", note: {} });
  assert.deepEqual(selectionChanges(model(base), { layer: "fc" }), { layer: "fc" }, "channel 5 of 10: kept, no note");
  assert.deepEqual(selectionChanges(model({ ...base, note: {} }), { layer: "fc" }), { layer: "fc" });
});

test("a note shows only while its unit is selected", () => {
  const note = { layer: "b", channel: 2, text: "channel 5 → 2: b has 3 channels" };
  assert.equal(noteText(model({ ...base, layer: "b", channel: 2, note })), "channel 5 → 2: b has 3 channels");
  assert.equal(noteText(model({ ...base, layer: "b", channel: 1, note })), "");
  assert.equal(noteText(model({ ...base, note: {} })), "");
  assert.equal(noteText(model(base)), "");
});

test("unchanged values are not sent", () => {
  assert.deepEqual(selectionChanges(model(base), { channel: 5, rule: "deconvnet", position: "max" }), {});
  assert.deepEqual(selectionChanges(model(base), { channel: 6 }), { channel: 6 });
  assert.deepEqual(selectionChanges(model(base), { position: [0, 1] }), { position: [0, 1] });
});

test("requestKey is stable text", () => {
  assert.equal(requestKey({ image: 2, layer: "a", channel: 5, position: [1, 2], rule: "guided", display: "auto",
    crop: "center" }), "2|a|5|1,2|guided|auto|center");
  assert.equal(requestKey(null), "");
});

test("a top-9 answers the unit and its view, whatever the image or the position", () => {
  const selection = { image: 3, layer: "a", channel: 5, position: [1, 2], rule: "deconvnet", display: "auto",
    crop: "auto" };
  const request = { layer: "a", channel: 5, rule: "deconvnet", display: "auto", crop: "auto" };
  assert.ok(top9Answers(request, selection));
  assert.ok(top9Answers(request, { ...selection, image: 9, position: "map" }));
  for (const [key, value] of [["layer", "b"], ["channel", 4], ["rule", "guided"], ["display", "raw"],
    ["crop", "center"]]) {
    assert.equal(top9Answers({ ...request, [key]: value }, selection), false, key);
  }
  assert.equal(top9Answers(undefined, selection), false);
});

test("a layer-atlas page answers its layer, page, view and order", () => {
  const state = { layer: "a", layer_atlas_page: 2, rule: "guided", display: "auto", crop: "field",
    sort_by: "strength" };
  const model = { get: (k) => state[k] };
  const request = { layer: "a", page: 2, rule: "guided", display: "auto", crop: "field", sort_by: "strength" };
  assert.ok(layerAtlasAnswers(request, model));
  for (const [key, value] of [["layer", "b"], ["page", 0], ["rule", "deconvnet"], ["display", "gray"],
    ["crop", "auto"], ["sort_by", "channel"]]) {
    assert.equal(layerAtlasAnswers({ ...request, [key]: value }, model), false, key);
  }
});

test("a result is painted unless a newer run is under way or something newer is painted", () => {
  assert.equal(experimentAnswers({ id: 3 }, { id: 3, state: "done" }), true);
  assert.equal(experimentAnswers({ id: 3 }, undefined), true, "a saved page has no runs");
  assert.equal(experimentAnswers({ id: 3 }, { id: 5, state: "running" }), false, "a newer run is computing");
  assert.equal(experimentAnswers({ id: 3 }, { id: 5, state: "queued" }), false);
  assert.equal(experimentAnswers({ id: 3 }, { id: 5, state: "failed" }), true, "the newer run failed: keep this");
  assert.equal(experimentAnswers({ id: 3 }, { id: 5, state: "cancelled" }), true);
  assert.equal(experimentAnswers({ id: 3 }, { id: 3, state: "done" }, 4), false, "older than what is painted");
  assert.equal(experimentAnswers(undefined, { id: 3, state: "done" }), false);
  assert.equal(isActive({ state: "cancelling" }), true);
  assert.equal(isActive({ state: "done" }), false);
});

test("a synthesised image belongs to one unit of one model", () => {
  const request = { model: "net", layer: "conv1", channel: 2 };
  assert.equal(synthesisAnswers(request, { layer: "conv1", channel: 2 }, "net"), true);
  assert.equal(synthesisAnswers(request, { layer: "conv1", channel: 3 }, "net"), false);
  assert.equal(synthesisAnswers(request, { layer: "conv1", channel: 2 }, "net @ epoch 1"), false);
  assert.equal(synthesisAnswers(undefined, { layer: "conv1", channel: 2 }, "net"), false);
});

test("the newest run's experiment", () => {
  const jobs = { occlusion: { id: 2 }, invariance: { id: 5 }, synthesis: { id: 9 } };
  assert.equal(newestKind(jobs, ["occlusion", "invariance", "evolution"]), "invariance");
  assert.equal(newestKind({}, ["occlusion"]), null);
});

test("keys name what each panel answers", () => {
  const state = { layer: "x.1", channel: 3, position: [2, 5], rule: "guided", layer_atlas_open: false };
  const model = { get: (k) => state[k] };
  assert.deepEqual(answerKeys(model, FORMAT_1_KEYS), { atlas: "x.1", unit: "x.1|3|2,5|guided", top9: "x.1|3|guided",
    layer_atlas: null, synthesis_result: "x.1|3" });
  Object.assign(state, { layer_atlas_open: true, layer_atlas_page: 2, sort_by: "strength" });
  assert.equal(answerKeys(model, FORMAT_1_KEYS).layer_atlas, "x.1|2|guided|strength");
  Object.assign(state, { layer: "features.3", channel: 5, position: "max", rule: "deconvnet" });
  assert.equal(answerKeys(model, FORMAT_1_KEYS).unit, "features.3|5|max|deconvnet");
});

test("a spec naming a new trait builds its key from the spec alone", () => {
  const fields = ["class_target", "class_layer", "class_box", "class_signed", "class_note", "class_missing"];
  const spec = { ...FORMAT_1_KEYS, class_evidence: { fields, when: "class_open" } };
  const state = { layer: "a", channel: 0, position: "max", rule: "deconvnet", class_open: true, class_target: 0,
    class_layer: "features.3", class_box: [3, 4], class_signed: false, class_note: null };
  const model = { get: (k) => state[k] };
  // a number as String(n) (0 too), a string as it is, an array's items joined with ",", a boolean as true/false,
  // null and a trait the state does not hold as nothing
  assert.equal(answerKeys(model, spec).class_evidence, "0|features.3|3,4|false||");
  Object.assign(state, { class_target: 281, class_signed: true, class_box: [] });
  assert.equal(answerKeys(model, spec).class_evidence, "281|features.3||true||");
  assert.equal(answerKeys(model, spec).unit, "a|0|max|deconvnet", "the other keys are unchanged");
  for (const closed of [false, 0, "", null, undefined]) {
    state.class_open = closed;
    assert.equal(answerKeys(model, spec).class_evidence, null, String(closed));
  }
  assert.deepEqual(Object.keys(answerKeys(model, { only: { fields: ["layer"] } })), ["only"]);
});

test("the traits that ask for answers are every field and condition of the spec", () => {
  assert.deepEqual([...keyTraits(FORMAT_1_KEYS)].sort(), ["channel", "layer", "layer_atlas_open", "layer_atlas_page",
    "position", "rule", "sort_by"]);
  const spec = { ...FORMAT_1_KEYS, class_evidence: { fields: ["class_target", "layer"], when: "class_open" } };
  assert.deepEqual([...keyTraits(spec)].sort(), ["channel", "class_open", "class_target", "layer", "layer_atlas_open",
    "layer_atlas_page", "position", "rule", "sort_by"]);
});

test("a class-evidence answer answers only the class selection it was computed for", () => {
  const state = { picture: { id: 4 }, class_target: 281, class_layer: "features.12", class_counterfactual: false };
  const selection = classSelectionOf(model(state));
  assert.deepEqual(selection, { image: 4, target: 281, layer: "features.12", counterfactual: false });
  const request = { image: 4, target: 281, layer: "features.12", counterfactual: false };
  assert.ok(classEvidenceAnswers(request, selection));
  for (const [key, value] of [["image", 3], ["target", 285], ["layer", "features.9"], ["counterfactual", true]]) {
    assert.equal(classEvidenceAnswers({ ...request, [key]: value }, selection), false, key);
  }
  assert.equal(classEvidenceAnswers(null, selection), false);
  const none = classSelectionOf(model({ picture: { id: 4 } }));
  assert.deepEqual(none, { image: 4, target: null, layer: "", counterfactual: false });
  assert.equal(classEvidenceAnswers({ ...request, target: null }, none), false, "no class chosen: nothing answers");
  assert.ok(classEvidenceAnswers({ ...request, target: 0 }, { ...selection, target: 0 }), "class 0 is a class");
  assert.equal(classRequestKey(request), "4|281|features.12|false");
  assert.equal(classRequestKey(selection), classRequestKey(request));
});
