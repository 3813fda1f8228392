"""A Jupyter server extension that turns off Nagle's algorithm on kernel websockets.

jupyter_server leaves Nagle's algorithm on for the websocket between the server and the browser. Every widget
answer follows ipykernel's "busy" status message within a few milliseconds, so the operating system holds it
until the browser acknowledges the status message — and browsers delay that acknowledgement by up to ~40 ms. A
projection computed in 5 ms thus takes ~45 ms to appear. With ``TCP_NODELAY`` it appears at once.

Installing the package enables the extension for every Jupyter server of its environment (JupyterLab, Notebook 7,
``jupyter server``) with ``etc/jupyter/jupyter_server_config.d/cnnviz_widget.nodelay.json``; ``cnnviz app`` applies
it to its Voilà server. To turn it off::

    jupyter server extension disable cnnviz_widget.nodelay           # in this environment (--user: for you only)
    jupyter lab --ServerApp.jpserver_extensions="{'cnnviz_widget.nodelay': False}"     # for one server

It changes nothing but the socket option, and only for kernel websockets.
"""

from __future__ import annotations

from typing import Any

_PATCHED = "_cnnviz_nodelay"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "cnnviz_widget.nodelay"}]


def enable() -> bool:
    """Make every kernel websocket of this process's Jupyter servers set ``TCP_NODELAY`` when it opens.

    Returns:
        False if it was already enabled (enabling twice patches once).
    """
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    if getattr(KernelWebsocketHandler, _PATCHED, False):
        return False
    original = KernelWebsocketHandler.open

    async def open_with_nodelay(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.set_nodelay(True)
        return await original(self, *args, **kwargs)

    KernelWebsocketHandler.open = open_with_nodelay
    setattr(KernelWebsocketHandler, _PATCHED, True)
    return True


def _load_jupyter_server_extension(serverapp: Any) -> None:
    enable()
    serverapp.log.info("cnnviz_widget.nodelay: TCP_NODELAY on kernel websockets")
