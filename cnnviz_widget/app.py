"""``cnnviz app``: a notebook served to a class as a web page with Voilà — outputs only, no code, no network.

::

    cnnviz app                                   # the classroom app installed with the package
    cnnviz app lesson.ipynb --port 8866 --token s3cret

Students open ``http://<this machine>:8866/?token=<token>`` (the command prints the address). Every page that is
opened runs the notebook in a kernel of its own, on this machine, and answers its clicks there.

Offline by construction: the page is Voilà's lab template less its only requests outside the server (two Font
Awesome stylesheets from a CDN, which nothing on the page uses) — the template ``cnnviz`` in ``share/voila/`` beside
this module — and the widget's front end ships inside the package. The kernel websockets get ``TCP_NODELAY``
(:mod:`.nodelay`), as in JupyterLab.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import site
import socket
import sysconfig
from pathlib import Path

from . import nodelay
from .errors import AppError

#: A Jupyter data directory holding the page template, ``voila/templates/cnnviz``.
TEMPLATES = Path(__file__).parent / "share"
TEMPLATE = "cnnviz"
#: Where ``pip install`` puts the classroom app notebook (pyproject's shared-data), under a data prefix.
NOTEBOOK = Path("share") / "cnnviz-widget" / "classroom-app.ipynb"
DEFAULT_PORT = 8866  # Voilà's


def installed_notebook() -> Path | None:
    """The classroom app notebook installed with the package (in this environment, or in the user's base for a
    ``pip install --user``), or None (a source checkout that was never installed)."""
    for prefix in (sysconfig.get_path("data"), site.getuserbase()):
        if (Path(prefix) / NOTEBOOK).is_file():
            return Path(prefix) / NOTEBOOK
    return None


def new_token() -> str:
    """A token for the students' address: short enough to type from a projected slide."""
    return secrets.token_urlsafe(9)


def voila_arguments(notebook: Path, ip: str, port: int, token: str) -> list[str]:
    """Voilà's command line for serving ``notebook`` (``token=""``: no token)."""
    return [str(notebook), "--no-browser", f"--Voila.ip={ip}", f"--port={port}",
            "--Voila.port_retries=0",  # another port than the one printed would strand the class
            f"--template={TEMPLATE}", f"--Voila.token={token}",
            # Notebook 7's JupyterLab extension, if installed, fails to load in Voilà's page (an error in its console)
            "--VoilaConfiguration.extension_denylist=@jupyter-notebook/lab-extension"]


def addresses(ip: str, port: int, token: str) -> list[str]:
    """The addresses to give the class: this machine's name and network address when serving on every interface."""
    query = f"/?token={token}" if token else "/"
    if ip not in ("0.0.0.0", "::", ""):
        return [f"http://{ip}:{port}{query}"]
    hosts = [socket.gethostname()]
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # a documentation address: no packet is sent, the route picks the interface
        hosts.append(probe.getsockname()[0])
    return [f"http://{host}:{port}{query}" for host in hosts]


def serve(notebook: str | Path | None = None, *, ip: str = "0.0.0.0", port: int = DEFAULT_PORT,
          token: str | None = None) -> None:
    """Serve ``notebook`` with Voilà until interrupted (Ctrl-C).

    Args:
        notebook: the notebook; by default the classroom app installed with the package.
        ip: the address to listen on; ``"0.0.0.0"`` (every interface) lets the class in, ``"127.0.0.1"`` only
            this machine.
        port: the port; the command fails if it is taken, rather than serve on another one.
        token: the token the students' address carries; None makes a new one, ``""`` serves without (anyone who
            can reach the port gets a kernel).

    Raises:
        AppError: Voilà is not installed, or there is no such notebook.
    """
    try:
        from voila.app import Voila
    except ImportError as exc:
        raise AppError("Voilà is not installed: pip install 'cnnviz-widget[app]' (or pip install voila)") from exc
    if notebook is None:
        notebook = installed_notebook()
        if notebook is None:
            raise AppError(f"the classroom app notebook is not installed ({NOTEBOOK} under {sysconfig.get_path('data')}):"
                           " pass one, e.g. `cnnviz app notebooks/classroom-app.ipynb` in the repository")
    notebook = Path(notebook)
    if not notebook.is_file():
        raise AppError(f"no notebook {str(notebook)!r}: pass the path of a .ipynb file")
    token = new_token() if token is None else token
    print(f"cnnviz app: serving {notebook} (outputs only, no code)")
    for address in addresses(ip, port, token):
        print(f"  open  {address}")
    print("  every open page runs its own kernel on this machine; Ctrl-C stops the server", flush=True)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(TEMPLATES), os.environ.get("JUPYTER_PATH")]))
    nodelay.enable()
    Voila.launch_instance(argv=voila_arguments(notebook, ip, port, token))
