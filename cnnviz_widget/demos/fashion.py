"""Train your own: Fashion-MNIST, a small ZF-like CNN, and a trainer that keeps a checkpoint per epoch.

For classrooms: the network trains in about two minutes on a laptop CPU and its first layer has 7×7 filters, large
enough to see edges and blobs form. Its checkpoints feed the feature-evolution tool (the paper's Fig. 4).

The data is read from Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``), from a
folder you name, or — where you are online and ask for it — downloaded by torchvision.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..engine.model.preprocess import ImagePreprocess
from ..errors import CNNVizError

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MEAN, STD = 0.2860, 0.3530  # of the training images, in 0–1 units


def preprocess() -> ImagePreprocess:
    """How :class:`SmallZFNet` sees an image: 28×28 gray, normalised by the training set's mean and std."""
    return ImagePreprocess(size=28, resize=None, mean=(MEAN,), std=(STD,), channel_order="L")


def _read_idx(path: Path, offset: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return np.frombuffer(fh.read(), dtype=np.uint8, offset=offset)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        for candidate in (folder / name, folder / "FashionMNIST" / "raw" / name):
            if candidate.is_file():
                return candidate
    return None


def load_data(split: str = "train", root: str | os.PathLike | None = None,
              download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST images (``uint8 [N, 28, 28]``) and labels (``int64 [N]``).

    Args:
        split: ``"train"`` (60 000) or ``"test"`` (10 000).
        root: a folder holding the four IDX files (gzipped or not); default: Debian's package folder.
        download: if the files are nowhere, let torchvision download them into ``root`` (needs internet).
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folders = [Path(root)] if root is not None else []
    folders.append(DEBIAN_DIR)
    image_stem, label_stem = _FILES[split]
    for folder in folders:
        images, labels = _find(folder, image_stem), _find(folder, label_stem)
        if images is not None and labels is not None:
            x = _read_idx(images, 16).reshape(-1, 28, 28)
            y = _read_idx(labels, 8).astype(np.int64)
            return torch.from_numpy(x.copy()), torch.from_numpy(y)
    if download:
        import torchvision

        target = Path(root) if root is not None else Path.home() / ".cache" / "cnnviz-widget"
        ds = torchvision.datasets.FashionMNIST(str(target), train=(split == "train"), download=True)
        return ds.data.clone(), ds.targets.clone()
    raise CNNVizError(
        f"Fashion-MNIST files not found in {', '.join(str(f) for f in folders)} — install Debian's package "
        "(`apt-get install dataset-fashion-mnist`), pass root= a folder with the IDX files, or download=True online"
    )


class SmallZFNet(nn.Module):
    """A five-convolution network in the shape of Zeiler & Fergus's, sized for 28×28 gray images.

    ``features``: conv1 7×7 (24) → ReLU → max-pool 3/2 → conv2 5×5 (48) → ReLU → max-pool 3/2 → conv3, conv4
    3×3 (64) → conv5 3×3 (48) → ReLU → max-pool 2/2; ``classifier``: 432 → 256 → 10. About 11 M multiply-adds
    per image: one epoch of 60 000 images is roughly a minute on two CPU cores.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 24, 7, padding=3), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1),
            nn.Conv2d(24, 48, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1),
            nn.Conv2d(48, 64, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(64, 48, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(48 * 3 * 3, 256), nn.ReLU(inplace=True), nn.Linear(256, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@dataclass
class EpochReport:
    """What one epoch of :func:`train` did."""

    epoch: int
    loss: float
    accuracy: float | None
    seconds: float
    checkpoint: Path | None


def _normalise(images: torch.Tensor) -> torch.Tensor:
    return (images.float().div(255.0).sub(MEAN).div(STD)).unsqueeze(1)


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``images`` (uint8 [N,28,28]) that ``model`` classifies as ``labels``."""
    was = model.training
    model.eval()
    try:
        correct = 0
        for i in range(0, len(images), batch_size):
            correct += int((model(_normalise(images[i:i + batch_size])).argmax(1) == labels[i:i + batch_size]).sum())
    finally:
        model.train(was)
    return correct / max(len(images), 1)


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 2,
    batch_size: int = 256,
    lr: float = 1e-3,
    checkpoint_dir: str | os.PathLike | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    seed: int = 0,
    progress: Callable[[int, int, float], None] | bool = True,
) -> list[EpochReport]:
    """Train ``model`` with Adam and cross-entropy, saving ``epoch_00.pth`` (the initial weights) and then one
    state dict per epoch in ``checkpoint_dir``.

    Args:
        images, labels: uint8 ``[N,28,28]`` and int64 ``[N]`` (see :func:`load_data`).
        test: optional (images, labels) to report accuracy after each epoch.
        seed: fixes the initialisation-independent randomness (shuffling, dropout).
        progress: ``True`` for a tqdm bar, ``False`` for none, or ``callback(step, total_steps, loss)``.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), folder / "epoch_00.pth")
    steps_per_epoch = -(-len(images) // batch_size)
    total = epochs * steps_per_epoch
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="training", unit="batch")
    reports = []
    step = 0
    model.train()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(len(images), generator=generator)
        running = 0.0
        for i in range(0, len(images), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(_normalise(images[idx])), labels[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            value = float(loss.detach())
            running += value * len(idx)
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{value:.3f}")
            elif callable(progress):
                progress(step, total, value)
        path = None
        if folder is not None:
            path = folder / f"epoch_{epoch:02d}.pth"
            torch.save(model.state_dict(), path)
        acc = accuracy(model, *test) if test is not None else None
        reports.append(EpochReport(epoch, running / len(images), acc, time.perf_counter() - start, path))
    if bar is not None:
        bar.close()
    model.eval()
    return reports
