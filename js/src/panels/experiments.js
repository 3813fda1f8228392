// Panel: the paper's experiments, one tab each — occlusion (Fig. 7), invariance (Fig. 5) and, once w.evolution()
// has been run, feature evolution (Fig. 4). A run started from Python (or another view) brings its tab forward.
// Activation maximisation lives in the unit card (synthesis.js).
import { h } from "../lib/dom.js";
import { newestKind } from "../protocol.js";
import { evolutionPanel } from "./evolution.js";
import { invariancePanel } from "./invariance.js";
import { occlusionPanel } from "./occlusion.js";

const TABS = [
  ["occlusion", "Occlusion", "what the network relies on: hide part of the image (Zeiler & Fergus Fig. 7)"],
  ["invariance", "Invariance", "translate, scale and rotate the image (Fig. 5)"],
  ["evolution", "Feature evolution", "units across training checkpoints (Fig. 4)"],
];

/** @param {import("../context.js").Context} ctx */
export function experimentPanels(ctx) {
  const { model } = ctx;
  const panels = { occlusion: occlusionPanel(ctx), invariance: invariancePanel(ctx), evolution: evolutionPanel(ctx) };
  const buttons = TABS.map(([kind, label, help]) => h("button", { className: "cnnviz-toggle-button", text: label,
    testid: "experiment-tab", attrs: { type: "button", "data-kind": kind, title: help, role: "tab" },
    on: { click: () => show(kind) } }));
  const bodies = TABS.map(([kind]) => h("div", { className: "cnnviz-experiment-body", attrs: { "data-kind": kind,
    role: "tabpanel" } }, [panels[kind].el]));
  const el = h("section", { className: "cnnviz-panel cnnviz-experiments", testid: "experiments" }, [
    h("header", { className: "cnnviz-panel-header" }, [
      h("span", { className: "cnnviz-panel-title", text: "Experiments" }),
      h("div", { className: "cnnviz-toggle", attrs: { role: "tablist" } }, buttons)]),
    ...bodies]);
  let tab = "occlusion";
  let seen = -1;

  function available(kind) {
    return kind !== "evolution" || !!model.get("evolution_result")?.request || !!model.get("jobs")?.evolution;
  }

  function show(kind) {
    tab = available(kind) ? kind : "occlusion";
    for (const b of buttons) {
      b.hidden = !available(b.dataset.kind);
      b.setAttribute("aria-selected", String(b.dataset.kind === tab));
      b.setAttribute("aria-pressed", String(b.dataset.kind === tab));
    }
    for (const body of bodies) body.hidden = body.dataset.kind !== tab;
    el.dataset.tab = tab;
  }

  function follow() {
    const jobs = model.get("jobs") ?? {};
    const kinds = TABS.map(([kind]) => kind);
    const kind = newestKind(jobs, kinds);
    const id = kind ? jobs[kind].id : -1;
    if (kind && id > seen) {
      seen = id;
      show(kind);
    } else {
      show(tab);
    }
  }

  ctx.on("change:jobs change:evolution_result", follow);
  follow();
  return { el };
}
