"""Checkpoints of a feature-evolution result, opened in the widget: a click on a cell of the evolution panel switches
the whole widget — unit card, activation grid, filters, experiments — to that checkpoint's weights, on the cell's
image with its unit selected; "back" returns to the widget's own model.

Writes ``checkpoint`` (``{name, column, evolution, model}`` while one is open, else ``{}``); answers the command
``{"type": "checkpoint", "action": "open" | "close", "column", "unit"}``. Works with the experiments panel (the
evolution result and its images), the exemplars panel (whose exemplars, mined with the original weights, are hidden
meanwhile) and the units panel (which shows the swapped model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..engine import Explorer
from ..errors import CNNVizError
from ..session import Session
from .exemplars import ExemplarsPanel
from .experiments import ExperimentsPanel
from .units import UnitsPanel

if TYPE_CHECKING:
    from ..widget import CNNViz

__all__ = ["CheckpointsPanel"]


class CheckpointsPanel:
    """Opens and closes checkpoints of the feature-evolution result (see the module docstring)."""

    writes = ("checkpoint",)
    observes = ()
    commands = ("checkpoint",)

    def __init__(self, session: Session, host: CNNViz, units: UnitsPanel, exemplars: ExemplarsPanel,
                 experiments: ExperimentsPanel) -> None:
        self.session = session
        self.host = host
        self.units = units
        self.exemplars = exemplars
        self.experiments = experiments
        self._explorers: dict[tuple[int, int], Explorer] = {}
        self._before: tuple[Any, str] | None = None  # the image shown before the first checkpoint was opened

    @property
    def is_open(self) -> bool:
        return bool(self.host.checkpoint)

    def open(self, checkpoint: int | str, unit: int | None = None) -> None:
        """The implementation of :meth:`cnnviz_widget.CNNViz.open_checkpoint`."""
        result = self.experiments.results.get("evolution")
        if result is None:
            raise CNNVizError("there is no feature-evolution result to open a checkpoint of — run w.evolution(...) first")
        column = result.checkpoints.index(checkpoint) if isinstance(checkpoint, str) else int(checkpoint)
        if not 0 <= column < len(result.checkpoints):
            raise CNNVizError(f"there is no checkpoint {checkpoint!r}; the result has {result.checkpoints}")
        if unit is not None and not 0 <= unit < len(result.units):
            raise CNNVizError(f"there is no unit row {unit}; the result has {len(result.units)}")
        if self.exemplars.mining_running:
            raise CNNVizError("a mining pass is running on the original model — cancel it (or wait) before opening "
                              "a checkpoint")
        host = self.host
        evolution = host.evolution_result["request"]["id"]
        explorer = self._explorers.get((evolution, column))
        if explorer is None:
            explorer = result.explorer(column)
            self._explorers = {(evolution, column): explorer}  # one checkpoint's model kept at a time
        if not self.is_open:
            self._before = (host.image, self.session.image_name)
            self.exemplars.hide()
        self.units.show_model(explorer)
        host.checkpoint = {"name": result.checkpoints[column], "column": column, "evolution": evolution,
                           "model": self.session.original.spec.name}
        cell = result.cell(unit, column) if unit is not None else None
        if unit is not None:
            layer, channel = result.units[unit]
            with host.hold_trait_notifications():
                host.layer, host.channel = layer, channel
                info = explorer.layer(layer)
                if cell is not None and len(info.shape) > 1 and len(cell.position) == 2:
                    host.position = list(cell.position)
        data = self.experiments.evolution_data
        if cell is not None and data is not None:
            self._reload(data.read(cell.index).image, cell.id)
        else:
            self._reload(host.image, self.session.image_name)
        self.experiments.show_synthesis()

    def close(self) -> None:
        """The implementation of :meth:`cnnviz_widget.CNNViz.close_checkpoint`."""
        if not self.is_open or self._before is None:
            return
        image, name = self._before
        self.units.show_model(self.session.original)
        self.host.checkpoint = {}
        self._reload(image, name)
        self.exemplars.restore()
        self.experiments.show_synthesis()

    def _reload(self, image: Image.Image, name: str) -> None:
        """Show ``image`` computed afresh by the current model (also when it equals the image shown: the model
        changed, so every cached activation is stale)."""
        before = self.session.image_id
        self.host.set_image(image, name=name)
        if self.session.image_id == before:
            self.units.show_image(self.host.image, name)

    def on_change(self, name: str, new: Any) -> None:
        pass

    def on_command(self, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        action = content.get("action")
        if action == "open":
            unit = content.get("unit")
            self.open(int(content.get("column", -1)), None if unit is None else int(unit))
        elif action == "close":
            self.close()

    def stop(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        return True
