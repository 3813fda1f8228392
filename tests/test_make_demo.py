"""``make demo`` sends people to the tour itself: the URLs JupyterLab prints, and the page it opens in a browser when
there is one, are the tour notebook's — on a headless or remote machine the printed URL is all one has."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOUR = "notebooks/01-tour.ipynb"

pytestmark = [pytest.mark.jupyter, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_command(port: int) -> str:
    """The demo recipe as `make` would run it with this test's Python environment (setup taken as done)."""
    venv = Path(sys.executable).parent.parent
    return subprocess.run(["make", "-s", "-n", "-o", "setup", "demo", f"VENV={venv}", f"PORT={port}"], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout


def test_make_demo_prints_and_opens_the_tours_own_url(tmp_path):
    port = free_port()
    command = demo_command(port)
    assert f"--LabApp.default_url=/lab/tree/{TOUR}" in command
    # A "browser" that only records what it is asked to open (Python's webbrowser honours $BROWSER).
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "JUPYTER_PLATFORM_DIRS": "1", "PYTHONUNBUFFERED": "1",
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(["bash", "-c", command], cwd=REPO, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        pattern = re.compile(rf"http://127\.0\.0\.1:{port}/lab/tree/{re.escape(TOUR)}\?token=([0-9a-f]+)")
        deadline = time.monotonic() + 90
        while not (match := pattern.search(log.read_text(errors="replace"))):
            assert server.poll() is None, f"jupyter lab exited:\n{log.read_text(errors='replace')[-3000:]}"
            assert time.monotonic() < deadline, f"no tour URL printed:\n{log.read_text(errors='replace')[-3000:]}"
            time.sleep(0.3)
        url = match.group(0)
        printed = log.read_text(errors="replace")
        assert f"http://127.0.0.1:{port}/lab?" not in printed  # no URL of the Launcher
        with urllib.request.urlopen(url, timeout=20) as reply:  # the URL works as printed: JupyterLab's page
            assert reply.status == 200 and b"jupyter" in reply.read().lower()
        deadline = time.monotonic() + 30
        while not opened.exists():  # the browser is given the server's redirect page, which goes to the tour
            assert time.monotonic() < deadline, "no browser was opened"
            time.sleep(0.3)
        page = Path(opened.read_text().strip().removeprefix("file://")).read_text()
        assert f"/lab/tree/{TOUR}?token={match.group(1)}" in page
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
