// Panel: feature evolution during training (Zeiler & Fergus Fig. 4) — units × checkpoints: for each unit (a row) and
// checkpoint (a column), the unit's strongest activation over a dataset: its projection, the image patch it comes
// from, and the value. Click a cell to open that checkpoint's unit card: the widget switches to that checkpoint's
// weights, showing the cell's image with the unit selected where it fired (the "back" button returns to the
// original model). Filled by w.evolution(checkpoints, data) in Python; renders from `evolution_result` and
// `checkpoint` (cnnviz_widget/experiment_panels.py).
import { cropRGBA, readFloat32, tileRect } from "../lib/decode.js";
import { h, putPixels } from "../lib/dom.js";
import { formatNumber } from "../lib/format.js";
import { experimentAnswers, isActive } from "../protocol.js";
import { jobStatus } from "./job-status.js";

/** @param {import("../context.js").Context} ctx */
export function evolutionPanel(ctx) {
  const { model } = ctx;
  const run = h("button", { className: "cnnviz-button", testid: "evolution-run", text: "run for the selected layer",
    attrs: { type: "button", "data-kernel-only": "",
      title: "the same checkpoints and images, for the selected unit and the next ones of its layer" },
    on: { click: () => ctx.send({ type: "experiment", action: "run", kind: "evolution", params: {} }) } });
  const back = h("button", { className: "cnnviz-button", testid: "evolution-back", attrs: { type: "button",
    "data-kernel-only": "" }, on: { click: () => ctx.send({ type: "checkpoint", action: "close" }) } });
  const open = h("span", { className: "cnnviz-readout", testid: "evolution-open" });
  const job = jobStatus(ctx, "evolution", "feature evolution");
  const message = h("p", { className: "cnnviz-muted", testid: "evolution-message" });
  const grid = h("div", { className: "cnnviz-evolution-grid", testid: "evolution-grid" });
  const el = h("section", { className: "cnnviz-evolution", testid: "evolution" }, [
    h("div", { className: "cnnviz-card-controls" }, [run, job.el, open, back]), message, grid]);

  /** @type {any} */
  let shown = null;
  let generation = 0;

  function openCell(unit, column) {
    ctx.send({ type: "checkpoint", action: "open", column, unit });
  }

  function controls() {
    const checkpoint = model.get("checkpoint") ?? {};
    const here = checkpoint.name != null;
    back.hidden = !here;
    back.textContent = here ? `back to ${checkpoint.model}` : "";
    open.textContent = here ? `the widget shows checkpoint ${checkpoint.name}` : "";
    run.hidden = !shown || here;
    for (const cell of grid.querySelectorAll("[data-testid=evolution-cell]")) {
      const on = here && shown && checkpoint.evolution === shown.request.id
        && Number(/** @type {HTMLElement} */ (cell).dataset.column) === checkpoint.column;
      cell.classList.toggle("cnnviz-evolution-cell--open", !!on);
    }
  }

  async function paint() {
    const result = model.get("evolution_result") ?? {};
    const jobState = model.get("jobs")?.evolution;
    el.hidden = !result.request && !jobState;
    grid.classList.toggle("cnnviz-stale", !!shown && isActive(jobState) && jobState.id > shown.request.id);
    if (result === shown) return;
    const mine = ++generation;
    if (!result.request) {
      message.textContent = "";
      controls();
      return;
    }
    if (!experimentAnswers(result.request, jobState, shown?.request.id ?? 0)) return;
    const sheets = await Promise.all(result.units.map((u) => Promise.all([ctx.pixels(u.projections),
      ctx.pixels(u.patches)])));
    if (mine !== generation) return;
    shown = result;
    const k = result.checkpoints.length;
    const values = readFloat32(result.values, result.units.length * k);
    grid.style.setProperty("--cnnviz-evolution-cols", String(k));
    const head = [h("div", { className: "cnnviz-evolution-corner", text: "unit \\ checkpoint" }),
      ...result.checkpoints.map((name) => h("div", { className: "cnnviz-evolution-head", text: name }))];
    const rows = result.units.flatMap((unit, u) => [
      h("div", { className: "cnnviz-evolution-unit", text: `${unit.layer} · ${unit.channel}` }),
      ...result.checkpoints.map((name, c) => {
        const cell = unit.cells[c];
        const projection = h("canvas", { className: "cnnviz-figure-canvas", testid: "evolution-projection" });
        const patch = h("canvas", { className: "cnnviz-figure-canvas", testid: "evolution-patch" });
        if (cell) {
          const rect = tileRect(c, k, unit.tile);
          const [pSheet, iSheet] = sheets[u];
          putPixels(projection, cropRGBA(pSheet.data, pSheet.width, rect), rect.width, rect.height);
          putPixels(patch, cropRGBA(iSheet.data, iSheet.width, rect), rect.width, rect.height);
        }
        const caption = cell ? `${formatNumber(values[u * k + c])}${cell.label_name ? ` · ${cell.label_name}` : ""}`
          : "no image";
        return h("button", { className: "cnnviz-evolution-cell", testid: "evolution-cell", attrs: { type: "button",
          "data-unit": u, "data-column": c, disabled: !cell,
          title: cell ? `${unit.layer} channel ${unit.channel} at ${name}: ${cell.id} · click to open this `
            + "checkpoint's unit card" : "" },
        on: { click: () => openCell(u, c) } }, [
          h("span", { className: "cnnviz-evolution-pair" }, [projection, patch]),
          h("span", { className: "cnnviz-top9-caption", text: caption }),
        ]);
      }),
    ]);
    grid.replaceChildren(...head, ...rows);
    grid.classList.toggle("cnnviz-stale", isActive(jobState) && jobState.id > result.request.id);
    message.textContent = `strongest activation over ${result.dataset} at each checkpoint · ${result.rule} `
      + "projections beside image patches · click a cell to open that checkpoint's unit card";
    el.dataset.id = String(result.request.id);
    controls();
    ctx.emit("painted", { panel: "evolution", key: String(result.request.id) });
  }

  ctx.on("change:evolution_result change:jobs", paint);
  ctx.on("change:checkpoint", controls);
  paint();
  controls();
  return { el };
}
