// Keyboard navigation on the widget: ←/→/↑/↓ move between units of the grid, PgUp/PgDn between the layers the
// picker lists (the stages, or every layer when its "all" switch is on).
import { moveInGrid, moveLayer, renderedColumns, shownLayers } from "../lib/layout.js";

const KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "PageUp", "PageDown"]);

/**
 * @param {import("../context.js").Context} ctx
 * @param {{layout: () => {order: number[], tiles: HTMLCollection}, reveal: (channel: number) => void}} grid
 */
export function keyboard(ctx, grid) {
  const { model, root } = ctx;
  function onKey(event) {
    if (!KEYS.has(event.key) || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) return;
    let moved = false;
    if (event.key === "PageUp" || event.key === "PageDown") {
      const layers = shownLayers(model.get("layers") ?? [], model.get("layer"), ctx.state.allLayers);
      const next = moveLayer(layers.map((l) => l.name), model.get("layer"), event.key);
      if (next) {
        ctx.select({ layer: next });
        moved = true;
      }
    } else {
      const { order, tiles } = grid.layout();
      const atlasLayer = model.get("atlas")?.layer;
      if (atlasLayer === model.get("layer")) {
        const next = moveInGrid(order, model.get("channel"), event.key, renderedColumns(Array.from(tiles)));
        if (next != null) {
          ctx.select({ channel: next });
          grid.reveal(next);
        }
      }
      moved = true; // arrows inside the widget never scroll the notebook or move between cells
    }
    if (moved) {
      event.preventDefault();
      event.stopPropagation();
    }
  }
  root.addEventListener("keydown", onKey);
  return () => root.removeEventListener("keydown", onKey);
}
