// Panels: the busy indicator, the selection's note and the error banner.
import { h, setHidden, setText } from "../lib/dom.js";
import { noteText, pending } from "../protocol.js";

/**
 * Busy while the kernel says so, while this view waits for results that answer its selection, or while an
 * upload is on its way.
 * @param {import("../context.js").Context} ctx
 */
export function busyIndicator(ctx) {
  const { model } = ctx;
  const el = h("span", { className: "cnnviz-busy", testid: "busy", attrs: { role: "status", "aria-live": "polite" } });
  function update() {
    const waiting = pending(model);
    const busy = Boolean(model.get("busy")) || waiting.atlas || waiting.unit || ctx.state.uploading;
    if (el.dataset.state === (busy ? "busy" : "idle")) return;
    el.dataset.state = busy ? "busy" : "idle";
    el.textContent = busy ? "computing…" : "";
    el.classList.toggle("cnnviz-busy--on", busy);
  }
  ctx.on("change:busy change:picture change:atlas change:unit change:layer change:channel change:position "
    + "change:rule change:display change:crop", update);
  ctx.onLocal("uploading", update);
  update();
  return { el };
}

/**
 * A short remark on the selection, beside the layer picker — not an error: e.g. that a new layer had fewer channels
 * and the channel moved to its last one (the `note` trait; protocol.js `noteText`).
 * @param {import("../context.js").Context} ctx
 */
export function selectionNote(ctx) {
  const { model } = ctx;
  const el = h("span", { className: "cnnviz-note", testid: "selection-note", attrs: { role: "status",
    "aria-live": "polite" } });
  function update() {
    setText(el, noteText(model));
    setHidden(el, !el.textContent);
  }
  ctx.on("change:note change:layer change:channel", update);
  update();
  return { el };
}

/**
 * The error banner: the kernel's (or this browser's) last error, until dismissed or the next good image.
 * @param {import("../context.js").Context} ctx
 */
export function errorBanner(ctx) {
  const { model } = ctx;
  const message = h("span", { className: "cnnviz-error-text" });
  const close = h("button", { className: "cnnviz-button cnnviz-error-close", text: "×", attrs: {
    "aria-label": "dismiss", title: "dismiss" }, on: { click: () => ctx.set("error", "") } });
  const el = h("div", { className: "cnnviz-error", testid: "error-banner", attrs: { role: "alert" } }, [message, close]);
  function update() {
    const text = model.get("error") ?? "";
    message.textContent = text;
    el.hidden = !text;
  }
  ctx.on("change:error", update);
  update();
  return { el };
}
