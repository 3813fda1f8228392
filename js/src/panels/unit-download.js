// The unit card's "save card" button: asks the kernel for the selected unit's card as one PNG (drawn by
// cnnviz_widget/encode/, the same picture as `w.save_unit()`) and saves the answer as a download. Each request
// carries an id, so only the view whose button was pressed downloads (every view hears the answer).
import { bytesOf } from "../lib/decode.js";
import { h } from "../lib/dom.js";

let requests = 0;

/** @param {import("../context.js").Context} ctx */
export function unitDownload(ctx) {
  const { model } = ctx;
  let waiting = null;
  const button = h("button", { className: "cnnviz-button cnnviz-unit-download", testid: "unit-download",
    text: "save card", attrs: { type: "button", "data-kernel-only": "",
      title: "download this unit's card as a PNG picture, for slides and handouts" } });
  button.addEventListener("click", () => {
    waiting = `${Date.now()}-${++requests}`;
    button.disabled = true;
    ctx.send({ type: "save_unit", id: waiting });
  });

  function onMessage(content, buffers) {
    if (content?.type !== "unit_png" || !waiting || content.id !== waiting) return;
    waiting = null;
    button.disabled = false;
    const bytes = bytesOf(buffers?.[0]);
    if (!bytes) return;
    const url = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
    const link = h("a", { attrs: { href: url, download: String(content.name || "unit.png") } });
    ctx.root.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    ctx.emit("unit-card-saved", { name: content.name, bytes: bytes.byteLength });
  }
  ctx.on("msg:custom", onMessage);
  ctx.on("change:error", () => { // a failed request is answered by the banner, not by a picture
    if (waiting && model.get("error")) {
      waiting = null;
      button.disabled = false;
    }
  });
  return { el: button };
}
