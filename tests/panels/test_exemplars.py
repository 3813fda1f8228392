"""The widget's dataset-exemplar panels (top-9, layer atlas, mining) on a hand-set net whose every exemplar is known.

``net()``: conv1 (3×3, padding 1) has 18 filters: filter 0 reads the red pixel at the centre, filter 1 the green one,
filters 2–17 are zero (dead units); a ReLU; conv2 (1×1) adds the two; pooling and a linear layer. Inputs are the
pixel values 0–255 themselves (``scale=255``), so every activation is a pixel value, exactly.

The dataset: five 8×8 black images in class folders, each with one or two bright pixels::

    image        red          green
    cat/a.png    250 (2, 5)   40 (6, 6)
    cat/b.png    200 (0, 0)   -            (a corner: its patch leaves the image)
    dog/c.png    100 (4, 4)   252 (1, 2)
    dog/d.png    150 (7, 3)   -
    dog/e.png    -            120 (5, 1)

So the red unit's top-9 is a, b, d, c, e (values 250, 200, 150, 100, 0: e does not fire), fewer than 9.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnviz_widget import CNNViz, CNNVizError, ImagePreprocess
from cnnviz_widget.engine.exemplars.datasets import open_dataset
from cnnviz_widget.engine.exemplars.mining import Miner, mine

PRE = ImagePreprocess(size=8, resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), scale=255.0,
                      interpolation="nearest")
LABELS = ["x", "y", "z"]
IMAGES = {"cat/a.png": [(0, 250, 2, 5), (1, 40, 6, 6)], "cat/b.png": [(0, 200, 0, 0)],
          "dog/c.png": [(0, 100, 4, 4), (1, 252, 1, 2)], "dog/d.png": [(0, 150, 7, 3)],
          "dog/e.png": [(1, 120, 5, 1)]}


def net() -> nn.Module:
    conv1 = nn.Conv2d(3, 18, 3, padding=1, bias=False)
    conv2 = nn.Conv2d(18, 1, 1, bias=False)
    fc = nn.Linear(1, 3)
    with torch.no_grad():
        conv1.weight.zero_()
        conv1.weight[0, 0, 1, 1] = conv1.weight[1, 1, 1, 1] = 1.0
        conv2.weight.zero_()
        conv2.weight[0, 0] = conv2.weight[0, 1] = 1.0
        fc.weight.fill_(1.0)
        fc.bias.zero_()
    return nn.Sequential(conv1, nn.ReLU(), conv2, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), fc).eval()


def make_image(pixels) -> Image.Image:
    a = np.zeros((8, 8, 3), np.uint8)
    for channel, value, y, x in pixels:
        a[y, x, channel] = value
    return Image.fromarray(a)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    for name, pixels in IMAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        make_image(pixels).save(root / name)
    return root


@pytest.fixture
def w() -> CNNViz:
    return CNNViz(model=net(), preprocess=PRE, labels=LABELS, image=make_image([]), gallery=[])


@pytest.fixture
def mined(w, folder) -> CNNViz:
    w.mine(folder)
    assert w.wait_exemplars(60)
    return w


def sheet(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def patch(value: int, y: int, x: int, channel: int = 0) -> np.ndarray:
    """The 3×3 patch of a black image with one bright pixel at the centre (the box may leave the image: black too)."""
    out = np.zeros((3, 3, 3), np.uint8)
    out[1, 1, channel] = value
    return out


def projection(channel: int = 0) -> np.ndarray:
    """A layer-1 unit projects back to its own filter: gray, the filter's centre at full contrast."""
    out = np.full((3, 3, 3), 128, np.uint8)
    out[1, 1, channel] = 255
    return out


# --------------------------------------------------------------------------------------------- mining
def test_mining_fills_the_top9_of_the_selected_unit(mined, folder):
    assert mined.mining == {
        "state": "complete", "dataset": f"folder {folder}/ (5 image files)", "images": 5, "skipped": 0, "done": 5,
        "total": 5, "k": 9, "layers": ["0", "2", "6"], "version": mined.mining["version"], "message": "",
        "entry": None}  # conv, conv, linear: the layers a unit card is about
    top9 = mined.top9
    assert top9["request"] == {"layer": "0", "channel": 0, "rule": "auto", "display": "auto", "crop": "auto"}
    assert top9["view"]["text"] == "deconvnet · raw colour · receptive field"  # a first layer: the paper's view
    assert (top9["state"], top9["count"], top9["k"], top9["cols"], top9["tile"], top9["box"], top9["complete"]) == (
        "ready", 5, 9, 3, [3, 3], [3, 3], True)
    assert [(e["id"], e["value"], e["position"], e["label_name"]) for e in top9["exemplars"]] == [
        ("cat/a.png", 250.0, [2, 5], "cat"), ("cat/b.png", 200.0, [0, 0], "cat"), ("dog/d.png", 150.0, [7, 3], "dog"),
        ("dog/c.png", 100.0, [4, 4], "dog"), ("dog/e.png", 0.0, [0, 0], "dog")]
    assert top9["stats"] == {"images": 5, "fired": 4, "firing_rate": 0.8, "dead": False,
                             "class_mix": [[1, "dog", 3], [0, "cat", 2]]}
    patches, projections = sheet(top9["patches"]), sheet(top9["projections"])
    assert patches.shape == projections.shape == (6, 9, 3)  # 5 tiles of 3×3, 3 a row
    for rank, (value, y, x) in enumerate([(250, 2, 5), (200, 0, 0), (150, 7, 3), (100, 4, 4)]):
        row, col = divmod(rank, 3)
        assert np.array_equal(patches[3 * row:3 * row + 3, 3 * col:3 * col + 3], patch(value, y, x)), rank
        assert np.array_equal(projections[3 * row:3 * row + 3, 3 * col:3 * col + 3], projection()), rank
    assert np.all(patches[3:6, 3:6] == 0)  # e never fires: its patch is black, its projection flat gray
    assert np.all(projections[3:6, 3:6] == 128)


def test_the_selection_rule_and_layer_move_the_top9(mined):
    mined.channel = 1
    mined.wait_exemplars()
    assert [e["id"] for e in mined.top9["exemplars"]] == ["dog/c.png", "dog/e.png", "cat/a.png", "cat/b.png",
                                                          "dog/d.png"]
    assert np.array_equal(sheet(mined.top9["projections"])[:3, :3], projection(channel=1))
    mined.rule = "guided"
    mined.wait_exemplars()
    assert mined.top9["request"] == {"layer": "0", "channel": 1, "rule": "guided", "display": "auto", "crop": "auto"}
    mined.layer = "2"  # relu(red) + relu(green): the strongest pixel of each image
    mined.wait_exemplars()
    assert [(e["id"], e["value"]) for e in mined.top9["exemplars"]] == [
        ("dog/c.png", 252.0), ("cat/a.png", 250.0), ("cat/b.png", 200.0), ("dog/d.png", 150.0), ("dog/e.png", 120.0)]


def test_the_top9_and_the_layer_atlas_show_exemplars_as_the_unit_card_shows_the_unit(mined):
    # Gray on the central half: the 3×3 field's central half is its top-left 2×2 (central_box: round(1.5) = 2 px,
    # (3 − 2) // 2 = 0 px before it). The red unit's projection is its activation at the red pixel, (1, 1) of the
    # field: gray = its channel mean v/3 there, 0 elsewhere; the 99.5th percentile of the four |values| is
    # 0.985 · v/3, so (1, 1) is clipped to 255 and the rest is 128.
    mined.display, mined.crop = "gray", "center"
    mined.wait_exemplars()
    top9 = mined.top9
    assert top9["request"] == {"layer": "0", "channel": 0, "rule": "auto", "display": "gray", "crop": "center"}
    assert top9["view"]["text"] == "deconvnet · gray · central half" and top9["view"]["auto"] == ["rule"]
    assert (top9["tile"], top9["box"]) == ([2, 2], [2, 2])
    patches, projections = sheet(top9["patches"]), sheet(top9["projections"])
    gray = np.full((2, 2, 3), 128, np.uint8)
    gray[1, 1] = 255
    for rank, (value, y, x) in enumerate([(250, 2, 5), (200, 0, 0), (150, 7, 3), (100, 4, 4)]):
        row, col = divmod(rank, 3)
        assert np.array_equal(patches[2 * row:2 * row + 2, 2 * col:2 * col + 2], patch(value, y, x)[:2, :2]), rank
        assert np.array_equal(projections[2 * row:2 * row + 2, 2 * col:2 * col + 2], gray), rank
    mined.layer_atlas_open = True
    mined.wait_exemplars()
    atlas = mined.layer_atlas
    assert atlas["request"] == {"layer": "0", "page": 0, "rule": "auto", "display": "gray", "crop": "center",
                                "sort_by": "channel"}
    assert atlas["view"] == top9["view"] and atlas["tile"] == [2, 2]
    assert np.array_equal(sheet(atlas["projections"])[0:2, 0:2], gray)
    mined.crop = "auto"  # the paper's view again on this first layer: the field, in colour
    mined.display = "auto"
    mined.wait_exemplars()
    assert mined.top9["view"]["text"] == "deconvnet · raw colour · receptive field"
    assert np.array_equal(sheet(mined.top9["projections"])[:3, :3], projection())


def test_dead_units_and_unmined_layers_say_so(mined):
    mined.channel = 5
    mined.wait_exemplars()
    top9 = mined.top9
    assert (top9["state"], top9["stats"]["dead"], top9["stats"]["fired"], top9["count"]) == ("dead", True, 0, 5)
    assert "patches" not in top9 and "projections" not in top9  # nothing to see: no pictures computed
    mined.layer = "1"  # the ReLU repeats conv1: not mined by default
    mined.wait_exemplars()
    assert mined.top9["request"] == {"layer": "1", "channel": 5, "rule": "auto", "display": "auto", "crop": "auto"}
    assert mined.top9["state"] == "not-mined"
    assert mined.top9["message"] == "layer 1 was not mined (mined: 0, 2, 6) — mine it with w.mine(layers=['1', ...])"


def test_answers_for_a_selection_that_moved_on_are_dropped(mined, monkeypatch):
    seen = []
    mined.observe(lambda change: seen.append(change["new"]["request"]), names="top9")
    compute = mined.panels.exemplars.tiles.get

    def moving(result, layer, channels, view, channel_order):
        if mined.channel == 1:  # the user clicks unit 2 while unit 1's exemplars are being computed
            mined.channel = 2
        return compute(result, layer, channels, view, channel_order)

    monkeypatch.setattr(mined.panels.exemplars.tiles, "get", moving)
    mined.channel = 1
    mined.wait_exemplars()
    assert seen == [{"layer": "0", "channel": 2, "rule": "auto", "display": "auto", "crop": "auto"}]  # the answer for unit 1 never went out
    assert mined.top9["state"] == "dead"


# --------------------------------------------------------------------------------------------- layer atlas
def test_layer_atlas_pages_hold_every_units_exemplars(mined):
    assert mined.layer_atlas == {}  # computed only while open
    mined.layer_atlas_open = True
    mined.wait_exemplars()
    atlas = mined.layer_atlas
    assert atlas["request"] == {"layer": "0", "page": 0, "rule": "auto", "display": "auto", "crop": "auto",
                                "sort_by": "channel"}
    assert (atlas["state"], atlas["count"], atlas["page"], atlas["pages"], atlas["page_size"], atlas["k"],
            atlas["tile"], atlas["images"]) == ("ready", 18, 0, 2, 16, 9, [3, 3], 5)
    assert atlas["channels"] == list(range(16))
    values = np.frombuffer(atlas["values"], "<f4").reshape(16, 9)
    assert values[0, :5].tolist() == [250, 200, 150, 100, 0] and np.isnan(values[0, 5:]).all()
    assert values[1, :5].tolist() == [252, 120, 40, 0, 0] and values[2, :5].tolist() == [0] * 5
    stats = np.frombuffer(atlas["stats"], "<f4").reshape(16, 3)
    assert atlas["stats_columns"] == ["firing_rate", "fired", "top"]
    assert stats[:3].tolist() == [[0.800000011920929, 4, 250], [0.6000000238418579, 3, 252], [0, 0, 0]]
    assert atlas["top_class"][:3] == [["dog", 3], ["dog", 3], ["dog", 3]]  # dead units too: ties, by position
    patches, projections = sheet(atlas["patches"]), sheet(atlas["projections"])
    assert patches.shape == (16 * 3, 9 * 3, 3)  # row i: unit channels[i], its exemplars strongest first
    assert np.array_equal(patches[0:3, 3:6], patch(200, 0, 0))  # unit 0, rank 1: cat/b.png
    assert np.array_equal(patches[3:6, 0:3], patch(252, 1, 2, channel=1))  # unit 1, rank 0: dog/c.png
    assert np.array_equal(projections[3:6, 0:3], projection(channel=1))
    assert not patches[6:].any()  # dead units: no pictures

    mined.layer_atlas_page = 1
    mined.wait_exemplars()
    assert (mined.layer_atlas["page"], mined.layer_atlas["channels"]) == (1, [16, 17])
    mined.sort_by = "strength"
    mined.wait_exemplars()
    assert mined.layer_atlas["channels"] == [16, 17]  # the dead ones last, by channel
    mined.layer_atlas_page = 0
    mined.wait_exemplars()
    assert mined.layer_atlas["channels"][:3] == [1, 0, 2]
    mined.layer_atlas_page = 7  # past the end: the last page, stamped with what was asked
    mined.wait_exemplars()
    assert (mined.layer_atlas["request"]["page"], mined.layer_atlas["page"]) == (7, 1)
    mined.layer = "2"  # a new layer starts on its first page
    mined.wait_exemplars()
    assert mined.layer_atlas_page == 0 and mined.layer_atlas["request"]["layer"] == "2"


# --------------------------------------------------------------------------------------------- commands
def test_clicking_an_exemplar_loads_its_image_and_selects_its_position(mined):
    b = next(e for e in mined.top9["exemplars"] if e["id"] == "cat/b.png")
    mined._handle_custom_msg({"type": "exemplar", "layer": "0", "channel": 0, "index": b["index"]}, [])
    assert (mined.error, mined.picture["name"], mined.layer, mined.channel, mined.position) == (
        "", "cat/b.png", "0", 0, [0, 0])
    assert mined.unit["location"] == [0, 0] and mined.unit["stats"]["value"] == 200.0
    assert np.asarray(mined.image).tolist() == np.asarray(make_image(IMAGES["cat/b.png"])).tolist()
    mined._handle_custom_msg({"type": "exemplar", "layer": "0", "channel": 5, "index": 99}, [])
    assert mined.error.startswith("image 99 is no longer among the top 9 of 0 channel 5")
    mined._handle_custom_msg({"type": "exemplar", "layer": "1", "channel": 0, "index": 0}, [])
    assert mined.error == "there are no exemplars of layer '1' to open — mine it first (w.mine())"


class SlowImages(torch.utils.data.Dataset):
    """Images that take a while to read (so a pass can be cancelled half-way), labelled 0/1."""

    def __init__(self, n: int) -> None:
        rng = np.random.default_rng(0)
        self.images = [Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)) for _ in range(n)]
        self.delay = 0.0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        time.sleep(self.delay)
        return self.images[i], i % 2


def test_cancel_keeps_what_was_mined_and_mining_again_resumes(w):
    slow = SlowImages(60)
    data = open_dataset(slow)
    data.fingerprint()  # hashed before the reads are slowed down
    slow.delay = 0.02
    states = []
    w.observe(lambda change: states.append((change["new"]["state"], change["new"]["done"])), names="mining")
    w.mine(data, batch_size=2, layers=["0"])
    while not (states and states[-1][1] >= 6):
        time.sleep(0.01)
    w.channel = 1  # the widget stays usable while it mines
    assert w.unit["request"]["channel"] == 1
    w._handle_custom_msg({"type": "mining", "action": "cancel"}, [])
    assert w.mining["state"] == "cancelling"
    assert w.wait_exemplars(60)
    stopped = w.mining
    assert stopped["state"] == "cancelled" and 6 <= stopped["done"] < 60
    assert (w.exemplars.complete, w.exemplars.images) == (False, stopped["done"])
    assert w.top9["complete"] is False and w.top9["stats"]["images"] == stopped["done"]

    states.clear()
    w.mine(data, batch_size=2, layers=["0"])  # the same pass: resumed from where it stopped
    assert w.wait_exemplars(60)
    assert states[1] == ("running", stopped["done"])  # the first batch reported after the restart
    assert w.mining["state"] == "complete" and w.exemplars.complete
    slow.delay = 0.0
    clean = mine(w.explorer, data, layers=["0"], batch_size=2, bar=False)
    for key, table in clean.table("0").items():
        assert torch.equal(w.exemplars.table("0")[key], table), key


def test_a_pass_already_running_and_a_bad_dataset_are_refused(w, tmp_path):
    with pytest.raises(CNNVizError, match="no folder at"):
        w.mine(tmp_path / "missing")
    slow = SlowImages(30)
    data = open_dataset(slow)
    data.fingerprint()
    slow.delay = 0.02
    miner = w.mine(data, layers=["0"], batch_size=2)
    with pytest.raises(CNNVizError, match="a mining pass is already running"):
        w.mine(data)
    with pytest.raises(CNNVizError, match="a mining pass is running"):
        w.load_exemplars(tmp_path)
    miner.cancel()  # from Python, on the miner w.mine returned
    assert w.wait_exemplars(60) and w.mining["state"] == "cancelled"
    again = w.mine(data, layers=["0"], batch_size=2)
    w.close()  # a closed widget does not mine on
    assert w.wait_exemplars(60) and not again.running and not again.wait().complete


# --------------------------------------------------------------------------------------------- caches
def test_a_cache_from_the_cli_opens_in_the_constructor(mined, folder, tmp_path):
    cache = tmp_path / "cache"
    Miner(mined.explorer.spec, folder, layers=["0", "2", "6"], cache_dir=cache).run(bar=False)  # = `cnnviz mine`
    v = CNNViz(model=mined.explorer, image=make_image([]), gallery=[], exemplars=cache)
    assert v.wait_exemplars(60)
    assert v.mining["state"] == "complete" and v.mining["entry"].startswith(str(cache))
    assert {k: v.top9[k] for k in ("exemplars", "stats", "patches", "projections")} == {
        k: mined.top9[k] for k in ("exemplars", "stats", "patches", "projections")}

    changed = net()
    with torch.no_grad():
        changed[0].weight[0, 0, 1, 1] = 2.0
    with pytest.raises(CNNVizError, match="no mined exemplars in .* match this model"):
        CNNViz(model=changed, preprocess=PRE, image=make_image([]), gallery=[], exemplars=cache)


def test_a_mined_result_and_an_unfinished_cache_open_too(w, folder, tmp_path):
    result = mine(w.explorer, folder, layers=["0"], bar=False)
    w.load_exemplars(result)
    assert w.wait_exemplars(60) and w.mining["state"] == "complete" and w.top9["count"] == 5
    cache = tmp_path / "cache"
    cancel = threading.Event()
    cancel.set()  # stops after the first batch: an unfinished pass on disk
    Miner(w.explorer, folder, layers=["0"], batch_size=2, cache_dir=cache).run(cancel=cancel, bar=False)
    w.load_exemplars(cache)
    assert w.wait_exemplars(60)
    assert (w.mining["state"], w.mining["images"], w.top9["count"]) == ("partial", 2, 2)


def test_an_unfinished_cache_is_followed_until_the_cli_finishes_it(w, folder, tmp_path, monkeypatch):
    from cnnviz_widget.panels import exemplars as exemplar_panels

    monkeypatch.setattr(exemplar_panels, "FOLLOW_EVERY", 0.05)
    cache = tmp_path / "cache"
    cancel = threading.Event()
    cancel.set()
    Miner(w.explorer, folder, layers=["0"], batch_size=2, cache_dir=cache).run(cancel=cancel, bar=False)
    w.load_exemplars(cache)
    assert w.wait_exemplars(60) and (w.mining["state"], w.mining["images"]) == ("partial", 2)
    # `cnnviz mine` (another process in class; here the same code) resumes and finishes the folder meanwhile
    Miner(w.explorer, folder, layers=["0"], batch_size=2, cache_dir=cache).run(bar=False)
    deadline = time.monotonic() + 120  # the follower re-reads every 0.05 s; a busy machine can take long
    while w.mining["state"] != "complete" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert w.wait_exemplars(60)
    assert (w.mining["state"], w.mining["images"], w.top9["count"]) == ("complete", 5, 5)


def test_the_constructor_lists_exemplars_among_its_keywords():
    with pytest.raises(TypeError, match=r"valid keywords: .*, gallery, exemplars$"):
        CNNViz(model=net(), preprocess=PRE, exemplar="cache/")


# --------------------------------------------------------------------------------------------- default model
@pytest.mark.slow
def test_payloads_stay_bounded_on_the_default_model():
    v = CNNViz()
    v.mine("demo")
    assert v.wait_exemplars(300)
    biggest = max((info for info in v.explorer.layers if info.name in v.mining["layers"]), key=lambda i: i.channels)
    v.layer, v.channel, v.layer_atlas_open = biggest.name, 7, True
    assert v.wait_exemplars(300)
    atlas, top9 = v.layer_atlas, v.top9
    assert (atlas["state"], len(atlas["channels"]), atlas["tile"], top9["tile"]) == ("ready", 16, [32, 32], [96, 96])
    assert len(atlas["patches"]) + len(atlas["projections"]) < 600_000
    assert len(top9["patches"]) + len(top9["projections"]) < 400_000


@pytest.mark.slow
def test_leaving_python_while_the_panels_compute_exits_cleanly():
    # The top-9 panel of the newly selected unit is being computed in the panel thread when the script ends: without
    # the exit hook, torch aborted the process ("terminate called without an active exception", exit code 134).
    code = ("from cnnviz_widget import CNNViz; w = CNNViz(); w.mine('demo'); w.wait_exemplars(300); "
            "w.layer = 'classifier.1'; w.channel = 281")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "terminate called" not in done.stderr, done.stderr[-2000:]
