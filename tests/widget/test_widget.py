"""The Python side of CNNViz: traits, validators, commands and the strict constructor, on a hand-set net whose
every activation is known."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import cnnviz_widget
from cnnviz_widget import CNNViz, Explorer, ImageError, ImagePreprocess, LayerError, ModelError, load_model
from cnnviz_widget.state.units import clamp_note

PRE = ImagePreprocess(size=8, resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))  # tensor = pixel / 255
LABELS = ["a", "b", "c"]


def hand_net() -> nn.Module:
    """conv1 (1×1): channels R, G, B, −R · ReLU · conv2 (1×1): channels relu(R)+relu(G), relu(B) · ReLU · pool · fc."""
    conv1 = nn.Conv2d(3, 4, 1, bias=False)
    conv2 = nn.Conv2d(4, 2, 1, bias=False)
    fc = nn.Linear(2, 3)
    with torch.no_grad():
        conv1.weight.zero_()
        conv1.weight[0, 0] = conv1.weight[1, 1] = conv1.weight[2, 2] = 1.0
        conv1.weight[3, 0] = -1.0
        conv2.weight.zero_()
        conv2.weight[0, 0] = conv2.weight[0, 1] = conv2.weight[1, 2] = 1.0
        fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        fc.bias.zero_()
    return nn.Sequential(conv1, nn.ReLU(), conv2, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), fc).eval()


def picture() -> Image.Image:
    """Red 255 at (2, 5) and 102 at (6, 1); green 51 everywhere; no blue."""
    arr = np.zeros((8, 8, 3), np.uint8)
    arr[..., 1] = 51
    arr[2, 5, 0] = 255
    arr[6, 1, 0] = 102
    return Image.fromarray(arr)


def png_bytes(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


GALLERY = [("red", Image.new("RGB", (8, 8), (255, 0, 0))), ("blue", Image.new("RGB", (8, 8), (0, 0, 255)))]


@pytest.fixture
def w() -> CNNViz:
    return CNNViz(model=hand_net(), preprocess=PRE, labels=LABELS, image=picture(), gallery=GALLERY)


def stats(widget: CNNViz) -> np.ndarray:
    return np.frombuffer(widget.atlas["stats"], dtype="<f4").reshape(widget.atlas["count"], 5)


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def pixels(picture: dict) -> np.ndarray:
    """An uncompressed picture of the unit card (``encode.raw``) as an array."""
    shape = picture["shape"] + ([picture["channels"]] if picture["channels"] > 1 else [])
    return np.frombuffer(picture["data"], np.uint8).reshape(shape)


# -------------------------------------------------------------------------------------------- constructor
def test_a_bare_module_takes_input_size_and_the_error_names_what_works():
    # A 1-channel net with a linear layer sized for 28×28 inputs: 2 maps of 26×26 after a 3×3 convolution.
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 26 * 26, 3)).eval()
    with pytest.warns(UserWarning, match="no preprocess given"), pytest.raises(
            ModelError, match=r"input of shape \(1, 1, 224, 224\).* input_size=<side> when no preprocess is given "
                              r"\(e\.g\. input_size=28 for 28×28 inputs\), or a preprocess= that makes that input"):
        CNNViz(model=net, gallery=[])
    with pytest.warns(UserWarning, match="no preprocess given"):
        v = CNNViz(model=net, input_size=28, gallery=[])
    assert v.explorer.spec.input_shape == (1, 28, 28) and v.picture["size"] == [28, 28]
    assert v.atlas["tile"] == [26, 26] and v.unit["request"]["layer"] == "0"
    with pytest.raises(ModelError, match="input_size=28 applies to an nn.Module or a model name; this Explorer "
                                         "already takes 1×28×28 inputs — drop input_size"):
        CNNViz(model=v.explorer, input_size=28, gallery=[])


def test_unknown_keywords_raise_type_error_listing_the_valid_ones():
    with pytest.raises(TypeError, match=r"unknown keywords 'colour', 'size'; valid keywords: model, image, layer"):
        CNNViz(model=hand_net(), preprocess=PRE, colour="red", size=3)


def test_defaults_describe_the_model_and_select_the_first_convolution(w):
    assert [layer["name"] for layer in w.layers] == ["0", "1", "2", "3", "4", "6"]
    assert w.layers[0] == {"name": "0", "kind": "conv", "label": "conv 1×1 · 4×8×8", "shape": [4, 8, 8],
                           "stage": True, "view": {"rule": "deconvnet", "display": "raw", "crop": "field"}}
    assert [layer["name"] for layer in w.layers if layer["stage"]] == ["0", "2", "6"]  # convolutions and fc
    assert (w.layer, w.channel, w.position, w.rule, w.display, w.crop, w.sort_by) == (
        "0", 0, "max", "auto", "auto", "auto", "channel")
    assert w.model_info == {"name": "Sequential", "source": "user module", "pretrained": True,
                            "input_shape": [3, 8, 8], "classes": 3, "first_conv": "0"}
    assert (w.busy, w.error, w.top9) == (False, "", {})


def test_constructor_takes_an_explorer_or_a_spec_and_an_initial_selection():
    ex = Explorer(hand_net(), preprocess=PRE, labels=LABELS)
    assert CNNViz(model=ex, image=picture(), gallery=[]).explorer is ex
    spec = load_model(hand_net(), preprocess=PRE, labels=LABELS)
    v = CNNViz(model=spec, image=picture(), gallery=[], layer="2", channel=1, position=[3, 4], rule="guided")
    assert (v.layer, v.channel, v.position, v.rule) == ("2", 1, [3, 4], "guided")
    assert v.unit["request"] == {"image": 1, "layer": "2", "channel": 1, "position": [3, 4], "rule": "guided",
                                 "display": "auto", "crop": "auto"}


def test_constructor_rejects_a_bad_layer_or_image():
    with pytest.raises(LayerError, match="unknown layer 'conv9'"):
        CNNViz(model=hand_net(), preprocess=PRE, gallery=[], layer="conv9")
    with pytest.raises(ImageError, match="not an image"):
        CNNViz(model=hand_net(), preprocess=PRE, gallery=[], image=b"not a picture at all")


def test_without_image_or_gallery_the_widget_starts_on_gray():
    v = CNNViz(model=hand_net(), preprocess=PRE, gallery=[])
    assert v.picture["name"] == "gray"
    assert decode(v.picture["png"]).tolist() == [[[128, 128, 128]] * 8] * 8


# -------------------------------------------------------------------------------------------- results
def test_picture_is_the_models_view_with_top_predictions(w):
    assert (w.picture["id"], w.picture["name"], w.picture["size"]) == (1, "image", [8, 8])
    assert np.array_equal(decode(w.picture["png"]), np.asarray(picture()))
    top = w.picture["predictions"]
    assert [p["label"] for p in top] == ["a", "b", "c"]
    mean_red = (1.0 + 0.4) / 64
    expected = torch.softmax(torch.tensor([mean_red + 0.2, 0.0, 0.0]), 0)
    assert [p["probability"] for p in top] == pytest.approx(expected.tolist(), abs=1e-6)


def test_atlas_statistics_are_the_layers_exact_values(w):
    assert (w.atlas["image"], w.atlas["layer"], w.atlas["count"], w.atlas["tile"], w.atlas["signed"]) == (
        1, "0", 4, [8, 8], True)
    s = stats(w)
    assert s[:, 0].tolist() == pytest.approx([0.0, 0.2, 0.0, -1.0])  # min
    assert s[:, 1].tolist() == pytest.approx([1.0, 0.2, 0.0, 0.0])  # max
    assert s[2, :2].tolist() == [0.0, 0.0]  # blue: silent
    # 2×2 grid of 8×8 tiles; signed codes 128 ± round(127 · √(|x| / s)) with s = 1, the 95th percentile of the
    # peaks 1, 0.2, 0, 1 (sorted, position 0.95 · 3 = 2.85, between 1 and 1).
    assert s[:, 4].tolist() == [1.0] * 4
    sheet = decode(w.atlas["png"])
    assert sheet[2, 5] == 255 and sheet[6, 1] == 128 + round(127 * 0.4 ** 0.5) == 208  # channel 0 (red)
    assert np.all(sheet[0:8, 8:16] == 128 + round(127 * 0.2 ** 0.5))  # channel 1 (green): 185
    assert sheet[8 + 2, 8 + 5] == 1  # channel 3 (−red)


def test_unit_is_stamped_and_located_at_the_strongest_activation(w):
    unit = w.unit
    assert unit["request"] == {"image": 1, "layer": "0", "channel": 0, "position": "max", "rule": "auto",
                               "display": "auto", "crop": "auto"}
    assert unit["location"] == [2, 5]
    assert unit["field"] == [2, 5, 3, 6]  # a 1×1 convolution sees one pixel
    assert unit["crop"] == [0, 0, 8, 8]  # widened to 24 px, clipped to the 8 px input
    assert unit["stats"] == pytest.approx({"min": 0.0, "max": 1.0, "mean": 1.4 / 64, "fraction_active": 2 / 64,
                                           "value": 1.0})
    projection = pixels(unit["projection"])  # only the red weight of the unit at (2, 5): everything else gray
    expected = np.full((8, 8, 3), 128, np.uint8)
    expected[2, 5, 0] = 255
    assert np.array_equal(projection, expected)
    assert pixels(unit["map"]["codes"])[2, 5] == 255 and unit["map"]["colormap"] == "heat"


def test_whole_map_projection_has_no_location(w):
    w.position = "map"
    assert (w.unit["location"], w.unit["field"], w.unit["crop"]) == (None, None, None)
    projection = pixels(w.unit["projection"])
    p = np.zeros(3 * 8 * 8)
    p[:2] = [1.0, 0.4]  # the red weight seeded by both active units, everything else zero
    scale = np.quantile(p, 0.995)  # interpolates between 0.4 and 1.0 here
    assert projection[2, 5, 0] == 255 and projection[6, 1, 0] == 128 + round(127 * min(1.0, 0.4 / scale))


def test_filters_are_the_first_convolutions_weights(w):
    assert (w.filters["layer"], w.filters["count"], w.filters["kernel"], w.filters["zoom"]) == ("0", 4, [1, 1], 24)
    sheet = decode(w.filters["png"])
    assert sheet[0, 0].tolist() == [255, 128, 128]  # filter 0 reads red
    assert sheet[0, 24].tolist() == [128, 255, 128]  # filter 1 reads green
    assert sheet[24, 24].tolist() == [1, 128, 128]  # filter 3 reads −red


def test_gallery_holds_names_and_one_thumbnail_sheet(w):
    assert w.gallery["names"] == ["red", "blue"]
    sheet = decode(w.gallery["png"])
    assert sheet.shape == (64, 128, 3)
    assert sheet[0, 0].tolist() == [255, 0, 0] and sheet[0, 64].tolist() == [0, 0, 255]


def test_gallery_skips_unreadable_entries_with_a_warning():
    with pytest.warns(UserWarning, match="skipped 'broken'"):
        v = CNNViz(model=hand_net(), preprocess=PRE, image=picture(), gallery=[("broken", b"xx"), GALLERY[0]])
    assert v.gallery["names"] == ["red"]


# -------------------------------------------------------------------------------------------- selection
def test_python_side_changes_recompute_and_observers_fire(w):
    seen = []
    w.observe(lambda change: seen.append((change["name"], change["new"])), names=["channel", "layer"])
    w.channel = 3
    assert w.unit["request"]["channel"] == 3 and w.unit["location"] == [0, 0]  # −red peaks at 0: its first place
    w.layer = "2"
    assert seen == [("channel", 3), ("channel", 1), ("layer", "2")]  # 3 is outside layer "2": clamped to its last
    assert (w.atlas["layer"], w.atlas["count"], w.unit["request"]["layer"], w.unit["request"]["channel"]) == (
        "2", 2, "2", 1)


def test_invalid_selections_raise_and_keep_the_previous_value(w):
    with pytest.raises(LayerError, match="unknown layer 'features.3'"):
        w.layer = "features.3"
    with pytest.raises(LayerError, match="channel 4 is outside layer '0', which has channels 0–3"):
        w.channel = 4
    with pytest.raises(LayerError, match=r"position \[8, 0\] is outside layer '0', whose map is 8×8"):
        w.position = (8, 0)
    with pytest.raises(LayerError, match="position must be"):
        w.position = "centre"
    assert (w.layer, w.channel, w.position) == ("0", 0, "max")


def test_positions_normalise_and_picked_positions_reset_on_a_layer_without_space(w):
    w.position = None
    assert w.position == "map"
    w.position = (6, 1)
    assert w.position == [6, 1] and w.unit["location"] == [6, 1] and w.unit["stats"]["value"] == pytest.approx(0.4)
    w.layer = "6"  # linear: no map
    assert w.position == "max"
    assert (w.unit["location"], w.unit["field"], w.atlas["tile"]) == (None, None, [1, 1])
    with pytest.raises(LayerError, match="outside layer '6'"):
        w.position = [0, 0]


def test_a_layer_without_the_channel_clamps_it_and_says_so(w):
    w.channel = 3  # layer 0 has 4 channels, layer 2 two
    w.layer = "2"
    assert w.channel == 1 and w.unit["request"]["channel"] == 1
    assert w.note == {"layer": "2", "channel": 1, "text": "channel 3 → 1: 2 has 2 channels"}
    w.layer = "3"  # has channel 1: kept, and the note about layer 2 is gone
    assert (w.channel, w.note) == (1, {})
    w.layer = "6"
    assert (w.channel, w.note) == (1, {})
    # The front end clamps too and sends its note with the change: it stays.
    w.layer, w.channel = "0", 3
    note = {"layer": "2", "channel": 1, "text": "channel 3 → 1: 2 has 2 channels"}
    w.set_state({"layer": "2", "channel": 1, "note": note})
    assert (w.layer, w.channel, w.note) == ("2", 1, note)
    # The same words as the front end's (tests/js/lib/format.test.mjs).
    assert clamp_note("features.9", 300, 256)["text"] == "channel 300 → 255: features.9 has 256 channels"
    assert clamp_note("fc", 3, 1) == {"layer": "fc", "channel": 0, "text": "channel 3 → 0: fc has 1 channel"}


def test_a_silent_unit_says_why_its_projection_is_empty(w):
    # After the first ReLU: red is 0 except at (2, 5) and (6, 1); blue (channel 2) and −red (3) are 0 everywhere.
    w.layer, w.channel = "1", 2
    assert w.unit["silent"] == "everywhere" and w.unit["stats"]["max"] == 0
    assert np.all(pixels(w.unit["projection"]) == 128)
    w.channel, w.position = 0, [0, 0]
    assert w.unit["silent"] == "here" and w.unit["stats"]["value"] == 0
    assert np.all(pixels(w.unit["projection"]) == 128)
    w.position = "max"
    assert w.unit["silent"] is None and w.unit["location"] == [2, 5]
    assert not np.all(pixels(w.unit["projection"]) == 128)
    w.channel, w.position = 3, "map"
    assert w.unit["silent"] == "everywhere"
    w.layer, w.channel = "0", 3  # before the ReLU −red is −1 and −0.4 where red is, 0 elsewhere: its whole map
    assert w.unit["silent"] is None and w.unit["stats"]["min"] == pytest.approx(-1.0)  # projects, negatively,
    w.position = "max"  # but its strongest value is 0 (at the first such place, (0, 0)): silent there
    assert w.unit["silent"] == "here" and w.unit["location"] == [0, 0]


def test_front_end_updates_apply_together(w):
    w.set_state({"layer": "2", "channel": 1, "position": [1, 1]})  # what a click on another layer's tile sends
    assert (w.layer, w.channel, w.position) == ("2", 1, [1, 1])
    assert w.unit["request"] == {"image": 1, "layer": "2", "channel": 1, "position": [1, 1], "rule": "auto",
                                 "display": "auto", "crop": "auto"}


def test_rule_toggle_changes_the_projection_and_going_back_reuses_the_first_answer(w):
    w.layer = "3"  # after two ReLUs the rules differ
    first = w.unit
    w.rule = "gradient"
    assert w.unit["request"]["rule"] == "gradient" and w.unit["view"]["rule"] == "gradient"
    w.rule = "auto"
    assert w.unit is first
    w.rule = "deconvnet"  # what "auto" shows on this net's layers (none sees more than its first convolution)
    assert w.unit["request"]["rule"] == "deconvnet" and w.unit["projection"] == first["projection"]


def test_busy_is_raised_while_computing_and_lowered_after(w):
    seen = []
    w.observe(lambda change: seen.append(change["new"]), names="busy")
    w.channel = 1
    w.channel = 1  # unchanged: nothing to compute
    assert seen == [True, False] and w.busy is False


def test_timings_record_each_computation(w):
    w.channel = 2
    last = w.timings[-1]
    assert last["kind"] == "unit" and last["channel"] == 2 and last["ms"] >= last["project_ms"] >= 0


# -------------------------------------------------------------------------------------------- images
def test_new_image_from_python_updates_everything_and_keeps_the_selection(w):
    w.channel = 1
    w.set_image(GALLERY[1][1], name="all blue")
    assert (w.picture["id"], w.picture["name"], w.atlas["image"], w.unit["request"]["image"]) == (2, "all blue", 2, 2)
    assert (w.layer, w.channel) == ("0", 1)
    assert isinstance(w.image, Image.Image) and w.image.size == (8, 8)


def test_same_pixels_under_a_new_name_rename_the_picture_without_recomputing(w):
    w.set_image(GALLERY[1][1], name="all blue")
    unit = w.unit
    w.set_image(GALLERY[1][1].copy(), name="blue again")
    assert (w.picture["id"], w.picture["name"]) == (2, "blue again")
    assert w.unit is unit  # nothing recomputed


def test_upload_command_reads_bytes_and_names_the_picture(w):
    seen = []
    w.observe(lambda change: seen.append(change["new"].getpixel((0, 0))), names="image")
    w._handle_custom_msg({"type": "upload", "name": "red.png"}, [memoryview(png_bytes(GALLERY[0][1]))])
    assert (w.picture["id"], w.picture["name"], w.error) == (2, "red.png", "")
    assert seen == [(255, 0, 0)]  # Python observers of `image` hear about uploads
    assert stats(w)[0, 1] == pytest.approx(1.0)


@pytest.mark.parametrize(("payload", "message"), [
    (b"", "broken.jpg is empty"),
    (b"GIF89a-not-really", "broken.jpg is not an image PIL can read"),
    (png_bytes(picture())[:60], "broken.jpg is corrupt or truncated"),
])
def test_bad_upload_shows_an_error_and_keeps_the_last_good_image(w, payload, message):
    w.layer, w.channel = "2", 1
    before = (w.picture, w.atlas, w.unit, w.image)
    w._handle_custom_msg({"type": "upload", "name": "broken.jpg"}, [memoryview(payload)])
    assert w.error.startswith(message)
    assert (w.picture, w.atlas, w.unit, w.image) == before
    assert (w.layer, w.channel, w.busy) == ("2", 1, False)
    w._handle_custom_msg({"type": "sample", "index": 0}, [])  # still usable; a good image clears the banner
    assert (w.error, w.picture["name"]) == ("", "red")


def test_too_large_upload_names_the_limit(w, monkeypatch):
    monkeypatch.setattr(cnnviz_widget, "MAX_PIXELS", 50)
    w._handle_custom_msg({"type": "upload", "name": "huge.png"}, [memoryview(png_bytes(picture()))])
    assert "huge.png is 8×8" in w.error and "raise cnnviz_widget.MAX_PIXELS" in w.error
    assert w.picture["id"] == 1


def test_bad_image_from_python_raises_and_shows_the_banner(w):
    with pytest.raises(ImageError):
        w.image = "/no/such/file.jpg"
    assert "no image file at '/no/such/file.jpg'" in w.error and w.picture["id"] == 1


def test_sample_command_and_bad_commands(w):
    w._handle_custom_msg({"type": "sample", "index": 1}, [])
    assert w.picture["name"] == "blue"
    w._handle_custom_msg({"type": "sample", "index": 7}, [])
    assert w.error == "there is no sample photo 7; the gallery has 2" and w.picture["name"] == "blue"
    w._handle_custom_msg({"type": "upload", "name": "x.png"}, [])
    assert "arrived without its bytes" in w.error
    w._handle_custom_msg({"type": "dance"}, [])  # unknown commands are ignored
    w._handle_custom_msg("not a dict", [])


# -------------------------------------------------------------------------------------------- default model
@pytest.mark.slow
def test_default_widget_runs_offline_on_squeezenet_and_the_demo_pool():
    from cnnviz_widget import encode
    from cnnviz_widget.engine.model.pool import gallery_photos, image_pool
    from cnnviz_widget.engine.model.samples import sample_photos

    v = CNNViz()
    assert v.model_info["name"] == "squeezenet1_1" and v.layer == "features.0"
    assert v.gallery["names"] == [p.name for p in gallery_photos()]
    pool, samples = image_pool(), sample_photos()
    assert len(v.gallery["names"]) == min(64, len(pool)) and v.gallery["names"][:len(samples)] == [
        p.name for p in samples]  # the sample photos first, then composites spread over the pool
    assert len(v.gallery["png"]) < 800_000
    assert v.picture["name"] == "chelsea (cat)" and v.picture["predictions"][0]["label"] == "Egyptian cat"
    # Caffe weights are BGR: the filters are shown in RGB
    weights = v.explorer.filters()
    expected = encode.filter_sheet(weights.flip(1), "RGB")
    assert v.filters["png"] == expected.png
    assert len(v.atlas["png"]) < 500_000


def test_a_container_name_selects_the_layer_it_stands_for():
    """Names copied from Grad-CAM code and feature extraction (ResNet's "layer2") select their last block."""
    import torchvision

    with pytest.warns(UserWarning, match="no preprocess given"):
        w = CNNViz(torchvision.models.resnet18().eval(), layer="layer4", image=Image.new("RGB", (64, 64)))
    assert w.layer == "layer4.1"
    w.layer = "layer2"
    assert w.layer == "layer2.1"
    with pytest.raises(LayerError, match="unknown layer 'layer9'; closest"):
        w.layer = "layer9"
    assert w.layer == "layer2.1"
