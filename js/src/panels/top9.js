// Panel (inside the unit card): the selected unit's top-9 dataset exemplars, the paper's Figure 2 — the projections
// on gray on the left, the image patches they come from on the right, strongest first, each patch with the unit's
// activation value and the image's label. Click an exemplar to make its image the current input. Renders from the
// `top9` trait only (cnnviz_widget/exemplar_panels.py), and only when its stamp answers the current selection.
import { cropRGBA, tileRect } from "../lib/decode.js";
import { h, putPixels, setHidden, setText } from "../lib/dom.js";
import { exemplarCaption, unitSummary } from "../lib/format.js";
import { selectionOf, top9Answers } from "../protocol.js";

const NOTHING = "Top-9 exemplars: mine a dataset — w.mine() — to see the 9 image patches that excite this unit "
  + "most, beside their projections.";

/** @param {import("../context.js").Context} ctx */
export function top9Panel(ctx) {
  const { model } = ctx;
  const title = h("span", { className: "cnnviz-subtitle", text: "Top-9 exemplars" });
  const projectionsCaption = h("figcaption", { className: "cnnviz-caption", testid: "top9-projections-caption",
    text: "projections" });
  const message = h("p", { className: "cnnviz-muted", testid: "top9-message" });
  const projections = h("div", { className: "cnnviz-top9-grid", testid: "top9-projections" });
  const patches = h("div", { className: "cnnviz-top9-grid", testid: "top9-patches" });
  const summary = h("div", { className: "cnnviz-stats", testid: "top9-summary" });
  const grids = h("div", { className: "cnnviz-top9-grids" }, [
    h("figure", { className: "cnnviz-figure" }, [projections, projectionsCaption]),
    h("figure", { className: "cnnviz-figure" }, [patches,
      h("figcaption", { className: "cnnviz-caption", text: "image patches · click one to open its image" })]),
  ]);
  const el = h("section", { className: "cnnviz-top9", testid: "top9" }, [title, message, grids, summary]);
  /** @type {Array<{projection: HTMLElement, patch: HTMLElement, caption: HTMLElement}>} */
  let cells = [];
  /** @type {any} */
  let painted = null;
  let generation = 0;

  function open(rank) {
    const top9 = painted;
    const exemplar = top9?.exemplars?.[rank];
    if (!exemplar) return;
    const { layer, channel } = top9.request;
    ctx.send({ type: "exemplar", layer, channel, index: exemplar.index });
  }

  function cell(testid, rank, children) {
    return h("button", { className: "cnnviz-top9-cell", testid, attrs: { type: "button", "data-rank": rank },
      on: { click: () => open(rank) } }, [h("canvas", { className: "cnnviz-figure-canvas" }), ...children]);
  }

  function ensureCells(k, cols) {
    if (cells.length === k) return;
    cells = Array.from({ length: k }, (_, rank) => {
      const caption = h("span", { className: "cnnviz-top9-caption" });
      const number = h("span", { className: "cnnviz-top9-caption", text: `#${rank + 1}` });
      return { projection: cell("top9-projection", rank, [number]), patch: cell("top9-patch", rank, [caption]),
        caption };
    });
    projections.replaceChildren(...cells.map((c) => c.projection));
    patches.replaceChildren(...cells.map((c) => c.patch));
    for (const grid of [projections, patches]) grid.style.setProperty("--cnnviz-top9-cols", String(cols));
  }

  function say(text, state) {
    setText(message, text);
    setHidden(message, !text);
    if (el.dataset.state !== state) el.dataset.state = state;
  }

  async function paint() {
    const top9 = model.get("top9") ?? {};
    const mine = ++generation;
    if (!top9.request) {
      painted = null;
      say(NOTHING, "none");
      setHidden(grids, true);
      setText(summary, "");
      return;
    }
    const fresh = top9Answers(top9.request, selectionOf(model));
    el.classList.toggle("cnnviz-stale", !fresh);
    if (!fresh) { // keep what is painted, dimmed, until the answer for this unit arrives
      if (el.dataset.state !== "pending") el.dataset.state = "pending";
      return;
    }
    const ready = top9.state === "ready";
    const sheets = ready ? await Promise.all([ctx.pixels(top9.projections), ctx.pixels(top9.patches)]) : [null, null];
    if (mine !== generation) return; // a newer answer arrived while these decoded: last wins
    ensureCells(top9.k, top9.cols);
    cells.forEach(({ projection, patch, caption }, rank) => {
      const exemplar = ready ? top9.exemplars[rank] : null;
      for (const [button, sheet] of [[projection, sheets[0]], [patch, sheets[1]]]) {
        button.disabled = !exemplar;
        button.classList.toggle("cnnviz-top9-cell--empty", !exemplar);
        const canvas = button.querySelector("canvas");
        if (exemplar) {
          const rect = tileRect(rank, top9.cols, top9.tile);
          putPixels(canvas, cropRGBA(sheet.data, sheet.width, rect), rect.width, rect.height);
          button.title = `${exemplar.id} · ${exemplarCaption(exemplar)} · click to open this image`;
        } else {
          canvas.width = canvas.height = 1;
          button.title = "";
        }
      }
      caption.textContent = exemplar ? exemplarCaption(exemplar) : "";
    });
    grids.hidden = !ready;
    const { layer, channel } = top9.request;
    const texts = {
      ready: top9.count < top9.k ? `only ${top9.count} of ${top9.k}: the dataset has ${top9.count} image`
        + `${top9.count === 1 ? "" : "s"} so far` : "",
      dead: "",
      empty: `no image mined yet for ${layer} channel ${channel}`,
    };
    say(texts[top9.state] ?? top9.message ?? "", top9.state);
    summary.textContent = unitSummary(top9);
    const part = top9.view?.crop === "center" ? "central half of the receptive field" : "receptive field";
    title.textContent = top9.box ? `Top-${top9.k} exemplars · ${part} ${top9.box[0]}×${top9.box[1]} px`
      : `Top-${top9.k} exemplars`;
    projectionsCaption.textContent = top9.view?.text ? `projections · ${top9.view.text}` : "projections";
    painted = top9;
    const { rule, display, crop } = top9.request;
    el.dataset.request = `${layer}|${channel}|${rule}|${display}|${crop}`;
    el.dataset.version = String(top9.version);
    ctx.emit("painted", { panel: "top9", key: el.dataset.request, version: top9.version });
  }

  ctx.on("change:top9 change:layer change:channel change:rule change:display change:crop", paint);
  paint();
  return { el };
}
