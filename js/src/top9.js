// Panel slot: the top-9 dataset exemplars of the selected unit (the paper's Figure 2). The mining issue fills the
// `top9` trait and this panel; until then it says how to get them. It renders from `model.get("top9")` only.
import { h } from "./dom.js";

/** @param {import("./context.js").Context} ctx */
export function top9Panel(ctx) {
  const { model } = ctx;
  const body = h("div", { className: "cnnviz-top9-body" });
  function render() {
    const top9 = model.get("top9") ?? {};
    body.replaceChildren(h("p", { className: "cnnviz-muted", text: Object.keys(top9).length === 0
      ? "Top-9 exemplars: mine a dataset to see the 9 image patches that excite this unit most."
      : "Top-9 exemplars are available for this model." }));
  }
  ctx.on("change:top9", render);
  render();
  return { el: h("section", { className: "cnnviz-top9", testid: "top9" }, [
    h("span", { className: "cnnviz-subtitle", text: "Top-9 exemplars" }), body]) };
}
