// Panel (inside the unit card): activation maximisation (Yosinski et al. 2015, the Deep Visualization Toolbox) — the
// image synthesised by regularised gradient ascent to excite the selected unit most, beside its projection and
// top-9, with the activation climbing over the ascent's steps. The "synthesise" button runs it in the kernel's
// experiment thread (progress, cancel); results are seeded and cached per unit, and a unit synthesised before shows
// its image as soon as it is selected. Renders from `synthesis_result` when its stamp names the selected unit of the
// model shown (protocol.js).
import { readFloat32 } from "../lib/decode.js";
import { h, putPixels, setHidden } from "../lib/dom.js";
import { formatNumber } from "../lib/format.js";
import { lineChart } from "../lib/plot.js";
import { synthesisAnswers } from "../protocol.js";
import { jobStatus } from "./job-status.js";

/** @param {import("../context.js").Context} ctx */
export function synthesisPanel(ctx) {
  const { model } = ctx;
  const seed = h("input", { className: "cnnviz-number", testid: "synthesis-seed", attrs: { type: "number", min: 0,
    step: 1, value: 0, "aria-label": "seed", title: "seeds the starting noise and the jitter: the same seed gives the "
      + "same image" } });
  const run = h("button", { className: "cnnviz-button", testid: "synthesis-run", text: "synthesise", attrs: {
    type: "button", "data-kernel-only": "", title: "gradient ascent on this unit from faint noise (a few seconds)" },
  on: { click: () => ctx.send({ type: "experiment", action: "run", kind: "synthesis",
    params: { seed: seed.value === "" ? 0 : Number(seed.value) } }) } });
  const job = jobStatus(ctx, "synthesis", "synthesis");
  const canvas = h("canvas", { className: "cnnviz-figure-canvas", testid: "synthesis-image" });
  const caption = h("figcaption", { className: "cnnviz-caption", testid: "synthesis-caption" });
  const history = h("div", { className: "cnnviz-synthesis-history", testid: "synthesis-history" });
  const picture = h("div", { className: "cnnviz-synthesis-body" }, [
    h("figure", { className: "cnnviz-figure cnnviz-synthesis-figure" }, [h("div", { className: "cnnviz-figure-frame" },
      [canvas]), caption]), history]);
  const message = h("p", { className: "cnnviz-muted", testid: "synthesis-message" });
  const el = h("section", { className: "cnnviz-synthesis", testid: "synthesis" }, [
    h("span", { className: "cnnviz-subtitle", text: "Activation maximisation" }),
    h("div", { className: "cnnviz-card-controls" }, [h("label", { className: "cnnviz-field" }, [
      h("span", { className: "cnnviz-label", text: "seed" }), seed]), run, job.el]),
    message, picture]);
  /** @type {any} */
  let shown = null;
  let generation = 0;

  async function paint() {
    const result = model.get("synthesis_result") ?? {};
    const selection = { layer: model.get("layer"), channel: model.get("channel") };
    const fresh = synthesisAnswers(result.request, selection, model.get("model_info")?.name);
    el.dataset.unit = `${selection.layer}|${selection.channel}`;
    if (!fresh) {
      generation++;
      shown = null;
      setHidden(picture, true);
      setHidden(message, false);
      message.textContent = `Synthesise the image that excites ${selection.layer} channel ${selection.channel} most `
        + "(regularised gradient ascent, Yosinski et al. 2015).";
      if (el.dataset.state !== "none") el.dataset.state = "none";
      return;
    }
    if (result === shown) return;
    const mine = ++generation;
    const pixels = await ctx.pixels(result.image);
    if (mine !== generation) return; // the selection moved on, or a newer image arrived, while this decoded
    shown = result;
    putPixels(canvas, new Uint8ClampedArray(pixels.data), pixels.width, pixels.height);
    const r = result.request;
    const field = result.field ? `its receptive field (${result.field[2] - result.field[0]}×`
      + `${result.field[3] - result.field[1]} px of ${result.input_size.join("×")})` : "the whole input";
    caption.textContent = `activation ${formatNumber(result.activation)} after ${result.steps} steps · seed ${r.seed}`
      + `${result.from_cache ? " · from the cache" : ""} · ${field}`;
    const steps = Array.from({ length: result.steps }, (_, i) => i + 1);
    const chart = lineChart({ title: "activation during the ascent", xs: steps, ys: readFloat32(result.history,
      result.steps), width: 220, height: 110, testid: "synthesis-plot", series: "history" });
    history.replaceChildren(chart.el);
    picture.hidden = false;
    message.hidden = true;
    el.dataset.state = "ready";
    el.dataset.request = `${r.layer}|${r.channel}|${r.seed}`;
    ctx.emit("painted", { panel: "synthesis", key: el.dataset.request });
  }

  ctx.on("change:synthesis_result change:layer change:channel change:model_info", paint);
  paint();
  return { el };
}
