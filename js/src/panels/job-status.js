// A run's status line in an experiment panel: what it is doing, a progress bar and a cancel button while it runs
// (like the mining status, mining-status.js). Renders from the `jobs` trait (cnnviz_widget/experiment_panels.py).
import { h } from "../lib/dom.js";
import { jobText } from "../lib/format.js";

/**
 * @param {import("../context.js").Context} ctx
 * @param {string} kind  "occlusion", "invariance", "evolution" or "synthesis"
 * @param {string} what  the experiment's name for people
 */
export function jobStatus(ctx, kind, what) {
  const { model } = ctx;
  const text = h("span", { className: "cnnviz-job-text", testid: `${kind}-job-text` });
  const bar = h("progress", { className: "cnnviz-mining-bar", testid: `${kind}-progress`, attrs: { max: 1, value: 0 } });
  const cancel = h("button", { className: "cnnviz-button", testid: `${kind}-cancel`, text: "cancel", attrs: {
    type: "button", "data-kernel-only": "", title: "stop this run (what is shown stays)" },
    on: { click: () => {
      cancel.disabled = true;
      ctx.send({ type: "experiment", action: "cancel", kind });
    } } });
  const el = h("span", { className: "cnnviz-job", testid: `${kind}-job`, attrs: { role: "status" } },
    [text, bar, cancel]);

  function update() {
    const job = model.get("jobs")?.[kind];
    const { text: words, running } = jobText(what, job);
    el.hidden = !words;
    el.dataset.state = job?.state ?? "none";
    el.dataset.id = String(job?.id ?? "");
    text.textContent = words;
    bar.hidden = cancel.hidden = !running;
    bar.max = Math.max(1, job?.total ?? 1);
    bar.value = job?.done ?? 0;
    cancel.disabled = !running || job.state === "cancelling";
  }
  ctx.on("change:jobs", update);
  update();
  return { el };
}
