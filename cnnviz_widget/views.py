"""How a unit's projection is shown — its *view*: the rule (how the signal goes back through the rectifiers), the
display (how the projected values become pixels, :data:`~cnnviz_widget.encode.PROJECTION_DISPLAYS`) and the crop
(the unit's receptive field, or its central half) — and the view each layer shows by default.

The widget's ``rule``, ``display`` and ``crop`` traits each take ``"auto"``: the layer's default view, resolved
here per layer. An explicit value is the user's choice and stays one across layer changes.

**The defaults follow depth** (:class:`DepthViews`). A layer's depth is its **reach**: the side of one of its units'
receptive field over the side of the input (the larger of the two axes; :func:`reach`) — how much of the image a
unit sees, which any CNN with traced receptive fields has. They were chosen with one measure of "structure vs
speckle" (:func:`~cnnviz_widget.engine.projection.structure.structure_score`, contour agreement of the picture as
shown with its image patch) in ``notebooks/05-why-projections-speckle.ipynb`` on the default model (SqueezeNet 1.1,
32 units a stage, 365 images), whose choices this reproduces:

======================  =======  =========  ======  ========================
stage                   reach    rule       display crop
======================  =======  =========  ======  ========================
``features.0`` (conv1)  0.013    deconvnet  raw     receptive field
``features.4``          0.10     guided     gray    receptive field
``features.7``          0.28     guided     gray    central half
``features.10`` / .12   0.63/.91 guided     gray    central half
======================  =======  =========  ======  ========================

The thresholds between them come from the same measure on SqueezeNet's other stages and on MobileNetV2 (ImageNet
weights; 16 units a stage, 61 images of the pool; ``bench/view_defaults.py`` prints both, mean scores below):
guided backprop in gray scores as well as the paper's view from reach 0.066 (SqueezeNet ``features.3``: 0.28 vs
0.26) and better from 0.10 (``features.4``: 0.26 vs 0.19), but less at 0.049 (MobileNetV2 ``features.2``: 0.13 vs
0.15): :attr:`DepthViews.deep_from` is 1/16. The central half scores higher from reach 0.207 (SqueezeNet
``features.6``: 0.36 vs 0.23 on the whole field), not yet at 0.192 (MobileNetV2 ``features.5``: 0.07 vs 0.12):
:attr:`DepthViews.center_from` is 0.2; and not once the field is larger than the input (MobileNetV2 ``features.13``,
reach 1.19: 0.09 vs 0.13), :attr:`DepthViews.center_until` is 1.0. With these defaults every stage of both models
scores at least as well as the paper's view (mean over the stages: SqueezeNet 0.37 vs 0.23, MobileNetV2 0.15 vs
0.11).
The first convolution (and what sees no more than it) keeps the paper's view at any reach: no rectifier lies
between it and the pixels, so the three rules give one picture there, and colour (the raw display) is its story.
Other architectures are not measured: pass your own ``views`` to :class:`~cnnviz_widget.CNNViz`, or choose the
rule, display and crop in the widget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import encode
from .engine import RULES, Explorer

__all__ = ["AUTO", "CENTER_FRACTION", "CROPS", "CROP_CHOICES", "DISPLAY_CHOICES", "PAPER_VIEW", "RULE_CHOICES",
           "DepthViews", "View", "ViewPolicy", "reach", "resolve", "view_box", "view_state"]

#: The value of ``rule``, ``display`` or ``crop`` that follows the layer's default view.
AUTO = "auto"
#: The crops: the receptive field, or its central part (:data:`CENTER_FRACTION` of each side).
CROPS = ("field", "center")
RULE_CHOICES = (AUTO, *RULES)
DISPLAY_CHOICES = (AUTO, *encode.PROJECTION_DISPLAYS)
CROP_CHOICES = (AUTO, *CROPS)
#: The ``center`` crop's share of each side of the receptive field.
CENTER_FRACTION = 0.5

_RULE_NAMES = {"deconvnet": "deconvnet", "guided": "guided backprop", "gradient": "gradient"}
_DISPLAY_NAMES = {"raw": "raw colour", "gray": "gray", "norm": "norm", "blurred_norm": "blurred norm"}
_CROP_NAMES = {"field": "receptive field", "center": "central half"}


@dataclass(frozen=True)
class View:
    """How a projection is shown: ``rule`` (``"deconvnet"``, ``"guided"``, ``"gradient"``), ``display`` (``"raw"``,
    ``"gray"``, ``"norm"``, ``"blurred_norm"``) and ``crop`` (``"field"`` or ``"center"``). The default is the
    paper's view: deconvnet, raw colour, the receptive field."""

    rule: str = "deconvnet"
    display: str = "raw"
    crop: str = "field"

    def __post_init__(self) -> None:
        for name, value, allowed in (("rule", self.rule, RULES), ("display", self.display, encode.PROJECTION_DISPLAYS),
                                     ("crop", self.crop, CROPS)):
            if value not in allowed:
                raise ValueError(f"View {name} must be one of {', '.join(allowed)}, not {value!r}")

    @property
    def fraction(self) -> float:
        """The share of each side of the receptive field the crop shows: 1, or :data:`CENTER_FRACTION`."""
        return CENTER_FRACTION if self.crop == "center" else 1.0

    @property
    def text(self) -> str:
        """The view in words: ``"guided backprop · gray · central half"`` (of the receptive field)."""
        return f"{_RULE_NAMES[self.rule]} · {_DISPLAY_NAMES[self.display]} · {_CROP_NAMES[self.crop]}"


#: Zeiler & Fergus's view: the deconvnet, in colour centred on gray, on the unit's receptive field.
PAPER_VIEW = View()

#: Anything that gives a layer's default view: ``policy(explorer, layer_name) -> View`` (e.g. :class:`DepthViews`).
ViewPolicy = Callable[[Explorer, str], View]


def reach(explorer: Explorer, layer: str) -> float | None:
    """How much of the input one unit of ``layer`` sees: the side of its receptive field over the input's side, the
    larger of the two axes (unclipped: above 1 when the field reaches past the image). ``None`` for a layer without
    a traced spatial field (a linear layer sees everything)."""
    info = explorer.layer(layer)
    if info.geometry is None or len(info.geometry) != 2:
        return None
    sides = explorer.spec.input_shape[1:]
    return max(axis.size / side for axis, side in zip(info.geometry, sides))


@dataclass(frozen=True)
class DepthViews:
    """The default view of a layer by its depth — its :func:`reach` — as chosen by the structure measure (see the
    module docstring). Call it as ``policy(explorer, layer_name)``.

    Attributes:
        shallow: the view before ``deep_from`` and at the first convolution.
        deep: the view from ``deep_from`` on (its crop turns to ``"center"`` between ``center_from`` and
            ``center_until``).
        deep_from: the reach from which ``deep`` is shown.
        center_from, center_until: the reach range (inclusive) in which the central half is shown.

    Example::

        CNNViz(views=DepthViews(deep_from=0.1))                       # guided backprop only from a reach of 0.1
        CNNViz(views=lambda explorer, layer: PAPER_VIEW)              # the paper's view everywhere
    """

    shallow: View = PAPER_VIEW
    deep: View = View("guided", "gray", "field")
    deep_from: float = 1 / 16
    center_from: float = 0.2
    center_until: float = 1.0

    def __call__(self, explorer: Explorer, layer: str) -> View:
        seen = reach(explorer, layer)
        if seen is None:
            return self.deep
        first = reach(explorer, explorer.first_conv.name)
        if seen < self.deep_from or (first is not None and seen <= first):
            return self.shallow
        if self.center_from <= seen <= self.center_until:
            return replace(self.deep, crop="center")
        return self.deep


def resolve(default: View, rule: str, display: str, crop: str) -> View:
    """The view a selection shows: each of ``rule``, ``display``, ``crop`` as chosen, or ``default``'s where it is
    ``"auto"``."""
    return View(default.rule if rule == AUTO else rule, default.display if display == AUTO else display,
                default.crop if crop == AUTO else crop)


def view_box(field: Sequence[int] | None, crop: str, size: Sequence[int]) -> list[int] | None:
    """The part of the input a unit's card shows for ``crop``: its receptive field ``field`` (``"field"``) or the
    field's central half (``"center"``), widened to at least 24 px and clipped to ``size`` ``(H, W)``
    (:func:`~cnnviz_widget.encode.crop_box`); ``None`` (all of it) without a field."""
    if field is None:
        return None
    fraction = View(crop=crop).fraction
    shown = field if fraction == 1.0 else encode.central_box(field, fraction)
    return encode.crop_box(shown, size)


def view_state(view: View, rule: str, display: str, crop: str) -> dict[str, Any]:
    """``view`` of a unit card, top-9 panel or layer-atlas page: what it shows and why.

    ``{rule, display, crop, auto, text, why}``: the resolved view, which of ``rule`` / ``display`` / ``crop`` were
    ``"auto"`` (resolved by depth), the view in words and why it is shown (``"the clearest view at this depth"``,
    ``"your choice"``, or part by part: ``"rule: your choice; display and crop: the clearest at this depth"``).
    """
    chosen = {"rule": rule, "display": display, "crop": crop}
    auto = [name for name, value in chosen.items() if value == AUTO]
    if len(auto) == len(chosen):
        why = "the paper's view, the clearest at this depth" if view == PAPER_VIEW else "the clearest view at this depth"
    elif not auto:
        why = "your choice"
    else:
        mine = [name for name in chosen if name not in auto]
        why = f"{' and '.join(mine)}: your choice; {' and '.join(auto)}: the clearest at this depth"
    return {"rule": view.rule, "display": view.display, "crop": view.crop, "auto": auto, "text": view.text,
            "why": why}
