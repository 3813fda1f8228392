"""The class-evidence panel in a real JupyterLab with a real kernel: a click on a top-5 class reaches Python
(``class_target``), the kernel's background thread answers, and the page paints that class's Grad-CAM — the map the
engine computes; the counterfactual toggle and the search by name ask for more."""

from __future__ import annotations

import json

import jupyter_driver
import nbformat
import pytest

pytestmark = [pytest.mark.jupyter, pytest.mark.slow]

CELLS = [
    "from cnnviz_widget import CNNViz\nfrom cnnviz_widget.engine.model.samples import imagenet_photos\n"
    "photo = next(p for p in imagenet_photos() if p.name == 'imagenet_15 · goose')\n"
    "w = CNNViz(image=photo.path)\nheard = []\nw.observe(lambda change: heard.append(change['new']), 'class_target')\nw",
]

#: Run in the kernel: the painted answer's stamp, and whether its map is the engine's Grad-CAM of that class.
CHECK = """
import json
from cnnviz_widget import encode
e = w.class_evidence
r = e["request"]
cam = w.explorer.grad_cam(w.session.x, r["layer"], r["target"], counterfactual=r["counterfactual"])
same = e["map"]["codes"]["data"] == encode.value_map(cam.numpy())["codes"]["data"]
print(json.dumps({"request": r, "state": e["state"], "label": e["label"], "same": bool(same), "heard": heard,
                  "error": w.error}))
"""


def painted(page, panel, key: str) -> None:
    page.wait_for_function("([el, key]) => el.dataset.state === 'ready' && el.dataset.request === key",
                           arg=[panel.element_handle(), key], timeout=120_000)


def test_a_class_click_in_jupyterlab_paints_its_grad_cam(jupyter, browser):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})
    nbformat.write(notebook, jupyter.root / "classes.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        jupyter_driver.open_notebook(page, jupyter, "classes.ipynb", timeout=60)
        jupyter_driver.run_all(page)
        jupyter_driver.wait_cells(page, timeout=120)
        root = page.locator(".cnnviz-root").first
        panel = root.locator("[data-testid=class-evidence]")
        first = root.locator("[data-testid=prediction]").first
        first.wait_for()
        target = int(first.get_attribute("data-index"))
        image = json.loads(jupyter_driver.kernel_exec(page, "print(w.picture['id'])"))
        layer = json.loads(jupyter_driver.kernel_exec(page, "import json; print(json.dumps(w.class_layer))"))

        first.click()
        painted(page, panel, f"{image}|{target}|{layer}|false")
        state = json.loads(jupyter_driver.kernel_exec(page, CHECK))
        assert state["request"] == {"image": image, "target": target, "layer": layer, "counterfactual": False}
        assert (state["state"], state["same"], state["heard"], state["error"]) == ("ready", True, [target], "")
        assert "goose" in state["label"]
        panel.scroll_into_view_if_needed()
        jupyter_driver.screenshot(page, "lab-class-evidence")

        panel.locator("[data-testid=class-counterfactual] [data-value=true]").click()
        painted(page, panel, f"{image}|{target}|{layer}|true")
        assert json.loads(jupyter_driver.kernel_exec(page, CHECK))["same"] is True

        panel.locator("[data-testid=class-search]").fill("tabby")
        panel.locator("[data-testid=class-option]").first.click()
        painted(page, panel, f"{image}|281|{layer}|true")
        assert json.loads(jupyter_driver.kernel_exec(page, CHECK))["heard"] == [target, 281]
    finally:
        page.close()
