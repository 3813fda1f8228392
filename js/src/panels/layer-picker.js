// Panel: the layer picker — every discovered layer with its kind and output shape, plus previous/next buttons.
import { h } from "../lib/dom.js";
import { moveLayer } from "../lib/layout.js";

/** @param {import("../context.js").Context} ctx */
export function layerPicker(ctx) {
  const { model } = ctx;
  const select = h("select", { className: "cnnviz-select", testid: "layer-select", attrs: { "aria-label": "layer" } });
  const names = () => (model.get("layers") ?? []).map((l) => l.name);
  const step = (key) => () => {
    const next = moveLayer(names(), model.get("layer"), key);
    if (next) ctx.select({ layer: next });
  };
  const prev = h("button", { className: "cnnviz-button", text: "‹", attrs: { title: "previous layer (PgUp)",
    "aria-label": "previous layer" }, on: { click: step("PageUp") } });
  const next = h("button", { className: "cnnviz-button", text: "›", attrs: { title: "next layer (PgDn)",
    "aria-label": "next layer" }, on: { click: step("PageDown") } });
  select.addEventListener("change", () => ctx.select({ layer: select.value }));

  function options() {
    select.replaceChildren(...(model.get("layers") ?? []).map((layer) =>
      h("option", { text: `${layer.name} — ${layer.label}`, attrs: { value: layer.name } })));
    select.value = model.get("layer");
  }
  ctx.on("change:layers", options);
  ctx.on("change:layer", () => { select.value = model.get("layer"); });
  options();
  return h("div", { className: "cnnviz-layer-picker" }, [h("span", { className: "cnnviz-label", text: "Layer" }),
    prev, select, next]);
}
