// Line plots drawn as SVG (no plotting library): axes with round ticks, one line, a cursor at a chosen x.
// The geometry is scales.js's linePlot (tested with node); this file only builds the elements.
import { formatNumber } from "./format.js";
import { linePlot } from "./scales.js";

const SVG = "http://www.w3.org/2000/svg";

/**
 * @param {string} tag
 * @param {Record<string, string|number>} [attrs]
 * @param {string} [text]
 */
function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text != null) el.textContent = text;
  return el;
}

/**
 * A line plot of `ys` over `xs`.
 * @param {{title: string, xs: ArrayLike<number>, ys: ArrayLike<number>, width?: number, height?: number,
 *   yDomain?: [number, number], testid?: string, series?: string}} spec
 * @returns {{el: SVGSVGElement, cursor: (index: number|null) => void, geometry: ReturnType<typeof linePlot>}}
 *   `cursor(i)` marks point `i` (a vertical line and a dot), `cursor(null)` hides the mark.
 */
export function lineChart(spec) {
  const width = spec.width ?? 240;
  const height = spec.height ?? 120;
  const g = linePlot(spec.xs, spec.ys, { width, height, yDomain: spec.yDomain,
    margin: { top: 16, right: 8, bottom: 18, left: 40 } });
  const svg = /** @type {SVGSVGElement} */ (s("svg", { class: "cnnviz-plot", viewBox: `0 0 ${width} ${height}`,
    width, height, role: "img" }));
  if (spec.testid) svg.dataset.testid = spec.testid;
  if (spec.series != null) svg.dataset.series = spec.series;
  svg.append(s("title", {}, spec.title));
  svg.append(s("text", { class: "cnnviz-plot-title", x: 4, y: 11 }, spec.title));
  const axes = s("g", { class: "cnnviz-plot-axes" });
  axes.append(s("line", { x1: g.plot.left, y1: g.plot.bottom, x2: g.plot.right, y2: g.plot.bottom }));
  axes.append(s("line", { x1: g.plot.left, y1: g.plot.top, x2: g.plot.left, y2: g.plot.bottom }));
  for (const t of g.xTicks) {
    const x = g.x(t);
    axes.append(s("line", { x1: x, y1: g.plot.bottom, x2: x, y2: g.plot.bottom + 3 }));
    axes.append(s("text", { x, y: height - 4, "text-anchor": "middle" }, formatNumber(t)));
  }
  for (const t of g.yTicks) {
    const y = g.y(t);
    axes.append(s("line", { x1: g.plot.left - 3, y1: y, x2: g.plot.left, y2: y }));
    axes.append(s("text", { x: g.plot.left - 5, y: y + 3, "text-anchor": "end" }, formatNumber(t)));
  }
  svg.append(axes);
  svg.append(s("path", { class: "cnnviz-plot-line", d: g.path, "data-testid": "plot-line" }));
  const cursor = s("line", { class: "cnnviz-plot-cursor", y1: g.plot.top, y2: g.plot.bottom, x1: 0, x2: 0,
    visibility: "hidden", "data-testid": "plot-cursor" });
  const dot = s("circle", { class: "cnnviz-plot-dot", r: 3, cx: 0, cy: 0, visibility: "hidden" });
  svg.append(cursor, dot);
  const xs = Array.from(spec.xs);
  return {
    el: svg,
    geometry: g,
    cursor(index) {
      const p = index == null ? null : g.points[index];
      cursor.setAttribute("visibility", index == null ? "hidden" : "visible");
      if (index != null) {
        const x = g.x(xs[index]);
        cursor.setAttribute("x1", String(x));
        cursor.setAttribute("x2", String(x));
      }
      dot.setAttribute("visibility", p ? "visible" : "hidden");
      if (p) {
        dot.setAttribute("cx", String(p[0]));
        dot.setAttribute("cy", String(p[1]));
      }
    },
  };
}
