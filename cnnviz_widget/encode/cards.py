"""Figures of a unit for slides, handouts and notebooks: the unit card as one picture
(:meth:`cnnviz_widget.CNNViz.unit_card`) and its top-k drawn as the paper's Figure 2 (:func:`top9_figure`)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from .pixels import colorize, fit_picture
from .projections import central_box, crop_box, projection_display

__all__ = ["CARD_PICTURE", "CARD_TILE", "UnitCard", "top9_figure", "unit_card"]


#: Side of each picture on a unit card, and of each top-9 tile.
CARD_PICTURE = 192


CARD_TILE = 64


_CARD_MARGIN = 12


_CARD_GAP = 8


_CARD_BACKGROUND = (255, 255, 255)


_CARD_TEXT = (20, 20, 20)


_CARD_MUTED = (100, 100, 100)


_CARD_FIELD = (0, 200, 255)


@dataclass(frozen=True)
class UnitCard:
    """A unit card as one picture (for slides and handouts), with where each part sits.

    Attributes:
        image: the card, RGB.
        boxes: part name (``"input"``, ``"map"``, ``"projection"``, ``"patch"``, ``"top9_projections"``,
            ``"top9_patches"``) → ``(top, left, bottom, right)`` in the card, half-open.
    """

    image: Image.Image
    boxes: dict[str, tuple[int, int, int, int]]

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def unit_card(
    *,
    title: str,
    lines: Sequence[str],
    picture: np.ndarray,
    field: Sequence[int] | None,
    crop: Sequence[int] | None,
    activation: dict[str, Any],
    projection: np.ndarray,
    captions: Sequence[str] = ("input · receptive field", "activation map", "projection", "image patch"),
    top9: tuple[np.ndarray, np.ndarray] | None = None,
    top9_title: str = "Top-9 dataset exemplars: projections · image patches",
    footer: str = "cnnviz-widget · Zeiler & Fergus, Visualizing and Understanding Convolutional Networks (2014)",
    side: int = CARD_PICTURE,
) -> UnitCard:
    """Draw a unit card: its name, the input with the receptive field, the activation map, the projection and the
    image patch side by side, and — when given — its top-9 exemplars (projections beside patches, 3 a row).

    Args:
        title: the unit's name (model · layer · channel); ``lines``: text lines under it (rule, position, stats).
        picture: the input as the model saw it, ``uint8 [H, W, 3]``.
        field: the receptive field ``(top, left, bottom, right)`` in ``picture`` (drawn as a box), or ``None``.
        crop: the part of ``picture`` the projection covers (the patch), or ``None`` for all of it.
        activation: the unit card's map (:func:`activation_map`): codes coloured with its colour map.
        projection: the projection's pixels, ``uint8 [h, w, 3]`` (:func:`projection_pixels`).
        top9: ``(projections, patches)``, each ``uint8 [N, h, w, 3]``, strongest first.
        side: the cell each of the four pictures is fitted into (pixels).
    """
    from PIL import ImageDraw

    codes = np.frombuffer(bytes(activation["codes"]["data"]), np.uint8).reshape(activation["codes"]["shape"])
    in_height, in_width = picture.shape[:2]
    scale = min(side / in_height, side / in_width)
    size = (max(1, round(in_width * scale)), max(1, round(in_height * scale)))
    shown = np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.BILINEAR))
    patch = picture if crop is None else picture[crop[0]:crop[2], crop[1]:crop[3]]
    pictures = {"input": shown, "map": fit_picture(colorize(codes, activation["colormap"]), side),
                "projection": fit_picture(projection, side), "patch": fit_picture(np.ascontiguousarray(patch), side)}
    title_font, text_font, small_font = _font(20), _font(14), _font(12)
    line_height, small_height = 19, 16
    top = _CARD_MARGIN + 26 + line_height * len(lines) + _CARD_GAP
    row_height = side + small_height + _CARD_GAP
    card_width = 2 * _CARD_MARGIN + 4 * side + 3 * _CARD_GAP
    grid = 0
    if top9 is not None and len(top9[0]):
        rows = math.ceil(len(top9[0]) / 3)
        grid = 22 + rows * (CARD_TILE + 3) + _CARD_GAP
    height = top + row_height + grid + small_height + _CARD_MARGIN
    card = Image.new("RGB", (card_width, height), _CARD_BACKGROUND)
    draw = ImageDraw.Draw(card)
    draw.text((_CARD_MARGIN, _CARD_MARGIN), title, font=title_font, fill=_CARD_TEXT)
    for i, line in enumerate(lines):
        draw.text((_CARD_MARGIN, _CARD_MARGIN + 28 + i * line_height), line, font=text_font, fill=_CARD_MUTED)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    for i, (name, caption) in enumerate(zip(pictures, captions)):
        left = _CARD_MARGIN + i * (side + _CARD_GAP)
        pixels = pictures[name]
        card.paste(Image.fromarray(pixels), (left, top))
        boxes[name] = (top, left, top + pixels.shape[0], left + pixels.shape[1])
        draw.text((left, top + side + 2), caption, font=small_font, fill=_CARD_MUTED)
    if field is not None:  # the receptive field on the input, clipped to it
        t, lft, b, r = (round(min(max(v, 0), limit) * scale)
                        for v, limit in zip(field, (in_height, in_width, in_height, in_width)))
        if b > t and r > lft:
            draw.rectangle([_CARD_MARGIN + lft, top + t, _CARD_MARGIN + r - 1, top + b - 1], outline=_CARD_FIELD,
                           width=2)
    if grid:
        projections, patches = top9
        y = top + row_height
        draw.text((_CARD_MARGIN, y), top9_title, font=text_font, fill=_CARD_TEXT)
        y += 22
        for name, tiles, offset in (("top9_projections", projections, 0), ("top9_patches", patches, 1)):
            x = _CARD_MARGIN + offset * (3 * (CARD_TILE + 3) + 2 * _CARD_GAP)
            for i, tile in enumerate(tiles):
                fitted = fit_picture(tile, CARD_TILE)
                card.paste(Image.fromarray(fitted), (x + (i % 3) * (CARD_TILE + 3), y + (i // 3) * (CARD_TILE + 3)))
            boxes[name] = (y, x, y + math.ceil(len(tiles) / 3) * (CARD_TILE + 3) - 3, x + 3 * (CARD_TILE + 3) - 3)
    draw.text((_CARD_MARGIN, height - _CARD_MARGIN - small_height + 2), footer, font=small_font, fill=_CARD_MUTED)
    return UnitCard(image=card, boxes=boxes)


def top9_figure(patches: Sequence[np.ndarray], projections: Sequence[torch.Tensor], *, mode: str = "raw",
                channel_order: str = "RGB", fraction: float = 1.0, tile: int = 64, gap: int = 2,
                cols: int = 3) -> np.ndarray:
    """A unit's top-k exemplars drawn as Zeiler & Fergus's Figure 2 draws them: the projections in a grid on the
    left, the image patches they come from in the same places on the right, strongest first, ``cols`` a row.

    Every exemplar is shown on the same box of its receptive field — all of it, or its central ``fraction``
    (:func:`central_box`, widened by :func:`crop_box` to at least 24 px) — the projection with
    :func:`projection_display` in ``mode`` (each on its own robust scale), the patch as the model saw it; both are
    fitted to ``tile`` px (:func:`fit_picture`: enlarged by a whole factor with nearest neighbour, or shrunk).

    Args:
        patches: the exemplars' receptive fields (``Exemplar.patch``, ``uint8 [h, w, 3]``, all one size).
        projections: the unit projected onto each (``Exemplar.projection``, ``[C, h, w]``).
        mode: the projections' display (:data:`PROJECTION_DISPLAYS`).
        channel_order: the model's input channel order (``"RGB"``, ``"BGR"`` or ``"L"``).
        fraction: the part of the field shown, in (0, 1].
        tile: the side each picture is fitted to, in pixels.
        gap: white pixels between pictures; the two grids are ``4 * gap`` apart.
        cols: pictures a row.

    Returns:
        ``uint8 [H, W, 3]`` on white.

    Raises:
        ValueError: no exemplars, or as many patches as projections.
    """
    if len(patches) != len(projections) or not patches:
        raise ValueError(f"top9_figure takes as many patches as projections, at least one: got {len(patches)} and "
                         f"{len(projections)}")
    h, w = np.shape(patches[0])[:2]
    field = (0, 0, h, w)
    box = crop_box(central_box(field, fraction) if fraction < 1 else field, (h, w))
    top, left, bottom, right = box
    shown = [fit_picture(projection_display(p, mode, channel_order, box=box), tile) for p in projections]
    cut = [fit_picture(np.ascontiguousarray(np.asarray(p, dtype=np.uint8)[top:bottom, left:right]), tile)
           for p in patches]
    th, tw = shown[0].shape[:2]
    rows = math.ceil(len(shown) / cols)
    grid_width = cols * tw + (cols - 1) * gap
    figure = np.full((rows * th + (rows - 1) * gap, 2 * grid_width + 4 * gap, 3), 255, np.uint8)
    for i, (projection, patch) in enumerate(zip(shown, cut)):
        y, x = (i // cols) * (th + gap), (i % cols) * (tw + gap)
        figure[y:y + th, x:x + tw] = projection
        figure[y:y + th, grid_width + 4 * gap + x:grid_width + 4 * gap + x + tw] = patch
    return figure
