"""Driving Debian's Chromium and a real Jupyter server: shared by the browser tests and ``bench/widget_latency.py``.

Offline by construction: Chromium runs with the network features that phone home switched off, the Jupyter
server listens on 127.0.0.1 only, and nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
JUPYTER = Path(sys.executable).parent / "jupyter"


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium, or `make sysdeps`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing: pip install playwright (or `make setup`)"
    if not (REPO / "cnnviz_widget" / "static" / "widget.js").is_file():
        return "the front end is not built: run `make js`"
    return None


def launch(playwright: Any, **kwargs: Any) -> Any:
    """Debian's Chromium, headless, with the offline flags."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, **kwargs)


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot under ``test-artifacts/`` (git-ignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterServer:
    """A Jupyter server (JupyterLab 4 and Notebook 7 on one server) on 127.0.0.1, no token, rooted at ``root``."""

    def __init__(self, root: Path, log: Path | None = None, extra: list[str] | None = None) -> None:
        self.root = Path(root)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log or (self.root / "jupyter-server.log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 — closed in stop()
        args = [str(JUPYTER), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                f"--ServerApp.root_dir={self.root}", "--IdentityProvider.token=", "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True", "--LabApp.expose_app_in_browser=True",
                "--JupyterNotebookApp.expose_app_in_browser=True", "--ServerApp.open_browser=False",
                "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            args.append("--allow-root")
        args += extra or []
        settings = self.root / ".jupyter-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)  # no "get Jupyter news?" toast over the screenshots
        (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
        # Settings and workspaces of its own: JupyterLab otherwise restores the user's last layout (notebooks of
        # earlier runs, whose kernels start and run) into every page it serves.
        env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1", "PYTHONUNBUFFERED": "1",
               "JUPYTERLAB_SETTINGS_DIR": str(self.root / ".jupyter-settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.root / ".jupyter-workspaces")}
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.root, env=env)

    def wait(self, timeout: float = 60.0) -> JupyterServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter server exited ({self.process.returncode}); log:\n{self.log()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as reply:
                json.load(reply)
                return self
            time.sleep(0.2)
        raise TimeoutError(f"jupyter server did not answer within {timeout:.0f} s; log:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextlib.contextmanager
def jupyter_server(root: Path) -> Iterator[JupyterServer]:
    server = JupyterServer(root)
    try:
        yield server.wait()
    finally:
        server.stop()


def copy_notebook(name: str, root: Path) -> Path:
    """Copy ``notebooks/<name>`` into the server's root."""
    target = Path(root) / name
    shutil.copy(REPO / "notebooks" / name, target)
    return target


# JavaScript run in the page. `window.jupyterapp` exists with expose_app_in_browser (Lab and Notebook 7 alike).
_CURRENT = "(() => { const w = window.jupyterapp?.shell?.currentWidget; return w && w.sessionContext ? w : null; })()"

_WAIT_KERNEL = f"""async () => {{
  const panel = {_CURRENT};
  const ctx = panel.sessionContext;
  await ctx.ready;
  await ctx.session.kernel.info;
  return ctx.session.kernel.id;
}}"""

_EXECUTE = f"""async (code) => {{
  const kernel = {_CURRENT}.sessionContext.session.kernel;
  const future = kernel.requestExecute({{ code, store_history: false }});
  let out = "";
  future.onIOPub = (msg) => {{
    const t = msg.header.msg_type;
    if (t === "stream") out += msg.content.text;
    else if (t === "error") out += `${{msg.content.ename}}: ${{msg.content.evalue}}\\n`;
  }};
  await future.done;
  return out;
}}"""


def open_notebook(page: Any, server: JupyterServer, name: str, app: str = "lab", timeout: float = 60.0) -> None:
    """Open notebook ``name`` in JupyterLab (``app="lab"``) or Notebook 7 (``"notebook"``) and wait for its kernel."""
    # ?reset: a fresh layout, not the one the previous page of this server left (its notebooks would open too).
    path = f"/lab/tree/{name}?reset" if app == "lab" else f"/notebooks/{name}"
    page.goto(server.url + path, wait_until="domcontentloaded")
    page.wait_for_function(f"(name) => {_CURRENT}?.context?.path === name", arg=name, timeout=timeout * 1000)
    page.evaluate(_WAIT_KERNEL)


def run_all(page: Any) -> None:
    """Run every cell of the open notebook (returns at once; wait for what the cells produce)."""
    # Not awaited: the command's promise settles only when the last cell has run.
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def kernel_exec(page: Any, code: str) -> str:
    """Run ``code`` in the open notebook's kernel (not in a cell) and return what it printed."""
    return page.evaluate(_EXECUTE, code)


def wait_cells(page: Any, timeout: float = 120.0) -> None:
    """Wait until every code cell of the open notebook has run; raise with the traceback if one failed."""
    state = page.wait_for_function(f"""() => {{
      const panel = {_CURRENT};
      const cells = panel.content.widgets.filter((c) => c.model.type === "code");
      for (const cell of cells) {{
        for (let i = 0; i < cell.model.outputs.length; i++) {{
          const out = cell.model.outputs.get(i).toJSON();
          if (out.output_type === "error") return {{ error: `${{out.ename}}: ${{out.evalue}}`, source: cell.model.sharedModel.getSource() }};
        }}
      }}
      const done = cells.every((c) => c.model.executionCount !== null)
        && panel.sessionContext.session.kernel.status === "idle";
      return done ? {{ error: null }} : false;
    }}""", timeout=timeout * 1000, polling=250).json_value()
    if state["error"]:
        raise AssertionError(f"a notebook cell failed: {state['error']}\nin cell:\n{state['source']}")
