// A class picker of the experiment panels (occlusion, invariance): "predicted" or one of the current picture's top
// predictions.
import { h } from "../lib/dom.js";
import { formatNumber } from "../lib/format.js";

/**
 * @param {import("../context.js").Context} ctx
 * @param {string} testid
 */
export function targetPicker(ctx, testid) {
  const select = h("select", { className: "cnnviz-select", testid, attrs: { "aria-label": "class",
    title: "the class whose probability is followed (the correct one, if you know it)" } });
  function fill() {
    const predictions = ctx.model.get("picture")?.predictions ?? [];
    const kept = select.value;
    select.replaceChildren(h("option", { text: "predicted class", attrs: { value: "" } }),
      ...predictions.map((p) => h("option", { text: `${p.label} (${formatNumber(p.probability)})`,
        attrs: { value: p.index } })));
    if ([...select.options].some((o) => o.value === kept)) select.value = kept;
  }
  ctx.on("change:picture", fill);
  fill();
  return {
    el: h("label", { className: "cnnviz-field" }, [h("span", { className: "cnnviz-label", text: "class" }), select]),
    value: () => (select.value === "" ? null : Number(select.value)),
  };
}
