"""The engine: pure torch + numpy. Never imports ipywidgets or anywidget."""

from .datasets import ImageDataset, open_dataset
from .exemplars import Exemplar, Exemplars, LayerStats
from .explorer import Explorer
from .images import MAX_PIXELS, MIN_SIDE, load_image
from .layers import LayerInfo
from .mining import Miner, mine
from .models import DEFAULT_MODEL, ModelSpec, imagenet_labels, load_checkpoint, load_model
from .preprocess import ImagePreprocess
from .projection import UnitRequest
from .rules import RULES

__all__ = [
    "DEFAULT_MODEL", "MAX_PIXELS", "MIN_SIDE", "RULES", "Exemplar", "Exemplars", "Explorer", "ImageDataset",
    "ImagePreprocess", "LayerInfo", "LayerStats", "Miner", "ModelSpec", "UnitRequest", "imagenet_labels",
    "load_checkpoint", "load_image", "load_model", "mine", "open_dataset",
]
