import assert from "node:assert/strict";
import { test } from "node:test";
import { searchClasses } from "../../../js/src/lib/classes.js";

const NAMES = ["tabby", "tiger cat", "Persian cat", "catamaran", "tiger", "bobcat", "Egyptian cat", "cat's cradle"];

test("names starting with the query first, then a word starting with it, then anywhere; by index among equals", () => {
  assert.deepEqual(searchClasses(NAMES, "cat").map((c) => c.name),
    ["catamaran", "cat's cradle", "tiger cat", "Persian cat", "Egyptian cat", "bobcat"]);
  assert.deepEqual(searchClasses(NAMES, "  TIGER "), [{ index: 1, name: "tiger cat" }, { index: 4, name: "tiger" }]);
  assert.deepEqual(searchClasses(NAMES, "cat", 2).map((c) => c.index), [3, 7]);
  assert.deepEqual(searchClasses(NAMES, ""), []);
  assert.deepEqual(searchClasses(NAMES, "zebra"), []);
});

test("a number finds the class of that index first; without names classes are found by index only", () => {
  assert.deepEqual(searchClasses(NAMES, "4"), [{ index: 4, name: "tiger" }]);
  assert.deepEqual(searchClasses(NAMES, "40"), [], "no class 40 among 8");
  assert.deepEqual(searchClasses(null, "12"), [{ index: 12, name: "class 12" }]);
  assert.deepEqual(searchClasses(null, "cat"), []);
});
