"""Make README's screenshot: the widget in a real JupyterLab, on the default model, telling the story at its last
layer — a unit of features.12 the tour finds (birds' heads), its top-9 over the demo pool, in the default view.

Run from the repository, after ``make setup``: ``.venv/bin/python docs/screenshot.py`` (writes docs/screenshot.png).
It uses the browser tests' driver (Debian's Chromium, a Jupyter server of its own on a free port, offline).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
import jupyter_driver  # noqa: E402

# The tour's criterion (cnnviz_widget.demos.coherence) picks the unit; the photo is its strongest exemplar.
SETUP = """\
from cnnviz_widget import CNNViz
from cnnviz_widget.demos.coherence import coherence, demo_kinds
from cnnviz_widget.engine import open_dataset
w = CNNViz()
mined = w.mine("demo").wait()
kinds = demo_kinds(open_dataset("demo").ids)
best = next(c for c in coherence(mined, "features.12", kinds) if c.kind == "birds")
top = mined.top("features.12", best.channel)[0]
w.set_image(mined.image(top.index), name=top.id)
w.layer, w.channel = "features.12", best.channel
w.wait_exemplars()
w
"""


def main() -> int:
    why = jupyter_driver.missing_browser()
    if why:
        print(why)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP)], metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})  # no kernel dialog
        nbformat.write(notebook, root / "screenshot.ipynb")
        with jupyter_driver.jupyter_server(root) as server, sync_playwright() as playwright:
            browser = jupyter_driver.launch(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 2600})
            jupyter_driver.open_notebook(page, server, "screenshot.ipynb")
            jupyter_driver.run_all(page)
            jupyter_driver.wait_cells(page, timeout=300)
            widget = page.locator(".cnnviz-root").first
            page.wait_for_function("el => el.querySelector('[data-testid=top9]')?.dataset.state === 'ready'",
                                   arg=widget.element_handle(), timeout=120_000)
            page.wait_for_timeout(1500)  # the last pictures decode
            target = REPO / "docs" / "screenshot.png"
            widget.screenshot(path=str(target))
            browser.close()
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
