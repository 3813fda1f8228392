"""The engine: pure torch + numpy. Never imports ipywidgets or anywidget."""

from .exemplars.datasets import ImageDataset, open_dataset
from .exemplars.mining import Miner, mine
from .exemplars.results import Exemplar, Exemplars, LayerStats
from .explorer import Explorer
from .model.images import MAX_PIXELS, MIN_SIDE, load_image
from .model.layers import LayerInfo
from .model.models import DEFAULT_MODEL, ModelSpec, imagenet_labels, load_checkpoint, load_model
from .model.preprocess import ImagePreprocess
from .projection.projector import UnitRequest
from .projection.rules import RULES

__all__ = [
    "DEFAULT_MODEL", "MAX_PIXELS", "MIN_SIDE", "RULES", "Exemplar", "Exemplars", "Explorer", "ImageDataset",
    "ImagePreprocess", "LayerInfo", "LayerStats", "Miner", "ModelSpec", "UnitRequest", "imagenet_labels",
    "load_checkpoint", "load_image", "load_model", "mine", "open_dataset",
]
