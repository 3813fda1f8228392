// One view's context, handed to every panel: the model, listeners removed with the view, the selection command,
// messages to the kernel, view-local state and events.
import { bytesOf } from "./lib/decode.js";
import { decodePixels } from "./lib/dom.js";
import { createRedrawPacer } from "./lib/redraw-pacer.js";
import { createSelectionGate } from "./lib/selection-gate.js";
import { selectionChanges, selectionOf, unitAnswers } from "./protocol.js";

/**
 * @typedef {{get: (k: string) => any, set: (k: string, v: any) => void, save_changes: () => void,
 *   on: (e: string, f: Function) => void, off: (e?: string, f?: Function) => void,
 *   send: (content: any, callbacks?: any, buffers?: any[]) => void}} Model
 * @typedef {ReturnType<typeof createContext>} Context
 */

/** Changes of the selection: a view's panels redraw them paced (lib/redraw-pacer.js). */
const SELECTION_EVENTS = new Set(["change:layer", "change:channel", "change:position", "change:rule"]);

/** One selection gate per model, shared by its views (so they pace one stream of selections), with its views. */
const gates = new WeakMap();

/**
 * The model's selection gate (lib/selection-gate.js), released by the kernel's answers; `null` for a model that
 * answers in the page itself (the saved page's StaticModel: `answersLocally`), which has no kernel work to spare.
 * @param {Model & {answersLocally?: boolean}} model
 */
function attachGate(model) {
  if (model.answersLocally) return null;
  let entry = gates.get(model);
  if (!entry) {
    const gate = createSelectionGate(model, {
      answered: () => unitAnswers(model.get("unit")?.request, selectionOf(model)) });
    entry = { gate, views: 0 };
    model.on("change:unit", gate.answer);
    model.on("change:error", gate.answer);
    gates.set(model, entry);
  }
  entry.views++;
  return entry.gate;
}

/** @param {Model} model */
function detachGate(model) {
  const entry = gates.get(model);
  if (!entry || --entry.views > 0) return;
  model.off("change:unit", entry.gate.answer);
  model.off("change:error", entry.gate.answer);
  entry.gate.close();
  gates.delete(model);
}

/**
 * @param {Model} model
 * @param {HTMLElement} root
 */
export function createContext(model, root) {
  /** @type {Array<[string, Function]>} */
  const listeners = [];
  /** @type {Function[]} */
  const cleanups = [];
  const local = new EventTarget();
  const decoded = new WeakMap();
  let gate = attachGate(model);
  const pacer = createRedrawPacer();
  const ctx = {
    model,
    root,
    /** View-local state (not shared with other views or the kernel). */
    state: { uploading: false, allLayers: false },
    /**
     * Listen to model events (space-separated), removed when the view goes. A change of the selection (layer,
     * channel, position, rule) calls `fn` with no arguments, at once or — in a burst of clicks — once the burst's
     * redraw is due (lib/redraw-pacer.js): read the state with `model.get`.
     * @param {string} events
     * @param {Function} fn
     */
    on(events, fn) {
      for (const event of events.split(/\s+/).filter(Boolean)) {
        const handler = SELECTION_EVENTS.has(event) ? () => pacer.call(fn) : fn;
        model.on(event, handler);
        listeners.push([event, handler]);
      }
    },
    /** Run `fn` when the view goes (release what a panel holds: object URLs, timers). */
    onDestroy(fn) {
      cleanups.push(fn);
    },
    /** Listen to view-local events (`ctx.emit`). */
    onLocal(type, fn) {
      local.addEventListener(type, fn);
    },
    /**
     * Announce something to this view's panels and to the page (`cnnviz:<type>` on the root element).
     * @param {string} type
     * @param {any} [detail]
     */
    emit(type, detail) {
      local.dispatchEvent(new CustomEvent(type, { detail }));
      root.dispatchEvent(new CustomEvent(`cnnviz:${type}`, { detail, bubbles: true }));
    },
    /**
     * Change the selection (layer, channel, position, rule) in one consistent update: shown at once, sent to the
     * kernel at once or — while it computes the one before — once that is answered (superseded ones never).
     * @param {Record<string, any>} changes
     */
    select(changes) {
      const out = selectionChanges(model, changes);
      if (Object.keys(out).length === 0) return;
      for (const [key, value] of Object.entries(out)) model.set(key, value);
      if (gate) gate.request();
      else model.save_changes();
    },
    /** Set one trait and sync it (with any selection waiting). */
    set(key, value) {
      model.set(key, value);
      if (gate) gate.flush();
      else model.save_changes();
    },
    /** Send a command to the kernel (buffers: ArrayBuffers). */
    send(content, buffers) {
      model.send(content, undefined, buffers);
    },
    /**
     * Decode a binary PNG trait value into ImageData, once per value.
     * @param {any} value  DataView (from the kernel) or bytes
     * @returns {Promise<ImageData>}
     */
    pixels(value) {
      const key = typeof value === "object" && value !== null ? value : null;
      if (key && decoded.has(key)) return decoded.get(key);
      const promise = decodePixels(bytesOf(value));
      if (key) decoded.set(key, promise);
      return promise;
    },
    destroy() {
      for (const [event, fn] of listeners) model.off(event, fn);
      listeners.length = 0;
      for (const fn of cleanups.splice(0)) fn();
      pacer.close();
      if (gate) detachGate(model);
      gate = null;
    },
  };
  return ctx;
}
