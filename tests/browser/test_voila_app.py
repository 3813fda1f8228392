"""The classroom app — ``cnnviz app notebooks/classroom-app.ipynb``, a Voilà server — in Chromium with every request
outside the server refused: the page renders from the server alone, shows the title and no code, answers a click
through its own kernel, asks nothing of the network, keeps out whoever lacks the token, and its kernel websocket has
Nagle's algorithm off."""

from __future__ import annotations

import http.client
import re
import sys

import jupyter_driver
import pytest

pytestmark = [pytest.mark.jupyter, pytest.mark.slow]

TOKEN = "class-2b"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("classroom-app")
    notebook = jupyter_driver.copy_notebook("classroom-app.ipynb", root)
    port = jupyter_driver._free_port()
    server = jupyter_driver.ServerProcess(
        [sys.executable, "-m", "cnnviz_widget.cli", "app", str(notebook), "--ip=127.0.0.1", f"--port={port}",
         f"--token={TOKEN}"], port, root / "app.log", cwd=root)
    server.name = "cnnviz app"
    try:
        yield server.wait()
    finally:
        server.stop()


@pytest.fixture
def page(app, browser):
    page = jupyter_driver.server_only_page(browser, app.url)
    yield page
    page.context.close()


def test_the_app_renders_and_answers_a_click_with_the_network_cut_off(app, page):
    from playwright.sync_api import expect

    page.goto(f"{app.url}/?token={TOKEN}", wait_until="domcontentloaded")
    root = page.locator(".cnnviz-root")
    root.locator("[data-testid=unit-tile]").first.wait_for(timeout=120_000)
    painted = root.locator("[data-testid=projection]")
    expect(painted).to_have_attribute("data-request", re.compile(r"\|"), timeout=60_000)
    assert page.title() == "What does a CNN see?"
    assert page.get_by_role("heading", name="What does a convolutional network see?").is_visible()
    assert "import CNNViz" not in page.content()  # outputs only

    image, layer, channel, position, *view = painted.get_attribute("data-request").split("|")  # rule, display, crop
    other = 3 if channel != "3" else 4
    root.locator(f"[data-testid=unit-tile][data-channel='{other}']").click()
    expect(painted).to_have_attribute("data-request", "|".join([image, layer, str(other), position, *view]),
                                      timeout=60_000)
    assert root.locator("[data-testid=unit-card] .cnnviz-panel-title").inner_text().endswith(f"channel {other}")
    jupyter_driver.screenshot(page, "voila-classroom-app")
    assert page.outside_requests == []
    assert page.js_errors == []

    # The page's kernel, through a websocket of our own: the server set TCP_NODELAY on it.
    kernel = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
    url = f"ws://127.0.0.1:{app.port}/api/kernels/{kernel}/channels"
    assert jupyter_driver.kernel_websocket_nodelay(app.process.pid, url, {"Authorization": f"token {TOKEN}"})


def test_the_app_needs_its_token(app):
    connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    connection.request("GET", "/")
    reply = connection.getresponse()
    assert (reply.status, reply.getheader("Location", "").split("?")[0]) == (302, "/login")
