// Panel: the camera. Frames from getUserMedia are downscaled here (FRAME_SIDE) and sent to the kernel as JPEG, at
// most MAX_FPS a second and only once the previous frame has been answered (lib/frame-gate.js): a busy kernel makes the
// camera skip frames, never queue them. Freeze keeps the current frame as the image. A refused permission (or no
// camera) is said in the error banner.
import { h } from "../lib/dom.js";
import { cameraProblem, createFrameGate, FRAME_SIDE, MAX_FPS } from "../lib/frame-gate.js";
import { downscaleSize } from "../lib/layout.js";

const TICK_MS = 40; // how often a frame is offered to the gate (the gate keeps the rate)
let cameras = 0;

/** @param {import("../context.js").Context} ctx */
export function webcamPanel(ctx) {
  const id = `camera-${++cameras}-${Date.now()}`;
  const toggle = h("button", { className: "cnnviz-button", testid: "camera-button", text: "Camera",
    attrs: { type: "button", "aria-pressed": "false", title: `use the camera: up to ${MAX_FPS} frames a second` } });
  const freeze = h("button", { className: "cnnviz-button", testid: "freeze-button", text: "Freeze",
    attrs: { type: "button", "aria-pressed": "false", disabled: true, title: "keep the current frame" } });
  const video = h("video", { className: "cnnviz-camera-video", testid: "camera-video",
    attrs: { muted: true, playsinline: true, hidden: true } });
  video.muted = true;
  const status = h("span", { className: "cnnviz-muted cnnviz-camera-status", testid: "camera-status",
    attrs: { "aria-live": "polite" } });
  const canvas = document.createElement("canvas");
  const el = h("section", { className: "cnnviz-panel cnnviz-camera", testid: "camera-panel",
    attrs: { "data-kernel-only": "" } }, [
    h("header", { className: "cnnviz-panel-header" }, [h("span", { className: "cnnviz-panel-title", text: "Camera" }),
      h("span", { className: "cnnviz-camera-buttons" }, [toggle, freeze])]),
    video, status]);

  let gate = createFrameGate();
  /** @type {MediaStream|null} */
  let stream = null;
  let timer = 0;
  let frozen = false;
  let generation = 0;

  function show(state) {
    el.dataset.state = state;
    el.dataset.sent = String(gate.counts.sent);
    el.dataset.busyDropped = String(gate.counts.busy);
    toggle.setAttribute("aria-pressed", String(stream !== null));
    toggle.textContent = stream ? "Stop camera" : "Camera";
    freeze.disabled = !stream;
    freeze.setAttribute("aria-pressed", String(frozen));
    freeze.textContent = frozen ? "Live" : "Freeze";
    video.hidden = !stream;
    status.textContent = {
      off: "",
      starting: "starting the camera…",
      live: `live · ${gate.counts.sent} frames sent · ${gate.counts.busy} skipped while the kernel computed`,
      frozen: "frozen: the image stays until you press Live",
      refused: "no camera",
    }[state] ?? "";
  }

  async function tick() {
    if (!stream || frozen || video.readyState < 2 || !video.videoWidth) return;
    const taken = performance.now();
    const seq = gate.take(taken);
    if (seq === null) {
      el.dataset.busyDropped = String(gate.counts.busy);
      return;
    }
    const mine = generation;
    const { width, height } = downscaleSize(video.videoWidth, video.videoHeight, FRAME_SIDE);
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").drawImage(video, 0, 0, width, height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    if (mine !== generation) return; // stopped or restarted meanwhile: this frame is not sent
    if (!blob) {
      gate.answered(seq); // nothing left: free the gate
      return;
    }
    ctx.send({ type: "frame", seq, camera: id, width, height, taken }, [await blob.arrayBuffer()]);
    show("live");
  }

  function stop() {
    generation++;
    clearInterval(timer);
    timer = 0;
    for (const track of stream?.getTracks() ?? []) track.stop();
    stream = null;
    frozen = false;
    video.srcObject = null;
    gate.reset();
    show("off");
  }

  async function start() {
    const mine = ++generation;
    show("starting");
    try {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw Object.assign(new Error("no mediaDevices"), { name: "NoMediaDevices" });
      }
      const media = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
      if (mine !== generation) {
        for (const track of media.getTracks()) track.stop();
        return;
      }
      stream = media;
      video.srcObject = media;
      await video.play();
      gate = createFrameGate();
      timer = setInterval(tick, TICK_MS);
      show("live");
    } catch (error) {
      if (mine !== generation) return;
      stream = null;
      show("refused");
      ctx.set("error", cameraProblem(error));
    }
  }

  toggle.addEventListener("click", () => (stream ? stop() : start()));
  freeze.addEventListener("click", () => {
    if (!stream) return;
    frozen = !frozen;
    if (frozen) video.pause();
    else video.play();
    show(frozen ? "frozen" : "live");
  });
  ctx.on("msg:custom", (content) => {
    if (content?.type === "frame_done" && content.camera === id && gate.answered(content.seq) && stream) {
      show(frozen ? "frozen" : "live");
    }
  });
  show("off");
  return { el, stop };
}
