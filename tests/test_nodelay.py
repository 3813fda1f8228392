"""The Jupyter server extension the package enables: TCP_NODELAY on kernel websockets, nothing else. A real server
(a plain `jupyter lab` of an installed wheel) is checked in tests/packaging/test_wheel.py, Voilà's in
tests/browser/test_voila_app.py."""

import asyncio
import logging
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from cnnviz_widget import nodelay

websocket = pytest.importorskip("jupyter_server.services.kernels.websocket")


class _App:
    log = logging.getLogger("test")


def test_extension_sets_nodelay_then_opens_as_before(monkeypatch):
    calls = []

    async def original_open(self, kernel_id):
        calls.append(("open", kernel_id))
        return "opened"

    handler = websocket.KernelWebsocketHandler
    monkeypatch.setattr(handler, "open", original_open)
    monkeypatch.setattr(handler, nodelay._PATCHED, False, raising=False)
    assert nodelay._jupyter_server_extension_points() == [{"module": "cnnviz_widget.nodelay"}]
    nodelay._load_jupyter_server_extension(_App())
    nodelay._load_jupyter_server_extension(_App())  # idempotent: loading twice patches once
    assert nodelay.enable() is False  # already enabled

    class Fake:
        def set_nodelay(self, value):
            calls.append(("nodelay", value))

    # In a thread of its own: Playwright's sync API (browser tests in the same session) marks the main thread's
    # event loop as running, and asyncio.run refuses to start inside it.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, handler.open(Fake(), "k1")).result() == "opened"
    assert calls == [("nodelay", True), ("open", "k1")]


def test_the_extension_does_not_pull_torch_into_the_server():
    code = "import sys, cnnviz_widget.nodelay; print(sorted({'torch', 'ipywidgets', 'anywidget'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
