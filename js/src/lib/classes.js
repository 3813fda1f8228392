// Finding a class by name: the class panel's search over all of the model's classes. No DOM here: tested with node
// (tests/js/lib/classes.test.mjs).

/**
 * The classes whose name contains `query` (case-insensitive), best first: the name starting with it, then a word of
 * it starting with it, then anywhere in it; by index among equals. A query that is a number also finds the class of
 * that index (first). Without names (a model without labels), classes are found by index only.
 * @param {string[]|null|undefined} names  class names by index
 * @param {string} query
 * @param {number} [limit]
 * @returns {Array<{index: number, name: string}>}
 */
export function searchClasses(names, query, limit = 12) {
  const q = (query ?? "").trim().toLowerCase();
  if (!q) return [];
  const nameOf = (i) => names?.[i] ?? `class ${i}`;
  const found = [];
  if (/^\d+$/.test(q)) {
    const index = Number(q);
    if (!names || index < names.length) found.push({ index, name: nameOf(index), rank: -1 });
  }
  for (let i = 0; i < (names?.length ?? 0); i++) {
    const name = names[i].toLowerCase();
    const at = name.indexOf(q);
    if (at < 0 || found[0]?.index === i) continue;
    const rank = at === 0 ? 0 : /[^a-z0-9]/.test(name[at - 1]) ? 1 : 2;
    found.push({ index: i, name: names[i], rank });
  }
  found.sort((a, b) => a.rank - b.rank || a.index - b.index);
  return found.slice(0, limit).map(({ index, name }) => ({ index, name }));
}
