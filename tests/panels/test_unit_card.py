"""Unit cards as one picture (``w.unit_card()``, ``w.save_unit()``, the ``save_unit`` command): every part holds
exactly the pixels the widget shows."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from harness_bridge import TINY_LABELS, tiny_images, tiny_model

from cnnviz_widget import CNNViz, ImagePreprocess, encode

PREPROCESS = ImagePreprocess(size=16, resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


@pytest.fixture
def widget() -> CNNViz:
    return CNNViz(model=tiny_model(), preprocess=PREPROCESS, labels=TINY_LABELS, gallery=tiny_images(), layer="3",
                  channel=2)


def region(image: Image.Image, box) -> np.ndarray:
    top, left, bottom, right = box
    return np.asarray(image)[top:bottom, left:right]


def test_fit_picture_enlarges_by_whole_blocks_and_shrinks_by_means():
    tile = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    big = encode.fit_picture(tile, 7)
    assert big.shape == (6, 6, 3) and (big[:3, :3] == tile[0, 0]).all() and (big[3:, 3:] == tile[1, 1]).all()
    small = encode.fit_picture(np.full((40, 20, 3), 9, np.uint8), 10)
    assert small.shape == (10, 5, 3) and (small == 9).all()


def test_the_card_shows_the_widgets_own_pictures(widget):
    card = widget.unit_card()
    unit = widget.unit
    projection = np.asarray(encode.to_pil(unit["projection"]))
    zoom = encode.CARD_PICTURE // max(projection.shape[:2])
    assert np.array_equal(region(card.image, card.boxes["projection"]),
                          projection.repeat(zoom, axis=0).repeat(zoom, axis=1))
    codes = np.frombuffer(unit["map"]["codes"]["data"], np.uint8).reshape(unit["map"]["shape"])
    colored = encode.colorize(codes, unit["map"]["colormap"])
    zoom = encode.CARD_PICTURE // max(codes.shape)
    assert np.array_equal(region(card.image, card.boxes["map"]), colored.repeat(zoom, axis=0).repeat(zoom, axis=1))
    picture = np.asarray(encode.to_pil(widget.picture["png"]))
    top, left, bottom, right = unit["crop"]
    patch = picture[top:bottom, left:right]
    zoom = encode.CARD_PICTURE // max(patch.shape[:2])
    assert np.array_equal(region(card.image, card.boxes["patch"]), patch.repeat(zoom, axis=0).repeat(zoom, axis=1))
    assert set(card.boxes) == {"input", "map", "projection", "patch"}  # nothing mined: no top-9
    assert Image.open(io.BytesIO(card.png())).size == card.image.size


def test_the_card_carries_the_top9_once_mined(widget, tmp_path):
    widget.mine([img for _, img in tiny_images()], layers=["3"], k=3, cache_dir=tmp_path)
    assert widget.wait_exemplars(60)
    widget.channel = next(c for c in range(6) if not widget.exemplars.stats("3").dead[c])
    assert widget.wait_exemplars(60)
    assert widget.top9["state"] == "ready"
    card = widget.unit_card()
    patches = encode.sheet_tiles(widget.top9["patches"], widget.top9["count"], widget.top9["cols"],
                                 widget.top9["tile"])
    tile = encode.fit_picture(patches[0], encode.CARD_TILE)
    top, left = card.boxes["top9_patches"][:2]
    assert np.array_equal(np.asarray(card.image)[top:top + tile.shape[0], left:left + tile.shape[1]], tile)
    assert "top9_projections" in card.boxes


def test_the_card_says_which_view_it_shows_and_its_top9_is_drawn_in_it(widget, tmp_path, monkeypatch):
    drawn = []
    draw = encode.unit_card
    monkeypatch.setattr(encode, "unit_card", lambda **kwargs: drawn.append(kwargs) or draw(**kwargs))
    widget.unit_card()  # layer "3" sees half the 16-pixel input: guided backprop in gray, on the central half
    lines, captions = drawn[-1]["lines"], drawn[-1]["captions"]
    assert lines[0] == ("guided backprop · gray · central half: the clearest view at this depth; deconvnet is the "
                        "paper's rule")
    assert captions[2:] == ("projection", "image patch · central half")
    widget.rule = "deconvnet"
    widget.unit_card()
    assert drawn[-1]["lines"][0] == ("deconvnet · gray · central half: rule: your choice; display and crop: the "
                                     "clearest at this depth")
    widget.mine([img for _, img in tiny_images()], layers=["3"], k=3, cache_dir=tmp_path)
    assert widget.wait_exemplars(60)
    widget.channel = next(c for c in range(6) if not widget.exemplars.stats("3").dead[c])
    assert widget.wait_exemplars(60)
    card = widget.unit_card()
    top9 = widget.top9
    assert drawn[-1]["lines"][-1] == f"top-3 of 3 dataset images · {top9['view']['text']}"
    projections = encode.sheet_tiles(top9["projections"], top9["count"], top9["cols"], top9["tile"])
    tile = encode.fit_picture(projections[0], encode.CARD_TILE)
    top, left = card.boxes["top9_projections"][:2]
    assert np.array_equal(np.asarray(card.image)[top:top + tile.shape[0], left:left + tile.shape[1]], tile)


def test_save_unit_writes_a_png_named_after_the_unit(widget, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = widget.save_unit()
    assert path == Path("Sequential-3-channel2.png")
    assert Image.open(path).size == widget.unit_card().image.size
    assert widget.save_unit(tmp_path / "card.png") == tmp_path / "card.png"


def test_the_save_unit_command_answers_with_the_png(widget):
    sent = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))
    widget._handle_custom_msg({"type": "save_unit", "id": "r1"}, [])
    (content, buffers), = sent
    assert content == {"type": "unit_png", "name": "Sequential-3-channel2.png", "id": "r1"}
    assert bytes(buffers[0]) == widget.unit_card().png()
