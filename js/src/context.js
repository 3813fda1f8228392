// One view's context, handed to every panel: the model, listeners removed with the view, the selection command,
// messages to the kernel, view-local state and events.
import { bytesOf } from "./lib/decode.js";
import { decodePixels } from "./lib/dom.js";
import { selectionChanges } from "./protocol.js";

/**
 * @typedef {{get: (k: string) => any, set: (k: string, v: any) => void, save_changes: () => void,
 *   on: (e: string, f: Function) => void, off: (e?: string, f?: Function) => void,
 *   send: (content: any, callbacks?: any, buffers?: any[]) => void}} Model
 * @typedef {ReturnType<typeof createContext>} Context
 */

/**
 * @param {Model} model
 * @param {HTMLElement} root
 */
export function createContext(model, root) {
  /** @type {Array<[string, Function]>} */
  const listeners = [];
  const local = new EventTarget();
  const decoded = new WeakMap();
  const ctx = {
    model,
    root,
    /** View-local state (not shared with other views or the kernel). */
    state: { uploading: false, allLayers: false },
    /**
     * Listen to model events (space-separated), removed when the view goes.
     * @param {string} events
     * @param {Function} fn
     */
    on(events, fn) {
      for (const event of events.split(/\s+/).filter(Boolean)) {
        model.on(event, fn);
        listeners.push([event, fn]);
      }
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
     * Change the selection (layer, channel, position, rule) in one consistent update.
     * @param {Record<string, any>} changes
     */
    select(changes) {
      const out = selectionChanges(model, changes);
      if (Object.keys(out).length === 0) return;
      for (const [key, value] of Object.entries(out)) model.set(key, value);
      model.save_changes();
    },
    /** Set one trait and sync it. */
    set(key, value) {
      model.set(key, value);
      model.save_changes();
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
    },
  };
  return ctx;
}
