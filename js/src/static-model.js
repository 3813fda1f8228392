// A model for a page with no kernel (the HTML export, cnnviz_widget/export/): the same `get/set/on/off/
// save_changes/send` surface as an anywidget model, over saved state. A change of the selection is answered from
// results precomputed for it — the `atlas` of the layer, the `unit` card, the `top9` and `layer_atlas` panels, the
// `synthesis_result` of each unit synthesised before saving, any trait the document's key spec names — so every
// panel renders exactly as it does live. A selection nothing was precomputed for is refused: the selection goes back
// to the last one answered and the error banner says what the page holds.
//
// The saved document: {format: 2, keys, state, answers: {trait: {key: value}}, holds, unsaved, blobs: [base64, ...]}.
// `keys` says how each answered trait's key is built from the state (protocol.js `answerKeys`); a format-1 document
// has none and is read with FORMAT_1_KEYS. `holds` says what the page holds — its layers, rules and positions, and
// (a reader's page) `units`: {layer: [channels]} with the words `units_note`; `unsaved` what a panel shows for a
// selection it holds no result for: {trait: {request: {field: selection trait}, message}}. Values refer to binary data as {"$b": i} (bytes, delivered as a DataView as
// ipywidgets does) or {"$img": i, shape, channels} (an uncompressed picture of encode.raw saved as PNG/WebP, decoded
// back into {shape, channels, data}).
import { CROP_CHOICES, DISPLAY_CHOICES, RULE_CHOICES } from "./lib/views.js";
import { answerKeys, fieldText, FORMAT_1_KEYS, keyTraits, SELECTION_TRAITS } from "./protocol.js";

/** Answers without which the selection cannot be shown (the others fall back to "nothing to show"). */
const REQUIRED = new Set(["atlas", "unit"]);

/** How many values each view trait can take ("auto" and the explicit ones: lib/views.js). */
const VIEW_CHOICES = { rules: RULE_CHOICES.length, displays: DISPLAY_CHOICES.length, crops: CROP_CHOICES.length };

/**
 * What the page holds, in words (for the banner when a selection is refused).
 * @param {{rules?: string[], displays?: string[], crops?: string[], positions?: string[],
 *   units?: Record<string, number[]>, units_note?: string}} holds
 */
export function holdsText(holds) {
  const rules = (holds?.rules ?? []).join(" / ") || "no";
  const views = holds?.displays ? ` (display ${holds.displays.join(" / ")}, crop ${(holds.crops ?? []).join(" / ")})`
    : ""; // a page saved before displays and crops were choices
  const units = holds?.units;
  const one = !units;
  const where = (holds?.positions ?? ["max"]).map((p) => (p === "max" ? `${one ? "its" : "their"} strongest location`
    : `${one ? "its" : "their"} whole map`));
  const which = one ? "each unit"
    : `${Object.values(units).reduce((n, c) => n + c.length, 0)} units (of each layer ${holds.units_note})`;
  return `This saved page holds ${rules} projections${views} of ${which} at ${where.join(" and at ")}`;
}

/**
 * The banner's words for a unit the page does not hold.
 * @param {{units?: Record<string, number[]>, units_note?: string}} holds
 * @param {string} layer
 * @param {number} channel
 * @param {number} count  the layer's channels
 */
export function unsavedUnitText(holds, layer, channel, count) {
  const held = holds?.units?.[layer] ?? [];
  return `${layer} channel ${channel} is not in this saved page: it holds ${held.length} of the layer's ${count} `
    + `units — ${holds?.units_note} (the tiles not dimmed). Run the notebook to see every unit.`;
}

/**
 * What a visitor can click on the page, and what needs the live widget (the line above the saved widget).
 * @param {{layers?: string[], rules?: string[], displays?: string[], crops?: string[], positions?: string[]}} holds
 */
export function offersText(holds) {
  const rules = holds?.rules ?? [];
  const positions = holds?.positions ?? ["max"];
  const can = [holds?.units ? "units (those not dimmed)" : "units"];
  if ((holds?.layers ?? []).length > 1) can.push("layers");
  for (const [field, name] of [["rules", "rules"], ["displays", "displays"], ["crops", "crops"]]) {
    const values = holds?.[field] ?? [];
    if (values.length > 1) can.push(`${name} (${values.join(" / ")})`);
  }
  if (positions.length > 1) can.push("strongest location / whole map");
  const cannot = [];
  const missing = Object.keys(VIEW_CHOICES).filter((field) => (field === "rules" || holds?.[field])
    && (holds?.[field] ?? []).length < VIEW_CHOICES[field]);
  if (missing.length) cannot.push(`other ${list(missing)}`);
  if (!positions.includes("map")) cannot.push("whole maps");
  cannot.push("picked locations", "new images");
  return `Saved without Python: click ${list(can)}; ${list(cannot)} need the live widget.`;
}

/** @param {string[]} items "a", "a and b", "a, b and c" */
function list(items) {
  return items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items.at(-1)}` : items[0];
}

/** @param {string} text base64 */
function base64Bytes(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/**
 * The saved binary data, decoded on first use.
 * `decodeImage(bytes)` turns PNG/WebP bytes into `{data: RGBA bytes, width, height}` (the browser's decoder on the
 * page; a stand-in in node tests).
 */
export class BlobStore {
  /**
   * @param {string[]} encoded
   * @param {(bytes: Uint8Array) => Promise<{data: Uint8ClampedArray|Uint8Array, width: number, height: number}>} decodeImage
   */
  constructor(encoded, decodeImage) {
    this.encoded = encoded ?? [];
    this.decodeImage = decodeImage;
    /** @type {Map<number, Uint8Array>} */
    this.cache = new Map();
  }

  /** @param {number} i */
  bytes(i) {
    if (!this.cache.has(i)) {
      if (typeof this.encoded[i] !== "string") throw new Error(`saved page: data ${i} is missing`);
      this.cache.set(i, base64Bytes(this.encoded[i]));
    }
    return this.cache.get(i);
  }

  /** @param {number} i */
  view(i) {
    const bytes = this.bytes(i);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * An encoded picture back as encode.raw's `{shape, channels, data}`.
   * @param {{$img: number, shape: number[], channels: number}} ref
   */
  async picture(ref) {
    const image = await this.decodeImage(this.bytes(ref.$img));
    const [height, width] = ref.shape;
    if (image.width !== width || image.height !== height) {
      throw new Error(`saved page: picture ${ref.$img} is ${image.width}×${image.height}, not ${width}×${height}`);
    }
    const channels = ref.channels ?? 1;
    const out = new Uint8Array(width * height * channels);
    for (let i = 0, j = 0; i < width * height; i++) {
      for (let c = 0; c < channels; c++) out[j++] = image.data[i * 4 + c];
    }
    return { shape: [height, width], channels, data: new DataView(out.buffer) };
  }

  /**
   * A saved value with its references replaced by the data.
   * @param {any} value
   * @returns {Promise<any>}
   */
  async resolve(value) {
    if (Array.isArray(value)) return Promise.all(value.map((v) => this.resolve(v)));
    if (value && typeof value === "object") {
      if (typeof value.$b === "number") return this.view(value.$b);
      if (typeof value.$img === "number") return this.picture(value);
      const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await this.resolve(v)]));
      return Object.fromEntries(entries);
    }
    return value;
  }
}

/** A model answering from a saved document; build it with `await StaticModel.open(doc, decodeImage)`. */
export class StaticModel {
  /**
   * @param {any} doc
   * @param {BlobStore} blobs
   * @param {Record<string, any>} state  the resolved initial state
   */
  constructor(doc, blobs, state) {
    this.doc = doc;
    /** How each answered trait's key is built (protocol.js `answerKeys`). */
    this.keys = doc.keys ?? FORMAT_1_KEYS;
    /** The traits a change of which asks for new answers. */
    this.asking = keyTraits(this.keys);
    this.blobs = blobs;
    this.state = state;
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    /** @type {Map<string, Promise<any>>} resolved answers, one object per answer (panels cache by identity) */
    this.resolved = new Map();
    this.asked = false;
    this.generation = 0;
    /** The selection last answered: where a refused selection goes back to. */
    this.answered = Object.fromEntries(SELECTION_TRAITS.map((k) => [k, state[k]]));
    /** @type {string|null} the banner text of the last refused selection */
    this.refusal = null;
    /** Resolves when the answers to the latest selection are in (tests and the page wait on it). */
    this.settled = Promise.resolve();
    /** It answers in the page: the views send it every selection (context.js paces only a kernel's). */
    this.answersLocally = true;
  }

  /**
   * @param {any} doc
   * @param {(bytes: Uint8Array) => Promise<any>} decodeImage
   */
  static async open(doc, decodeImage) {
    const blobs = new BlobStore(doc.blobs, decodeImage);
    const model = new StaticModel(doc, blobs, await blobs.resolve(doc.state ?? {}));
    // What the page holds, for the panels to offer only that (protocol.js `offered`; a live widget has none).
    model.state.holds = doc.holds ?? { layers: [], rules: [], positions: ["max"] };
    // The saved state answers its own selection.
    for (const [trait, key] of Object.entries(answerKeys(model, model.keys))) {
      if (key != null && doc.answers?.[trait] && key in doc.answers[trait]) {
        model.resolved.set(`${trait}\u0000${key}`, Promise.resolve(model.state[trait]));
      }
    }
    return model;
  }

  get(key) {
    return this.state[key];
  }

  set(key, value) {
    this.state[key] = value;
    if (this.asking.has(key)) this.asked = true;
    this.emit(`change:${key}`);
  }

  save_changes() {
    if (!this.asked) return;
    this.asked = false;
    this.settled = this.answer();
  }

  /** Commands need a kernel: say so in the banner (an upload in progress ends on the error change). */
  send(content) {
    const what = { upload: "Opening your own image", sample: "Switching to another photo", frame: "The camera",
      save_unit: "Saving a unit card", exemplar: "Opening an exemplar's image", mining: "Mining" }[content?.type]
      ?? "This";
    this.put({ error: `${what} needs the live widget: this page was saved without Python. Run the notebook to `
      + "explore further." });
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
  }

  off(event, fn) {
    if (!event) this.listeners.clear();
    else if (!fn) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(fn);
  }

  emit(event) {
    for (const fn of [...(this.listeners.get(event) ?? [])]) fn(this, this.state[event.slice(7)]);
  }

  /** Set several traits, then announce each change (as a kernel update does). */
  put(values) {
    const changed = Object.keys(values).filter((k) => this.state[k] !== values[k]);
    for (const key of changed) this.state[key] = values[key];
    for (const key of changed) this.emit(`change:${key}`);
  }

  /** @param {string} trait @param {string} key */
  lookup(trait, key) {
    const table = this.doc.answers?.[trait];
    if (!table || !(key in table)) return null;
    const id = `${trait}\u0000${key}`;
    if (!this.resolved.has(id)) this.resolved.set(id, this.blobs.resolve(table[key]));
    return this.resolved.get(id);
  }

  /** Answer the current selection from the saved results (the newest selection wins). */
  async answer() {
    const mine = ++this.generation;
    const keys = answerKeys(this, this.keys);
    const found = {};
    const missing = [];
    for (const [trait, key] of Object.entries(keys)) {
      if (!this.doc.answers?.[trait]) continue; // a panel this page has no results for keeps its saved state
      const hit = key == null ? null : this.lookup(trait, key);
      if (hit) found[trait] = hit;
      else if (REQUIRED.has(trait)) missing.push(trait);
      else if (key != null) found[trait] = Promise.resolve(this.unsaved(trait));
    }
    if (missing.length) {
      const view = [this.state.rule, this.state.display, this.state.crop].filter((v) => v != null).join(" · ");
      const asked = `layer ${this.state.layer} channel ${this.state.channel} (${view}, position `
        + `${fieldText(this.state.position)})`;
      const layerMissing = missing.includes("atlas");
      const held = this.doc.holds?.units?.[this.state.layer];
      const count = (this.state.layers ?? []).find((l) => l.name === this.state.layer)?.shape?.[0];
      const text = layerMissing
        ? `Layer ${this.state.layer} is not in this saved page; it holds ${(this.doc.holds?.layers ?? []).length} `
          + "layers (see the layer list)."
        : held && !held.includes(this.state.channel)
          ? unsavedUnitText(this.doc.holds, this.state.layer, this.state.channel, count)
          : `${holdsText(this.doc.holds)}; ${asked} needs the live widget.`;
      this.refusal = text;
      this.put({ ...this.answered, error: text });
      return;
    }
    const values = Object.fromEntries(await Promise.all(
      Object.entries(found).map(async ([trait, promise]) => [trait, await promise])));
    if (mine !== this.generation) return; // a newer selection was made while these decoded
    this.answered = Object.fromEntries(SELECTION_TRAITS.map((k) => [k, this.state[k]]));
    if (this.refusal && this.state.error === this.refusal) values.error = ""; // answered now: the refusal is over
    this.refusal = null;
    this.put(values);
  }

  /**
   * What a panel shows for a selection the page holds no result for: the document's `unsaved` state of the trait,
   * stamped with the selection (so the panel shows it as the answer), or `{}` ("nothing to show").
   * @param {string} trait
   */
  unsaved(trait) {
    const spec = this.doc.unsaved?.[trait];
    if (!spec) return {};
    const request = Object.fromEntries(Object.entries(spec.request).map(([field, name]) => [field, this.state[name]]));
    return { request, state: "not-saved", message: spec.message };
  }

  listenerCount() {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
