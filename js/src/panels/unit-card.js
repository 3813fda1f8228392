// Panel: the unit card — the selected unit's activation map, its projection back to pixels (deconvnet / guided /
// gradient; whole map or strongest location) in a display (raw / gray / norm / blurred) on a crop (the receptive field
// or its central half) — each "auto" by default: the layer's view by depth, always named, with the paper's deconvnet
// one click away — its receptive field on the image, small statistics, and the place where the top-9 exemplars plug in.
import { colorize } from "../lib/colormap.js";
import { bytesOf, rawToRGBA } from "../lib/decode.js";
import { decodeBitmap, drawBitmap, h, putPixels, setText } from "../lib/dom.js";
import { formatNumber, silenceText } from "../lib/format.js";
import { fieldBox, positionAt } from "../lib/layout.js";
import { autoLabel, CROP_CHOICES, DISPLAY_CHOICES, patchCaption, projectionCaption, RULE_CHOICES,
  viewLine } from "../lib/views.js";
import { defaultView, offered, requestKey, selectionOf, unitAnswers } from "../protocol.js";
import { synthesisPanel } from "./synthesis.js";
import { top9Panel } from "./top9.js";
import { unitDownload } from "./unit-download.js";

const POSITIONS = [
  ["max", "strongest location", "project the unit at its strongest location only"],
  ["map", "whole map", "project the channel's whole feature map"],
];

function toggle(testid, options, onPick, name = "") {
  const help = Object.fromEntries(options.map(([value, , text]) => [value, text]));
  const buttons = options.map(([value, label]) => h("button", {
    className: "cnnviz-toggle-button", text: label, attrs: { "data-value": value, title: help[value],
      "aria-pressed": "false" }, on: { click: () => onPick(value) } }));
  const caption = name ? [h("span", { className: "cnnviz-toggle-name", text: name })] : [];
  const el = h("div", { className: "cnnviz-toggle", testid, attrs: { role: "group", "aria-label": name || testid } },
    [...caption, ...buttons]);
  return {
    el,
    /**
     * Press `value`'s button; `implied` (what "auto" shows) is marked as shown without being pressed.
     * @param {string} value
     * @param {string} [implied]
     */
    set(value, implied) {
      for (const b of buttons) {
        b.setAttribute("aria-pressed", String(b.dataset.value === value));
        b.classList.toggle("cnnviz-toggle-button--implied", value === "auto" && b.dataset.value === implied);
      }
    },
    /** @param {string} value @param {string} text */
    label(value, text) {
      const button = buttons.find((b) => b.dataset.value === value);
      if (button && button.textContent !== text) button.textContent = text;
    },
    /**
     * Disable the values the page cannot answer, their title saying why (`why(value)`; null: offered).
     * @param {(value: string) => string|null} why
     */
    offer(why) {
      for (const b of buttons) {
        const reason = why(b.dataset.value);
        b.disabled = reason != null;
        b.title = reason ?? help[b.dataset.value];
      }
    },
  };
}

function figure(testid, caption, extra = []) {
  const canvas = h("canvas", { className: "cnnviz-figure-canvas", testid, attrs: { width: 1, height: 1 } });
  const frame = h("div", { className: "cnnviz-figure-frame" }, [canvas, ...extra]);
  const label = h("figcaption", { className: "cnnviz-caption", text: caption });
  return { el: h("figure", { className: "cnnviz-figure" }, [frame, label]), canvas, frame, label };
}

/** @param {import("../context.js").Context} ctx */
export function unitCard(ctx) {
  const { model } = ctx;
  const title = h("span", { className: "cnnviz-panel-title" });
  const stats = h("div", { className: "cnnviz-stats", testid: "unit-stats" });
  const silent = h("p", { className: "cnnviz-silent", testid: "silent-note", attrs: { role: "note" } });
  const rules = toggle("rule-toggle", RULE_CHOICES, (rule) => ctx.select({ rule }), "rule");
  const displays = toggle("display-toggle", DISPLAY_CHOICES, (display) => ctx.select({ display }), "display");
  const crops = toggle("crop-toggle", CROP_CHOICES, (crop) => ctx.select({ crop }), "crop");
  const views = { rule: rules, display: displays, crop: crops };
  const positions = toggle("position-toggle", POSITIONS, (position) => ctx.select({ position }));
  const viewText = h("span", { testid: "view-text" });
  const toPaper = h("button", { className: "cnnviz-link-button", testid: "paper-rule", text: "deconvnet: the paper's "
    + "rule", attrs: { type: "button", title: "show this unit with Zeiler & Fergus's deconvnet (display and crop "
      + "stay)" }, on: { click: () => ctx.select({ rule: "deconvnet" }) } });
  const viewNote = h("p", { className: "cnnviz-view-line", testid: "view-line", attrs: { "aria-live": "polite" } },
    [viewText, toPaper]);
  const picked = h("span", { className: "cnnviz-picked", testid: "picked-position" });

  const box = h("div", { className: "cnnviz-rf-box", testid: "rf-box" });
  const input = figure("unit-image", "input · receptive field", [box]);
  const marker = h("div", { className: "cnnviz-map-marker" });
  const map = figure("activation-map", "activation map · click a location", [marker]);
  const projection = figure("projection", "projection");
  const patch = figure("patch", "image patch");
  const top9 = top9Panel(ctx);
  const toClass = h("button", { className: "cnnviz-link-button", testid: "to-class-evidence", text: "class evidence",
    attrs: { type: "button", title: "where in the image the evidence for a class lies (Grad-CAM)" }, on: {
      click: () => ctx.root.querySelector("[data-testid=class-evidence]")?.scrollIntoView({ block: "nearest" }) } });
  const about = h("p", { className: "cnnviz-muted", testid: "unit-evidence-about" }, [
    h("span", { text: "Unit evidence: what this unit responds to (deconvnet / guided / gradient). Where the evidence "
      + "for a class lies: " }), toClass, h("span", { text: "." })]);
  let pictureGeneration = 0;
  /** @type {any} */
  let painted = null;

  map.canvas.addEventListener("click", (event) => {
    const unit = painted;
    if (!unit || unit.request.layer !== model.get("layer") || !offered(model.get("holds"), "position", [0, 0])) return;
    const shape = unit.map.shape;
    if (shape.length < 2 || (shape[0] === 1 && shape[1] === 1)) return;
    const rect = map.canvas.getBoundingClientRect();
    ctx.select({ position: positionAt(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height,
      shape) });
  });

  function controls() {
    const selection = selectionOf(model);
    const holds = model.get("holds");
    const saved = (what) => `not in this saved page: ${what} needs the live widget`;
    rules.offer((rule) => (offered(holds, "rule", rule) ? null : saved(`the ${rule} projection`)));
    const where = { max: "the strongest location", map: "the whole map" };
    positions.offer((p) => (offered(holds, "position", p) ? null : saved(where[p])));
    displays.offer((d) => (offered(holds, "display", d) ? null : saved(`the ${d} display`)));
    crops.offer((c) => (offered(holds, "crop", c) ? null : saved(`the ${c} crop`)));
    const shown = defaultView(model, selection.layer);
    for (const [field, control] of Object.entries(views)) {
      control.label("auto", autoLabel(field, shown));
      control.set(selection[field], shown?.[field]);
    }
    toPaper.disabled = !offered(holds, "rule", "deconvnet");
    toPaper.title = toPaper.disabled ? saved("the deconvnet projection")
      : "show this unit with Zeiler & Fergus's deconvnet (display and crop stay)";
    const pickable = offered(holds, "position", [0, 0]);
    setText(map.label, pickable ? "activation map · click a location" : "activation map");
    map.canvas.title = pickable ? "" : saved("picking a location");
    map.canvas.classList.toggle("cnnviz-figure-canvas--pickable", pickable);
    positions.set(Array.isArray(selection.position) ? "" : selection.position);
    setText(picked, Array.isArray(selection.position) ? `picked (${selection.position.join(", ")})` : "");
    title.textContent = `${selection.layer} · channel ${selection.channel}`;
    el.dataset.layer = selection.layer;
    el.dataset.channel = String(selection.channel);
    el.classList.toggle("cnnviz-stale", !unitAnswers(painted?.request, selection));
  }

  function place(elem, rect) {
    elem.hidden = !rect;
    if (!rect) return;
    elem.style.left = `${rect.left}%`;
    elem.style.top = `${rect.top}%`;
    elem.style.width = `${rect.width}%`;
    elem.style.height = `${rect.height}%`;
  }

  async function paintPicture() {
    const picture = model.get("picture");
    const mine = ++pictureGeneration;
    if (!picture?.png) return;
    const bitmap = await decodeBitmap(bytesOf(picture.png));
    if (mine !== pictureGeneration) return;
    drawBitmap(input.canvas, bitmap);
    bitmap.close();
    input.canvas.dataset.image = String(picture.id);
    paintPatch();
  }

  /** The image under the projection: the same crop of the input, once both belong to the same picture. */
  function paintPatch() {
    const unit = painted;
    const ready = unit && input.canvas.dataset.image === String(unit.request.image);
    patch.el.hidden = !(ready && unit.crop);
    if (!ready || !unit.crop) return;
    const [top, left, bottom, right] = unit.crop;
    patch.canvas.width = right - left;
    patch.canvas.height = bottom - top;
    patch.canvas.getContext("2d").drawImage(input.canvas, left, top, right - left, bottom - top, 0, 0,
      right - left, bottom - top);
    patch.label.textContent = unit.field ? patchCaption(unit.view?.crop ?? "field", unit.field, unit.crop)
      : `image patch (${bottom - top}×${right - left} px)`;
  }

  /** Paint the unit when it answers the current selection — in the very task its message arrives in. */
  function paintUnit() {
    const unit = model.get("unit");
    controls();
    if (!unit?.request || !unitAnswers(unit.request, selectionOf(model))) return; // stale or empty: dropped
    const received = performance.now();
    const [rows, cols] = unit.map.shape;
    const codes = rawToRGBA(unit.map.codes);
    putPixels(map.canvas, colorize(codes.rgba, unit.map.colormap), codes.width, codes.height);
    const picture = rawToRGBA(unit.projection);
    putPixels(projection.canvas, picture.rgba, picture.width, picture.height);
    place(box, fieldBox(unit.field, unit.input_size));
    place(marker, unit.location ? { left: (100 * unit.location[1]) / cols, top: (100 * unit.location[0]) / rows,
      width: 100 / cols, height: 100 / rows } : null);
    const { request } = unit;
    if (unit.view) {
      projection.label.textContent = projectionCaption(unit.view, unit.location);
      viewText.textContent = viewLine(unit.view);
      toPaper.hidden = unit.view.rule === "deconvnet";
      viewNote.dataset.rule = unit.view.rule;
      viewNote.dataset.display = unit.view.display;
      viewNote.dataset.crop = unit.view.crop;
    } else { // a page saved before views: the rule was all there was to say
      const where = unit.location ? ` at (${unit.location.join(", ")}), receptive field` : ", whole map";
      projection.label.textContent = `${request.rule} projection${where}`;
      viewText.textContent = "";
      toPaper.hidden = true;
    }
    viewNote.hidden = !viewText.textContent;
    const s = unit.stats;
    silent.textContent = silenceText(unit.silent);
    silent.hidden = !silent.textContent;
    silent.dataset.silent = unit.silent ?? "";
    stats.textContent = [`max ${formatNumber(s.max)}`, `mean ${formatNumber(s.mean)}`,
      `active ${formatNumber(100 * s.fraction_active)}%`,
      s.value != null ? `value here ${formatNumber(s.value)}` : null].filter(Boolean).join(" · ");
    painted = unit;
    projection.canvas.dataset.request = requestKey(request);
    paintPatch();
    controls();
    ctx.emit("painted", { panel: "unit", key: requestKey(request), request, received });
  }

  ctx.on("change:unit", paintUnit);
  ctx.on("change:picture", paintPicture);
  ctx.on("change:layer change:channel change:position change:rule change:display change:crop change:picture "
    + "change:layers", paintUnit);

  const el = h("section", { className: "cnnviz-panel cnnviz-card", testid: "unit-card" }, [
    h("header", { className: "cnnviz-panel-header" }, [title, unitDownload(ctx).el]),
    about,
    h("div", { className: "cnnviz-card-controls" }, [rules.el, displays.el, crops.el, positions.el, picked]),
    viewNote,
    h("div", { className: "cnnviz-figures" }, [input.el, map.el, projection.el, patch.el]),
    silent,
    stats,
    top9.el,
    synthesisPanel(ctx).el,
  ]);
  silent.hidden = true;
  viewNote.hidden = true;
  paintPicture();
  paintUnit();
  return { el };
}
