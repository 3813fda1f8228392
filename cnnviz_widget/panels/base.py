"""What every panel of the widget is: an object with an explicit interface, wired by :class:`~cnnviz_widget.CNNViz`.

A panel is built with what it needs — the :class:`~cnnviz_widget.session.Session` (model, image, activations), the
widget as the *host* whose traits it writes, and the other panels it works with — and declares:

* ``writes``: the result traits it sets (no other panel sets them; ``error`` and ``busy`` are shared by all);
* ``observes``: the traits whose changes it is told of (:meth:`Panel.on_change`), in the widget's wiring order;
* ``commands``: the message types from the front end it answers (:meth:`Panel.on_command`).

The widget dispatches every message once, by its ``type``, to the panel that answers it, and every trait change to
the panels that observe it. Panels compute their trait values with :mod:`cnnviz_widget.state` (the functions the HTML
export calls too) and do their background work with :class:`~cnnviz_widget.jobs.JobRunner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["Panel"]


class Panel(Protocol):
    """The interface every panel offers the widget (see the module docstring)."""

    writes: tuple[str, ...]
    observes: tuple[str, ...]
    commands: tuple[str, ...]

    def on_change(self, name: str, new: Any) -> None:
        """Trait ``name`` (one of :attr:`observes`) changed to ``new``."""

    def on_command(self, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        """A message from the front end whose ``type`` is one of :attr:`commands`; raise ``CNNVizError`` to show
        its message in the widget's banner."""

    def stop(self) -> None:
        """Ask the panel's background work to stop (the widget closes, or Python exits)."""

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the panel's background work is done; ``False`` if ``timeout`` (seconds) passed first."""
