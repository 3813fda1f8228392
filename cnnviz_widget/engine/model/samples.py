"""Sample photos that ship inside installed packages — the offline gallery and the ``"demo"`` dataset.

Nothing is downloaded: each source is a folder inside a package found with ``importlib.util.find_spec``
(without importing it). Sources that are not installed are skipped; ``pip install cnnviz-widget[demo]`` brings
all of them.

* ``foolbox`` 3.3.4: 20 ImageNet validation photos with their class index (research-use terms apply).
* ``scikit-image``: chelsea (a cat), coffee, astronaut, rocket, motorcycle, hubble deep field, retina, …
* ``matplotlib``: Grace Hopper's portrait.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .models import imagenet_labels, package_path

__all__ = ["SamplePhoto", "imagenet_photos", "sample_photos"]

_SKIMAGE_PHOTOS = (
    ("chelsea.png", "chelsea (cat)"),
    ("coffee.png", "coffee"),
    ("astronaut.png", "astronaut"),
    ("rocket.jpg", "rocket"),
    ("motorcycle_left.png", "motorcycle"),
    ("hubble_deep_field.jpg", "hubble deep field"),
    ("retina.jpg", "retina"),
    ("horse.png", "horse (silhouette)"),
    ("brick.png", "brick wall"),
    ("grass.png", "grass"),
    ("gravel.png", "gravel"),
    ("camera.png", "cameraman"),
)


@dataclass(frozen=True)
class SamplePhoto:
    """A photo available offline.

    Attributes:
        name: short unique name shown in galleries (``"imagenet_03 · tabby"``, ``"chelsea (cat)"``).
        path: the file inside its package.
        source: the package it comes from.
        label: ImageNet class index, when known.
        label_name: what it shows in words (the pool's composites); the label where ``label`` is ``None``.
    """

    name: str
    path: Path
    source: str
    label: int | None = None
    label_name: str | None = None


@lru_cache(maxsize=1)
def imagenet_photos() -> tuple[SamplePhoto, ...]:
    """The 20 labelled ImageNet validation photos of PyPI ``foolbox`` (empty if it is not installed)."""
    folder = package_path("foolbox", "data")
    if folder is None:
        return ()
    names = imagenet_labels()
    photos = []
    for path in sorted(folder.glob("imagenet_*_*.jpg")):
        match = re.fullmatch(r"imagenet_(\d+)_(\d+)\.jpg", path.name)
        if match:
            label = int(match.group(2))
            photos.append(SamplePhoto(f"imagenet_{match.group(1)} · {names[label]}", path, "foolbox", label))
    return tuple(photos)


@lru_cache(maxsize=1)
def sample_photos() -> tuple[SamplePhoto, ...]:
    """Every sample photo found offline: skimage's first (chelsea the cat leads), then ImageNet's, then others."""
    photos: list[SamplePhoto] = []
    skimage = package_path("skimage", "data")
    if skimage is not None:
        photos += [SamplePhoto(name, skimage / file, "scikit-image") for file, name in _SKIMAGE_PHOTOS
                   if (skimage / file).is_file()]
    photos += imagenet_photos()
    mpl = package_path("matplotlib", "mpl-data", "sample_data")
    if mpl is not None and (mpl / "grace_hopper.jpg").is_file():
        photos.append(SamplePhoto("grace hopper", mpl / "grace_hopper.jpg", "matplotlib"))
    return tuple(photos)
