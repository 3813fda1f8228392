// A mock anywidget model (AFM: get/set/on/off/save_changes/send) for the browser harness. State arrives from the
// test as JSON where binary values are {"$bytes": "<base64>"}; they become DataViews, as ipywidgets delivers them.
// What the front end saves and sends is recorded for the test, which answers by pushing new state (`update`).

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if (typeof value.$bytes === "string") {
      const raw = atob(value.$bytes);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      return new DataView(bytes.buffer);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

function base64(buffer) {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let raw = "";
  for (let i = 0; i < bytes.length; i += 0x8000) raw += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(raw);
}

export class MockModel {
  constructor(state) {
    this.state = decode(state ?? {});
    this.listeners = new Map();
    this.dirty = {};
    /** Every save_changes(): the traits it synced. */
    this.saved = [];
    /** Every send(): {content, buffers (base64)}. */
    this.sent = [];
    /** Every send() ever, with its time (performance.now()); never drained. */
    this.log = [];
  }
  get(key) { return this.state[key]; }
  set(key, value) {
    this.state[key] = value;
    this.dirty[key] = value;
    this.emit(`change:${key}`);
  }
  save_changes() {
    this.saved.push(this.dirty);
    this.dirty = {};
  }
  send(content, _callbacks, buffers = []) {
    this.sent.push({ content, buffers: buffers.map(base64) });
    this.log.push({ content, at: performance.now() });
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
  /** The "kernel" answers: new trait values (JSON with $bytes), then change events, as ipywidgets does. */
  update(state) {
    const values = decode(state);
    Object.assign(this.state, values);
    for (const key of Object.keys(values)) this.emit(`change:${key}`);
  }
  /** The "kernel" sends a custom message (buffers as {"$bytes": base64}), as anywidget's msg:custom delivers it. */
  receive(content, buffers = []) {
    for (const fn of [...(this.listeners.get("msg:custom") ?? [])]) fn(decode(content), buffers.map(decode));
  }
  /** Take (and clear) what the front end saved and sent since the last call. */
  drain() {
    const out = { saved: this.saved, sent: this.sent };
    this.saved = [];
    this.sent = [];
    return out;
  }
  listenerCount() {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
