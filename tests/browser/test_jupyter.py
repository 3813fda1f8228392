"""The widget in a real Jupyter server with a real kernel: JupyterLab 4, then the same flow once in Notebook 7.

Runs ``notebooks/01-tour.ipynb`` top to bottom, then drives the first view of its widget like a user: a click on
a tile paints the projection and reaches a Python observer; an uploaded photo changes the predictions; a corrupt
upload shows the banner and the previous image stays. In JupyterLab, the top-9 exemplars the tour mined: painted for
the selected unit, a click on one opens its photo; the layer atlas shows a page of units. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import jupyter_driver
import pytest

pytestmark = [pytest.mark.jupyter, pytest.mark.slow]


def photo() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-image is not installed: no offline photo to upload")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "coffee.png"


def kernel_state(page) -> dict:
    out = jupyter_driver.kernel_exec(page, "import json; print(json.dumps({'layer': w.layer, 'channel': w.channel, "
                                           "'position': w.position, 'rule': w.rule, 'display': w.display, 'crop': w.crop, "
                                           "'image': w.picture['id'], "
                                           "'name': w.picture['name'], 'clicks': clicks, 'error': w.error}))")
    return json.loads(out)


def user_flow(page, server, notebook: str, app: str, tmp_path: Path) -> None:
    jupyter_driver.open_notebook(page, server, notebook, app=app)
    jupyter_driver.run_all(page)
    jupyter_driver.wait_cells(page, timeout=300)
    root = page.locator(".cnnviz-root").first
    root.locator("[data-testid=unit-tile]").first.wait_for()
    state = kernel_state(page)
    painted = root.locator("[data-testid=projection]")

    # A click on a tile: the projection of that unit is painted, and Python hears about it.
    channel = (state["channel"] + 1) % (root.locator("[data-testid=unit-tile]").count() - 1)
    root.locator(f"[data-testid=unit-tile][data-channel='{channel}']").click()
    position = state["position"] if isinstance(state["position"], str) else ",".join(map(str, state["position"]))
    expected = (f"{state['image']}|{state['layer']}|{channel}|{position}|{state['rule']}|{state['display']}|"
                f"{state['crop']}")
    page.wait_for_function("([el, key]) => el.dataset.request === key", arg=[painted.element_handle(), expected],
                           timeout=60_000)
    assert kernel_state(page)["clicks"][-1] == channel
    assert root.locator("[data-testid=unit-card] .cnnviz-panel-title").inner_text().endswith(f"channel {channel}")
    jupyter_driver.screenshot(page, f"{app}-tour-click")

    # Arrow keys move between units inside the widget; the notebook does not take them.
    active = page.evaluate("window.jupyterapp.shell.currentWidget.content.activeCellIndex")
    root.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("([el, key]) => el.dataset.request === key", arg=[
        painted.element_handle(), expected.replace(f"|{channel}|", f"|{channel + 1}|")], timeout=60_000)
    assert kernel_state(page)["clicks"][-1] == channel + 1
    assert page.evaluate("window.jupyterapp.shell.currentWidget.content.activeCellIndex") == active

    # A hundred clicks in one go: the last one wins, what came before is never painted over it.
    burst = [(channel + k) % 8 for k in range(2, 102)]
    page.evaluate("([el, chs]) => chs.forEach((c) => el.querySelector(`[data-testid=unit-tile][data-channel='${c}']`)"
                  ".click())", [root.element_handle(), burst])
    last = expected.replace(f"|{channel}|", f"|{burst[-1]}|")
    page.wait_for_function("([el, key]) => el.dataset.request === key", arg=[painted.element_handle(), last],
                           timeout=60_000)
    page.wait_for_timeout(300)
    assert painted.get_attribute("data-request") == last
    heard = kernel_state(page)["clicks"]
    # The page sends the first change at once and, while the kernel works on it, keeps only the latest one
    # (js/src/lib/selection-gate.js; the selection is not echoed back over it): two units for 100 clicks.
    assert heard[heard.index(burst[0]):] == [burst[0], burst[-1]]

    # Upload a photo through the file input: the kernel reads it and the predictions change.
    before = root.locator("[data-testid=predictions]").inner_text()
    root.locator("[data-testid=upload-input]").set_input_files(str(photo()))
    page.wait_for_function("el => el.textContent === 'coffee.png'",
                           arg=root.locator("[data-testid=image-name]").element_handle(), timeout=60_000)
    page.wait_for_function("([el, before]) => el.innerText !== before",
                           arg=[root.locator("[data-testid=predictions]").element_handle(), before], timeout=60_000)
    assert "espresso" in root.locator("[data-testid=predictions]").inner_text()
    assert kernel_state(page)["name"] == "coffee.png"

    # A corrupt upload: the banner names the file, the coffee stays.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    root.locator("[data-testid=upload-input]").set_input_files(str(broken))
    banner = root.locator("[data-testid=error-banner]")
    banner.wait_for(state="visible", timeout=60_000)
    assert banner.inner_text().startswith("broken.png is ")
    assert root.locator("[data-testid=image-name]").inner_text() == "coffee.png"
    after = kernel_state(page)
    assert after["name"] == "coffee.png" and after["error"].startswith("broken.png is ")
    jupyter_driver.screenshot(page, f"{app}-tour-error")


def exemplars_flow(page) -> None:
    """The tour has mined the sample photos: the selected unit's top-9 is painted; a click on one opens its photo."""
    root = page.locator(".cnnviz-root").first
    top9 = root.locator("[data-testid=top9]")
    # the first exemplar that is not the current image (opening that one would change nothing)
    info = json.loads(jupyter_driver.kernel_exec(page, (
        "w.wait_exemplars(120); import json; t = w.top9; "
        "other = next(e for e in t['exemplars'] if w.exemplars.image(e['index']) != w.image); "
        "print(json.dumps({'request': t['request'], 'count': t['count'], 'mining': w.mining['state'], "
        "'atlas': len(w.layer_atlas['channels']), 'rank': other['rank'], 'name': other['id']}))")))
    assert info["mining"] == "complete" and info["count"] == 9
    request = info["request"]
    page.wait_for_function("([el, key]) => el.dataset.request === key && el.dataset.state === 'ready'", arg=[
        top9.element_handle(), "|".join(str(request[k]) for k in ("layer", "channel", "rule", "display", "crop"))],
        timeout=60_000)
    assert top9.locator("[data-testid=top9-patch]:not(.cnnviz-top9-cell--empty)").count() == 9
    assert root.locator("[data-testid=mining-text]").inner_text().startswith("exemplars: ")
    root.locator("[data-testid=atlas-unit]").first.wait_for(timeout=60_000)
    assert root.locator("[data-testid=atlas-unit]").count() == info["atlas"] == 16
    top9.scroll_into_view_if_needed()
    jupyter_driver.screenshot(page, "lab-tour-top9")

    top9.locator(f"[data-testid=top9-patch][data-rank='{info['rank']}']").click()
    page.wait_for_function("([el, name]) => el.textContent === name", arg=[
        root.locator("[data-testid=image-name]").element_handle(), info["name"]], timeout=60_000)
    assert kernel_state(page)["name"] == info["name"]


def test_tour_in_jupyterlab(jupyter, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        user_flow(page, jupyter, "01-tour.ipynb", "lab", tmp_path)
        exemplars_flow(page)
    finally:
        page.close()


def test_tour_in_notebook_7(jupyter, browser, tmp_path):
    shutil.copy(jupyter.root / "01-tour.ipynb", jupyter.root / "01-tour-nb7.ipynb")  # its own kernel
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        user_flow(page, jupyter, "01-tour-nb7.ipynb", "notebook", tmp_path)
    finally:
        page.close()
