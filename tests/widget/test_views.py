"""How projections are shown: each layer's default view by depth (``cnnviz_widget.views``), its resolution in the
widget (``rule`` / ``display`` / ``crop`` = ``"auto"``), the stamps, and the choices a user makes.

``depth_net()`` is a hand-set net on 32×32 inputs whose receptive fields grow layer by layer (reach = field side /
32, traced by the engine)::

    layer  module          field   reach    default view (DepthViews: deep from 1/16, central half for 0.2–1)
    0      conv 3×3        3       0.094    the paper's (the first convolution)
    1      ReLU            3       0.094    the paper's (sees no more than the first convolution)
    2      conv 3×3        5       0.156    guided · gray · receptive field
    3      ReLU            5       0.156    guided · gray · receptive field
    4      max-pool 2      6       0.1875   guided · gray · receptive field
    5      conv 3×3        10      0.3125   guided · gray · central half
    6      ReLU            10      0.3125   guided · gray · central half
    7      global pool     40      1.25     guided · gray · receptive field (the field is larger than the input)
    9      linear          40      1.25     guided · gray · receptive field

Every weight is 1/9 (biases 0) and the image a seeded random one, so every unit fires somewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnviz_widget import CNNViz, CNNVizError, Explorer, ImagePreprocess, encode, load_model
from cnnviz_widget.views import PAPER_VIEW, DepthViews, View, reach, resolve, view_box, view_state

PRE = ImagePreprocess(size=32, resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
GUIDED_GRAY = View("guided", "gray", "field")
CENTER = View("guided", "gray", "center")
DEFAULTS = {"0": PAPER_VIEW, "1": PAPER_VIEW, "2": GUIDED_GRAY, "3": GUIDED_GRAY, "4": GUIDED_GRAY, "5": CENTER,
            "6": CENTER, "7": GUIDED_GRAY, "9": GUIDED_GRAY}


def depth_net() -> nn.Module:
    convs = [nn.Conv2d(3, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1)]
    fc = nn.Linear(2, 3)
    with torch.no_grad():
        for conv in convs:
            conv.weight.fill_(1 / 9)
            conv.bias.zero_()
        fc.weight.fill_(1.0)
        fc.bias.zero_()
    return nn.Sequential(convs[0], nn.ReLU(), convs[1], nn.ReLU(), nn.MaxPool2d(2), convs[2], nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), fc).eval()


def image() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))


@pytest.fixture
def w() -> CNNViz:
    return CNNViz(model=depth_net(), preprocess=PRE, image=image(), gallery=[])


def pixels(raw: dict) -> np.ndarray:
    return np.frombuffer(bytes(raw["data"]), np.uint8).reshape(*raw["shape"], 3)


# ------------------------------------------------------------------------------------------- the depth rule
def test_reach_is_the_receptive_field_side_over_the_input_side():
    ex = Explorer(depth_net(), preprocess=PRE)
    assert {name: reach(ex, name) for name in ex.layer_names} == {
        "0": 3 / 32, "1": 3 / 32, "2": 5 / 32, "3": 5 / 32, "4": 6 / 32, "5": 10 / 32, "6": 10 / 32, "7": 40 / 32,
        "9": 40 / 32}


def test_default_views_follow_depth_and_are_published_with_the_layers(w):
    ex = w.explorer
    assert {name: DepthViews()(ex, name) for name in ex.layer_names} == DEFAULTS
    assert {entry["name"]: View(**entry["view"]) for entry in w.layers} == DEFAULTS
    # The thresholds move the boundaries and nothing else.
    later = DepthViews(deep_from=0.17, center_from=0.32)
    assert [later(ex, name).text for name in ("2", "4", "5", "7")] == [
        PAPER_VIEW.text, GUIDED_GRAY.text, GUIDED_GRAY.text, GUIDED_GRAY.text]
    assert DepthViews(center_until=2.0)(ex, "7") == CENTER


def test_the_first_convolution_keeps_the_papers_view_whatever_its_reach():
    # On an 8-pixel input the first 3×3 convolution sees 3/8 of it: still the paper's view (the rules coincide).
    small = ImagePreprocess(size=8, resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    ex = Explorer(depth_net(), preprocess=small)
    assert reach(ex, "0") == 3 / 8 and DepthViews()(ex, "0") == PAPER_VIEW
    assert DepthViews()(ex, "2") == CENTER  # 5/8


def test_resolving_a_selection_and_saying_why():
    assert resolve(CENTER, "auto", "auto", "auto") == CENTER
    assert resolve(CENTER, "deconvnet", "auto", "field") == View("deconvnet", "gray", "field")
    assert view_state(CENTER, "auto", "auto", "auto") == {
        "rule": "guided", "display": "gray", "crop": "center", "auto": ["rule", "display", "crop"],
        "text": "guided backprop · gray · central half", "why": "the clearest view at this depth"}
    assert view_state(PAPER_VIEW, "auto", "auto", "auto")["why"] == "the paper's view, the clearest at this depth"
    assert view_state(View("deconvnet", "gray", "center"), "deconvnet", "auto", "auto")["why"] == (
        "rule: your choice; display and crop: the clearest at this depth")
    assert view_state(PAPER_VIEW, "deconvnet", "raw", "field")["why"] == "your choice"
    with pytest.raises(ValueError, match="View display must be one of raw, gray, norm, blurred_norm, not 'sepia'"):
        View("guided", "sepia")


def test_the_central_half_of_a_field_widened_and_clipped_like_the_field():
    assert view_box([88, 88, 151, 151], "center", (227, 227)) == [103, 103, 135, 135]  # 63 px → 32: 15 px each side
    assert view_box([88, 88, 151, 151], "field", (227, 227)) == [88, 88, 151, 151]
    assert view_box([14, 14, 17, 17], "center", (32, 32)) == [3, 3, 27, 27]  # 3 px → 2 → widened to 24
    assert view_box(None, "center", (32, 32)) is None  # the whole map: all of the input


# ------------------------------------------------------------------------------------------- in the widget
def test_auto_shows_each_layers_default_and_the_stamp_says_auto(w):
    assert (w.rule, w.display, w.crop) == ("auto", "auto", "auto")
    x = w.session.x
    for layer in ("0", "2", "5"):
        w.layer = layer
        unit = w.unit
        view = DEFAULTS[layer]
        assert unit["request"] == {"image": 1, "layer": layer, "channel": 0, "position": "max", "rule": "auto",
                                   "display": "auto", "crop": "auto"}
        assert View(unit["view"]["rule"], unit["view"]["display"], unit["view"]["crop"]) == view
        assert unit["view"]["auto"] == ["rule", "display", "crop"] and w.view_of() == view
        assert unit["crop"] == view_box(unit["field"], view.crop, (32, 32))
        projection = w.explorer.project(x, layer, 0, position=tuple(unit["location"]), rule=view.rule)
        expected = encode.projection_display(projection, view.display, "RGB", box=unit["crop"])
        assert np.array_equal(pixels(unit["projection"]), expected), layer
    y, x_ = w.unit["location"]  # layer 5: a 10-px field → its central half, 5 px, widened to 24 px
    assert w.unit["field"] == [2 * y - 4, 2 * x_ - 4, 2 * y + 6, 2 * x_ + 6]
    top, left, bottom, right = w.unit["crop"]
    assert (bottom - top, right - left) == (24, 24)


def test_an_explicit_choice_stays_on_a_new_layer_and_only_auto_follows_it(w):
    w.layer = "5"
    w.rule = "deconvnet"
    w.layer = "0"
    assert w.rule == "deconvnet"
    assert w.unit["view"]["auto"] == ["display", "crop"] and w.view_of() == PAPER_VIEW
    w.layer = "5"
    assert w.view_of() == View("deconvnet", "gray", "center")
    w.display, w.crop = "norm", "field"
    w.layer = "2"
    assert (w.rule, w.display, w.crop) == ("deconvnet", "norm", "field") and w.unit["view"]["auto"] == []
    assert w.view_of("0") == View("deconvnet", "norm", "field")


def test_a_view_chosen_explicitly_is_the_same_picture_under_its_own_stamp_and_one_projection(w, monkeypatch):
    w.layer = "5"
    auto = w.unit
    calls = []
    project = w.explorer.project
    monkeypatch.setattr(w.explorer, "project", lambda *a, **k: calls.append(k["rule"]) or project(*a, **k))
    w.rule, w.display, w.crop = "guided", "gray", "center"  # what auto shows here
    assert w.unit["request"]["rule"] == "guided" and w.unit["request"] != auto["request"]
    assert w.unit["projection"] == auto["projection"] and w.unit["crop"] == auto["crop"]
    w.display = "blurred_norm"  # another display of the same projection: drawn, not projected again
    w.crop = "field"
    assert calls == []
    w.rule = "deconvnet"
    assert calls == ["deconvnet"]


def test_bad_values_name_the_choices(w):
    with pytest.raises(Exception, match=r"'display' trait .* expected any of \['auto', 'raw', 'gray', 'norm', "
                                        r"'blurred_norm'\]"):
        w.display = "sepia"
    with pytest.raises(Exception, match=r"'crop' trait .* expected any of \['auto', 'field', 'center'\]"):
        w.crop = "half"


# ------------------------------------------------------------------------------------------- other policies
def test_views_can_be_overridden_for_any_model():
    paper = CNNViz(model=depth_net(), preprocess=PRE, image=image(), gallery=[], layer="5",
                   views=lambda explorer, layer: PAPER_VIEW)
    assert {View(**entry["view"]) for entry in paper.layers} == {PAPER_VIEW}
    assert paper.unit["view"]["text"] == "deconvnet · raw colour · receptive field"
    later = CNNViz(model=depth_net(), preprocess=PRE, image=image(), gallery=[], views=DepthViews(deep_from=0.17))
    assert later.view_of("2") == PAPER_VIEW and later.view_of("5") == CENTER
    assert isinstance(later.views, DepthViews)
    with pytest.raises(TypeError, match="views must be a callable .* not int"):
        CNNViz(model=depth_net(), preprocess=PRE, gallery=[], views=3)
    with pytest.raises(CNNVizError, match=r"views\(explorer, '0'\) gave str, not a View"):
        CNNViz(model=depth_net(), preprocess=PRE, gallery=[], views=lambda explorer, layer: "guided")


# ------------------------------------------------------------------------------------------- the default model
def test_the_default_models_stages_get_the_views_the_structure_measure_chose():
    """notebooks/05-why-projections-speckle.ipynb's table, reproduced by the depth rule on SqueezeNet 1.1."""
    ex = Explorer(load_model())
    chosen = {"features.0": PAPER_VIEW, "features.4": GUIDED_GRAY, "features.7": CENTER, "features.10": CENTER,
              "features.12": CENTER}
    assert {name: DepthViews()(ex, name) for name in chosen} == chosen
    assert [round(reach(ex, name), 3) for name in chosen] == [0.013, 0.101, 0.278, 0.63, 0.912]
