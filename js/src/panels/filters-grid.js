// Panel: the first convolution's filters (the paper's "layer 1"), scaled up with nearest-neighbour (each one cut
// from the filter sheet, lib/sprite.js); click one to select that unit.
import { bytesOf, tileRect } from "../lib/decode.js";
import { h } from "../lib/dom.js";
import { pngSize, sheetURL, tileBackground } from "../lib/sprite.js";

/** @param {import("../context.js").Context} ctx */
export function filtersGrid(ctx) {
  const { model } = ctx;
  const title = h("span", { className: "cnnviz-panel-title", text: "Layer 1 filters" });
  const grid = h("div", { className: "cnnviz-filters", testid: "filters-grid" });
  /** @type {HTMLElement[]} */
  let tiles = [];
  const sheet = { url: null };
  ctx.onDestroy(() => sheet.url && URL.revokeObjectURL(sheet.url));

  function mark() {
    const filters = model.get("filters") ?? {};
    const selected = filters.layer === model.get("layer") ? model.get("channel") : -1;
    tiles.forEach((el, i) => el.classList.toggle("cnnviz-tile--selected", i === selected));
  }

  function paint() {
    const filters = model.get("filters");
    if (!filters?.png) return;
    const bytes = bytesOf(filters.png);
    const size = pngSize(bytes);
    const [kh, kw] = filters.kernel;
    title.textContent = `Layer 1 filters · ${filters.layer} · ${filters.count} of ${kh}×${kw}`;
    grid.style.setProperty("--cnnviz-sheet", `url("${sheetURL(sheet, bytes)}")`);
    tiles = Array.from({ length: filters.count }, (_, i) => {
      const rect = tileRect(i, filters.cols, filters.tile);
      const picture = h("div", { className: "cnnviz-filter-picture" });
      Object.assign(picture.style, tileBackground(rect, size), { aspectRatio: `${rect.width} / ${rect.height}` });
      return h("div", { className: "cnnviz-filter", testid: "filter-tile", attrs: { "data-channel": i,
        title: `filter ${i}` }, on: { click: () => ctx.select({ layer: filters.layer, channel: i }) } }, [picture]);
    });
    grid.replaceChildren(...tiles);
    mark();
  }

  ctx.on("change:filters", paint);
  ctx.on("change:layer change:channel", mark);
  paint();
  return { el: h("section", { className: "cnnviz-panel cnnviz-filters-panel" }, [
    h("header", { className: "cnnviz-panel-header" }, [title]), grid]) };
}
