// Panel: invariance (Zeiler & Fergus Fig. 5) — the image translated, scaled and rotated; for each amount, how far
// the feature vectors of chosen layers move from the original's (Euclidean distance) and the probability of a class,
// drawn as SVG line plots, with the canonical and the transformed image side by side on a slider. Runs in the
// kernel's experiment thread; renders from the `invariance_result` trait only (cnnviz_widget/experiment_panels.py).
import { cropRGBA, readFloat32, readInt32, tileRect } from "../lib/decode.js";
import { h, putPixels } from "../lib/dom.js";
import { amountText, formatNumber } from "../lib/format.js";
import { lineChart } from "../lib/plot.js";
import { experimentAnswers, isActive } from "../protocol.js";
import { jobStatus } from "./job-status.js";
import { targetPicker } from "./target-picker.js";

const IDENTITY = { translate: 0, scale: 1, rotate: 0 };

/**
 * A curve's arrays, decoded.
 * @param {any} curve
 */
function decodeCurve(curve) {
  const n = curve.count;
  return {
    ...curve,
    values: readFloat32(curve.values, n),
    probability: readFloat32(curve.probability, n),
    topProbability: readFloat32(curve.top_probability, n),
    topClass: readInt32(curve.top_class, n),
    distance: Object.fromEntries(Object.entries(curve.distance).map(([layer, v]) => [layer, readFloat32(v, n)])),
  };
}

/** @param {import("../context.js").Context} ctx */
export function invariancePanel(ctx) {
  const { model } = ctx;
  const target = targetPicker(ctx, "invariance-target");
  const run = h("button", { className: "cnnviz-button", testid: "invariance-run", text: "run invariance", attrs: {
    type: "button", "data-kernel-only": "",
    title: "translate, scale and rotate the image (layers: the first convolution, the penultimate and the selected)" },
  on: { click: () => ctx.send({ type: "experiment", action: "run", kind: "invariance",
    params: { target: target.value() } }) } });
  const job = jobStatus(ctx, "invariance", "invariance");
  const message = h("p", { className: "cnnviz-muted", testid: "invariance-message" });
  const toggle = h("div", { className: "cnnviz-toggle", testid: "invariance-transform", attrs: { role: "group" } });
  const plots = h("div", { className: "cnnviz-plots", testid: "invariance-plots" });
  const slider = h("input", { className: "cnnviz-slider", testid: "invariance-slider", attrs: { type: "range", min: 0,
    max: 0, step: 1, value: 0, "aria-label": "amount" } });
  const readout = h("span", { className: "cnnviz-readout", testid: "invariance-readout" });
  const canonical = h("canvas", { className: "cnnviz-figure-canvas", testid: "invariance-canonical" });
  const transformed = h("canvas", { className: "cnnviz-figure-canvas", testid: "invariance-transformed" });
  const transformedCaption = h("figcaption", { className: "cnnviz-caption", text: "transformed" });
  const images = h("div", { className: "cnnviz-figures cnnviz-invariance-images" }, [
    h("figure", { className: "cnnviz-figure" }, [h("div", { className: "cnnviz-figure-frame" }, [canonical]),
      h("figcaption", { className: "cnnviz-caption", text: "canonical" })]),
    h("figure", { className: "cnnviz-figure" }, [h("div", { className: "cnnviz-figure-frame" }, [transformed]),
      transformedCaption]),
  ]);
  const body = h("div", {}, [toggle, h("div", { className: "cnnviz-invariance-view" }, [plots,
    h("div", {}, [h("div", { className: "cnnviz-slider-row" }, [slider, readout]), images])])]);
  const el = h("section", { className: "cnnviz-invariance", testid: "invariance" }, [
    h("div", { className: "cnnviz-card-controls" }, [target.el, run, job.el]), message, body]);

  /** @type {any} */
  let shown = null;
  /** @type {any[]} */
  let curves = [];
  /** @type {Record<string, ImageData>} */
  let sheets = {};
  let transform = "";
  /** @type {Array<ReturnType<typeof lineChart>>} */
  let charts = [];
  let generation = 0;

  function current() {
    return curves.find((c) => c.transform === transform) ?? curves[0];
  }

  function choose(name) {
    transform = name;
    drawPlots();
  }

  function drawPlots() {
    const curve = current();
    if (!curve) return;
    transform = curve.transform;
    for (const b of toggle.children) b.setAttribute("aria-pressed", String(b.dataset.value === transform));
    const unit = `${curve.transform} (${curve.unit})`;
    charts = [
      ...shown.layers.map((layer) => lineChart({ title: `‖Δ features‖ at ${layer} · ${unit}`, xs: curve.values,
        ys: curve.distance[layer], testid: "invariance-plot", series: layer })),
      lineChart({ title: `p(${shown.target_label}) · ${unit}`, xs: curve.values, ys: curve.probability,
        yDomain: [0, 1], testid: "invariance-plot", series: "probability" }),
    ];
    plots.replaceChildren(...charts.map((c) => c.el));
    plots.dataset.transform = transform;
    slider.max = String(curve.count - 1);
    const identity = IDENTITY[transform] ?? 0;
    let start = 0;
    curve.values.forEach((v, i) => {
      if (Math.abs(v - identity) < Math.abs(curve.values[start] - identity)) start = i;
    });
    slider.value = String(start);
    showAmount();
  }

  function showAmount() {
    const curve = current();
    if (!curve) return;
    const i = Number(slider.value);
    for (const chart of charts) chart.cursor(i);
    const sheet = sheets[curve.transform];
    const rect = tileRect(i, curve.cols, shown.tile);
    putPixels(transformed, cropRGBA(sheet.data, sheet.width, rect), rect.width, rect.height);
    transformed.dataset.index = String(i);
    transformed.dataset.transform = curve.transform;
    const amount = amountText(curve.values[i], curve.unit);
    transformedCaption.textContent = `${curve.transform} ${amount}`;
    const top = curve.topClass[i];
    const name = shown.classes.find((c) => c[0] === top)?.[1] ?? `class ${top}`;
    readout.textContent = [`${curve.transform} ${amount}`,
      `p(${shown.target_label}) ${formatNumber(curve.probability[i])}`,
      `top: ${name} ${formatNumber(curve.topProbability[i])}`,
      ...shown.layers.map((layer) => `‖Δ‖ ${layer} ${formatNumber(curve.distance[layer][i])}`)].join(" · ");
  }

  slider.addEventListener("input", showAmount);

  async function paint() {
    const result = model.get("invariance_result") ?? {};
    const job = model.get("jobs")?.invariance;
    body.classList.toggle("cnnviz-stale", !!shown && isActive(job) && job.id > shown.request.id);
    if (result === shown) return;
    const mine = ++generation;
    if (!result.request) {
      body.hidden = true;
      message.textContent = "Translate, scale and rotate the image and follow its features (Fig. 5): press “run "
        + "invariance”, or call w.invariance() in Python.";
      el.dataset.state = "none";
      return;
    }
    if (!experimentAnswers(result.request, job, shown?.request.id ?? 0)) {
      el.dataset.state = shown ? "pending" : "none";
      return;
    }
    const decoded = await Promise.all([ctx.pixels(result.canonical), ...result.curves.map((c) => ctx.pixels(c.images))]);
    if (mine !== generation) return; // a newer answer arrived while these decoded: last wins
    shown = result;
    curves = result.curves.map(decodeCurve);
    sheets = Object.fromEntries(result.curves.map((c, i) => [c.transform, decoded[i + 1]]));
    putPixels(canonical, new Uint8ClampedArray(decoded[0].data), decoded[0].width, decoded[0].height);
    toggle.replaceChildren(...curves.map((c) => h("button", { className: "cnnviz-toggle-button", text: c.transform,
      attrs: { type: "button", "data-value": c.transform, "aria-pressed": "false" },
      on: { click: () => choose(c.transform) } })));
    body.hidden = false;
    body.classList.toggle("cnnviz-stale", isActive(job) && job.id > result.request.id);
    message.textContent = `${result.request.image_name ?? "the image"} · ${result.model} · distances between feature `
      + `vectors of the original and the transformed image (‖f‖ of the original: ${result.layers.map((l) =>
        `${l} ${formatNumber(result.reference_norm[l])}`).join(", ")}); p(${result.target_label}) of the original `
      + `${formatNumber(result.reference_probability)}`;
    drawPlots();
    el.dataset.state = "ready";
    el.dataset.id = String(result.request.id);
    ctx.emit("painted", { panel: "invariance", key: String(result.request.id) });
  }

  ctx.on("change:invariance_result change:jobs", paint);
  paint();
  return { el };
}
