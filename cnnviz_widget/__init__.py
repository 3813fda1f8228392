"""cnnviz-widget: see what a convolutional network has learned (Zeiler & Fergus, 2013), for any PyTorch CNN."""

from __future__ import annotations

from typing import Any

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

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL", "MAX_PIXELS", "RULES", "CNNVizError", "Explorer", "ImageError", "ImagePreprocess", "LayerError",
    "LayerInfo", "ModelError", "ModelSpec", "UnitRequest", "WeightsUnavailableError", "__version__", "load_image",
    "load_model",
]


def __getattr__(name: str) -> Any:
    # The widget pulls in ipywidgets/anywidget: import it only when asked for.
    if name == "CNNViz":
        from .widget import CNNViz

        return CNNViz
    raise AttributeError(f"module 'cnnviz_widget' has no attribute {name!r}")
