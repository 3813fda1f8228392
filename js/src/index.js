// Entry point of the front end (the widget issue fills in the panels).
function render({ model, el }) {
  el.classList.add("cnnviz-root");
  el.textContent = `cnnviz-widget: ${model.get("model_info")?.name ?? ""}`;
}
export default { render };
