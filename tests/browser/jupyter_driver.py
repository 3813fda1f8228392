"""Driving Debian's Chromium and a real Jupyter server: shared by the browser tests and ``bench/widget_latency.py``.

Offline by construction: Chromium runs with the network features that phone home switched off, the Jupyter
server listens on 127.0.0.1 only, and nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


def server_only_page(browser: Any, origin: str, **context: Any) -> Any:
    """A page, in a context of its own, that reaches ``origin`` and nothing else: every other request is refused
    (as with the network cut off) and its URL kept in ``page.outside_requests``; uncaught exceptions and console
    errors in ``page.js_errors``.
    Close it with ``page.context.close()``."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}, **context).new_page()
    page.outside_requests = []
    page.js_errors = []

    def only_the_server(route: Any) -> None:
        url = route.request.url
        if url.startswith((f"{origin}/", "data:", "blob:")):
            route.continue_()
        else:
            page.outside_requests.append(url)
            route.abort()

    page.route("**/*", only_the_server)
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.on("console", lambda message: page.js_errors.append(message.text) if message.type == "error" else None)
    return page


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


class ServerProcess:
    """A web server started as a subprocess (``args``) on 127.0.0.1:``port``, its output in ``log_path``."""

    name = "server"

    def __init__(self, args: list[str], port: int, log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 — closed in stop()
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd,
                                        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"})

    def ready(self) -> bool:
        """Whether the server answers yet (here: accepts connections)."""
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def wait(self, timeout: float = 60.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); log:\n{self.log()}")
            if self.ready():
                return self
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not answer within {timeout:.0f} s; log:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
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


class JupyterServer(ServerProcess):
    """A Jupyter server (JupyterLab 4 and Notebook 7 on one server) on 127.0.0.1, no token, rooted at ``root``.

    ``python``: the interpreter whose environment runs the server (``python -m jupyterlab``, the same as its
    ``jupyter lab``), with ``env`` for its environment variables; by default this one's ``jupyter lab``.
    """

    name = "jupyter server"

    def __init__(self, root: Path, log: Path | None = None, extra: list[str] | None = None,
                 python: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        port = _free_port()
        command = [str(python), "-m", "jupyterlab"] if python else [str(JUPYTER), "lab"]
        args = [*command, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
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
        env = {**(os.environ if env is None else env), "JUPYTER_PLATFORM_DIRS": "1",
               "JUPYTERLAB_SETTINGS_DIR": str(self.root / ".jupyter-settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.root / ".jupyter-workspaces")}
        super().__init__(args, port, log or (self.root / "jupyter-server.log"), env=env, cwd=self.root)

    def ready(self) -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as reply:
            json.load(reply)
            return True
        return False


@contextlib.contextmanager
def jupyter_server(root: Path) -> Iterator[JupyterServer]:
    server = JupyterServer(root)
    try:
        yield server.wait()
    finally:
        server.stop()


def start_kernel(server: JupyterServer) -> str:
    """Start a kernel on ``server`` through its REST API and return its id."""
    request = urllib.request.Request(f"{server.url}/api/kernels", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.load(reply)["id"]


_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture


def socket_nodelay(pid: int, peer_port: int) -> bool:
    """Whether process ``pid``'s TCP socket connected to local port ``peer_port`` has ``TCP_NODELAY`` set.

    The option is read from that process's own socket, duplicated with pidfd_getfd(2) (Linux ≥ 5.6; allowed for a
    child of this process, or as root). Raises ``OSError`` when that is refused, ``LookupError`` when no such socket.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    continue
            copy = libc.syscall(_SYS_PIDFD_GETFD, pidfd, int(fd), 0)
            if copy < 0:
                error = ctypes.get_errno()
                raise OSError(error, f"pidfd_getfd on process {pid}: {os.strerror(error)}")
            with socket.socket(fileno=copy) as sock:  # closes the copy only
                if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                try:
                    peer = sock.getpeername()
                except OSError:  # a listening socket
                    continue
                if peer[1] == peer_port:
                    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    finally:
        os.close(pidfd)
    raise LookupError(f"process {pid} has no TCP socket connected to port {peer_port}")


def kernel_websocket_nodelay(pid: int, url: str, headers: dict[str, str] | None = None) -> bool:
    """Open a kernel websocket to ``url`` (``ws://…/api/kernels/<id>/channels``) and return whether the server
    process ``pid`` set ``TCP_NODELAY`` on its end.

    Asked once a kernel_info reply came through the websocket: by then the server's handler has opened it (and set
    the option, if it does).
    """
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def probe() -> bool:
        connection = await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=30))
        try:
            local_port = connection.protocol.stream.socket.getsockname()[1]
            header = {"msg_id": uuid.uuid4().hex, "msg_type": "kernel_info_request", "session": uuid.uuid4().hex,
                      "username": "test", "date": "2026-01-01T00:00:00Z", "version": "5.3"}
            await connection.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                                       "content": {}, "channel": "shell", "buffers": []}))
            while True:
                message = await asyncio.wait_for(connection.read_message(), timeout=60)
                if message is None:
                    raise ConnectionError(f"the server closed the kernel websocket {url}")
                if json.loads(message)["header"]["msg_type"] == "kernel_info_reply":
                    return socket_nodelay(pid, local_port)
        finally:
            connection.close()

    # In a thread of its own: Playwright's sync API marks the main thread's event loop as running.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, probe()).result()


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
