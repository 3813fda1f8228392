// Panel: the input — file picker and drag-and-drop, the gallery of sample photos, and the top-5 predictions (a click
// on one chooses that class for the class-evidence panel: `class_target`).
import { bytesOf, tileRect } from "../lib/decode.js";
import { h } from "../lib/dom.js";
import { formatNumber } from "../lib/format.js";
import { pngSize, sheetURL, tileBackground } from "../lib/sprite.js";
import { prepareUpload } from "../lib/upload.js";

/** @param {import("../context.js").Context} ctx */
export function inputPanel(ctx) {
  const { model } = ctx;
  const name = h("span", { className: "cnnviz-image-name", testid: "image-name" });
  const file = h("input", { className: "cnnviz-file", testid: "upload-input", attrs: { type: "file",
    accept: "image/*", "aria-label": "upload an image" } });
  const drop = h("label", { className: "cnnviz-drop", testid: "drop-zone" }, [
    h("span", { text: "Drop an image here or " }), h("span", { className: "cnnviz-link", text: "choose a file" }), file]);
  const predictions = h("ol", { className: "cnnviz-predictions", testid: "predictions" });
  const gallery = h("div", { className: "cnnviz-gallery", testid: "gallery" });
  const sheet = { url: null }; // the gallery's thumbnails, one picture (lib/sprite.js)
  let galleryGeneration = 0;
  ctx.onDestroy(() => sheet.url && URL.revokeObjectURL(sheet.url));

  async function upload(picked) {
    if (!picked) return;
    ctx.state.uploading = true;
    ctx.emit("uploading", true);
    try {
      const { name: fileName, bytes } = await prepareUpload(picked);
      ctx.send({ type: "upload", name: fileName }, [bytes]);
    } catch (error) {
      ctx.state.uploading = false;
      ctx.emit("uploading", false);
      ctx.set("error", String(error?.message ?? error));
    }
  }
  function done() {
    if (!ctx.state.uploading) return;
    ctx.state.uploading = false;
    ctx.emit("uploading", false);
  }

  file.addEventListener("change", () => {
    upload(file.files?.[0]);
    file.value = ""; // the same file may be picked again
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    event.stopPropagation();
    drop.classList.add("cnnviz-drop--over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("cnnviz-drop--over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    event.stopPropagation(); // JupyterLab would otherwise take the file for its file browser
    drop.classList.remove("cnnviz-drop--over");
    upload(event.dataTransfer?.files?.[0]);
  });

  function showPicture() {
    const picture = model.get("picture") ?? {};
    name.textContent = picture.name ?? "";
    predictions.replaceChildren(...(picture.predictions ?? []).map((p) => {
      const percent = 100 * p.probability;
      const bar = h("span", { className: "cnnviz-bar" });
      bar.style.width = `${Math.max(0, Math.min(100, percent))}%`;
      const choose = () => ctx.set("class_target", p.index);
      return h("li", { className: "cnnviz-prediction", testid: "prediction", attrs: { "data-index": p.index,
        role: "button", tabindex: 0, "aria-pressed": "false", title: "show where in the image the evidence for this "
          + "class lies (class evidence)" }, on: { click: choose, keydown: (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          choose();
        }
      } } }, [
        h("span", { className: "cnnviz-prediction-label", text: p.label }),
        h("span", { className: "cnnviz-prediction-value", text: `${formatNumber(percent)}%` }),
        h("span", { className: "cnnviz-bar-track" }, [bar]),
      ]);
    }));
    markChosen();
    done();
  }

  function markChosen() {
    const chosen = model.get("class_target");
    for (const li of predictions.children) li.setAttribute("aria-pressed", String(Number(li.dataset.index) === chosen));
  }

  async function showGallery() {
    const data = model.get("gallery");
    const mine = ++galleryGeneration;
    if (!data?.png || !data.names?.length) {
      gallery.replaceChildren();
      return;
    }
    const bytes = bytesOf(data.png);
    const size = pngSize(bytes) ?? await ctx.pixels(data.png); // a saved page stores the photos as WebP
    if (mine !== galleryGeneration) return;
    gallery.style.setProperty("--cnnviz-sheet", `url("${sheetURL(sheet, bytes)}")`);
    gallery.replaceChildren(...data.names.map((photo, i) => {
      const rect = tileRect(i, data.cols, [data.tile, data.tile]);
      const picture = h("div", { className: "cnnviz-thumb-picture" });
      Object.assign(picture.style, tileBackground(rect, size));
      return h("button", { className: "cnnviz-thumb", testid: "gallery-item", attrs: { "data-index": i, title: photo,
        "aria-label": photo }, on: { click: () => {
        ctx.state.uploading = true;
        ctx.emit("uploading", true);
        ctx.send({ type: "sample", index: i });
      } } }, [picture]);
    }));
  }

  ctx.on("change:picture", showPicture);
  ctx.on("change:class_target", markChosen);
  ctx.on("change:error", done);
  ctx.on("change:gallery", showGallery);
  showPicture();
  showGallery();
  return { el: h("section", { className: "cnnviz-panel cnnviz-input" }, [
    h("header", { className: "cnnviz-panel-header" }, [h("span", { className: "cnnviz-panel-title", text: "Input" }),
      name]),
    drop,
    h("span", { className: "cnnviz-subtitle", text: "Top-5 predictions" }), predictions,
    h("span", { className: "cnnviz-subtitle", text: "Sample photos" }), gallery,
  ]) };
}
