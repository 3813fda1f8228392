import assert from "node:assert/strict";
import { test } from "node:test";
import { experimentAnswers, isActive, jobText, newestKind, synthesisAnswers } from "../../js/src/experiments.js";

test("a result is painted unless a newer run is under way or something newer is painted", () => {
  assert.equal(experimentAnswers({ id: 3 }, { id: 3, state: "done" }), true);
  assert.equal(experimentAnswers({ id: 3 }, undefined), true, "a saved page has no runs");
  assert.equal(experimentAnswers({ id: 3 }, { id: 5, state: "running" }), false, "a newer run is computing");
  assert.equal(experimentAnswers({ id: 3 }, { id: 5, state: "queued" }), false);
  assert.equal(experimentAnswers({ id: 3 }, { id: 5, state: "failed" }), true, "the newer run failed: keep this");
  assert.equal(experimentAnswers({ id: 3 }, { id: 5, state: "cancelled" }), true);
  assert.equal(experimentAnswers({ id: 3 }, { id: 3, state: "done" }, 4), false, "older than what is painted");
  assert.equal(experimentAnswers(undefined, { id: 3, state: "done" }), false);
  assert.equal(isActive({ state: "cancelling" }), true);
  assert.equal(isActive({ state: "done" }), false);
});

test("a synthesised image belongs to one unit of one model", () => {
  const request = { model: "net", layer: "conv1", channel: 2 };
  assert.equal(synthesisAnswers(request, { layer: "conv1", channel: 2 }, "net"), true);
  assert.equal(synthesisAnswers(request, { layer: "conv1", channel: 3 }, "net"), false);
  assert.equal(synthesisAnswers(request, { layer: "conv1", channel: 2 }, "net @ epoch 1"), false);
  assert.equal(synthesisAnswers(undefined, { layer: "conv1", channel: 2 }, "net"), false);
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

test("the newest run's experiment", () => {
  const jobs = { occlusion: { id: 2 }, invariance: { id: 5 }, synthesis: { id: 9 } };
  assert.equal(newestKind(jobs, ["occlusion", "invariance", "evolution"]), "invariance");
  assert.equal(newestKind({}, ["occlusion"]), null);
});
