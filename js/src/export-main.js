// The HTML export's own module (bundled into cnnviz_widget/static/export.js; cnnviz_widget/export/page.py inlines it):
// builds the static model from the saved document and renders the widget's front end on it, with a line above it
// saying what the page is. Text from the document only ever goes in as text.
import { decodePixels, h } from "./lib/dom.js";
import { holdsText, offersText, StaticModel } from "./static-model.js";

/**
 * @param {{render: (view: {model: any, el: HTMLElement}) => any}} widget  the widget's front end (its default export)
 * @param {any} doc  the saved document
 * @param {HTMLElement} el
 * @returns {Promise<StaticModel>}
 */
export async function mount(widget, doc, el) {
  const model = await StaticModel.open(doc, decodePixels);
  const about = doc.about ?? {};
  const note = h("p", { className: "cnnviz-export-note", testid: "export-note", text: [
    `${about.model ?? "model"} on ${about.image ?? "an image"}`,
    `${(doc.holds?.layers ?? []).length} layers`,
    `${holdsText(doc.holds)}.`,
    offersText(doc.holds),
  ].join(" · ") });
  const host = h("div", { className: "cnnviz-export-widget" });
  el.replaceChildren(note, host);
  await widget.render({ model, el: host });
  window.cnnvizExport = { model, ready: true };
  return model;
}
