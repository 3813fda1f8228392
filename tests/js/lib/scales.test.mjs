import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CLASS_PALETTE, classColour, classLegend, classRGBA, defaultOccluder, linePlot, nearestCells, niceTicks, occludedRGBA,
  occluderBox, OTHER_COLOUR, overlayRGBA, pathPoints, roundHalfEven,
} from "../../../js/src/lib/scales.js";

test("the default occluder matches CNNViz.occlusion: a fifth of the input, a third of that as stride", () => {
  assert.deepEqual(defaultOccluder(227, 227), { size: 48, stride: 16 });
  assert.deepEqual(defaultOccluder(224, 224), { size: 47, stride: 16 });
  assert.deepEqual(defaultOccluder(16, 16), { size: 3, stride: 1 });
  assert.deepEqual(defaultOccluder(8, 8), { size: 2, stride: 1 });
  assert.deepEqual(defaultOccluder(4, 2), { size: 0 || 1, stride: 1 });
  assert.deepEqual([0.5, 1.5, 2.5, -2.5, 2.4].map(roundHalfEven), [0, 2, 2, -2, 2], "Python's round()");
});

test("occluder boxes are cut at the border", () => {
  const occlusion = { tops: [0, 4, 8], lefts: [0, 6], size: 5, input_size: [10, 9] };
  assert.deepEqual(occluderBox(occlusion, 0, 0), [0, 0, 5, 5]);
  assert.deepEqual(occluderBox(occlusion, 2, 1), [8, 6, 10, 9]);
});

test("each pixel goes to the occluder whose window centre is nearest, ties to the first", () => {
  // windows [0,4) and [4,8) of an 8-pixel axis: centres 2 and 6
  assert.deepEqual([...nearestCells([0, 4], 4, 8)], [0, 0, 0, 0, 1, 1, 1, 1]);
  // windows [0,4), [2,6), [4,8): centres 2, 4, 6; pixel 2 (centre 2.5) is nearer 2, pixel 3 (3.5) nearer 4
  assert.deepEqual([...nearestCells([0, 2, 4], 4, 8)], [0, 0, 0, 1, 1, 2, 2, 2]);
  // the last window is cut: [8, 10) has its centre at 9; pixel 6 (centre 6.5) is a tie: the first
  assert.deepEqual([...nearestCells([0, 8], 8, 10)], [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
});

test("the occluded image is the image with the box painted in the fill colour", () => {
  const rgba = new Uint8ClampedArray(3 * 2 * 4).fill(200);
  const out = occludedRGBA(rgba, 3, [0, 1, 1, 3], [5, 6, 7]);
  assert.deepEqual([...out.subarray(0, 4)], [200, 200, 200, 200], "outside the box: unchanged");
  assert.deepEqual([...out.subarray(4, 8)], [5, 6, 7, 255]);
  assert.deepEqual([...out.subarray(8, 12)], [5, 6, 7, 255]);
  assert.deepEqual([...out.subarray(12, 16)], [200, 200, 200, 200], "second row: unchanged");
  assert.equal(rgba[4], 200, "the input is not changed");
});

test("a map laid over the image blends each pixel with its cell's colour", () => {
  const image = new Uint8ClampedArray([0, 0, 0, 255, 100, 100, 100, 255]);
  const cells = new Uint8ClampedArray([255, 0, 0, 255, 0, 0, 255, 255]);
  const out = overlayRGBA(image, 2, 1, cells, new Int32Array([0]), new Int32Array([0, 1]), 2, 0.5);
  assert.deepEqual([...out], [128, 0, 0, 255, 50, 50, 178, 255]);
});

test("class colours and the legend follow encode.class_map's codes", () => {
  assert.deepEqual(classColour(0), CLASS_PALETTE[0]);
  assert.deepEqual(classColour(10), OTHER_COLOUR);
  assert.deepEqual([...classRGBA([1, 10])], [...CLASS_PALETTE[1], 255, ...OTHER_COLOUR, 255]);
  const classes = [[7, "cat", 5], [3, "dog", 2], [9, "car", 1], [1, "bus", 1]];
  assert.deepEqual(classLegend(classes, 2), [
    { code: 0, name: "cat", count: 5, index: 7 }, { code: 1, name: "dog", count: 2, index: 3 },
    { code: 2, name: "2 other classes", count: 2, index: null }]);
  assert.deepEqual(classLegend(classes.slice(0, 3), 2).at(-1).name, "1 other class");
  assert.equal(classLegend(classes, 10).length, 4);
});

test("nice ticks are round and cover the range", () => {
  assert.deepEqual(niceTicks(-60, 60, 5), [-60, -40, -20, 0, 20, 40, 60]);
  assert.deepEqual(niceTicks(0, 1, 3), [0, 0.5, 1]);
  assert.deepEqual(niceTicks(1, 1.8, 5), [1, 1.2, 1.4, 1.6, 1.8]);
  assert.deepEqual(niceTicks(0, 350, 5), [0, 50, 100, 150, 200, 250, 300, 350]);
  assert.deepEqual(niceTicks(0, 350, 4), [0, 100, 200, 300]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

test("a line plot maps x onto the plot's width exactly and y from 0 to the largest value", () => {
  const g = linePlot([-60, 0, 60], [0, 2, 4], { width: 140, height: 60,
    margin: { top: 10, right: 10, bottom: 10, left: 30 } });
  assert.deepEqual(g.points, [[30, 50], [80, 30], [130, 10]]);
  assert.equal(g.path, "M30.00,50.00L80.00,30.00L130.00,10.00");
  assert.deepEqual(pathPoints(g.path), [[30, 50], [80, 30], [130, 10]]);
  const p = linePlot([0, 1], [0.5, Number.NaN], { width: 140, height: 60, yDomain: [0, 1],
    margin: { top: 10, right: 10, bottom: 10, left: 30 } });
  assert.deepEqual(p.points, [[30, 30], null], "a NaN breaks the line");
  const negative = linePlot([1, 2], [-2, 2], { width: 100, height: 50 });
  assert.deepEqual(negative.yDomain, [-2, 2], "negative values widen the domain below 0");
});
