// Panel: class evidence — where in the image the evidence for a class lies (Grad-CAM and guided Grad-CAM, Selvaraju
// et al. 2017), beside the unit card's unit evidence (what a unit responds to). Pick a class in the top-5 (the input
// panel) or find any class by name here; the panel shows the Grad-CAM map over the image with its colour scale, the
// map at the layer's own resolution, and the guided Grad-CAM picture; the layer is switchable and the counterfactual
// toggle shows what argues against the class. Renders from the `class_evidence` trait only, when its stamp answers
// the class selection (protocol.js `classEvidenceAnswers`): stale answers are dropped, and what is painted stays,
// dimmed, while the kernel computes the next one.
import { classSearch } from "./class-search.js";
import { colorize, lut, scaleBar } from "../lib/colormap.js";
import { rawToRGBA } from "../lib/decode.js";
import { h, putPixels } from "../lib/dom.js";
import { formatNumber } from "../lib/format.js";
import { bilinear, heatOverlay, stretchCodes } from "../lib/heatmap.js";
import { OVERLAY_ALPHA } from "../lib/scales.js";
import { classEvidenceAnswers, classRequestKey, classSelectionOf } from "../protocol.js";

const SIDES = [
  [false, "for the class", "Grad-CAM: where the evidence for the class lies"],
  [true, "against it", "the counterfactual map (negated gradients): what argues against the class"],
];

function figure(testid, caption) {
  const canvas = h("canvas", { className: "cnnviz-figure-canvas", testid, attrs: { width: 1, height: 1 } });
  const label = h("figcaption", { className: "cnnviz-caption", testid: `${testid}-caption`, text: caption });
  return { el: h("figure", { className: "cnnviz-figure" }, [h("div", { className: "cnnviz-figure-frame" }, [canvas]),
    label]), canvas, label };
}

/** The name of class `index` (`class_info.names`, or "class N" for a model without names). */
function className(model, index) {
  return model.get("class_info")?.names?.[index] ?? `class ${index}`;
}

/** @param {import("../context.js").Context} ctx */
export function classEvidencePanel(ctx) {
  const { model } = ctx;
  const toUnit = h("button", { className: "cnnviz-link-button", testid: "to-unit-evidence", text: "the unit card",
    attrs: { type: "button", title: "unit evidence: what the selected unit responds to (deconvnet / guided / "
      + "gradient)" }, on: { click: () => ctx.root.querySelector("[data-testid=unit-card]")?.scrollIntoView({
      block: "nearest" }) } });
  const about = h("p", { className: "cnnviz-muted", testid: "class-evidence-about" }, [
    h("span", { text: "Where in the image the evidence for a class lies (Grad-CAM, Selvaraju et al. 2017). What a "
      + "unit responds to: " }), toUnit, h("span", { text: "." })]);

  const chosen = h("span", { className: "cnnviz-class-chosen", testid: "class-chosen" });
  const clear = h("button", { className: "cnnviz-button", testid: "class-clear", text: "×", attrs: { type: "button",
    title: "no class", "aria-label": "no class" }, on: { click: () => ctx.set("class_target", null) } });
  const finder = classSearch(ctx, (index) => ctx.set("class_target", index));
  const layer = h("select", { className: "cnnviz-select", testid: "class-layer", attrs: {
    "aria-label": "layer of the Grad-CAM map", title: "the layer whose feature maps Grad-CAM weighs (the default: the "
      + "last one with a spatial map)" }, on: { change: () => ctx.set("class_layer", layer.value) } });
  const sideButtons = SIDES.map(([value, label, help]) => h("button", { className: "cnnviz-toggle-button", text: label,
    attrs: { type: "button", "data-value": String(value), title: help, "aria-pressed": "false" },
    on: { click: () => ctx.set("class_counterfactual", value) } }));
  const sides = h("div", { className: "cnnviz-toggle", testid: "class-counterfactual", attrs: { role: "group" } },
    sideButtons);
  const status = h("p", { className: "cnnviz-muted", testid: "class-status", attrs: { role: "status" } });

  const overlay = figure("class-overlay", "Grad-CAM over the image");
  const map = figure("class-map", "map");
  const guided = figure("class-guided", "guided Grad-CAM");
  const scale = h("canvas", { className: "cnnviz-scale-bar", testid: "class-scale", attrs: { width: 256, height: 1 } });
  const scaleMin = h("span", { className: "cnnviz-scale-label", testid: "class-scale-min" });
  const scaleMax = h("span", { className: "cnnviz-scale-label", testid: "class-scale-max" });
  const body = h("div", {}, [
    h("div", { className: "cnnviz-figures cnnviz-class-figures" }, [overlay.el, map.el, guided.el]),
    h("div", { className: "cnnviz-scale" }, [scaleMin, scale, scaleMax])]);
  body.hidden = true;
  const el = h("section", { className: "cnnviz-panel cnnviz-class-evidence", testid: "class-evidence" }, [
    h("header", { className: "cnnviz-panel-header" }, [h("span", { className: "cnnviz-panel-title",
      text: "Class evidence" }), chosen, clear]),
    about,
    h("div", { className: "cnnviz-card-controls" }, [finder.el, layer, sides]),
    status, body]);
  el.dataset.state = "none";

  let generation = 0;

  function fillLayers() {
    const info = model.get("class_info") ?? {};
    const labels = new Map((model.get("layers") ?? []).map((l) => [l.name, l.label]));
    layer.replaceChildren(...(info.layers ?? []).map((name) => h("option", { attrs: { value: name },
      text: `${name}${labels.has(name) ? ` — ${labels.get(name)}` : ""}${name === info.default_layer ? " (default)" : ""}`,
    })));
    layer.value = model.get("class_layer") ?? "";
  }

  function controls(selection) {
    layer.value = selection.layer;
    for (const b of sideButtons) b.setAttribute("aria-pressed", String(b.dataset.value === String(selection.counterfactual)));
    const none = selection.target == null;
    chosen.textContent = none ? "" : `${className(model, selection.target)} (${selection.target})`;
    clear.hidden = none;
  }

  function paintScale(state) {
    putPixels(scale, scaleBar(state.colormap), 256, 1);
    scaleMin.textContent = formatNumber(state.min);
    scaleMax.textContent = formatNumber(state.max);
  }

  /** Paint the answer to the class selection when it arrives; keep what is painted, dimmed, until then. */
  async function paint() {
    const received = performance.now();
    const selection = classSelectionOf(model);
    controls(selection);
    const result = model.get("class_evidence") ?? {};
    if (selection.target == null) {
      body.hidden = true;
      el.dataset.state = "none";
      status.textContent = "Click a class in the top-5 predictions, or find one by name, to see where in the image "
        + "the evidence for it lies.";
      return;
    }
    const name = className(model, selection.target);
    if (!classEvidenceAnswers(result.request, selection)) {
      body.classList.add("cnnviz-stale");
      el.dataset.state = "pending";
      status.textContent = `computing the evidence for ${name} at ${selection.layer || "the default layer"}…`;
      return;
    }
    if (result.state === "error") {
      body.hidden = true;
      el.dataset.state = "error";
      status.textContent = `No map: ${result.message}`;
      return;
    }
    const mine = ++generation;
    const picture = await ctx.pixels(model.get("picture").png);
    if (mine !== generation || !classEvidenceAnswers(result.request, classSelectionOf(model))) return; // moved on
    const state = result.map;
    const [rows, cols] = state.shape;
    const codes = rawToRGBA(state.codes);
    putPixels(map.canvas, colorize(codes.rgba, state.colormap), codes.width, codes.height);
    const [height, width] = result.input_size;
    const plain = Uint8Array.from({ length: rows * cols }, (_, i) => codes.rgba[i * 4]);
    const smooth = stretchCodes(bilinear(plain, rows, cols, height, width), 0, 255); // rounded back to codes
    putPixels(overlay.canvas, heatOverlay(picture.data, smooth, lut(state.colormap), OVERLAY_ALPHA), width, height);
    const pixels = rawToRGBA(result.guided);
    putPixels(guided.canvas, pixels.rgba, pixels.width, pixels.height);
    paintScale(state);
    const { request } = result;
    const against = request.counterfactual;
    overlay.label.textContent = against ? `against ${result.label}: counterfactual Grad-CAM over the image`
      : `evidence for ${result.label}: Grad-CAM over the image`;
    map.label.textContent = `map at ${request.layer} (${rows}×${cols})`;
    guided.label.textContent = `guided Grad-CAM of ${result.label}`;
    status.textContent = against ? "Counterfactual: the regions whose removal would make the network more sure of "
      + "the class." : "Bright: the regions that raise the class's score, weighed by the layer's feature maps.";
    body.hidden = false;
    body.classList.remove("cnnviz-stale");
    const key = classRequestKey(request);
    el.dataset.state = "ready";
    el.dataset.request = key;
    ctx.emit("painted", { panel: "class", key, request, received });
  }

  ctx.on("change:class_info change:layers", fillLayers);
  ctx.on("change:class_evidence change:class_target change:class_layer change:class_counterfactual change:picture "
    + "change:class_info", paint);
  fillLayers();
  paint();
  return { el };
}
