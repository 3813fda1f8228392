import assert from "node:assert/strict";
import { test } from "node:test";
import {
  amountText, classMixText, exemplarCaption, formatNumber, jobText, miningText, percent, unitSummary,
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
