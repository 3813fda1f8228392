"""The widget's panels: each an object with explicit inputs and outputs (see :mod:`.base`), wired by
:class:`~cnnviz_widget.CNNViz` in one place.

* :mod:`.units` — the picture and top-5, the activation grid, the unit card, filters, gallery (in the kernel thread);
* :mod:`.exemplars` — top-9 dataset exemplars, the layer atlas, mining (background);
* :mod:`.experiments` — occlusion, invariance, feature evolution, activation maximisation (background);
* :mod:`.class_evidence` — Grad-CAM and guided Grad-CAM of a chosen class (background);
* :mod:`.checkpoints` — a feature-evolution checkpoint opened in the whole widget.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .base import Panel
from .checkpoints import CheckpointsPanel
from .class_evidence import ClassEvidencePanel
from .exemplars import ExemplarsPanel
from .experiments import ExperimentsPanel
from .units import UnitsPanel

__all__ = ["CheckpointsPanel", "ClassEvidencePanel", "ExemplarsPanel", "ExperimentsPanel", "Panel", "Panels", "UnitsPanel"]


@dataclass(frozen=True)
class Panels:
    """The panels of one widget (``w.panels``), iterated in the order they are told of changes: the background
    panels first (they only queue work), then the unit panels (they compute the answer at once)."""

    units: UnitsPanel
    exemplars: ExemplarsPanel
    experiments: ExperimentsPanel
    checkpoints: CheckpointsPanel
    class_evidence: ClassEvidencePanel

    def __iter__(self) -> Iterator[Panel]:
        return iter((self.exemplars, self.experiments, self.class_evidence, self.units, self.checkpoints))
