// The class panel's search: any class of the model by name (or by index), as you type. Needs the kernel (a saved
// page holds the top-5 classes only), so it carries data-kernel-only.
import { searchClasses } from "../lib/classes.js";
import { h } from "../lib/dom.js";

/** How many matches are listed at once. */
const SHOWN = 12;

/**
 * @param {import("../context.js").Context} ctx
 * @param {(index: number) => void} pick  called with the class chosen
 */
export function classSearch(ctx, pick) {
  const input = h("input", { className: "cnnviz-search", testid: "class-search", attrs: { type: "search",
    placeholder: "find a class…", autocomplete: "off", spellcheck: "false", "aria-label": "find a class by name",
    title: "any of the model's classes, by name or number" } });
  const list = h("ul", { className: "cnnviz-class-results", testid: "class-results", attrs: { role: "listbox" } });
  list.hidden = true;

  function choose(index) {
    input.value = "";
    show();
    pick(index);
  }

  function show() {
    const found = searchClasses(ctx.model.get("class_info")?.names, input.value, SHOWN);
    list.replaceChildren(...found.map(({ index, name }) => h("li", { attrs: { role: "option" } }, [
      h("button", { className: "cnnviz-class-option", testid: "class-option", text: `${name} (${index})`,
        attrs: { type: "button", "data-index": index }, on: { click: () => choose(index) } })])));
    list.hidden = found.length === 0;
  }

  input.addEventListener("input", show);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      const first = list.querySelector("[data-testid=class-option]");
      if (first) choose(Number(first.dataset.index));
      event.preventDefault();
    } else if (event.key === "Escape") {
      input.value = "";
      show();
    }
  });
  return { el: h("div", { className: "cnnviz-class-finder", attrs: { "data-kernel-only": "" } }, [input, list]) };
}
