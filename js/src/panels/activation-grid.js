// Panel: the activation grid — every channel of the selected layer for the current image, one tile each, cut from
// one binary atlas (its gray codes shown as they are: the PNG itself is the tiles' background, lib/sprite.js).
// Hover shows the channel's statistics; click selects it; silent channels are marked, and so are channels whose
// peak is above the grid's one scale (clipped); the legend says what full brightness is. On a saved page that holds
// some units only (`holds.units`), the others are dimmed.
import { colorize } from "../lib/colormap.js";
import { bytesOf, gridScale, isDead, readStats, tileRect } from "../lib/decode.js";
import { h, putPixels } from "../lib/dom.js";
import { formatNumber, gridLegendText } from "../lib/format.js";
import { tileDisplaySize, tileOrder } from "../lib/layout.js";
import { pngSize, sheetURL, tileBackground } from "../lib/sprite.js";
import { pending } from "../protocol.js";

/** @param {import("../context.js").Context} ctx */
export function activationGrid(ctx) {
  const { model } = ctx;
  const title = h("span", { className: "cnnviz-panel-title", text: "Activations" });
  const readout = h("span", { className: "cnnviz-readout", testid: "tile-readout" });
  const sort = h("button", { className: "cnnviz-button", testid: "sort-toggle",
    on: { click: () => ctx.set("sort_by", model.get("sort_by") === "strength" ? "channel" : "strength") } });
  const grid = h("div", { className: "cnnviz-grid", testid: "activation-grid", attrs: { role: "listbox",
    "aria-label": "channels of the layer" } });
  const rampLow = h("span", { className: "cnnviz-scale-label", testid: "grid-legend-low" });
  const ramp = h("canvas", { className: "cnnviz-scale-bar cnnviz-grid-ramp", testid: "grid-legend-ramp",
    attrs: { width: 256, height: 1 } });
  const rampHigh = h("span", { className: "cnnviz-scale-label", testid: "grid-legend-high" });
  const legendText = h("span", { className: "cnnviz-grid-legend-text", testid: "grid-legend-text" });
  const legend = h("div", { className: "cnnviz-grid-legend", testid: "grid-legend" }, [
    h("div", { className: "cnnviz-scale" }, [rampLow, ramp, rampHigh]), legendText]);
  putPixels(ramp, colorize(Uint8ClampedArray.from({ length: 256 * 4 }, (_, i) => i >> 2), "gray"), 256, 1);
  /** @type {Array<{el: HTMLElement, picture: HTMLElement}>} */
  let tiles = [];
  const sheet = { url: null };
  ctx.onDestroy(() => sheet.url && URL.revokeObjectURL(sheet.url));
  let marked = -1; // the tile drawn as selected
  /** @type {Record<string, Float32Array>|null} */
  let stats = null;
  let shown = null; // the atlas currently painted
  /** @type {Set<number>} */
  let clipped = new Set();
  /** @type {Set<number>|null} the units a saved page holds of the layer shown (null: every unit) */
  let held = null;

  function describe(i) {
    if (!stats) return `channel ${i}`;
    const dead = isDead(stats, i) ? " · silent (all zero) on this image" : "";
    const above = clipped.has(i) ? ` · above the grid's scale (${formatNumber(stats.scale[i])}): clipped` : "";
    const unsaved = held && !held.has(i) ? " · not in this saved page" : "";
    return `channel ${i} · max ${formatNumber(stats.max[i])} · mean ${formatNumber(stats.mean[i])}${dead}${above}`
      + unsaved;
  }

  function showLegend(atlas) {
    const g = gridScale(atlas, stats);
    clipped = new Set(g.clipped);
    legend.hidden = !atlas.count;
    rampLow.textContent = g.signed ? formatNumber(-g.scale) : "0";
    rampHigh.textContent = formatNumber(g.scale);
    legendText.textContent = gridLegendText(g);
    legend.dataset.scale = String(g.scale);
    legend.dataset.clipped = String(g.clipped.length);
  }

  function makeTile(i) {
    const picture = h("div", { className: "cnnviz-tile-picture" });
    const el = h("div", { className: "cnnviz-tile", testid: "unit-tile", attrs: { "data-channel": i, role: "option" },
      on: {
        click: () => ctx.select({ layer: shown?.layer ?? model.get("layer"), channel: i }),
        mouseenter: () => { readout.textContent = describe(i); },
        mouseleave: () => { readout.textContent = ""; },
      } }, [picture, h("span", { className: "cnnviz-tile-index", text: i })]);
    return { el, picture };
  }

  function arrange() {
    if (!shown) return;
    const order = tileOrder(tiles.length, stats?.max ?? null, model.get("sort_by"));
    grid.replaceChildren(...order.map((i) => tiles[i].el));
    sort.textContent = model.get("sort_by") === "strength" ? "sorted: strongest first" : "sorted: by channel";
  }

  function select(i, on) {
    const el = tiles[i]?.el;
    if (!el) return;
    el.classList.toggle("cnnviz-tile--selected", on);
    el.setAttribute("aria-selected", String(on));
  }

  /** Draw the selection: only the tiles that change are touched (a burst of clicks restyles two tiles each);
   * every tile after a new atlas (`fresh`). */
  function mark({ fresh = false } = {}) {
    const selected = shown && shown.layer === model.get("layer") ? model.get("channel") : -1;
    if (fresh) tiles.forEach((_, i) => select(i, i === selected));
    else if (selected !== marked) {
      select(marked, false);
      select(selected, true);
    }
    marked = selected;
    grid.classList.toggle("cnnviz-stale", pending(model).atlas);
    const text = shown ? `Activations · ${shown.layer} · ${shown.count} channels` : "Activations";
    if (title.textContent !== text) title.textContent = text;
  }

  function paint() {
    const atlas = model.get("atlas");
    const received = performance.now();
    if (!atlas || !atlas.png) {
      tiles = [];
      shown = null;
      legend.hidden = true;
      grid.replaceChildren();
      mark();
      return;
    }
    const bytes = bytesOf(atlas.png);
    const size = pngSize(bytes);
    if (tiles.length !== atlas.count) tiles = Array.from({ length: atlas.count }, (_, i) => makeTile(i));
    stats = readStats(atlas);
    const units = model.get("holds")?.units?.[atlas.layer];
    held = units ? new Set(units) : null;
    showLegend(atlas);
    const [th, tw] = atlas.tile;
    grid.style.setProperty("--cnnviz-tile-size", `${tileDisplaySize(atlas.count)}px`);
    grid.style.setProperty("--cnnviz-tile-aspect", `${tw} / ${th}`);
    grid.style.setProperty("--cnnviz-sheet", `url("${sheetURL(sheet, bytes)}")`);
    tiles.forEach(({ el, picture }, i) => {
      const rect = tileRect(i, atlas.cols, atlas.tile);
      Object.assign(picture.style, tileBackground(rect, size));
      picture.dataset.rect = `${rect.x},${rect.y},${rect.width},${rect.height}`;
      el.classList.toggle("cnnviz-tile--dead", isDead(stats, i));
      el.classList.toggle("cnnviz-tile--clipped", clipped.has(i));
      el.classList.toggle("cnnviz-tile--unsaved", held !== null && !held.has(i));
      el.title = describe(i);
    });
    shown = atlas;
    grid.dataset.layer = atlas.layer;
    grid.dataset.image = String(atlas.image);
    arrange();
    mark({ fresh: true });
    ctx.emit("painted", { panel: "atlas", layer: atlas.layer, image: atlas.image, received });
  }

  ctx.on("change:atlas", paint);
  ctx.on("change:sort_by", arrange);
  ctx.on("change:layer change:channel change:picture", () => mark());
  paint();

  const el = h("section", { className: "cnnviz-panel cnnviz-grid-panel" }, [
    h("header", { className: "cnnviz-panel-header" }, [title, sort]), legend, readout, grid]);
  return {
    el,
    /** Channels in display order, and the number of columns as rendered (for keyboard moves). */
    layout: () => ({ order: tileOrder(tiles.length, stats?.max ?? null, model.get("sort_by")), tiles: grid.children }),
    reveal(channel) {
      tiles[channel]?.el.scrollIntoView?.({ block: "nearest", inline: "nearest" });
    },
  };
}
