"""Preprocessing: from any image to exactly the tensor a model takes, and back to pixels for display."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from .images import load_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Caffe's ImageNet mean pixel, in B, G, R order and 0–255 units (SqueezeNet, AlexNet/ZFNet-era models).
CAFFE_MEAN_BGR = (104.006, 116.669, 122.679)

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
             "nearest": Image.Resampling.NEAREST}


@dataclass(frozen=True)
class ImagePreprocess:
    """Resize the shorter side to ``resize``, centre-crop ``size``×``size``, scale, reorder channels, normalise.

    The tensor is ``((pixel / 255) * scale - mean) / std`` per channel, channels in ``channel_order``
    (``"RGB"``, ``"BGR"`` for Caffe-trained models, or ``"L"`` for grayscale models). With ``resize=None`` the
    whole image is squashed to ``size``×``size`` (small-image datasets such as MNIST or CIFAR).
    """

    size: int = 224
    resize: int | None = 256
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    scale: float = 1.0
    channel_order: Literal["RGB", "BGR", "L"] = "RGB"
    interpolation: Literal["bilinear", "bicubic", "nearest"] = "bilinear"

    def __post_init__(self) -> None:
        channels = 1 if self.channel_order == "L" else 3
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(
                f"mean and std need {channels} values for channel_order={self.channel_order!r}, "
                f"got {len(self.mean)} and {len(self.std)}"
            )
        if self.size < 1 or (self.resize is not None and self.resize < 1):
            raise ValueError(f"size and resize must be positive, got size={self.size}, resize={self.resize}")

    @classmethod
    def caffe(cls, size: int = 227, resize: int = 256) -> ImagePreprocess:
        """Caffe's ImageNet convention: BGR, 0–255, mean pixel subtracted, no division."""
        return cls(size=size, resize=resize, mean=CAFFE_MEAN_BGR, std=(1.0, 1.0, 1.0), scale=255.0,
                   channel_order="BGR")

    @classmethod
    def imagenet(cls, size: int = 224, resize: int = 256, interpolation: str = "bilinear") -> ImagePreprocess:
        """torchvision's ImageNet convention: RGB, 0–1, normalised by the ImageNet mean and std."""
        return cls(size=size, resize=resize, interpolation=interpolation)  # type: ignore[arg-type]

    @property
    def channels(self) -> int:
        return 1 if self.channel_order == "L" else 3

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)

    def crop_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The part of a ``width``×``height`` original that becomes the model's input: (left, top, right, bottom)."""
        if self.resize is None:
            return (0.0, 0.0, float(width), float(height))
        # torchvision's Resize(resize) then CenterCrop(size), with its integer rounding, mapped back to the original.
        if width <= height:
            rw, rh = self.resize, int(self.resize * height / width)
        else:
            rw, rh = int(self.resize * width / height), self.resize
        left, top = round((rw - self.size) / 2.0), round((rh - self.size) / 2.0)
        sx, sy = width / rw, height / rh
        return (left * sx, top * sy, (left + self.size) * sx, (top + self.size) * sy)

    def geometry(self, image: Any) -> Image.Image:
        """The image as the model sees it, before colour normalisation: ``size``×``size``, RGB."""
        img = load_image(image)
        box = self.crop_box(img.width, img.height)
        # Resizing only the crop box gives torchvision's resize-then-crop without materialising a huge resized image.
        return img.resize((self.size, self.size), resample=_RESAMPLE[self.interpolation], reducing_gap=None, box=box)

    def __call__(self, image: Any) -> torch.Tensor:
        """Tensor[C, size, size] ready for the model (no batch dimension)."""
        img = self.geometry(image)
        if self.channel_order == "L":
            arr = np.asarray(img.convert("L"), dtype=np.float32)[None]
        else:
            arr = np.asarray(img, dtype=np.float32).transpose(2, 0, 1)
            if self.channel_order == "BGR":
                arr = arr[::-1]
        arr = arr * (self.scale / 255.0)
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        return torch.from_numpy(np.ascontiguousarray((arr - mean) / std))

    def to_pixels(self, x: torch.Tensor) -> np.ndarray:
        """Undo the normalisation: Tensor[C,H,W] in model space → uint8 H×W×3 RGB."""
        arr = x.detach().to("cpu", torch.float32).numpy()
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        arr = (arr * std + mean) * (255.0 / self.scale)
        if self.channel_order == "BGR":
            arr = arr[::-1]
        elif self.channel_order == "L":
            arr = np.repeat(arr, 3, axis=0)
        return np.clip(np.round(arr), 0, 255).astype(np.uint8).transpose(1, 2, 0)

    def describe(self) -> str:
        """A stable description, part of cache keys."""
        return repr(self)


def minmax_pixels(x: torch.Tensor) -> np.ndarray:
    """Fallback display for a preprocessing that cannot be undone: stretch each image to 0–255."""
    arr = x.detach().to("cpu", torch.float32)
    arr = (arr - arr.min()) / (arr.max() - arr.min()).clamp_min(1e-12) * 255.0
    if arr.shape[0] == 1:
        arr = arr.expand(3, -1, -1)
    elif arr.shape[0] != 3:
        arr = arr[:3] if arr.shape[0] > 3 else torch.cat([arr, arr[-1:].expand(3 - arr.shape[0], -1, -1)])
    return arr.round().to(torch.uint8).permute(1, 2, 0).numpy()
