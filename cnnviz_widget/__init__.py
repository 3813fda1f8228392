"""cnnviz-widget: see what a convolutional network has learned (Zeiler & Fergus, 2013), for any PyTorch CNN.

Names are imported on first use: ``import cnnviz_widget`` alone costs nothing, so the Jupyter server extension
``cnnviz_widget.nodelay`` does not pull torch into the server, and ``CNNViz`` pulls in ipywidgets/anywidget only
when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import (
        DEFAULT_MODEL,
        MAX_PIXELS,
        RULES,
        Explorer,
        ImagePreprocess,
        LayerInfo,
        ModelSpec,
        UnitRequest,
        load_image,
        load_model,
    )
    from .errors import CNNVizError, ImageError, LayerError, ModelError, WeightsUnavailableError
    from .views import PAPER_VIEW, DepthViews, View
    from .widget import CNNViz

__version__ = "0.1.0"

_WHERE = {
    **dict.fromkeys(["DEFAULT_MODEL", "MAX_PIXELS", "RULES", "Explorer", "ImagePreprocess", "LayerInfo", "ModelSpec",
                     "UnitRequest", "load_image", "load_model"], ".engine"),
    **dict.fromkeys(["CNNVizError", "ImageError", "LayerError", "ModelError", "WeightsUnavailableError"], ".errors"),
    **dict.fromkeys(["PAPER_VIEW", "DepthViews", "View"], ".views"),
    "CNNViz": ".widget",
}

__all__ = [
    "DEFAULT_MODEL", "MAX_PIXELS", "PAPER_VIEW", "RULES", "CNNViz", "CNNVizError", "DepthViews", "Explorer",
    "ImageError", "ImagePreprocess", "LayerError", "LayerInfo", "ModelError", "ModelSpec", "UnitRequest", "View",
    "WeightsUnavailableError", "__version__", "load_image", "load_model",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'cnnviz_widget' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once: later lookups (and `cnnviz_widget.MAX_PIXELS = ...`) see the module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
