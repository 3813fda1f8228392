// Panel: the layer picker — the model's stages (or, on demand, every discovered layer) with their kind and output
// shape, previous/next buttons, and the "all layers" switch (view-local: `ctx.state.allLayers`, read by keyboard.js).
import { h } from "../lib/dom.js";
import { moveLayer, shownLayers, stageNumbers } from "../lib/layout.js";

/** @param {import("../context.js").Context} ctx */
export function layerPicker(ctx) {
  const { model } = ctx;
  const select = h("select", { className: "cnnviz-select", testid: "layer-select", attrs: { "aria-label": "layer" } });
  const listed = () => shownLayers(model.get("layers") ?? [], model.get("layer"), ctx.state.allLayers);
  const step = (key) => () => {
    const next = moveLayer(listed().map((l) => l.name), model.get("layer"), key);
    if (next) ctx.select({ layer: next });
  };
  const prev = h("button", { className: "cnnviz-button", text: "‹", attrs: { title: "previous layer (PgUp)",
    "aria-label": "previous layer" }, on: { click: step("PageUp") } });
  const next = h("button", { className: "cnnviz-button", text: "›", attrs: { title: "next layer (PgDn)",
    "aria-label": "next layer" }, on: { click: step("PageDown") } });
  const all = h("input", { testid: "layer-all", attrs: { type: "checkbox", "aria-label": "list every layer" } });
  const allLabel = h("label", { className: "cnnviz-layer-all", attrs: {
    title: "The list shows the model's stages (its outermost convolutions, blocks and linear layers); tick to list "
      + "every layer: activations, pools and the layers inside each block." } }, [all, h("span", { text: "all" })]);
  select.addEventListener("change", () => ctx.select({ layer: select.value }));
  all.addEventListener("change", () => {
    ctx.state.allLayers = all.checked;
    options();
  });

  function options() {
    const layers = model.get("layers") ?? [];
    const numbers = stageNumbers(layers);
    select.replaceChildren(...listed().map((layer) => {
      const n = numbers.get(layer.name);
      const text = `${n != null ? `${n} · ` : ""}${layer.name} — ${layer.label}`;
      return h("option", { text, attrs: { value: layer.name } });
    }));
    select.value = model.get("layer");
    allLabel.hidden = numbers.size === 0 || numbers.size === layers.length;
    allLabel.querySelector("span").textContent = `all ${layers.length}`;
  }
  ctx.on("change:layers change:layer", options);
  options();
  return h("div", { className: "cnnviz-layer-picker" }, [h("span", { className: "cnnviz-label", text: "Layer" }),
    prev, select, next, allLabel]);
}
