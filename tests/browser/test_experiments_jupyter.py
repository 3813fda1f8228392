"""The experiment panels in a real JupyterLab with a real kernel: the run button starts a run in the kernel's
experiment thread, whose progress and answer reach the page while the kernel is idle; cancel stops a run."""

from __future__ import annotations

import json

import jupyter_driver
import nbformat
import pytest

pytestmark = [pytest.mark.jupyter, pytest.mark.slow]

CELLS = [
    "from cnnviz_widget import CNNViz\nfrom cnnviz_widget.engine.model.samples import imagenet_photos\n"
    "photo = next(p for p in imagenet_photos() if p.name == 'imagenet_15 · goose')\n"
    "w = CNNViz(image=photo.path, layer='features.12')\nw",
]


def test_occlusion_and_a_cancelled_synthesis_in_jupyterlab(jupyter, browser):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})
    nbformat.write(notebook, jupyter.root / "experiments.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        jupyter_driver.open_notebook(page, jupyter, "experiments.ipynb", timeout=60)
        jupyter_driver.run_all(page)
        jupyter_driver.wait_cells(page, timeout=120)
        root = page.locator(".cnnviz-root").first
        occlusion = root.locator("[data-testid=occlusion]")
        occlusion.locator("[data-testid=occlusion-run]").click()
        page.wait_for_function("el => el.dataset.state === 'ready'", arg=occlusion.element_handle(), timeout=120_000)
        state = json.loads(jupyter_driver.kernel_exec(page, (
            "import json; r = w.occlusion_result; print(json.dumps({'id': r['request']['id'], 'size': r['size'], "
            "'stride': r['stride'], 'shape': r['maps']['probability']['shape'], 'jobs': w.jobs, 'error': w.error}))")))
        assert (state["size"], state["stride"], state["shape"], state["error"]) == (48, 16, [13, 13], "")
        assert state["jobs"]["occlusion"]["state"] == "done"
        assert occlusion.get_attribute("data-id") == str(state["id"])
        occlusion.scroll_into_view_if_needed()
        jupyter_driver.screenshot(page, "lab-occlusion")

        synthesis = root.locator("[data-testid=synthesis]")
        synthesis.locator("[data-testid=synthesis-run]").click()
        progress = synthesis.locator("[data-testid=synthesis-progress]")
        page.wait_for_function("el => el.value > 0 && !el.hidden", arg=progress.element_handle(), timeout=60_000)
        synthesis.locator("[data-testid=synthesis-cancel]").click()
        job = synthesis.locator("[data-testid=synthesis-job]")
        page.wait_for_function("el => el.dataset.state === 'cancelled'", arg=job.element_handle(), timeout=60_000)
        assert synthesis.locator("[data-testid=synthesis-job-text]").inner_text().startswith("synthesis cancelled after ")
        assert synthesis.get_attribute("data-state") == "none"
        jobs = json.loads(jupyter_driver.kernel_exec(page, "import json; print(json.dumps(w.jobs))"))
        assert jobs["synthesis"]["state"] == "cancelled" and jobs["synthesis"]["done"] < jobs["synthesis"]["total"]
    finally:
        page.close()
