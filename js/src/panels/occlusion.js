// Panel: occlusion sensitivity (Zeiler & Fergus Fig. 7) — a gray square slid over the image, and what the network
// sees at each of its positions: (a) the total activation of a feature map (or one unit), (b) the probability of a
// class, (c) the most probable class. The map is laid over the image and drawn on its own with its colour scale or
// class legend; hovering either shows the occluded image at that position (click to keep it). Runs in the kernel's
// experiment thread with a progress bar and a cancel button; renders from the `occlusion_result` trait only, when
// its stamp is not superseded by a newer run (protocol.js).
import { colorize, scaleBar } from "../lib/colormap.js";
import { rawToRGBA, readFloat32, readInt32 } from "../lib/decode.js";
import { h, putPixels } from "../lib/dom.js";
import { formatNumber } from "../lib/format.js";
import { positionAt } from "../lib/layout.js";
import {
  classColour, classLegend, classRGBA, defaultOccluder, nearestCells, occludedRGBA, occluderBox, overlayRGBA,
} from "../lib/scales.js";
import { experimentAnswers, isActive } from "../protocol.js";
import { jobStatus } from "./job-status.js";
import { targetPicker } from "./target-picker.js";

const MAPS = [
  ["activation", "(a) feature", "total activation of the feature map (or the unit) with the occluder there"],
  ["probability", "(b) class probability", "probability of the chosen class with the occluder there"],
  ["top_class", "(c) most probable class", "the class the network sees with the occluder there"],
];

function numberInput(testid, label, help) {
  const input = h("input", { className: "cnnviz-number", testid, attrs: { type: "number", min: 1, step: 1,
    title: help, "aria-label": label } });
  return { input, el: h("label", { className: "cnnviz-field" }, [h("span", { className: "cnnviz-label", text: label }),
    input]) };
}

/** @param {import("../context.js").Context} ctx */
export function occlusionPanel(ctx) {
  const { model } = ctx;
  const size = numberInput("occlusion-size", "size", "the occluder's side, in pixels of the model's input");
  const stride = numberInput("occlusion-stride", "stride", "how far the occluder moves between positions (pixels)");
  const target = targetPicker(ctx, "occlusion-target");
  const run = h("button", { className: "cnnviz-button", testid: "occlusion-run", text: "run occlusion", attrs: {
    type: "button", "data-kernel-only": "",
    title: "slide the square over the image (map (a) follows the selected unit)" }, on: { click: () => {
    ctx.send({ type: "experiment", action: "run", kind: "occlusion", params: {
      size: size.input.value === "" ? null : Number(size.input.value),
      stride: stride.input.value === "" ? null : Number(stride.input.value), target: target.value() } });
  } } });
  const job = jobStatus(ctx, "occlusion", "occlusion");
  const mapButtons = MAPS.map(([value, label, help]) => h("button", { className: "cnnviz-toggle-button", text: label,
    attrs: { type: "button", "data-value": value, title: help, "aria-pressed": "false" },
    on: { click: () => choose(value) } }));
  const toggle = h("div", { className: "cnnviz-toggle", testid: "occlusion-map-toggle", attrs: { role: "group" } },
    mapButtons);
  const message = h("p", { className: "cnnviz-muted", testid: "occlusion-message" });

  const box = h("div", { className: "cnnviz-rf-box", testid: "occlusion-box" });
  const image = h("canvas", { className: "cnnviz-figure-canvas", testid: "occlusion-image" });
  const overlay = h("canvas", { className: "cnnviz-figure-canvas cnnviz-occlusion-hover", testid: "occlusion-overlay" });
  const mapCanvas = h("canvas", { className: "cnnviz-figure-canvas cnnviz-occlusion-hover", testid: "occlusion-map" });
  const imageCaption = h("figcaption", { className: "cnnviz-caption", text: "image · hover a map" });
  const overlayCaption = h("figcaption", { className: "cnnviz-caption", text: "map over the image" });
  const mapCaption = h("figcaption", { className: "cnnviz-caption", text: "map" });
  const figures = h("div", { className: "cnnviz-figures cnnviz-occlusion-figures" }, [
    h("figure", { className: "cnnviz-figure" }, [h("div", { className: "cnnviz-figure-frame" }, [image, box]),
      imageCaption]),
    h("figure", { className: "cnnviz-figure" }, [h("div", { className: "cnnviz-figure-frame" }, [overlay]),
      overlayCaption]),
    h("figure", { className: "cnnviz-figure" }, [h("div", { className: "cnnviz-figure-frame" }, [mapCanvas]),
      mapCaption]),
  ]);
  const scale = h("canvas", { className: "cnnviz-scale-bar", testid: "occlusion-scale", attrs: { width: 256,
    height: 1 } });
  const scaleMin = h("span", { className: "cnnviz-scale-label", testid: "occlusion-scale-min" });
  const scaleMax = h("span", { className: "cnnviz-scale-label", testid: "occlusion-scale-max" });
  const scaleRow = h("div", { className: "cnnviz-scale" }, [scaleMin, scale, scaleMax]);
  const legend = h("ul", { className: "cnnviz-legend", testid: "occlusion-legend" });
  const readout = h("p", { className: "cnnviz-readout", testid: "occlusion-readout" });
  const body = h("div", {}, [toggle, figures, scaleRow, legend, readout]);
  const el = h("section", { className: "cnnviz-occlusion", testid: "occlusion" }, [
    h("div", { className: "cnnviz-card-controls" }, [size.el, stride.el, target.el, run, job.el]), message, body]);

  /** @type {any} */
  let shown = null;
  /** @type {ImageData|null} */
  let picture = null;
  let chosen = "probability";
  /** @type {[number, number]|null} */
  let pinned = null;
  /** @type {[number, number]|null} */
  let hovered = null;
  let generation = 0;
  /** @type {{rows: Int32Array, cols: Int32Array}|null} */
  let cells = null;

  /** The occluder of the maps shown (so "run" repeats them), or the default one before any. */
  function defaults() {
    const shape = model.get("model_info")?.input_shape;
    if (!shape || size.input.value !== "") return;
    const d = defaultOccluder(shape[1], shape[2]);
    size.input.value = String(d.size);
    stride.input.value = String(d.stride);
  }

  function choose(value) {
    chosen = value;
    paintMap();
  }

  /** The shown map's cell colours (RGBA per cell) and its shape. */
  function mapPixels() {
    const state = shown.maps[chosen];
    const codes = rawToRGBA(state.codes);
    if (chosen === "top_class") {
      const plain = new Uint8Array(codes.width * codes.height);
      for (let i = 0; i < plain.length; i++) plain[i] = codes.rgba[i * 4];
      return { rgba: classRGBA(plain), width: codes.width, height: codes.height };
    }
    return { rgba: colorize(codes.rgba, state.colormap), width: codes.width, height: codes.height };
  }

  function paintMap() {
    if (!shown) return;
    if (!shown.maps[chosen]) chosen = "probability";
    for (const b of mapButtons) {
      b.setAttribute("aria-pressed", String(b.dataset.value === chosen));
      b.disabled = !shown.maps[b.dataset.value];
    }
    const state = shown.maps[chosen];
    const cellsRGBA = mapPixels();
    putPixels(mapCanvas, cellsRGBA.rgba, cellsRGBA.width, cellsRGBA.height);
    const [height, width] = shown.input_size;
    putPixels(overlay, overlayRGBA(picture.data, width, height, cellsRGBA.rgba, cells.rows, cells.cols,
      cellsRGBA.width), width, height);
    mapCanvas.dataset.map = overlay.dataset.map = chosen;
    const feature = shown.feature;
    const where = feature?.position ? ` at (${feature.position.join(", ")})` : "";
    mapCaption.textContent = {
      activation: feature ? `(a) ${feature.position ? "activation" : "total activation"} of ${feature.layer} `
        + `channel ${feature.channel}${where}` : "(a)",
      probability: `(b) p(${shown.target_label})`,
      top_class: "(c) most probable class",
    }[chosen];
    const classes = chosen === "top_class";
    scaleRow.hidden = classes;
    legend.hidden = !classes;
    if (classes) {
      legend.replaceChildren(...classLegend(state.classes, state.colours).map((entry) => {
        const swatch = h("span", { className: "cnnviz-swatch" });
        swatch.style.background = `rgb(${classColour(entry.code).join(",")})`;
        return h("li", { className: "cnnviz-legend-item", attrs: { "data-code": entry.code } },
          [swatch, h("span", { text: `${entry.name} ×${entry.count}` })]);
      }));
    } else {
      putPixels(scale, scaleBar(state.colormap), 256, 1);
      scaleMin.textContent = formatNumber(state.min);
      scaleMax.textContent = formatNumber(state.max);
    }
    showCell();
  }

  /** The occluded image and the read-out for the hovered (or pinned) cell; the plain image for none. */
  function showCell() {
    if (!shown || !picture) return;
    const cell = hovered ?? pinned;
    const [height, width] = shown.input_size;
    if (!cell) {
      putPixels(image, new Uint8ClampedArray(picture.data), width, height);
      box.hidden = true;
      image.dataset.cell = "";
      imageCaption.textContent = "image · hover a map to occlude it there";
      readout.textContent = referenceText();
      return;
    }
    const [i, j] = cell;
    const occluder = occluderBox(shown, i, j);
    putPixels(image, occludedRGBA(picture.data, width, occluder, shown.fill), width, height);
    const [top, left, bottom, right] = occluder;
    box.hidden = false;
    Object.assign(box.style, { left: `${(100 * left) / width}%`, top: `${(100 * top) / height}%`,
      width: `${(100 * (right - left)) / width}%`, height: `${(100 * (bottom - top)) / height}%` });
    image.dataset.cell = `${i},${j}`;
    imageCaption.textContent = `occluded at rows ${top}–${bottom - 1}, columns ${left}–${right - 1}`
      + (pinned && !hovered ? " (kept: click again to release)" : "");
    readout.textContent = cellText(i, j);
  }

  function referenceText() {
    const r = shown.reference;
    const parts = [`unoccluded: p(${shown.target_label}) ${formatNumber(r.probability)}`, `top: ${r.top_label}`];
    if (r.activation != null) parts.push(`activation ${formatNumber(r.activation)}`);
    return parts.join(" · ");
  }

  function cellText(i, j) {
    const [rows, cols] = shown.maps.probability.shape;
    const k = i * cols + j;
    const n = rows * cols;
    const p = readFloat32(shown.maps.probability.values, n)[k];
    const top = readInt32(shown.maps.top_class.indices, n)[k];
    const topP = readFloat32(shown.maps.top_probability.values, n)[k];
    const name = shown.maps.top_class.classes.find((c) => c[0] === top)?.[1] ?? `class ${top}`;
    const parts = [`p(${shown.target_label}) ${formatNumber(p)}`, `top: ${name} ${formatNumber(topP)}`];
    if (shown.maps.activation) {
      parts.push(`activation ${formatNumber(readFloat32(shown.maps.activation.values, n)[k])}`);
    }
    return parts.join(" · ");
  }

  /** The map cell under a mouse event on the overlay (nearest window centre) or on the map (its grid). */
  function cellUnder(event, target) {
    if (!shown) return null;
    const rect = target.getBoundingClientRect();
    const px = event.clientX - rect.left;
    const py = event.clientY - rect.top;
    const shape = shown.maps.probability.shape;
    if (target === mapCanvas) return positionAt(px, py, rect.width, rect.height, shape);
    const [height, width] = shown.input_size;
    const y = Math.min(height - 1, Math.max(0, Math.floor((py / rect.height) * height)));
    const x = Math.min(width - 1, Math.max(0, Math.floor((px / rect.width) * width)));
    return [cells.rows[y], cells.cols[x]];
  }

  for (const target of [overlay, mapCanvas]) {
    target.addEventListener("mousemove", (event) => {
      const cell = cellUnder(event, target);
      if (cell && (!hovered || hovered[0] !== cell[0] || hovered[1] !== cell[1])) {
        hovered = cell;
        showCell();
      }
    });
    target.addEventListener("mouseleave", () => {
      hovered = null;
      showCell();
    });
    target.addEventListener("click", (event) => {
      const cell = cellUnder(event, target);
      pinned = cell && pinned && pinned[0] === cell[0] && pinned[1] === cell[1] ? null : cell;
      showCell();
    });
  }

  function describe() {
    if (!shown) return;
    const earlier = shown.request.image !== model.get("picture")?.id;
    message.textContent = `${shown.size}×${shown.size} px occluder, stride ${shown.stride}: `
      + `${shown.tops.length}×${shown.lefts.length} positions on ${shown.request.image_name ?? "the image"}`
      + (earlier ? " (an earlier image — run again for this one)" : "") + ` · ${shown.model}`;
    el.dataset.earlier = String(earlier);
  }

  async function paint() {
    const result = model.get("occlusion_result") ?? {};
    const job = model.get("jobs")?.occlusion;
    defaults();
    body.classList.toggle("cnnviz-stale", !!shown && isActive(job) && job.id > shown.request.id);
    if (result === shown) return; // progress of a run: what is painted stays
    const mine = ++generation;
    if (!result.request) {
      body.hidden = true;
      message.textContent = "Hide part of the image and watch the prediction: press “run occlusion” (map (a) "
        + "follows the selected unit), or call w.occlusion() in Python.";
      el.dataset.state = "none";
      return;
    }
    if (!experimentAnswers(result.request, job, shown?.request.id ?? 0)) {
      el.dataset.state = shown ? "pending" : "none"; // superseded or older: dropped, what is painted stays
      return;
    }
    const decoded = await ctx.pixels(result.image);
    if (mine !== generation) return; // a newer answer arrived while this one decoded: last wins
    picture = decoded;
    if (shown?.request.id !== result.request.id) pinned = hovered = null;
    shown = result;
    size.input.value = String(result.size);
    stride.input.value = String(result.stride);
    const [height, width] = result.input_size;
    cells = { rows: nearestCells(result.tops, result.size, height), cols: nearestCells(result.lefts, result.size,
      width) };
    body.hidden = false;
    body.classList.toggle("cnnviz-stale", isActive(job) && job.id > result.request.id);
    describe();
    paintMap();
    el.dataset.state = "ready";
    el.dataset.id = String(result.request.id);
    ctx.emit("painted", { panel: "occlusion", key: String(result.request.id) });
  }

  ctx.on("change:occlusion_result change:jobs", paint);
  ctx.on("change:picture", describe);
  ctx.on("change:model_info", defaults);
  paint();
  return { el };
}
