// Panel: the layer atlas — the paper's Figure 2 for a whole layer: every unit with its top-9 projections (left) and
// image patches (right), a page of units at a time, with how often each fires, dead units marked, and its commonest
// class. Click a unit to open its card. Computed by the kernel only while open (`layer_atlas_open`); renders from
// the `layer_atlas` trait, one page (`layer_atlas_page`) at a time, when its stamp answers the current state.
import { atlasUnitDead, cropRGBA, exemplarRect, readFloat32, readStats } from "../lib/decode.js";
import { h, setHidden, setText } from "../lib/dom.js";
import { percent } from "../lib/format.js";
import { layerAtlasAnswers } from "../protocol.js";

/**
 * Draw a unit's exemplars (row `row` of a sheet) as a square block, strongest first, row-major.
 * @param {HTMLCanvasElement} canvas
 * @param {ImageData} sheet
 * @param {number} row
 * @param {number} count  exemplars the unit has
 * @param {number} k
 * @param {[number, number]} tile
 */
function drawBlock(canvas, sheet, row, count, k, tile) {
  const cols = Math.max(1, Math.ceil(Math.sqrt(k)));
  const rows = Math.ceil(k / cols);
  const [th, tw] = tile;
  canvas.width = cols * tw;
  canvas.height = rows * th;
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  for (let rank = 0; rank < count; rank++) {
    const rect = exemplarRect(row, rank, k, tile);
    context.putImageData(new ImageData(cropRGBA(sheet.data, sheet.width, rect), tw, th), (rank % cols) * tw,
      Math.floor(rank / cols) * th);
  }
}

/** @param {import("../context.js").Context} ctx */
export function layerAtlasPanel(ctx) {
  const { model } = ctx;
  const title = h("span", { className: "cnnviz-panel-title", text: "Layer atlas" });
  const toggle = h("button", { className: "cnnviz-button", testid: "layer-atlas-toggle",
    on: { click: () => ctx.set("layer_atlas_open", !model.get("layer_atlas_open")) } });
  const prev = h("button", { className: "cnnviz-button", testid: "layer-atlas-prev", text: "‹ prev",
    on: { click: () => turn(-1) } });
  const next = h("button", { className: "cnnviz-button", testid: "layer-atlas-next", text: "next ›",
    on: { click: () => turn(1) } });
  const pageText = h("span", { className: "cnnviz-readout cnnviz-layer-atlas-page", testid: "layer-atlas-page" });
  const pager = h("span", { className: "cnnviz-layer-atlas-pager" }, [prev, pageText, next]);
  const message = h("p", { className: "cnnviz-muted", testid: "layer-atlas-message" });
  const grid = h("div", { className: "cnnviz-layer-atlas-grid", testid: "layer-atlas-grid" });
  const body = h("div", {}, [message, grid]);
  const el = h("section", { className: "cnnviz-panel cnnviz-layer-atlas", testid: "layer-atlas" }, [
    h("header", { className: "cnnviz-panel-header" }, [title, h("span", {}, [pager, toggle])]), body]);
  /** @type {any} */
  let shown = null;
  let generation = 0;

  /** The page shown: the page painted when it answers the selection, else the one asked for (a saved page's
   * "not saved" answer keeps the last page painted, and its pager). */
  function currentPage() {
    return shown && layerAtlasAnswers(shown.request, model) ? shown.page : model.get("layer_atlas_page");
  }

  function turn(step) {
    if (!shown?.pages) return;
    const page = Math.min(Math.max(currentPage() + step, 0), shown.pages - 1);
    if (page !== model.get("layer_atlas_page")) ctx.set("layer_atlas_page", page);
  }

  function openCard(channel) {
    ctx.select({ layer: shown.request.layer, channel });
    ctx.root.querySelector("[data-testid=unit-card]")?.scrollIntoView?.({ block: "nearest" });
  }

  function controls() {
    const mining = model.get("mining") ?? {};
    const open = Boolean(model.get("layer_atlas_open"));
    setHidden(el, !mining.state);
    setText(toggle, open ? "hide" : "show every unit of this layer");
    toggle.setAttribute("aria-expanded", String(open));
    setHidden(body, !open);
    setHidden(pager, !open || !shown?.pages);
    const page = currentPage();
    prev.disabled = !shown || page <= 0;
    next.disabled = !shown || page >= shown.pages - 1;
    const atlas = model.get("layer_atlas") ?? {};
    const fresh = layerAtlasAnswers(atlas.request, model);
    grid.classList.toggle("cnnviz-stale", open && !fresh);
    const state = !open ? "closed" : fresh ? atlas.state ?? "none" : "pending";
    if (el.dataset.state !== state) el.dataset.state = state;
    const layer = model.get("layer");
    for (const unit of grid.children) {
      const on = shown?.request.layer === layer && Number(unit.dataset.channel) === model.get("channel");
      unit.classList.toggle("cnnviz-tile--selected", on);
    }
  }

  async function paint() {
    const atlas = model.get("layer_atlas") ?? {};
    const mine = ++generation;
    if (!atlas.request || !layerAtlasAnswers(atlas.request, model)) {
      controls(); // stale or empty: keep what is painted, dimmed
      return;
    }
    if (atlas.state !== "ready") {
      if (atlas.state !== "not-saved") shown = null; // a saved page's pager stays, to page back to what it holds
      grid.replaceChildren();
      message.textContent = atlas.message ?? "";
      message.hidden = !atlas.message;
      title.textContent = `Layer atlas · ${atlas.request.layer}`;
      controls();
      return;
    }
    const [projections, patches] = await Promise.all([ctx.pixels(atlas.projections), ctx.pixels(atlas.patches)]);
    if (mine !== generation) return; // a newer page arrived while these decoded: last wins
    const rows = atlas.channels.length;
    const values = readFloat32(atlas.values, rows * atlas.k);
    const stats = readStats({ stats: atlas.stats, count: rows, stats_columns: atlas.stats_columns });
    grid.replaceChildren(...atlas.channels.map((channel, i) => {
      let count = 0;
      while (count < atlas.k && !Number.isNaN(values[i * atlas.k + count])) count++;
      const dead = atlasUnitDead(atlas, stats, i);
      const projection = h("canvas", { className: "cnnviz-figure-canvas", testid: "atlas-projections" });
      const patch = h("canvas", { className: "cnnviz-figure-canvas", testid: "atlas-patches" });
      if (dead) {
        projection.width = projection.height = patch.width = patch.height = 1;
      } else {
        drawBlock(projection, projections, i, count, atlas.k, atlas.tile);
        drawBlock(patch, patches, i, count, atlas.k, atlas.tile);
      }
      const mix = atlas.top_class?.[i];
      const words = [`${channel}`, dead ? "dead" : `fires ${percent(stats.firing_rate[i])}`,
        !dead && count ? `max ${Number(stats.top[i].toPrecision(3))}` : null,
        !dead && count < atlas.k ? `${count} of ${atlas.k}` : null,
        mix && !dead ? `${mix[0]} ×${mix[1]}` : null].filter(Boolean);
      return h("div", { className: `cnnviz-layer-atlas-unit${dead ? " cnnviz-layer-atlas-unit--dead" : ""}`,
        testid: "atlas-unit", attrs: { "data-channel": channel, "data-count": count, role: "button", tabindex: 0,
          title: `${atlas.request.layer} channel ${channel} · click to open its card` },
        on: { click: () => openCard(channel),
          keydown: (/** @type {KeyboardEvent} */ event) => {
            if (event.key === "Enter") openCard(channel);
          } } }, [
        h("div", { className: "cnnviz-layer-atlas-label", text: words.join(" · ") }),
        h("div", { className: "cnnviz-layer-atlas-pair" }, [projection, patch]),
      ]);
    }));
    shown = atlas;
    message.textContent = "";
    message.hidden = true;
    const first = atlas.page * atlas.page_size;
    title.textContent = `Layer atlas · ${atlas.request.layer} · top-${atlas.k} of ${atlas.count} units`
      + (atlas.view?.text ? ` · ${atlas.view.text}` : "") + (atlas.complete ? "" : " (partial)");
    pageText.textContent = `units ${first + 1}–${first + rows} of ${atlas.count} · page ${atlas.page + 1} of `
      + `${atlas.pages}`;
    const { layer, page, rule, display, crop, sort_by: sortBy } = atlas.request;
    grid.dataset.request = `${layer}|${page}|${rule}|${display}|${crop}|${sortBy}`;
    grid.dataset.version = String(atlas.version);
    controls();
    ctx.emit("painted", { panel: "layer-atlas", key: grid.dataset.request, version: atlas.version });
  }

  ctx.on("change:layer_atlas", paint);
  ctx.on("change:layer change:channel change:rule change:display change:crop change:sort_by change:layer_atlas_page "
    + "change:layer_atlas_open change:mining", controls);
  paint();
  controls();
  return { el };
}
