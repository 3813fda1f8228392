"""Shared fixtures of the browser tests: Chromium (Playwright), the harness page with its mock model, a tiny real
widget to feed it, and a real Jupyter server. Every test here skips with the reason when Chromium is missing."""

from __future__ import annotations

import mimetypes
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import jupyter_driver
from harness_bridge import TINY_LABELS, Harness, tiny_images, tiny_model

HERE = Path(__file__).parent
HARNESS_ORIGIN = "http://cnnviz.test"
SKIP = jupyter_driver.missing_browser()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.browser)
            if SKIP:
                item.add_marker(pytest.mark.skip(reason=SKIP))


@pytest.fixture(scope="session")
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = jupyter_driver.launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()


# ----------------------------------------------------------------------------------------------- the harness
def _serve(route: Any) -> None:
    """Serve the harness and the built front end from disk: no web server, no network."""
    path = urlparse(route.request.url).path
    if path.startswith("/static/"):
        file = jupyter_driver.REPO / "cnnviz_widget" / "static" / path.removeprefix("/static/")
    elif path.startswith("/harness/"):
        file = HERE / "harness" / path.removeprefix("/harness/")
    else:
        route.fulfill(status=404, body="not found")
        return
    if not file.is_file():
        route.fulfill(status=404, body="not found")
        return
    kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file.name)[0] or "text/plain"
    route.fulfill(status=200, body=file.read_bytes(), content_type=kind)


@pytest.fixture
def harness(page: Any) -> Harness:
    page.route(f"{HARNESS_ORIGIN}/**", _serve)
    page.goto(f"{HARNESS_ORIGIN}/harness/index.html")
    page.wait_for_function("window.harnessReady === true")
    return Harness(page)


@pytest.fixture
def tiny_widget() -> Any:
    from cnnviz_widget import CNNViz, ImagePreprocess

    preprocess = ImagePreprocess(size=16, resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    return CNNViz(model=tiny_model(), preprocess=preprocess, labels=TINY_LABELS, gallery=tiny_images())


# ------------------------------------------------------------------------------------------------ Jupyter
@pytest.fixture(scope="session")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if SKIP:
        pytest.skip(SKIP)
    root = tmp_path_factory.mktemp("jupyter-root")
    jupyter_driver.copy_notebook("01-tour.ipynb", root)
    with jupyter_driver.jupyter_server(root) as server:
        yield server
