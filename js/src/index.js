// The widget's front end: one view = a header (model, layer picker, busy), the error banner, and the panels.
// Every panel renders from the model's state alone, so a static page holding that state renders the same.
import { activationGrid } from "./activation-grid.js";
import { createContext } from "./context.js";
import { h } from "./dom.js";
import { filtersGrid } from "./filters-grid.js";
import { inputPanel } from "./input-panel.js";
import { keyboard } from "./keyboard.js";
import { layerPicker } from "./layer-picker.js";
import { busyIndicator, errorBanner } from "./status.js";
import { unitCard } from "./unit-card.js";

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
  root.append(
    h("header", { className: "cnnviz-header" }, [name, layerPicker(ctx), busyIndicator(ctx).el]),
    errorBanner(ctx).el,
    h("div", { className: "cnnviz-main" }, [
      h("div", { className: "cnnviz-column cnnviz-column--side" }, [inputPanel(ctx).el, filtersGrid(ctx).el]),
      h("div", { className: "cnnviz-column cnnviz-column--main" }, [grid.el, unitCard(ctx).el]),
    ]),
  );
  el.replaceChildren(root);
  return () => {
    removeKeys();
    ctx.destroy();
    root.remove();
  };
}

export default { render };
