// The widget's front end: one view = a header (model, layer picker, busy), the error banner, and the panels.
//
// Every panel renders from the model's state alone (the traits documented in cnnviz_widget/widget.py), so a page
// with no kernel renders the same from a static model: `get/set/on/off/save_changes/send` over the saved state,
// answering `set` of layer/channel/position/rule by setting the matching precomputed `atlas` / `unit`.
//
// Adding a panel (top-9, occlusion, invariance, ...):
//   1. js/src/panels/<panel>.js exports `function myPanel(ctx) { ...; return { el } }`. Read state with
//      `ctx.model.get(name)`, listen with `ctx.on("change:name", fn)` (removed with the view), change the selection
//      with `ctx.select({layer, channel, position, rule})`, set a trait with `ctx.set(name, value)`, send a command
//      with `ctx.send({type, ...}, [buffers])`, decode a PNG trait with `await ctx.pixels(bytes)`; only ever put model
//      text in the page with textContent (`h(tag, {text})` of lib/dom.js), prefix classes `cnnviz-`, give tests
//      `data-testid`s. Helpers that are not panels go in js/src/lib/ (the DOM-free ones tested in tests/js/lib/).
//   2. Results it draws come from a trait whose value is stamped with what it answers (like `unit.request`); paint
//      only when the stamp matches the current selection — the rule goes in protocol.js (tests/js/protocol.test.mjs),
//      so stale answers are dropped. For the saved page, state/keys.py's answer-key spec names the trait's fields.
//   3. Mount it below (or inside the unit card, as panels/top9.js is), add its entry to PANELS in panels/help.js, and
//      test it beside tests/browser/test_harness.py. DEVELOPERS.md "Adding a panel" has the whole recipe (Python too).
import { createContext } from "./context.js";
import { h } from "./lib/dom.js";
import { activationGrid } from "./panels/activation-grid.js";
import { classEvidencePanel } from "./panels/class-evidence.js";
import { experimentPanels } from "./panels/experiments.js";
import { filtersGrid } from "./panels/filters-grid.js";
import { helpOverlay } from "./panels/help.js";
import { inputPanel } from "./panels/input-panel.js";
import { keyboard } from "./panels/keyboard.js";
import { layerAtlasPanel } from "./panels/layer-atlas.js";
import { layerPicker } from "./panels/layer-picker.js";
import { miningStatus } from "./panels/mining-status.js";
import { busyIndicator, errorBanner, selectionNote } from "./panels/status.js";
import { unitCard } from "./panels/unit-card.js";
import { webcamPanel } from "./panels/webcam.js";

/**
 * @param {{model: import("./context.js").Model, el: HTMLElement}} view
 * @returns {() => void} cleanup
 */
function render({ model, el }) {
  const root = h("div", { className: "cnnviz-root", attrs: { tabindex: 0, "data-lm-suppress-shortcuts": "true",
    "aria-label": "CNN visualisation: arrows move between units, PgUp/PgDn between layers" } });
  const ctx = createContext(model, root);
  const name = h("span", { className: "cnnviz-model-name", testid: "model-name" });
  const showModel = () => {
    const info = model.get("model_info") ?? {};
    name.textContent = info.name ?? "";
    name.title = info.source ?? "";
  };
  ctx.on("change:model_info", showModel);
  showModel();

  const grid = activationGrid(ctx);
  const removeKeys = keyboard(ctx, grid);
  const help = helpOverlay(ctx);
  const camera = webcamPanel(ctx);
  root.append(
    h("header", { className: "cnnviz-header" }, [name, layerPicker(ctx), selectionNote(ctx).el, miningStatus(ctx).el,
      busyIndicator(ctx).el, help.button]),
    errorBanner(ctx).el,
    h("div", { className: "cnnviz-main" }, [
      h("div", { className: "cnnviz-column cnnviz-column--side" }, [inputPanel(ctx).el, camera.el,
        filtersGrid(ctx).el]),
      h("div", { className: "cnnviz-column cnnviz-column--main" }, [grid.el, unitCard(ctx).el,
        classEvidencePanel(ctx).el, layerAtlasPanel(ctx).el, experimentPanels(ctx).el]),
    ]),
    help.overlay,
  );
  el.replaceChildren(root);
  return () => {
    help.destroy();
    camera.stop();
    removeKeys();
    ctx.destroy();
    root.remove();
  };
}

export default { render };
