// Panel: the first convolution's filters (the paper's "layer 1"), scaled up with nearest-neighbour; click one to
// select that unit.
import { cropRGBA, tileRect } from "../lib/decode.js";
import { h, putPixels } from "../lib/dom.js";

/** @param {import("../context.js").Context} ctx */
export function filtersGrid(ctx) {
  const { model } = ctx;
  const title = h("span", { className: "cnnviz-panel-title", text: "Layer 1 filters" });
  const grid = h("div", { className: "cnnviz-filters", testid: "filters-grid" });
  /** @type {HTMLElement[]} */
  let tiles = [];
  let generation = 0;

  function mark() {
    const filters = model.get("filters") ?? {};
    const selected = filters.layer === model.get("layer") ? model.get("channel") : -1;
    tiles.forEach((el, i) => el.classList.toggle("cnnviz-tile--selected", i === selected));
  }

  async function paint() {
    const filters = model.get("filters");
    const mine = ++generation;
    if (!filters?.png) return;
    const pixels = await ctx.pixels(filters.png);
    if (mine !== generation) return;
    const [kh, kw] = filters.kernel;
    title.textContent = `Layer 1 filters · ${filters.layer} · ${filters.count} of ${kh}×${kw}`;
    tiles = Array.from({ length: filters.count }, (_, i) => {
      const rect = tileRect(i, filters.cols, filters.tile);
      const canvas = h("canvas", { className: "cnnviz-filter-canvas" });
      putPixels(canvas, cropRGBA(pixels.data, pixels.width, rect), rect.width, rect.height);
      return h("div", { className: "cnnviz-filter", testid: "filter-tile", attrs: { "data-channel": i,
        title: `filter ${i}` }, on: { click: () => ctx.select({ layer: filters.layer, channel: i }) } }, [canvas]);
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
