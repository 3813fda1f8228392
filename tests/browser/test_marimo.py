"""The widget in marimo — ``marimo run notebooks/marimo_app.py`` — in Chromium, with every request outside the server
refused. marimo renders a widget inside a shadow root: Playwright's locators pierce it (``document.querySelector``
would not). A tile click paints the projection and reaches Python (a cell that reads the widget's value re-runs);
a change made in Python (a marimo dropdown's cell sets ``w.layer``) shows in the widget."""

from __future__ import annotations

import os
import re
import shutil
import sys

import jupyter_driver
import pytest

pytestmark = [pytest.mark.jupyter, pytest.mark.slow]


@pytest.fixture(scope="module")
def marimo_app(tmp_path_factory):
    pytest.importorskip("marimo")
    root = tmp_path_factory.mktemp("marimo-app")
    shutil.copy(jupyter_driver.REPO / "notebooks" / "marimo_app.py", root / "marimo_app.py")
    port = jupyter_driver._free_port()
    env = {**os.environ, "MARIMO_SKIP_UPDATE_CHECK": "1"}  # no look-up on PyPI
    server = jupyter_driver.ServerProcess(
        [sys.executable, "-m", "marimo", "run", "marimo_app.py", "--headless", "--no-token", "--no-sandbox",
         "--host=127.0.0.1", f"--port={port}"], port, root / "marimo.log", env=env, cwd=root)
    server.name = "marimo run"
    try:
        yield server.wait()
    finally:
        server.stop()


def test_the_widget_in_a_marimo_app(marimo_app, browser):
    from playwright.sync_api import expect

    page = jupyter_driver.server_only_page(browser, marimo_app.url)
    try:
        page.goto(marimo_app.url, wait_until="domcontentloaded")
        root = page.locator(".cnnviz-root")
        root.locator("[data-testid=unit-tile]").first.wait_for(timeout=120_000)
        painted = root.locator("[data-testid=projection]")
        expect(painted).to_have_attribute("data-request", re.compile(r"\|features\.0\|0\|"), timeout=60_000)
        image, _, _, position, *view = painted.get_attribute("data-request").split("|")  # view: rule, display, crop
        summary = page.get_by_text("Last selection made in the widget:")
        expect(summary).to_have_text("Last selection made in the widget: layer features.0, channel 0, "
                                     "projection rule auto.")

        # A click: the unit is painted, and the cell reading the widget's value in Python re-runs.
        root.locator("[data-testid=unit-tile][data-channel='5']").click()
        expect(painted).to_have_attribute("data-request", "|".join([image, "features.0", "5", position, *view]),
                                          timeout=60_000)
        expect(summary).to_contain_text("layer features.0, channel 5,", timeout=60_000)

        # From Python: the dropdown's cell sets w.layer; the widget shows that layer's grid and unit.
        page.locator("marimo-dropdown select").select_option("features.3")
        expect(root.locator("[data-testid=activation-grid]")).to_have_attribute("data-layer", "features.3",
                                                                                timeout=60_000)
        expect(painted).to_have_attribute("data-request", re.compile(r"^\d+\|features\.3\|"), timeout=60_000)
        jupyter_driver.screenshot(page, "marimo-app")
        assert page.outside_requests == []
        assert page.js_errors == []
    finally:
        page.context.close()
