"""The class-evidence panel (Grad-CAM and guided Grad-CAM of a chosen class) on ``CamNet`` (``tests/handset_nets.py``),
whose maps are worked out by hand in its docstring.

The photo below is CamNet's input ``x = [[1, 2, 0], [0, 1, 3], [2, 0, 1]]`` drawn as 8×8 blocks of those gray
levels; the preprocessing reads it back exactly (nearest resize to 3×3, pixel values as they are). So, from the
docstring, at the default layer ``relu`` (the last with a spatial map):

    class 0 ("left"):  Grad-CAM [[0, 2.5], [0, 0]],    counterfactual [[0, 0], [0, 0.5]]
    class 1 ("right"): Grad-CAM [[0.5, 0], [0, 1]],    counterfactual [[0, 1.25], [0, 0]]
    at ``conv``, class 0: [[0.25, 2.125], [0.25, 0]]
    guided Grad-CAM of class 0: [[0, 0.625, 0], [0, 0.625, 0.625], [0, 0, 0]]
    guided Grad-CAM of class 1: [[0, 0.125, 0], [−0.125, 0, 0.25], [0, −0.25, 0]]

The map travels as codes ``floor(255 · (v − min) / (max − min) + ½)`` with its ``min`` and ``max``: class 1's
[[0.5, 0], [0, 1]] is [[128, 0], [0, 255]] from 0 to 1; at ``conv`` class 0 is [[30, 255], [30, 0]] from 0 to 2.125
(255 · 0.25 / 2.125 = 30). Guided Grad-CAM is drawn like a projection: ``128 + round(127 · p / s)``, ``s`` the 99.5th percentile of ``|p|``
(0.625 for class 0, 0.25 for class 1 — the two largest values are equal, so the percentile is that value).
On a photo of ones everywhere, A0 = 2 and A1 = 0 at every place, so class 0's map is (2 − 0)/2 = 1 everywhere.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from handset_nets import CamNet
from PIL import Image
from torch import nn

from cnnviz_widget import CNNViz, ImagePreprocess, LayerError, ModelError

PRE = ImagePreprocess(size=3, resize=None, mean=(0.0,), std=(1.0,), channel_order="L", scale=255.0,
                      interpolation="nearest")
X = [[1, 2, 0], [0, 1, 3], [2, 0, 1]]
GUIDED_PIXELS = {0: [[128, 255, 128], [128, 255, 255], [128, 128, 128]],
                 1: [[128, 192, 128], [64, 128, 255], [128, 1, 128]]}


def photo(values) -> Image.Image:
    return Image.fromarray(np.kron(np.array(values, np.uint8), np.ones((8, 8), np.uint8))).convert("RGB")


@pytest.fixture
def w() -> CNNViz:
    widget = CNNViz(model=CamNet(), preprocess=PRE, labels=["left", "right"], image=photo(X), gallery=[])
    yield widget
    widget.close()


def map_codes(state: dict) -> np.ndarray:
    raw = state["map"]["codes"]
    return np.frombuffer(raw["data"], np.uint8).reshape(raw["shape"])


def scale(state: dict) -> tuple[float, float]:
    return state["map"]["min"], state["map"]["max"]


def guided_pixels(state: dict) -> np.ndarray:
    raw = state["guided"]
    return np.frombuffer(raw["data"], np.uint8).reshape(*raw["shape"], raw["channels"])


def choose(w: CNNViz, **selection) -> dict:
    for name, value in selection.items():
        setattr(w, name, value)
    assert w.wait_class_evidence(60)
    return w.class_evidence


def test_the_panel_offers_the_classes_and_the_layers_with_a_map(w):
    assert w.class_info == {"names": ["left", "right"], "layers": ["conv", "relu"], "default_layer": "relu"}
    assert (w.class_target, w.class_layer, w.class_counterfactual) == (None, "relu", False)
    assert w.wait_class_evidence(60) and w.class_evidence == {}  # no class chosen: nothing computed


def test_a_class_set_from_python_shows_its_map_and_guided_picture(w):
    answers = []
    w.observe(lambda change: answers.append(change["new"]), names="class_evidence")
    state = choose(w, class_target=0)
    assert state["request"] == {"image": w.picture["id"], "target": 0, "layer": "relu", "counterfactual": False}
    assert (state["state"], state["message"], state["label"], state["input_size"]) == ("ready", "", "left", [3, 3])
    assert torch.equal(w.explorer.grad_cam(w.session.x, None, 0), torch.tensor([[0.0, 2.5], [0.0, 0.0]]))
    assert np.array_equal(map_codes(state), [[0, 255], [0, 0]])  # that map, as the panel sends it
    assert (scale(state), state["map"]["shape"], state["map"]["colormap"]) == ((0.0, 2.5), [2, 2], "heat")
    assert np.array_equal(guided_pixels(state), np.repeat(np.array(GUIDED_PIXELS[0])[..., None], 3, axis=2))
    assert answers == [state]

    state = choose(w, class_target=1)
    assert state["request"]["target"] == 1 and state["label"] == "right"
    assert np.array_equal(map_codes(state), [[128, 0], [0, 255]]) and scale(state) == (0.0, 1.0)  # [[0.5, 0], [0, 1]]
    assert np.array_equal(guided_pixels(state)[..., 0], GUIDED_PIXELS[1])
    assert [t["kind"] for t in w.timings][-2:] == ["class", "class"]


def test_the_counterfactual_map_and_another_layer(w):
    state = choose(w, class_target=0, class_counterfactual=True)
    assert state["request"]["counterfactual"] is True
    assert np.array_equal(map_codes(state), [[0, 0], [0, 255]]) and scale(state) == (0.0, 0.5)  # [[0, 0], [0, 0.5]]
    assert np.array_equal(guided_pixels(state)[..., 0], GUIDED_PIXELS[0])  # the class's own guided Grad-CAM
    state = choose(w, class_target=1)
    assert np.array_equal(map_codes(state), [[0, 255], [0, 0]]) and scale(state) == (0.0, 1.25)  # [[0, 1.25], [0, 0]]
    state = choose(w, class_target=0, class_counterfactual=False, class_layer="conv")
    assert state["request"]["layer"] == "conv"
    assert np.array_equal(map_codes(state), [[30, 255], [30, 0]]) and scale(state) == (0.0, 2.125)
    w.class_layer = ""  # the default layer
    assert w.class_layer == "relu"


def test_a_class_chosen_in_the_page_reaches_python_and_is_answered(w):
    heard = []
    w.observe(lambda change: heard.append(change["new"]), names="class_target")
    w.set_state({"class_target": 1})  # as ipywidgets applies a change made in the front end
    assert heard == [1]
    assert w.wait_class_evidence(60) and np.array_equal(map_codes(w.class_evidence), [[128, 0], [0, 255]])
    w.set_state({"class_target": None})
    assert w.wait_class_evidence(60) and w.class_evidence == {}


def test_a_new_image_recomputes_the_chosen_class(w):
    first = choose(w, class_target=0)["request"]["image"]
    w.image = photo(np.ones((3, 3), np.uint8))
    assert w.wait_class_evidence(60)
    state = w.class_evidence
    assert state["request"]["image"] == first + 1 == w.picture["id"]
    assert scale(state) == (1.0, 1.0) and not map_codes(state).any()  # a flat map of ones: every code 0


def blocked(w: CNNViz):
    """Make the engine's Grad-CAM wait for ``release`` (set ``started`` when it does)."""
    started, release = threading.Event(), threading.Event()
    original = w.explorer.grad_cam

    def slow(*args, **kwargs):
        started.set()
        assert release.wait(60)
        return original(*args, **kwargs)

    w.explorer.grad_cam = slow
    return started, release


def test_stale_answers_are_dropped_and_the_newest_selection_wins(w):
    answers = []
    w.observe(lambda change: answers.append(change["new"]), names="class_evidence")
    started, release = blocked(w)
    w.class_target = 0
    assert started.wait(60)  # class 0 is being computed...
    w.class_target = 1  # ...when the user picks class 1
    release.set()
    assert w.wait_class_evidence(60)
    assert [a["request"]["target"] for a in answers] == [1], "the answer for class 0 came too late: never shown"
    assert np.array_equal(map_codes(answers[0]), [[128, 0], [0, 255]])
    assert [(t["kind"], t["target"]) for t in w.timings if t["kind"] == "class"] == [("class", 0), ("class", 1)]


def test_unit_clicks_stay_responsive_while_a_class_computes(w):
    started, release = blocked(w)
    w.class_target = 0
    assert started.wait(60)
    w.channel = 1  # answered in this thread at once, while the class panel's thread waits
    assert w.unit["request"]["channel"] == 1
    release.set()
    assert w.wait_class_evidence(60) and w.class_evidence["request"]["target"] == 0


def test_bad_selections_are_refused_with_the_fix(w):
    with pytest.raises(LayerError, match=r"layer 'fc' has no spatial map \(its output is 2\); .* the default 'relu'"):
        w.class_layer = "fc"
    assert w.error.startswith("class evidence: layer 'fc' has no spatial map") and w.class_layer == "relu"
    with pytest.raises(LayerError, match="unknown layer 'nope'"):
        w.class_layer = "nope"
    with pytest.raises(LayerError, match="class 2 is outside this model's classes 0–1"):
        w.class_target = 2
    with pytest.raises(LayerError, match="class_target must be a class index"):
        w.class_target = True
    assert w.class_target is None
    choose(w, class_target=0)
    assert w.error == "", "a good answer ends this panel's refusal in the banner"


def test_a_model_whose_output_is_not_class_scores_is_shown_in_the_banner():
    maps = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU())  # returns [1, 2, 2, 2]: feature maps, not class scores
    w = CNNViz(model=maps, preprocess=PRE, image=photo(X), gallery=[])
    state = choose(w, class_target=0)
    assert state["state"] == "error" and state["request"]["target"] == 0 and state["label"] == "class 0"
    assert state["message"].startswith("Grad-CAM needs class scores, but the model's output has shape (1, 2, 2, 2)")
    assert w.error == f"class evidence: {state['message']}"
    w.close()


def test_a_model_without_a_spatial_map_says_so():
    flat = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2))  # the conv's map is 1×1
    w = CNNViz(model=flat, preprocess=PRE, image=photo(X), gallery=[])
    assert w.class_info == {"names": None, "layers": [], "default_layer": None} and w.class_layer == ""
    state = choose(w, class_target=1)
    assert state["state"] == "error" and state["message"].startswith("no layer of this model has a 2-D spatial map")
    with pytest.raises(ModelError, match="no layer of this model has a 2-D spatial map"):
        w.class_layer = "0"
    w.close()


def test_the_protocol_is_documented(w):
    from cnnviz_widget.panels import class_evidence as panel

    for name in ("class_target", "class_layer", "class_counterfactual", "class_info", "class_evidence"):
        assert f"``{name}``" in panel.__doc__
        assert w.trait_metadata(name, "sync")
    assert w.panels.class_evidence in list(w.panels)
