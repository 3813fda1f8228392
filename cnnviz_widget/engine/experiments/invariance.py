"""Invariance curves (Zeiler & Fergus 2013, Fig. 5): how much do features move when the image is translated,
scaled or rotated — and does the prediction survive?

For one image and each transform, a sweep of amounts; at each amount, the Euclidean distance between the feature
vectors of the original and the transformed image at chosen layers (by default the first convolution, "layer 1",
and the penultimate layer), and the probability of the true class.

**How a transform is applied.** Amounts are measured in the model's input frame (pixels of the ``size``×``size``
input), about its centre, but the transform is applied to the **original image, before preprocessing**: the
photo is warped (PIL, bilinear) and then resized and cropped exactly as the model expects. So real image content
beyond the crop moves into view where there is some; where there is none the uncovered area takes the **dataset
mean colour** of the preprocessing (rounded to 8 bits — ``0`` in model space), as the occluder does.

* ``"translate"``: vertical shift by ``t`` pixels, content moving **down** for ``t > 0`` (default −60…+60 by 5).
* ``"scale"``: zoom by ``s`` about the centre, ``s > 1`` enlarging the content (default 1…1.8 by 0.05).
* ``"rotate"``: rotation by ``θ`` degrees **counter-clockwise** on screen about the centre (default 0…350 by 10).

With an :class:`~.preprocess.ImagePreprocess` the model's frame is mapped onto the original through its crop box
(and a preprocessing that squashes a non-square image to a square, ``resize=None``, is undone for the rotation, so
the model sees a true rotation). A model input given as a tensor is warped as the picture it shows. Originals more
than twice the resolution the model sees are reduced first (the transforms then run on that copy, the canonical
image included), which keeps a sweep fast on large photos.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from ...errors import CNNVizError, ModelError
from ..explorer import Explorer
from ..model.capture import eval_mode, fast_layout, model_output, run_to
from ..model.images import load_image
from ..model.preprocess import ImagePreprocess
from ..progress import Progress, check_cancel, report
from .common import chosen_target, class_label, penultimate_layer

__all__ = ["DEFAULT_SWEEPS", "TRANSFORMS", "InvarianceCurve", "InvarianceCurves", "invariance_curves",
           "transform_image"]

#: Transform name → unit of its amount.
TRANSFORMS = {"translate": "px", "scale": "×", "rotate": "°"}
#: The paper's sweeps.
DEFAULT_SWEEPS: dict[str, np.ndarray] = {
    "translate": np.arange(-60, 61, 5, dtype=np.float64),
    "scale": np.round(np.arange(1.0, 1.8001, 0.05), 2),
    "rotate": np.arange(0, 351, 10, dtype=np.float64),
}
#: Fill colour when the preprocessing's mean is unknown (a custom preprocess callable).
NEUTRAL_GRAY = (128, 128, 128)


@dataclass(frozen=True)
class InvarianceCurve:
    """One transform's sweep.

    Attributes:
        transform: ``"translate"``, ``"scale"`` or ``"rotate"``; ``unit``: ``"px"``, ``"×"`` or ``"°"``.
        values: ``float32 [K]`` — the amounts.
        distance: layer name → ``float32 [K]``, ‖f(transformed) − f(original)‖₂ of that layer's flattened output.
        probability: ``float32 [K]`` — probability of the target class.
        top_class: ``int64 [K]`` — the most probable class; ``top_probability`` ``float32 [K]`` its probability.
        images: ``uint8 [K, H, W, 3]`` — each transformed image as the model saw it (``None`` if not kept).
    """

    transform: str
    unit: str
    values: np.ndarray
    distance: dict[str, np.ndarray]
    probability: np.ndarray
    top_class: np.ndarray
    top_probability: np.ndarray
    images: np.ndarray | None


@dataclass(frozen=True)
class InvarianceCurves:
    """The result of :func:`invariance_curves`.

    Attributes:
        curves: transform name → :class:`InvarianceCurve`, in the order asked.
        layers: the layers measured.
        reference_norm: layer → ‖f(original)‖₂ (divide a distance by it for a relative change).
        target, target_label: the class whose probability is followed; ``reference_probability`` its probability
            for the original.
        canonical: ``uint8 [H, W, 3]`` — the original as the model saw it (the slider's other side).
        fill: the RGB colour of uncovered areas.
        labels: class names, or ``None``.
    """

    curves: dict[str, InvarianceCurve]
    layers: list[str]
    reference_norm: dict[str, float]
    target: int
    target_label: str
    reference_probability: float
    canonical: np.ndarray
    fill: tuple[int, int, int]
    labels: list[str] | None


# ------------------------------------------------------------------------------------------------ geometry
def _affine(transform: str, amount: float, center: tuple[float, float]) -> np.ndarray:
    """3×3 matrix of the transform in (x, y) pixel coordinates, y down, about ``center``."""
    cx, cy = center
    to_center = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    if transform == "translate":
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, float(amount)], [0.0, 0.0, 1.0]])
    if transform == "scale":
        if not amount > 0:
            raise CNNVizError(f"scale factors must be positive, not {amount!r} (1 is the original, 1.8 zooms in 1.8×)")
        core = np.diag([float(amount), float(amount), 1.0])
    elif transform == "rotate":
        theta = math.radians(float(amount))
        c, s = math.cos(theta), math.sin(theta)
        # Counter-clockwise on screen with y pointing down: a point right of the centre moves up.
        core = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    else:
        raise CNNVizError(f"unknown transform {transform!r}; choose from {', '.join(TRANSFORMS)}")
    return back @ core @ to_center


def transform_image(picture: Image.Image, transform: str, amount: float, *,
                    frame: np.ndarray | None = None, frame_size: tuple[float, float] | None = None,
                    fill: tuple[int, int, int] = NEUTRAL_GRAY) -> Image.Image:
    """Warp ``picture`` by a transform defined in a model frame.

    Args:
        picture: the original (RGB).
        transform, amount: see the module docstring.
        frame: 3×3 matrix from original pixel coordinates to the model frame (default: the identity).
        frame_size: ``(width, height)`` of the model frame, whose centre the transform turns about (default: the
            picture's size).
        fill: RGB colour of areas with no content.
    """
    frame = np.eye(3) if frame is None else frame
    width, height = frame_size if frame_size is not None else picture.size
    forward = _affine(transform, amount, (width / 2.0, height / 2.0))
    # PIL maps each output pixel back to its source: original → frame → untransform → original.
    # Rounding drops float dust (cos 90° = 6e-17) that would make PIL blend a neighbour into exact right angles.
    source = np.round(np.linalg.inv(frame) @ np.linalg.inv(forward) @ frame, 10)
    if np.allclose(source, np.eye(3), rtol=0, atol=1e-12):
        return picture.copy()
    data = tuple(float(v) for v in source[:2].reshape(-1))
    return picture.transform(picture.size, Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR,
                             fillcolor=fill)


def _mean_rgb(pre: ImagePreprocess) -> tuple[int, int, int]:
    # The pixel value that normalises to 0.
    values = [min(max(m * 255.0 / pre.scale, 0.0), 255.0) for m in pre.mean]
    if pre.channel_order == "L":
        values = values * 3
    elif pre.channel_order == "BGR":
        values = values[::-1]
    return tuple(round(v) for v in values)  # type: ignore[return-value]


@dataclass
class _Setup:
    picture: Image.Image
    frame: np.ndarray
    frame_size: tuple[float, float]
    prepare: Callable[[Image.Image], torch.Tensor]
    fill: tuple[int, int, int]


def _setup(explorer: Explorer, image: Any, fill: tuple[int, int, int] | None, transforms: Sequence[str]) -> _Setup:
    pre = explorer.spec.preprocess
    is_input = isinstance(image, torch.Tensor) and tuple(image.shape) == tuple(explorer.spec.input_shape)
    if isinstance(pre, ImagePreprocess):
        chosen_fill = fill or _mean_rgb(pre)
        if is_input:
            picture = Image.fromarray(explorer.to_pixels(image))
            return _Setup(picture, np.eye(3), (float(pre.size), float(pre.size)),
                          dataclasses.replace(pre, resize=None), chosen_fill)
        picture = load_image(image)
        left, top, right, bottom = pre.crop_box(picture.width, picture.height)
        reduce = min(right - left, bottom - top) / (2.0 * pre.size)
        if reduce > 1.0:
            picture = picture.resize((max(1, round(picture.width / reduce)), max(1, round(picture.height / reduce))),
                                     resample=Image.Resampling.BILINEAR, reducing_gap=2.0)
            left, top, right, bottom = pre.crop_box(picture.width, picture.height)
        frame = np.array([[pre.size / (right - left), 0.0, -left * pre.size / (right - left)],
                          [0.0, pre.size / (bottom - top), -top * pre.size / (bottom - top)],
                          [0.0, 0.0, 1.0]])
        return _Setup(picture, frame, (float(pre.size), float(pre.size)), pre, chosen_fill)
    if is_input:
        raise ModelError(
            "with a custom preprocess the transforms need the original image (a PIL image, array, path or bytes), "
            "not the model's input tensor — pass the image itself"
        )
    picture = load_image(image)
    if "rotate" in transforms and picture.width != picture.height:
        raise CNNVizError(
            f"cannot rotate a non-square {picture.width}×{picture.height} image for a custom preprocess: how it is "
            "fitted into the model's input is unknown, so a rotation could come out sheared — crop the image "
            "square first, or give the model an ImagePreprocess (its crop box defines the model's frame)"
        )
    return _Setup(picture, np.eye(3), (float(picture.width), float(picture.height)), pre,
                  fill or NEUTRAL_GRAY)


# ---------------------------------------------------------------------------------------------- the sweep
def invariance_curves(
    explorer: Explorer,
    image: Any,
    *,
    transforms: Sequence[str] | Mapping[str, Sequence[float]] = ("translate", "scale", "rotate"),
    layers: Sequence[str] | None = None,
    target: int | None = None,
    fill: tuple[int, int, int] | None = None,
    keep_images: bool = True,
    batch_size: int = 16,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> InvarianceCurves:
    """Sweep translations, scalings and rotations of ``image`` (Zeiler & Fergus, Fig. 5).

    Args:
        explorer: the model.
        image: the original image (anything ``load_image`` reads), or the model's input ``Tensor[C, H, W]``.
        transforms: names (the paper's sweeps, :data:`DEFAULT_SWEEPS`) or ``{name: amounts}``.
        layers: layers whose feature vectors are compared; default: the first convolution and the penultimate
            layer (:func:`penultimate_layer`).
        target: the true class, if known; default: the class predicted for the original.
        fill: RGB colour of uncovered areas; default: the preprocessing's mean colour.
        keep_images: return the transformed images (``uint8``) for a canonical-vs-transformed slider.
        batch_size: transformed images per forward pass.
        progress, cancel: ``progress(done, total)`` after each batch; set ``cancel`` to stop (raises
            :class:`~.progress.Cancelled`).

    Raises:
        CNNVizError: an unknown transform, a non-positive scale, or the rotation of a non-square image whose fitting
            into the model is unknown (custom preprocess).
        LayerError: an unknown layer, or ``target`` outside the model's classes.
    """
    if not isinstance(explorer, Explorer):
        raise TypeError(f"invariance_curves takes an Explorer (Explorer(model)), not {type(explorer).__name__}")
    sweeps = {name: DEFAULT_SWEEPS.get(name) for name in transforms} if not isinstance(transforms, Mapping) else {
        name: np.asarray(values, dtype=np.float64) for name, values in transforms.items()}
    for name, values in sweeps.items():
        if name not in TRANSFORMS:
            raise CNNVizError(f"unknown transform {name!r}; choose from {', '.join(TRANSFORMS)}")
        if values is None or len(values) == 0:
            raise CNNVizError(f"transform {name!r} needs at least one amount")
        for v in values:
            _affine(name, float(v), (0.0, 0.0))  # validates amounts
    setup = _setup(explorer, image, fill, list(sweeps))
    model = explorer.model
    device, dtype = explorer.spec.device, explorer.spec.dtype
    canonical_x = setup.prepare(setup.picture)

    with eval_mode(model), torch.no_grad():
        logits = model_output(model(fast_layout(model, canonical_x[None].to(device, dtype)))).to("cpu", torch.float32).flatten(1)
        n_classes = logits.shape[1]
        names = list(layers) if layers is not None else list(dict.fromkeys(
            [explorer.first_conv.name, penultimate_layer(explorer, n_classes)]))
        infos = [explorer.layer(n) for n in names]
        captured, _ = run_to(model, canonical_x[None].to(device, dtype), infos)
        reference = {n: captured[info.name].to("cpu", torch.float32).flatten(1) for n, info in zip(names, infos)}
        ref_probs = torch.softmax(logits, dim=1)[0]
        target = chosen_target(target, ref_probs)

        jobs = [(name, float(v)) for name, values in sweeps.items() for v in values]
        results: list[tuple[dict[str, float], float, int, float, np.ndarray | None]] = []
        report(progress, 0, len(jobs))
        for start in range(0, len(jobs), batch_size):
            check_cancel(cancel, "invariance")
            chunk = jobs[start:start + batch_size]
            batch = torch.stack([setup.prepare(transform_image(
                setup.picture, name, amount, frame=setup.frame, frame_size=setup.frame_size, fill=setup.fill))
                for name, amount in chunk])
            captured, out = run_to(model, batch.to(device, dtype), infos, stop=False)
            probs = torch.softmax(model_output(out).to("cpu", torch.float32).flatten(1), dim=1)
            dists = {n: torch.linalg.vector_norm(captured[info.name].to("cpu", torch.float32).flatten(1) - reference[n],
                                                 dim=1) for n, info in zip(names, infos)}
            for k in range(len(chunk)):
                results.append(({n: float(dists[n][k]) for n in names}, float(probs[k, target]),
                                int(torch.argmax(probs[k])), float(probs[k].max()),
                                explorer.to_pixels(batch[k]) if keep_images else None))
            report(progress, min(start + batch_size, len(jobs)), len(jobs))

    curves: dict[str, InvarianceCurve] = {}
    offset = 0
    for name, values in sweeps.items():
        rows = results[offset:offset + len(values)]
        offset += len(values)
        curves[name] = InvarianceCurve(
            transform=name, unit=TRANSFORMS[name], values=np.asarray(values, dtype=np.float32),
            distance={n: np.array([r[0][n] for r in rows], dtype=np.float32) for n in names},
            probability=np.array([r[1] for r in rows], dtype=np.float32),
            top_class=np.array([r[2] for r in rows], dtype=np.int64),
            top_probability=np.array([r[3] for r in rows], dtype=np.float32),
            images=np.stack([r[4] for r in rows]) if keep_images else None,  # type: ignore[misc]
        )
    labels = explorer.spec.labels
    return InvarianceCurves(
        curves=curves, layers=names,
        reference_norm={n: float(torch.linalg.vector_norm(reference[n][0])) for n in names},
        target=int(target), target_label=class_label(labels, target),
        reference_probability=float(ref_probs[target]), canonical=explorer.to_pixels(canonical_x),
        fill=tuple(setup.fill), labels=list(labels) if labels is not None else None,  # type: ignore[arg-type]
    )
