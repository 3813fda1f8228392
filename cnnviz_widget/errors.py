"""The errors cnnviz-widget raises. Every message names the problem and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CNNVizError(ValueError):
    """Base class of every error raised on purpose by cnnviz-widget."""


class ImageError(CNNVizError):
    """An image could not be read or is unusable (corrupt, empty, too large, too small)."""


class ModelError(CNNVizError):
    """A model cannot be loaded or inspected (no conv layer, missing weights, mismatched checkpoint)."""


class WeightsUnavailableError(ModelError):
    """Pretrained weights are neither cached nor downloadable here."""


class AppError(CNNVizError):
    """The classroom app cannot start (Voilà missing, no such notebook)."""


class LayerError(CNNVizError, KeyError):
    """Unknown layer, or a channel / position outside the layer."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def unknown_name(kind: str, name: str, choices: Iterable[str], n: int = 5, listed_by: str = ".layer_names") -> str:
    """Message for an unknown ``name`` that lists the closest valid ``choices``."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=n, cutoff=0.4)
    if not close:
        close = choices[:n]
    more = f" (and {len(choices) - len(close)} more: see {listed_by})" if len(choices) > len(close) else ""
    return f"unknown {kind} {name!r}; closest: {', '.join(repr(c) for c in close)}{more}"
