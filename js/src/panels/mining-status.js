// Panel (in the header): where the dataset exemplars come from — a mining pass's progress bar with its cancel
// button while it runs (w.mine()), then what was mined. Renders from the `mining` trait only.
import { h } from "../lib/dom.js";
import { miningText } from "../lib/format.js";

/** @param {import("../context.js").Context} ctx */
export function miningStatus(ctx) {
  const { model } = ctx;
  const text = h("span", { className: "cnnviz-mining-text", testid: "mining-text" });
  const bar = h("progress", { className: "cnnviz-mining-bar", testid: "mining-progress", attrs: { max: 1, value: 0 } });
  const cancel = h("button", { className: "cnnviz-button", testid: "mining-cancel", text: "cancel", attrs: {
    title: "stop after the current batch (what is mined is kept; mine again to resume)" },
    on: { click: () => {
      cancel.disabled = true;
      ctx.send({ type: "mining", action: "cancel" });
    } } });
  const el = h("div", { className: "cnnviz-mining", testid: "mining", attrs: { role: "status" } }, [text, bar, cancel]);

  function update() {
    const mining = model.get("mining") ?? {};
    const { text: words, running } = miningText(mining);
    el.hidden = !words;
    el.dataset.state = mining.state ?? "none";
    text.textContent = words;
    bar.hidden = cancel.hidden = !running;
    bar.max = Math.max(1, mining.total ?? 1);
    bar.value = mining.done ?? 0;
    cancel.disabled = mining.state !== "running";
  }
  ctx.on("change:mining", update);
  update();
  return { el };
}
