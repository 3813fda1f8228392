import assert from "node:assert/strict";
import { test } from "node:test";
import {
  amountText, clampText, classMixText, exemplarCaption, formatNumber, gridLegendText, jobText, miningText,
  percent, silenceText, unitSummary,
} from "../../../js/src/lib/format.js";

test("formatNumber keeps 3 significant digits", () => {
  assert.equal(formatNumber(327.4), "327");
  assert.equal(formatNumber(0.012345), "0.0123");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(123456), "1.23e+5");
  assert.equal(formatNumber(null), "–");
});

test("amounts in the transforms' units", () => {
  assert.equal(amountText(10, "px"), "+10 px");
  assert.equal(amountText(-5, "px"), "-5 px");
  assert.equal(amountText(1.25, "×"), "1.25×");
  assert.equal(amountText(90, "°"), "90°");
  assert.equal(amountText(Math.fround(1.1), "×"), "1.1×");
});

test("words for people", () => {
  assert.deepEqual([percent(0.8), percent(0.003), percent(0), percent(1), percent(null)], ["80%", "0.3%", "0%",
    "100%", "–"]);
  assert.equal(exemplarCaption({ value: 12.3456, label_name: "tabby" }), "12.3 · tabby");
  assert.equal(exemplarCaption({ value: 0.5, label_name: null }), "0.5");
  assert.equal(classMixText([[1, "dog", 3], [0, "cat", 2], [7, null, 1], [4, "car", 1]]),
    "dog ×3, cat ×2, class 7 ×1 …");
  assert.equal(unitSummary({ count: 9, complete: true, stats: { images: 33, firing_rate: 0.5, dead: false,
    class_mix: [[1, "dog", 3]] } }), "fires on 50% of 33 images · top-9 classes: dog ×3");
  assert.equal(unitSummary({ count: 1, complete: false, stats: { images: 1, firing_rate: 1, dead: false,
    class_mix: [] } }), "fires on 100% of 1 image · partial (mining goes on)");
  assert.equal(unitSummary({ stats: { images: 4, dead: true } }), "dead: fired on none of the 4 images mined");
});

test("the mining status says what runs, what was stopped and what is there", () => {
  const base = { dataset: "demo photos", done: 3, total: 10, images: 3, skipped: 0, message: "" };
  assert.deepEqual(miningText({}), { text: "", running: false });
  assert.deepEqual(miningText({ ...base, state: "running" }), { text: "mining demo photos: 3 of 10 images",
    running: true });
  assert.equal(miningText({ ...base, state: "running", skipped: 1 }).text,
    "mining demo photos: 3 of 10 images (1 unreadable)");
  assert.equal(miningText({ ...base, state: "cancelling" }).running, true);
  assert.deepEqual(miningText({ ...base, state: "cancelled" }), { text: "mining cancelled after 3 of 10 images: "
    + "partial exemplars (mine again to resume)", running: false });
  assert.equal(miningText({ ...base, state: "complete", images: 10 }).text, "exemplars: 10 images of demo photos");
  assert.equal(miningText({ ...base, state: "failed", message: "boom" }).text, "mining failed: boom");
});

test("runs in words", () => {
  assert.deepEqual(jobText("occlusion", { state: "running", done: 40, total: 169 }),
    { text: "occlusion: 40 of 169", running: true });
  assert.deepEqual(jobText("occlusion", { state: "running", done: 0, total: 0 }),
    { text: "occlusion: starting", running: true });
  assert.deepEqual(jobText("synthesis", { state: "cancelled", done: 12, total: 200 }),
    { text: "synthesis cancelled after 12 of 200", running: false });
  assert.deepEqual(jobText("occlusion", { state: "failed", message: "stride must be at least 1 pixel" }),
    { text: "occlusion failed: stride must be at least 1 pixel", running: false });
  assert.deepEqual(jobText("occlusion", { state: "done", done: 4, total: 4 }), { text: "", running: false });
  assert.deepEqual(jobText("occlusion", undefined), { text: "", running: false });
  assert.equal(jobText("invariance", { state: "queued" }).running, true);
});

test("the grid's legend says what full and half brightness are and how many units are clipped", () => {
  const g = { scale: 4.2137, gamma: 0.5, percentile: 95, signed: false, half: 1.0534, clipped: [3, 9] };
  assert.equal(gridLegendText(g), "full brightness = 4.21: the 95th percentile of the units' peaks · half = 1.05 "
    + "(√ scale) · ◥ 2 units above it, clipped");
  assert.equal(gridLegendText({ ...g, signed: true, clipped: [1] }), "white = 4.21, black = -4.21, gray = 0: the 95th "
    + "percentile of the units' peaks · halfway = ±1.05 (√ scale) · ◥ 1 unit above it, clipped");
  assert.equal(gridLegendText({ ...g, percentile: 100, gamma: 1, clipped: [] }),
    "full brightness = 4.21: the layer's largest value");
  assert.equal(gridLegendText({ ...g, percentile: 92, gamma: 0.4, clipped: [] }),
    "full brightness = 4.21: the 92nd percentile of the units' peaks · half = 1.05 (power 0.4 scale)");
  assert.equal(gridLegendText({ ...g, percentile: null }), "each tile stretched to its own peak: tiles do not compare");
});

test("a clamped channel is said in one line (Python's panels/units.py says the same)", () => {
  assert.equal(clampText("features.9", 300, 255, 256), "channel 300 → 255: features.9 has 256 channels");
  assert.equal(clampText("fc", 3, 0, 1), "channel 3 → 0: fc has 1 channel");
});

test("a silent unit's card says why its projection is empty", () => {
  assert.match(silenceText("everywhere"),
    /^Silent everywhere on this image: its activation map is all 0, so its projection is empty/);
  assert.match(silenceText("here"), /^Silent here: its activation at this location is 0, so its projection is empty/);
  assert.equal(silenceText(null), "");
  assert.equal(silenceText(undefined), "");
});
