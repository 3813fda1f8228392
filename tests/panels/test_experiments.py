"""The widget's experiment panels (occlusion, invariance, feature evolution, activation maximisation) on hand-set
nets whose every number is known.

``SumNet``: an 8×8 gray input → 1×1 convolution (weight 1) → the mean ``m`` over its map → logits ``(m, −m)`` for
the classes "yes" and "no". The preprocessing is ``x = pixel − 5`` (``scale=255``, ``mean=5``), so the photo ``X``
below is, in model space, 9s in its top-left 4×4 block, −1s in its bottom-right one and 0 elsewhere — total 128. A
4×4 gray occluder (fill: the mean, pixel 5 = 0 in model space) with stride 4 hides one block at a time::

    total activation of the conv (map a):  [[128 − 144, 128], [128, 128 + 16]] = [[−16, 128], [128, 144]]
    p(yes) (map b):                         softmax((m, −m))[0] with m = total / 64
    most probable class (map c):            [[no, yes], [yes, yes]]
"""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
import torch
from handset_nets import SumNet, TinyNet
from PIL import Image
from torch import nn

from cnnviz_widget import CNNViz, CNNVizError, ImagePreprocess, ModelError, encode
from cnnviz_widget.engine.experiments.synthesis import AscentParams, SynthesisDiverged, clear_memory_cache
from cnnviz_widget.engine.progress import Cancelled

PRE = ImagePreprocess(size=8, resize=None, mean=(5.0,), std=(1.0,), scale=255.0, channel_order="L")
PIXELS = np.kron(np.array([[14, 5], [5, 4]], np.uint8), np.ones((4, 4), np.uint8))
X = Image.fromarray(PIXELS).convert("RGB")


def p_yes(total):
    m = torch.tensor(total, dtype=torch.float32) / 64
    return torch.softmax(torch.stack([m, -m], dim=-1), dim=-1)[..., 0].numpy()


@pytest.fixture
def w() -> CNNViz:
    return CNNViz(model=SumNet(), preprocess=PRE, labels=["yes", "no"], image=X, gallery=[])


def codes(state: dict) -> np.ndarray:
    raw = state["codes"]
    return np.frombuffer(raw["data"], np.uint8).reshape(raw["shape"])


def f32(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<f4")


def picture(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# --------------------------------------------------------------------------------------------- encoding
def test_value_and_class_maps():
    flat = encode.value_map(np.full((2, 3), 7.0))
    assert (flat["min"], flat["max"]) == (7.0, 7.0) and not codes(flat).any()
    np.testing.assert_array_equal(codes(encode.value_map(np.array([[0.0, 1.0], [0.5, 0.25]]))), [[0, 255], [128, 64]])
    # 12 classes: the 3 commonest get codes 0–2 (ties: the lower index first), the rest share code 3 ("other")
    classes = np.array([[5, 5, 5, 2], [2, 9, 9, 1], [0, 3, 4, 6]])
    state = encode.class_map(classes, lambda i: f"c{i}", colours=3)
    np.testing.assert_array_equal(codes(state), [[0, 0, 0, 1], [1, 2, 2, 3], [3, 3, 3, 3]])
    assert state["classes"] == [[5, "c5", 3], [2, "c2", 2], [9, "c9", 2], [0, "c0", 1], [1, "c1", 1], [3, "c3", 1],
                                [4, "c4", 1], [6, "c6", 1]]
    np.testing.assert_array_equal(np.frombuffer(state["indices"], "<i4"), classes.flatten())
    with pytest.raises(ValueError, match="non-empty 2-D map"):
        encode.class_map(np.zeros(3, np.int64), str)
    big = np.arange(300 * 200 * 3, dtype=np.uint32).reshape(300, 200, 3).astype(np.uint8)
    assert encode.shrunk(big, 128).shape == (128, 85, 3) and encode.shrunk(big[:8, :8], 128).shape == (8, 8, 3)


# --------------------------------------------------------------------------------------------- occlusion
def test_occlusion_maps_of_a_summing_net(w):
    maps = w.occlusion(size=4, stride=4)
    np.testing.assert_array_equal(maps.activation, [[-16.0, 128.0], [128.0, 144.0]])
    state = w.occlusion_result
    assert state["request"] == {"id": 1, "image": w.picture["id"], "image_name": "image", "size": 4, "stride": 4,
                                "target": None, "layer": "conv", "channel": 0, "position": None}
    assert w.jobs == {"occlusion": {"id": 1, "state": "done", "done": 4, "total": 4, "message": ""}}
    assert (state["size"], state["stride"], state["tops"], state["lefts"], state["input_size"]) == (4, 4, [0, 4], [0, 4],
                                                                                                   [8, 8])
    assert state["fill"] == [5, 5, 5]  # the mean: 0 in model space
    np.testing.assert_array_equal(picture(state["image"]), np.repeat(PIXELS[..., None], 3, axis=2))
    assert state["feature"] == {"layer": "conv", "channel": 0, "position": None}
    assert (state["target"], state["target_label"]) == (0, "yes")
    assert state["reference"] == {"probability": pytest.approx(float(p_yes(128.0))), "top_class": 0,
                                  "top_label": "yes", "activation": 128.0}
    activation = state["maps"]["activation"]
    # stretched from −16 (code 0) to 144 (code 255): 128 → floor(255·144/160 + 0.5) = 230
    np.testing.assert_array_equal(codes(activation), [[0, 230], [230, 255]])
    assert (activation["min"], activation["max"], activation["colormap"]) == (-16.0, 144.0, "heat")
    np.testing.assert_array_equal(f32(activation["values"]), [-16, 128, 128, 144])
    probability = state["maps"]["probability"]
    expected = p_yes([[-16.0, 128.0], [128.0, 144.0]])
    np.testing.assert_allclose(f32(probability["values"]).reshape(2, 2), expected, rtol=1e-6)
    # p(yes) for m = −¼, 2, 2¼ is 0.3775, 0.9820, 0.9890: 255 · (0.9820 − 0.3775) / (0.9890 − 0.3775) = 252.1
    np.testing.assert_array_equal(codes(probability), [[0, 252], [252, 255]])
    top = state["maps"]["top_class"]
    np.testing.assert_array_equal(codes(top), [[1, 0], [0, 0]])  # legend codes: "yes" is commonest (3), "no" next
    assert top["classes"] == [[0, "yes", 3], [1, "no", 1]] and top["colours"] == 10
    np.testing.assert_array_equal(np.frombuffer(top["indices"], "<i4"), [1, 0, 0, 0])
    assert w.experiment_results["occlusion"] is maps


def test_map_a_follows_the_picked_unit_and_the_chosen_class(w):
    w.position = [0, 0]  # the unit over the 9 at (0, 0): only the top-left occluder hides it
    maps = w.occlusion(size=4, stride=4, target=1)
    np.testing.assert_array_equal(maps.activation, [[0.0, 9.0], [9.0, 9.0]])
    state = w.occlusion_result
    assert state["feature"] == {"layer": "conv", "channel": 0, "position": [0, 0]}
    assert state["request"]["position"] == [0, 0] and state["target_label"] == "no"
    np.testing.assert_array_equal(codes(state["maps"]["activation"]), [[0, 255], [255, 255]])


def test_the_default_occluder_is_a_fifth_of_the_input():
    big = CNNViz(model=SumNet(), preprocess=ImagePreprocess(size=227, resize=None, mean=(5.0,), std=(1.0,),
                                                            scale=255.0, channel_order="L"),
                 labels=["yes", "no"], image=Image.new("RGB", (227, 227), (9, 9, 9)), gallery=[])
    maps = big.occlusion(layer="fc", channel=0)  # js/src/lib/scales.js defaultOccluder: 48 and 16 on 227 px
    assert (maps.size, maps.stride, maps.shape) == (48, 16, (13, 13))


def test_bad_occluders_show_the_engines_message_and_keep_the_maps(w):
    w.occlusion(size=4, stride=4)
    kept = w.occlusion_result
    with pytest.raises(CNNVizError, match=r"the occluder \(9 px\) is larger than the 8 px model input"):
        w.occlusion(size=9)
    assert w.error.startswith("occlusion: the occluder (9 px) is larger than the 8 px model input — use size ≤ 8")
    assert w.jobs["occlusion"]["state"] == "failed" and w.jobs["occlusion"]["id"] == 2
    assert w.occlusion_result is kept
    w.error = ""
    # From the panel: a zero stride, answered in the background.
    w._handle_custom_msg({"type": "experiment", "action": "run", "kind": "occlusion",
                          "params": {"size": 4, "stride": 0, "target": None}}, [])
    assert w.wait_experiments(30)
    assert w.error.startswith("occlusion: stride must be at least 1 pixel, not 0")
    assert w.jobs["occlusion"]["message"].startswith("stride must be at least 1 pixel")
    assert w.occlusion_result is kept
    w._handle_custom_msg({"type": "experiment", "action": "run", "kind": "occlusion", "params": {"size": "x"}}, [])
    assert w.error == "size must be a whole number, not 'x'"
    w._handle_custom_msg({"type": "experiment", "action": "run", "kind": "occlusion", "params": {"size": 4,
                                                                                                "stride": 2}}, [])
    assert w.wait_experiments(30)
    assert w.occlusion_result["tops"] == [0, 2, 4] and w.jobs["occlusion"]["state"] == "done"


# --------------------------------------------------------------------------------------------- runs
def long_ascent(w: CNNViz, **kwargs):
    """A synthesis that runs until cancelled (a million steps); returns its job once it has made progress."""
    job = w.synthesize(params=AscentParams(steps=1_000_000), wait=False, **kwargs)
    deadline = time.monotonic() + 30
    while w.jobs.get("synthesis", {}).get("done", 0) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return job


def test_cancel_from_the_panel_stops_a_run_and_keeps_what_was_shown(w):
    clear_memory_cache()
    w.synthesize(params=AscentParams(steps=3))
    kept = w.synthesis_result
    job = long_ascent(w)
    assert w.jobs["synthesis"]["state"] == "running" and w.jobs["synthesis"]["total"] == 1_000_000
    w._handle_custom_msg({"type": "experiment", "action": "cancel", "kind": "synthesis"}, [])
    with pytest.raises(Cancelled):
        job.result(30)
    assert w.wait_experiments(30)
    state = w.jobs["synthesis"]
    assert state["state"] == "cancelled" and 0 < state["done"] < 1_000_000
    assert w.synthesis_result is kept and w.error == ""


def test_the_newest_run_wins_and_replaced_runs_never_answer(w):
    clear_memory_cache()
    first = long_ascent(w)
    queued = w.occlusion(size=4, stride=4, wait=False)
    newest = w.occlusion(size=4, stride=2, wait=False)  # replaces the queued run before it starts
    with pytest.raises(Cancelled, match="before it started"):
        queued.result(30)
    second = w.synthesize(channel=0, params=AscentParams(steps=2), seed=1, wait=False)  # cancels the running ascent
    with pytest.raises(Cancelled):
        first.result(30)
    assert newest.result(30).shape == (3, 3)
    assert second.result(30).seed == 1
    assert w.wait_experiments(30)
    assert w.occlusion_result["request"]["id"] == newest.id and w.occlusion_result["stride"] == 2
    assert w.synthesis_result["request"]["id"] == second.id
    assert w.jobs["occlusion"]["state"] == w.jobs["synthesis"]["state"] == "done"
    assert newest.id > queued.id and [j.kind for j in (first, queued, newest, second)] == [
        "synthesis", "occlusion", "occlusion", "synthesis"]


# --------------------------------------------------------------------------------------------- invariance
def test_invariance_curves_are_sent_as_the_engine_computed_them(w):
    curves = w.invariance(transforms={"translate": [0, 1, -2], "rotate": [0, 90]})
    state = w.invariance_result
    assert state["request"] == {"id": 1, "image": w.picture["id"], "image_name": "image",
                                "transforms": ["translate", "rotate"], "layers": None, "target": None}
    assert state["layers"] == curves.layers == ["conv"]  # the first convolution, also the penultimate layer here
    assert (state["target"], state["target_label"]) == (0, "yes")
    assert state["reference_norm"] == pytest.approx(curves.reference_norm)
    assert state["tile"] == [8, 8]
    np.testing.assert_array_equal(picture(state["canonical"]), curves.canonical)
    assert [c["transform"] for c in state["curves"]] == ["translate", "rotate"]
    for sent, curve in zip(state["curves"], curves.curves.values()):
        assert (sent["count"], sent["unit"], sent["cols"]) == (len(curve.values), curve.unit, 2)
        np.testing.assert_array_equal(f32(sent["values"]), curve.values)
        np.testing.assert_array_equal(f32(sent["probability"]), curve.probability)
        for layer in curves.layers:
            np.testing.assert_array_equal(f32(sent["distance"][layer]), curve.distance[layer])
        np.testing.assert_array_equal(np.frombuffer(sent["top_class"], "<i4"), curve.top_class)
        tiles = encode.sheet_tiles(sent["images"], sent["count"], sent["cols"], state["tile"])
        np.testing.assert_array_equal(tiles, curve.images)
    translate = state["curves"][0]
    assert f32(translate["distance"]["conv"])[0] == 0.0  # no shift: the same features
    assert f32(translate["probability"])[0] == pytest.approx(state["reference_probability"])
    assert state["classes"] == [[0, "yes"]] or state["classes"][0] == [0, "yes"]


def test_the_panels_invariance_adds_the_selected_layer(w):
    w.layer = "fc"
    w._handle_custom_msg({"type": "experiment", "action": "run", "kind": "invariance", "params": {"target": 1}}, [])
    assert w.wait_experiments(30)
    assert w.invariance_result["layers"] == ["conv", "fc"] and w.invariance_result["target_label"] == "no"
    assert [c["count"] for c in w.invariance_result["curves"]] == [25, 17, 36]  # the paper's sweeps


# --------------------------------------------------------------------------------------------- evolution
GRAY8 = ImagePreprocess(size=8, resize=None, mean=(0.0,), std=(1.0,), channel_order="L")


def checkpoint(center: float, bias: float) -> dict:
    net = TinyNet()
    with torch.no_grad():
        net.conv.weight.zero_()
        net.conv.weight[0, 0, 1, 1] = center
        net.conv.bias.fill_(bias)
        net.fc.weight.fill_(1.0)
        net.fc.bias.zero_()
    return net.state_dict()


def images() -> list:
    """Image 0: one white pixel at (2, 5) — the strongest unit of "bright"; image 1: one black pixel at (6, 1) —
    the strongest of "dark" (its kernel is −1 at the centre, bias 1); image 2: flat."""
    bright = np.full((8, 8), 100, np.uint8)
    bright[2, 5] = 255
    dark = np.full((8, 8), 100, np.uint8)
    dark[6, 1] = 0
    return [Image.fromarray(a).convert("RGB") for a in (bright, dark, np.full((8, 8), 150, np.uint8))]


@pytest.fixture
def tiny() -> CNNViz:
    net = TinyNet()
    net.load_state_dict(checkpoint(0.5, 0.0))
    return CNNViz(model=net, preprocess=GRAY8, labels=["a", "b"], image=Image.new("RGB", (8, 8), (60, 60, 60)),
                  gallery=[])


def test_evolution_grid_and_opening_a_checkpoints_unit_card(tiny):
    tiny.mine(images())
    assert tiny.wait_exemplars(60)
    top9_before = tiny.top9
    filters_before = tiny.filters
    result = tiny.evolution({"bright": checkpoint(1.0, 0.0), "dark": checkpoint(-1.0, 1.0)}, images(),
                            units=[("conv", 0)])
    state = tiny.evolution_result
    assert state["request"] == {"id": 1, "units": [["conv", 0]], "rule": "deconvnet", "dataset": "list of 3 images"}
    assert state["checkpoints"] == ["bright", "dark"] and state["rule"] == "deconvnet"
    white = float(np.float32(255) * np.float32(1 / 255))
    np.testing.assert_allclose(f32(state["values"]), [white, 1.0], rtol=1e-6)
    unit = state["units"][0]
    assert (unit["layer"], unit["channel"], unit["tile"], unit["box"]) == ("conv", 0, [3, 3], [3, 3])
    assert unit["cells"] == [{"id": "0", "index": 0, "position": [2, 5], "value": pytest.approx(white),
                              "label_name": None},
                             {"id": "1", "index": 1, "position": [6, 1], "value": pytest.approx(1.0),
                              "label_name": None}]
    patches = encode.sheet_tiles(unit["patches"], 2, 2, [3, 3])
    for c in range(2):
        np.testing.assert_array_equal(patches[c], result.cell(0, c).patch)
    projections = encode.sheet_tiles(unit["projections"], 2, 2, [3, 3])
    expected = np.full((3, 3, 3), 128, np.uint8)
    expected[1, 1] = 255  # bright: +a at the centre
    np.testing.assert_array_equal(projections[0], expected)
    expected[1, 1] = 1  # dark: −a at the centre (128 − 127)
    np.testing.assert_array_equal(projections[1], expected)

    # A click on the "dark" cell: the widget shows that checkpoint, the cell's image, the unit where it fired.
    tiny._handle_custom_msg({"type": "checkpoint", "action": "open", "column": 1, "unit": 0}, [])
    assert tiny.error == ""
    assert tiny.checkpoint == {"name": "dark", "column": 1, "evolution": 1, "model": "TinyNet"}
    assert tiny.model_info["name"] == "TinyNet @ dark"
    assert (tiny.layer, tiny.channel, tiny.position, tiny.picture["name"]) == ("conv", 0, [6, 1], "1")
    assert tiny.unit["stats"]["value"] == pytest.approx(1.0)
    assert tiny.filters != filters_before
    assert tiny.top9 == {} and tiny.mining == {}  # mined with the original weights: hidden meanwhile
    with pytest.raises(CNNVizError, match="checkpoint 'dark' is open — close it"):
        tiny.mine(images())
    tiny.occlusion(size=2, stride=2)
    assert tiny.occlusion_result["model"] == "TinyNet @ dark"

    tiny._handle_custom_msg({"type": "checkpoint", "action": "close"}, [])
    assert tiny.checkpoint == {} and tiny.model_info["name"] == "TinyNet"
    assert tiny.picture["name"] == "image" and tiny.filters == filters_before
    assert tiny.wait_exemplars(30)
    assert tiny.mining["state"] == "complete" and tiny.top9["exemplars"] == top9_before["exemplars"]
    assert tiny.unit["stats"]["value"] != pytest.approx(1.0)


def test_checkpoints_of_another_architecture_are_refused_by_name(tiny):
    tiny.evolution([checkpoint(1.0, 0.0)], images(), units=[("conv", 0)])
    kept = tiny.evolution_result
    wide = {"conv.weight": torch.zeros(4, 1, 3, 3), "conv.bias": torch.zeros(4), "fc.weight": torch.zeros(2, 1),
            "fc.bias": torch.zeros(2)}
    with pytest.raises(ModelError, match=r"checkpoint 'wide': .*shape mismatch: conv.bias \(4,\) vs \(1,\)"):
        tiny.evolution({"wide": wide}, images())
    assert tiny.error.startswith("evolution: checkpoint 'wide': ") and "conv.weight" in tiny.error
    assert tiny.evolution_result is kept and tiny.jobs["evolution"]["state"] == "failed"
    # The panel's button: the last checkpoints and images again, for the selected layer's units.
    tiny.error = ""
    tiny._handle_custom_msg({"type": "experiment", "action": "run", "kind": "evolution", "params": {}}, [])
    assert tiny.wait_experiments(30)
    assert tiny.jobs["evolution"]["state"] == "failed" and tiny.evolution_result is kept
    tiny._handle_custom_msg({"type": "checkpoint", "action": "open", "column": 5}, [])
    assert tiny.error == "there is no checkpoint 5; the result has ['#0']"


def test_default_units_are_the_selected_one_and_the_next(tiny):
    multi = CNNViz(model=nn.Sequential(nn.Conv2d(3, 6, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                       nn.Linear(6, 2)),
                   preprocess=ImagePreprocess(size=8, resize=None, mean=(0.0,) * 3, std=(1.0,) * 3),
                   image=Image.new("RGB", (8, 8)), gallery=[], channel=4)
    result = multi.evolution([multi.explorer.model.state_dict()], images()[:2])
    assert result.units == [("0", 4), ("0", 5), ("0", 0), ("0", 1)]


# --------------------------------------------------------------------------------------------- synthesis
def test_synthesis_is_shown_cropped_to_the_field_and_again_when_the_unit_is_selected(tiny):
    clear_memory_cache()
    params = AscentParams(steps=4)
    result = tiny.synthesize(params=params, seed=2)
    state = tiny.synthesis_result
    assert state["request"] == {"id": 1, "model": "TinyNet", "layer": "conv", "channel": 0, "position": "center",
                                "seed": 2}
    top, left, bottom, right = result.field
    assert (top, left, bottom, right) == (2, 2, 5, 5)  # the centre unit (3, 3) of the 8×8 map sees 3×3 pixels
    np.testing.assert_array_equal(picture(state["image"]), result.image[2:5, 2:5])
    assert state["field"] == [2, 2, 5, 5] and state["input_size"] == [8, 8] and state["steps"] == 4
    np.testing.assert_array_equal(f32(state["history"]), result.history)
    assert state["activation"] == result.activation and state["from_cache"] is False
    assert tiny.synthesize(params=params, seed=2).from_cache  # cached per unit
    assert tiny.synthesis_result["from_cache"] is True

    tiny.layer = "fc"
    tiny.synthesize(params=params)
    assert tiny.synthesis_result["request"]["layer"] == "fc"
    assert tiny.synthesis_result["field"] is None  # a linear unit sees the whole input
    jobs = tiny.jobs
    tiny.layer = "conv"  # synthesised before: shown again without a run
    assert tiny.synthesis_result["request"]["layer"] == "conv" and tiny.jobs == jobs


class SqrtBlock(nn.Module):
    """√(x − 1): 0 for a white image, NaN near the mean (0), where the ascent starts — so it diverges at once."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.conv.bias.fill_(-1.0)

    def forward(self, x):
        return torch.sqrt(self.conv(x))


def test_a_diverging_ascent_is_an_error_in_the_banner_and_caches_nothing(tmp_path):
    clear_memory_cache()
    net = nn.Sequential(SqrtBlock(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 2))
    w = CNNViz(model=net, preprocess=GRAY8, image=Image.new("RGB", (8, 8), (255, 255, 255)), gallery=[])
    with pytest.raises(SynthesisDiverged, match="diverged at step 0"):
        w.synthesize("0", 0, params=AscentParams(steps=3), cache_dir=tmp_path)
    assert w.error.startswith("synthesis: gradient ascent on 0:0@(3, 3) diverged at step 0")
    assert w.jobs["synthesis"]["state"] == "failed" and w.synthesis_result == {}
    assert not list(tmp_path.rglob("result.pt"))
    w.position = [2, 5]  # the widget stays usable
    assert w.unit["request"]["position"] == [2, 5]


def test_closing_the_widget_stops_a_run(w):
    clear_memory_cache()
    job = long_ascent(w)
    w.close()
    with pytest.raises(Cancelled):
        job.result(30)


def test_the_protocol_is_documented_and_commands_are_checked(w):
    from cnnviz_widget.panels import experiments as experiment_panels

    for name in ("occlusion_result", "invariance_result", "evolution_result", "synthesis_result", "jobs",
                 "checkpoint"):
        assert f"``{name}``" in experiment_panels.__doc__
        assert w.trait_metadata(name, "sync")
    w._handle_custom_msg({"type": "experiment", "action": "run", "kind": "dream"}, [])
    assert w.error == "unknown experiment 'dream'; the widget runs occlusion, invariance, evolution, synthesis"
    w._handle_custom_msg({"type": "experiment", "action": "run", "kind": "evolution"}, [])
    assert w.error.startswith("feature evolution needs checkpoints and images: run w.evolution(")
    w._handle_custom_msg({"type": "checkpoint", "action": "open", "column": 0}, [])
    assert w.error.startswith("there is no feature-evolution result to open a checkpoint of")


def test_threads_do_not_block_the_unit_card(w):
    clear_memory_cache()
    job = long_ascent(w)
    done = threading.Event()

    def click():
        w.channel = 0
        w.position = [1, 1]
        done.set()

    threading.Thread(target=click).start()
    assert done.wait(30) and w.unit["request"]["position"] == [1, 1]
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(30)


def test_payloads_stay_bounded_on_the_default_model():
    v = CNNViz(gallery=[])
    v.occlusion(stride=32)
    curves = v.invariance()

    def size(value) -> int:
        if isinstance(value, (bytes, bytearray)):
            return len(value)
        if isinstance(value, dict):
            return sum(size(x) for x in value.values())
        if isinstance(value, list):
            return sum(size(x) for x in value)
        return len(str(value))

    state = v.invariance_result
    assert state["tile"] == [128, 128] and [c["count"] for c in state["curves"]] == [25, 17, 36]
    assert curves.curves["rotate"].images.shape == (36, 227, 227, 3)  # shrunk for the page, whole in Python
    assert size(state) < 2_500_000  # 78 images of 128 px (the Jupyter websocket takes ~10 MB a message)
    assert size(v.occlusion_result) < 200_000
