// Panel: the help overlay — what each panel shows, and what the three ways back to the pixels (deconvnet, guided
// backprop, gradient) mean and how they differ, with the papers. Opened by the header's "?" button (or the ? key
// inside the widget); a dialog that keeps the keyboard inside it, closes with Esc or its button and gives focus back.
// All of it is text (textContent). A panel that is added to the widget adds its entry to PANELS.
import { h } from "../lib/dom.js";

/** @type {Array<{title: string, text: string}>} */
export const PANELS = [
  { title: "Layer picker",
    text: "Every layer the network computes, in order, with its kind and output shape (channels × height × width). "
      + "‹ › or PgUp / PgDn step through the layers." },
  { title: "Activations",
    text: "One tile per channel of the layer, for the current image: bright where the channel responds. All tiles "
      + "share one scale (the legend: full brightness is the 95th percentile of the units' peaks, and brightness "
      + "follows the square root, so weak responses still show), so a dark tile is a unit that is quiet on this "
      + "image; a tile marked ◥ peaks above the scale (clipped); a crossed-out tile is silent (all zero). Hover for "
      + "its exact maximum and mean; click a tile, or use the arrow keys, to select that unit; sort by strength to "
      + "find the busiest units." },
  { title: "Unit card",
    text: "The selected unit. Input: the image with the unit's receptive field, the only part of the image it can "
      + "see. Activation map: where in the image the channel responds (click a location to look at the unit "
      + "there). Projection: the unit's response carried back to the pixels — which pattern in the patch made it "
      + "fire. Image patch: the same part of the input, to compare with the projection." },
  { title: "Rule, display and crop — \"auto\"",
    text: "How the projection is shown. Rule: deconvnet (the paper's), guided backprop or the gradient (below). "
      + "Display: raw (colour centred on gray, the paper's), gray (the mean of the colours: no colour speckle), norm "
      + "(where the signal is, not its sign) or blurred norm. Crop: the receptive field, or its central half, where "
      + "a deep unit's projection lies. \"auto\" (the default, marked on the button it stands for) shows each "
      + "layer in the clearest view found by a measure of structure (how well the picture's edges follow the "
      + "image's): the paper's deconvnet in colour at the first layer, guided backprop in gray deeper, on the "
      + "central half once a unit sees a fifth of the image — deep deconvnet pictures are mostly speckle. The line "
      + "under the buttons says which view is shown and why; deconvnet is always one click away. A choice you make "
      + "stays when you change layers." },
  { title: "Strongest location or whole map",
    text: "Project one unit at the position of its largest activation (beside its receptive-field patch, as the "
      + "paper shows units), or the whole feature map at once (every position of the channel together)." },
  { title: "Layer 1 filters",
    text: "The first convolution's weights drawn as tiny pictures (mid-gray is zero), enlarged without smoothing. "
      + "In a trained network they are oriented edges and lines and blobs of opposing colours. Click one to select "
      + "its unit." },
  { title: "Input and predictions",
    text: "The image as the model sees it (resized and cropped as in training) and its five most probable classes. "
      + "Drop or choose a file, pick a sample photo, or turn on the camera." },
  { title: "Camera",
    text: "Sends a small frame at most five times a second, and only once the previous frame has been answered: "
      + "frames are dropped while the kernel computes, never queued. Freeze keeps the current frame." },
  { title: "Class evidence",
    text: "Click a class in the top-5 (or find any class by name): where in the image the evidence for that class "
      + "lies — Grad-CAM (Selvaraju et al. 2017, arXiv:1610.02391) weighs a layer's feature maps by how much each "
      + "raises the class's score and keeps what raises it, drawn over the image (transparent where it is zero). "
      + "Guided Grad-CAM multiplies that map with guided backprop of the class for fine detail. \"Against it\" "
      + "shows the counterfactual map: what argues against the class. The unit card asks the other question: what "
      + "one unit responds to." },
  { title: "Top-9 exemplars and layer atlas",
    text: "After mining a dataset (w.mine()), the nine images whose patches excite the unit most, each beside its "
      + "projection — the paper's Figure 2. The layer atlas shows the same for every unit of a layer. Click an "
      + "exemplar to open its image." },
  { title: "Activation maximisation",
    text: "In the unit card: an image made from faint noise by gradient ascent until the unit responds as strongly "
      + "as it can, with decay, blur and jitter keeping it closer to a photograph (Yosinski et al. 2015, "
      + "arXiv:1506.06579). A caricature of what the unit looks for, not a photo it has seen." },
  { title: "Occlusion",
    text: "A gray square slides over the image; at each position: (a) the activation of the selected feature map, "
      + "(b) the probability of the class, (c) the most probable class. Dark in (b) is where hiding the image "
      + "hurts the prediction: what the network relies on (the paper's Figure 7). Hover a map to see the occluded "
      + "image there." },
  { title: "Invariance",
    text: "The image shifted, enlarged and turned: how far each layer's features move from the original's, and "
      + "the probability of the class (the paper's Figure 5); a slider compares the original and the transformed "
      + "image." },
  { title: "Feature evolution",
    text: "Units × training checkpoints: each unit's strongest image patch and projection at each checkpoint, from "
      + "the untrained network on (the paper's Figure 4). Click a cell to open that checkpoint's unit card." },
];

/** @type {Array<{title: string, text: string, cite: string}>} */
export const RULES_HELP = [
  { title: "What the three rules share",
    text: "Each one runs the network backwards from the selected unit to the pixels: convolutions with their "
      + "filters transposed, max-pooling sending the signal back to where each maximum came from. They differ "
      + "only at the rectifiers (ReLUs).",
    cite: "" },
  { title: "Deconvnet",
    text: "At every ReLU, a ReLU is applied to the signal going down: only positive evidence passes, whatever the "
      + "forward pass did there. Shows the patterns the unit's filters look for; less tied to this exact image.",
    cite: "Zeiler & Fergus, \"Visualizing and Understanding Convolutional Networks\", ECCV 2014 (arXiv:1311.2901)." },
  { title: "Gradient",
    text: "The derivative of the unit with respect to each pixel: at every ReLU the signal passes only where the "
      + "forward input was positive. Says how much each pixel would change the unit; often noisy.",
    cite: "Simonyan, Vedaldi & Zisserman, \"Deep Inside Convolutional Networks\", ICLR workshop 2014 "
      + "(arXiv:1312.6034)." },
  { title: "Guided backprop",
    text: "Both masks at once: the signal passes only where the forward input was positive and the signal going "
      + "down is positive. The sharpest pictures, specific to this image.",
    cite: "Springenberg, Dosovitskiy, Brox & Riedmiller, \"Striving for Simplicity: The All Convolutional Net\", "
      + "ICLR workshop 2015 (arXiv:1412.6806)." },
];

let dialogs = 0;

/**
 * The "?" button and the overlay it opens (append `overlay` to the widget's root).
 * @param {import("../context.js").Context} ctx
 * @returns {{button: HTMLElement, overlay: HTMLElement, open: () => void, close: () => void, destroy: () => void}}
 */
export function helpOverlay(ctx) {
  const id = `cnnviz-help-title-${++dialogs}`;
  const button = h("button", { className: "cnnviz-button cnnviz-help-button", testid: "help-button", text: "?",
    attrs: { type: "button", title: "help: what the panels and rules mean (?)", "aria-label": "help",
      "aria-haspopup": "dialog", "aria-expanded": "false" } });
  const closeButton = h("button", { className: "cnnviz-button cnnviz-help-close", testid: "help-close", text: "×",
    attrs: { type: "button", "aria-label": "close help", title: "close (Esc)" } });
  const section = (title, entries) => h("section", { className: "cnnviz-help-section" }, [
    h("h3", { className: "cnnviz-help-heading", text: title }),
    h("dl", { className: "cnnviz-help-list" }, entries.flatMap((entry) => [
      h("dt", { className: "cnnviz-help-term", text: entry.title }),
      h("dd", { className: "cnnviz-help-text" }, [
        h("span", { text: entry.text }),
        entry.cite ? h("cite", { className: "cnnviz-help-cite", text: entry.cite }) : null,
      ]),
    ])),
  ]);
  const dialog = h("div", { className: "cnnviz-help-dialog", testid: "help", attrs: { role: "dialog",
    "aria-modal": "true", "aria-labelledby": id, tabindex: -1 } }, [
    h("header", { className: "cnnviz-help-header" }, [
      h("h2", { className: "cnnviz-help-title", text: "What you are looking at", attrs: { id } }), closeButton]),
    h("div", { className: "cnnviz-help-body" }, [
      section("The panels", PANELS),
      section("Three ways back to the pixels", RULES_HELP),
    ]),
  ]);
  const overlay = h("div", { className: "cnnviz-help-overlay", attrs: { hidden: true } }, [dialog]);

  function open() {
    overlay.hidden = false;
    button.setAttribute("aria-expanded", "true");
    closeButton.focus();
  }
  function close() {
    if (overlay.hidden) return;
    overlay.hidden = true;
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }

  button.addEventListener("click", () => (overlay.hidden ? open() : close()));
  closeButton.addEventListener("click", close);
  overlay.addEventListener("click", (event) => {
    if (event.target === overlay) close(); // a click beside the dialog
  });
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      close();
    } else if (event.key === "Tab") {
      // Keep the keyboard inside the dialog: its one control is the close button.
      event.preventDefault();
      closeButton.focus();
    } else if (!event.key.startsWith("Arrow") && !event.key.startsWith("Page")) {
      return;
    }
    event.stopPropagation(); // arrows scroll the help, never move between units behind it
    if (event.key === "Escape") event.preventDefault();
  });
  function onRootKey(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    if (event.key !== "?" || !overlay.hidden || ["INPUT", "SELECT", "TEXTAREA"].includes(target?.tagName)) return;
    event.preventDefault();
    event.stopPropagation();
    open();
  }
  ctx.root.addEventListener("keydown", onRootKey);
  return { button, overlay, open, close, destroy: () => ctx.root.removeEventListener("keydown", onRootKey) };
}
