import assert from "node:assert/strict";
import { test } from "node:test";
import { FORMAT_1_KEYS, offered } from "../../js/src/protocol.js";
import { BlobStore, holdsText, offersText, StaticModel } from "../../js/src/static-model.js";

const b64 = (bytes) => Buffer.from(Uint8Array.from(bytes)).toString("base64");

// A stand-in decoder: the "encoded image" is [width, height, then RGBA pixels].
async function decodeImage(bytes) {
  const [width, height] = bytes;
  return { width, height, data: bytes.subarray(2) };
}

// A page saved before documents carried their key spec (format 1): read with FORMAT_1_KEYS.
function doc() {
  return {
    format: 1,
    holds: { layers: ["a", "b"], rules: ["deconvnet"], positions: ["max"] },
    state: { layer: "a", channel: 0, position: "max", rule: "deconvnet", sort_by: "channel", error: "",
      layer_atlas_open: false, layer_atlas_page: 0, picture: { id: 1 },
      atlas: { layer: "a", image: 1, png: { $b: 0 } }, unit: { request: { layer: "a", channel: 0 } }, top9: {} },
    answers: {
      atlas: { a: { layer: "a", image: 1, png: { $b: 0 } }, b: { layer: "b", image: 1, png: { $b: 1 } } },
      unit: {
        "a|0|max|deconvnet": { request: { layer: "a", channel: 0 } },
        "a|1|max|deconvnet": { request: { layer: "a", channel: 1 }, projection: { $img: 2, shape: [1, 2], channels: 3 },
          map: { codes: { shape: [1, 2], channels: 1, data: { $b: 3 } } } },
        "b|0|max|deconvnet": { request: { layer: "b", channel: 0 } },
        "b|0|3,4|deconvnet": { request: { layer: "b", channel: 0, position: [3, 4] } },
      },
    },
    blobs: [b64([1, 2, 3]), b64([4, 5]), b64([2, 1, 10, 11, 12, 255, 20, 21, 22, 255]), b64([7, 9])],
  };
}

test("blobs decode to DataViews and pictures back to uncompressed pixels", async () => {
  const store = new BlobStore(doc().blobs, decodeImage);
  const view = store.view(0);
  assert.deepEqual([...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)], [1, 2, 3]);
  const picture = await store.picture({ $img: 2, shape: [1, 2], channels: 3 });
  assert.deepEqual(picture.shape, [1, 2]);
  assert.deepEqual([...new Uint8Array(picture.data.buffer)], [10, 11, 12, 20, 21, 22]);
  const gray = await store.picture({ $img: 2, shape: [1, 2], channels: 1 });
  assert.deepEqual([...new Uint8Array(gray.data.buffer)], [10, 20]);
  await assert.rejects(store.picture({ $img: 2, shape: [2, 2], channels: 3 }), /is 2×1, not 2×2/);
});

test("a click on a saved unit is answered with its card; the atlas stays the same object", async () => {
  const model = await StaticModel.open(doc(), decodeImage);
  const atlas = model.get("atlas");
  const changes = [];
  model.on("change:unit", () => changes.push("unit"));
  model.on("change:atlas", () => changes.push("atlas"));
  model.set("channel", 1);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("unit").request.channel, 1);
  assert.deepEqual([...new Uint8Array(model.get("unit").projection.data.buffer)], [10, 11, 12, 20, 21, 22]);
  assert.deepEqual(model.get("unit").map.codes.shape, [1, 2]);
  assert.deepEqual(changes, ["unit"]);
  assert.equal(model.get("atlas"), atlas, "the same layer keeps the same atlas object (no repaint)");
  model.set("channel", 0);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("unit").request.channel, 0);
  assert.deepEqual(changes, ["unit", "unit"]);
});

test("a selection nothing was saved for goes back, and the banner says what the page holds", async () => {
  const model = await StaticModel.open(doc(), decodeImage);
  model.set("channel", 1);
  model.save_changes();
  await model.settled;
  model.set("rule", "guided");
  model.save_changes();
  await model.settled;
  assert.equal(model.get("rule"), "deconvnet");
  assert.equal(model.get("channel"), 1);
  assert.equal(model.get("error"), "This saved page holds deconvnet projections of each unit at its strongest "
    + "location; layer a channel 1 (guided, position max) needs the live widget.");
  model.set("channel", 0);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("error"), "", "an answered selection ends the refusal");
  model.set("layer", "zzz");
  model.save_changes();
  await model.settled;
  assert.equal(model.get("layer"), "a");
  assert.match(model.get("error"), /^Layer zzz is not in this saved page; it holds 2 layers/);
});

test("a saved picked position is answered; the newest of two quick selections wins", async () => {
  const model = await StaticModel.open(doc(), decodeImage);
  model.set("layer", "b");
  model.set("position", [3, 4]);
  model.save_changes();
  const first = model.settled;
  model.set("position", "max");
  model.save_changes();
  await Promise.all([first, model.settled]);
  assert.deepEqual(model.get("unit").request, { layer: "b", channel: 0 });
  assert.equal(model.get("atlas").layer, "b");
});

test("panels without saved results keep their state; commands say a kernel is needed", async () => {
  const model = await StaticModel.open(doc(), decodeImage);
  const top9 = model.get("top9");
  model.set("channel", 1);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("top9"), top9);
  model.send({ type: "upload", name: "dog.jpg" });
  assert.match(model.get("error"), /^Opening your own image needs the live widget/);
  model.send({ type: "anything" });
  assert.match(model.get("error"), /^This needs the live widget/);
});

// A format-2 page: its key spec (written by export.py) adds a panel the front end knows nothing special about.
function docWithKeys() {
  const saved = doc();
  return {
    ...saved,
    format: 2,
    keys: { ...FORMAT_1_KEYS, class_evidence: { fields: ["class_target", "layer"], when: "class_open" } },
    state: { ...saved.state, class_open: true, class_target: 1, class_evidence: { target: 1, layer: "a" } },
    answers: { ...saved.answers, class_evidence: { "1|a": { target: 1, layer: "a" }, "2|a": { target: 2, layer: "a" },
      "2|b": { target: 2, layer: "b", picture: { $b: 1 } } } },
  };
}

test("a new panel's results are answered from the document's key spec, with no change to the page", async () => {
  const model = await StaticModel.open(docWithKeys(), decodeImage);
  const saved = model.get("class_evidence");
  model.set("class_target", 2);
  model.save_changes();
  await model.settled;
  assert.deepEqual(model.get("class_evidence"), { target: 2, layer: "a" }, "a change of a spec's field asks");
  model.set("layer", "b");
  model.save_changes();
  await model.settled;
  const answer = model.get("class_evidence");
  assert.deepEqual([answer.target, answer.layer, [...new Uint8Array(answer.picture.buffer)]], [2, "b", [4, 5]]);
  assert.equal(model.get("atlas").layer, "b", "the format-1 panels are answered as before");
  model.set("class_target", 3);
  model.save_changes();
  await model.settled;
  assert.deepEqual(model.get("class_evidence"), {}, "nothing saved for it: nothing to show, no refusal");
  assert.equal(model.get("error"), "");
  model.set("layer", "a");
  model.set("class_target", 1);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("class_evidence"), saved, "the saved state answers its own selection (same object)");
  model.set("class_open", false);
  model.set("class_target", 2);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("class_evidence"), saved, "a closed panel is not asked for");
});

test("the page's summary names rules, displays, crops and positions", () => {
  assert.equal(holdsText({ rules: ["deconvnet", "guided"], positions: ["max", "map"] }),
    "This saved page holds deconvnet / guided projections of each unit at its strongest location and at its "
    + "whole map");
  assert.equal(holdsText({ rules: ["auto"], displays: ["auto", "raw"], crops: ["auto"], positions: ["max"] }),
    "This saved page holds auto projections (display auto / raw, crop auto) of each unit at its strongest location");
});

test("the page tells the panels what it holds, and its header offers only that", async () => {
  const model = await StaticModel.open(doc(), decodeImage);
  const holds = model.get("holds");
  assert.deepEqual(holds, { layers: ["a", "b"], rules: ["deconvnet"], positions: ["max"] });
  assert.equal(offered(holds, "rule", "deconvnet"), true);
  assert.equal(offered(holds, "rule", "guided"), false);
  assert.equal(offered(holds, "position", "max"), true);
  assert.equal(offered(holds, "position", "map"), false);
  assert.equal(offered(holds, "position", [3, 4]), false, "a picked location is never saved");
  assert.equal(offered(undefined, "position", [3, 4]), true, "the live widget answers everything");
  assert.equal(offersText(holds), "Saved without Python: click units and layers; other rules, whole maps, picked "
    + "locations and new images need the live widget.");
  assert.equal(offersText({ layers: ["a"], rules: ["auto", "deconvnet", "guided", "gradient"],
    positions: ["max", "map"] }), "Saved without Python: click units, rules (auto / deconvnet / guided / gradient) and "
    + "strongest location / whole map; picked locations and new images need the live widget.");
  assert.equal(offersText({ layers: ["a", "b"], rules: ["auto", "deconvnet"], displays: ["auto"], crops: ["auto"],
    positions: ["max"] }), "Saved without Python: click units, layers and rules (auto / deconvnet); other rules, "
    + "displays and crops, whole maps, picked locations and new images need the live widget.");
  assert.equal(offersText({ layers: ["a"], rules: ["auto", "deconvnet", "guided", "gradient"],
    displays: ["auto", "raw", "gray", "norm", "blurred_norm"], crops: ["auto", "field", "center"],
    positions: ["max"] }), "Saved without Python: click units, rules (auto / deconvnet / guided / gradient), displays "
    + "(auto / raw / gray / norm / blurred_norm) and crops (auto / field / center); whole maps, picked locations and "
    + "new images need the live widget.");
});

// A reader's page (export.py, units="reader"): layer a holds channels 0 and 1 of its 3; channel 1 has a card but no
// top-9 panel, which the document's `unsaved` spec answers.
function readerDoc() {
  const d = doc();
  d.format = 2;
  d.keys = { ...FORMAT_1_KEYS, top9: { fields: ["layer", "channel", "rule"] } };
  d.state.layers = [{ name: "a", shape: [3, 4, 4] }, { name: "b", shape: [2, 2, 2] }];
  d.holds = { ...d.holds, units: { a: [0, 1], b: [0] }, units_note: "the 2 strongest on this image" };
  d.answers.top9 = { "a|0|deconvnet": { request: { layer: "a", channel: 0, rule: "deconvnet" }, state: "ready" } };
  d.unsaved = { top9: { request: { layer: "layer", channel: "channel", rule: "rule" }, message: "Not saved." } };
  d.state.top9 = d.answers.top9["a|0|deconvnet"]; // the saved state answers its own selection (export.py)
  return d;
}

test("a reader's page says which units it holds, and refuses another with that in the banner", async () => {
  const model = await StaticModel.open(readerDoc(), decodeImage);
  assert.equal(holdsText(model.doc.holds), "This saved page holds deconvnet projections of 3 units (of each layer the "
    + "2 strongest on this image) at their strongest location");
  assert.ok(offersText(model.doc.holds).startsWith("Saved without Python: click units (those not dimmed) and layers;"));
  model.set("channel", 2);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("channel"), 0, "the selection goes back to the unit shown");
  assert.equal(model.get("error"), "a channel 2 is not in this saved page: it holds 2 of the layer's 3 units — the 2 "
    + "strongest on this image (the tiles not dimmed). Run the notebook to see every unit.");
});

test("a held unit without a saved top-9 panel shows the page's 'not saved' answer, stamped for the panel", async () => {
  const model = await StaticModel.open(readerDoc(), decodeImage);
  model.set("channel", 1);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("error"), "");
  assert.deepEqual(model.get("top9"), { request: { layer: "a", channel: 1, rule: "deconvnet" }, state: "not-saved",
    message: "Not saved." });
  model.set("channel", 0);
  model.save_changes();
  await model.settled;
  assert.equal(model.get("top9").state, "ready");
});
