"""The HTML export, Python side: the page holds exactly the widget's own answers, stored safely and once."""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
from harness_bridge import TINY_LABELS, tiny_images, tiny_model

from cnnviz_widget import CNNViz, ImagePreprocess, LayerError, encode, export
from cnnviz_widget.cli import main as cli_main
from cnnviz_widget.errors import CNNVizError
from cnnviz_widget.state.exemplars import Tiles
from cnnviz_widget.state.keys import answer_key
from cnnviz_widget.views import View

PREPROCESS = ImagePreprocess(size=16, resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def silent_tiny_model() -> torch.nn.Module:
    """The harness's tiny net with channel 1 of its first ReLU silent on every image (a large negative bias)."""
    model = tiny_model()
    with torch.no_grad():
        model[0].bias[1] = -100.0
    return model


@pytest.fixture
def widget() -> CNNViz:
    return CNNViz(model=silent_tiny_model(), preprocess=PREPROCESS, labels=TINY_LABELS, gallery=tiny_images())


def read_document(path: Path) -> dict:
    match = re.search(r'<script type="application/json" id="cnnviz-document">(.*?)</script>', path.read_text(), re.S)
    return json.loads(match.group(1))


def resolve(doc: dict, value):
    """A saved value with its references replaced, as the page's BlobStore does (pictures back to raw)."""
    if isinstance(value, list):
        return [resolve(doc, v) for v in value]
    if isinstance(value, dict):
        if "$b" in value:
            return base64.b64decode(doc["blobs"][value["$b"]])
        if "$img" in value:
            image = Image.open(io.BytesIO(base64.b64decode(doc["blobs"][value["$img"]])))
            array = np.asarray(image.convert("RGB" if value["channels"] == 3 else "L"))
            return {"shape": value["shape"], "channels": value["channels"], "data": array.tobytes()}
        return {k: resolve(doc, v) for k, v in value.items()}
    return value


def comparable(state: dict) -> dict:
    return json.loads(json.dumps(state, default=lambda b: base64.b64encode(bytes(b)).decode()))


def test_every_saved_card_is_the_card_the_widget_computes(widget, tmp_path):
    # "auto" resolves per layer (the tiny net's conv "3" sees half the input: guided backprop, gray, central half),
    # so the saved cards cover both ends of the depth rule, and the blurred display's blur around a crop.
    views = {"rule": ["auto", "deconvnet"], "display": ["auto", "blurred_norm"], "crop": ["auto", "field"]}
    report = widget.to_html(tmp_path / "a.html", layers="all", rules=views["rule"], displays=views["display"], crops=views["crop"],
                            positions=["max", "map"], lossless=True, progress=False)
    doc = read_document(report.path)
    names = [layer["name"] for layer in widget.layers]
    assert report.layers == names and doc["holds"]["layers"] == names
    assert (doc["holds"]["rules"], doc["holds"]["displays"], doc["holds"]["crops"]) == tuple(views.values())
    channels = sum(widget.explorer.layer(n).channels for n in names)
    assert report.units == channels * 16 and len(doc["answers"]["unit"]) == channels * 16
    assert widget.view_of("3") == View("guided", "gray", "center")
    for name in names:
        widget.layer = name
        assert comparable(resolve(doc, doc["answers"]["atlas"][name])) == comparable(widget.atlas)
        for channel in range(widget.explorer.layer(name).channels):
            for rule, display, crop in itertools.product(*views.values()):
                for position in ("max", "map"):
                    selection = {"channel": channel, "rule": rule, "display": display, "crop": crop,
                                 "position": position}
                    widget.set_state(selection)
                    saved = resolve(doc, doc["answers"]["unit"][answer_key("unit", {"layer": name, **selection})])
                    assert comparable(saved) == comparable(widget.unit), (name, selection)


def test_saved_top9_panels_are_the_widgets_in_each_saved_view(widget, tmp_path):
    widget.layer = "3"  # guided backprop, gray, central half by default (its field is half the input)
    widget.mine([img for _, img in tiny_images()], layers=["3"], k=2, cache_dir=tmp_path / "cache")
    assert widget.wait_exemplars(60)
    report = widget.to_html(tmp_path / "t.html", layers=["3"], crops=["auto", "field"], lossless=True, progress=False)
    doc = read_document(report.path)
    assert len(doc["answers"]["top9"]) == 6 * 2
    for crop in ("auto", "field"):
        for channel in range(6):
            widget.crop, widget.channel = crop, channel
            assert widget.wait_exemplars(60)
            selection = {"layer": "3", "channel": channel, "rule": "auto", "display": "auto", "crop": crop}
            saved = resolve(doc, doc["answers"]["top9"][answer_key("top9", selection)])
            assert comparable(saved) == comparable(widget.top9), (crop, channel)
    assert widget.top9["view"]["crop"] == "field" and saved["view"]["auto"] == ["rule", "display"]


def test_silent_units_are_saved_without_computing_their_projection(widget, monkeypatch):
    calls = []
    original = widget.explorer.project_batch

    def counting(xs, units, **kwargs):
        calls.extend(u.channel for u in units)
        return original(xs, units, **kwargs)

    monkeypatch.setattr(widget.explorer, "project_batch", counting)
    acts = widget.session.activations("1")
    silent = [c for c in range(4) if float(acts[c].max()) == 0]
    assert 1 in silent
    states = export.answers.unit_states(widget, "1", list(range(4)), "max", "deconvnet", "auto", "auto")
    assert sorted(calls) == [c for c in range(4) if c not in silent]
    for c in silent:
        pixels = np.frombuffer(states[c]["projection"]["data"], np.uint8)
        assert (pixels == encode.SIGNED_ZERO).all()


def test_pictures_are_stored_once_and_projections_compressed(widget, tmp_path):
    lossy = export.store.Store(lossless=False, quality=80)
    raw = encode.raw(np.full((40, 40, 3), 77, np.uint8))
    first, second = lossy.value({"a": raw}), lossy.value([raw])
    assert first["a"] == second[0] and len(lossy.blobs) == 1
    assert Image.open(io.BytesIO(base64.b64decode(lossy.blobs[0]))).format == "WEBP"
    codes = lossy.value(encode.raw(np.arange(1600, dtype=np.uint8).reshape(40, 40)))
    assert Image.open(io.BytesIO(base64.b64decode(lossy.blobs[codes["$img"]]))).format == "PNG"
    small = lossy.value(encode.raw(np.zeros((4, 4), np.uint8)))
    assert small == {"shape": [4, 4], "channels": 1, "data": {"$b": len(lossy.blobs) - 1}}
    assert lossy.value({"x": float("nan"), "y": np.float32(1.5), "z": b"\x00"}) == {
        "x": None, "y": 1.5, "z": {"$b": len(lossy.blobs) - 1}}
    shrunk = export.store.Store(lossless=False, quality=80, max_side=20).value(encode.raw(np.zeros((60, 40, 3), np.uint8)))
    assert shrunk["shape"] == [20, 13] and shrunk["channels"] == 3
    exact = export.store.Store(lossless=True, quality=80, max_side=20).value(encode.raw(np.zeros((60, 40, 3), np.uint8)))
    assert exact["shape"] == [60, 40]


def test_photos_and_exemplar_sheets_are_stored_as_webp_unless_lossless():
    rng = np.random.default_rng(0)
    photo = encode.png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    codes = encode.png(rng.integers(0, 256, (64, 64), dtype=np.uint8))
    lossy = export.store.Store(lossless=False, quality=80)
    kinds = {}
    for name, data, photos in (("photo", photo, True), ("codes", codes, True), ("sheet", photo + b"", False)):
        ref = lossy.value({"png": data}, photos=photos)["png"]["$b"]
        kinds[name] = Image.open(io.BytesIO(base64.b64decode(lossy.blobs[ref]))).format
    assert kinds == {"photo": "WEBP", "codes": "PNG", "sheet": "PNG"}
    exact = export.store.Store(lossless=True, quality=80)
    assert base64.b64decode(exact.blobs[exact.value(photo, photos=True)["$b"]]) == photo


def test_text_cannot_end_the_script_it_lives_in():
    text = export.store.script_json({"label": "</script><!--<script>", "amp": "&lt;", "sep": "\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"label": "</script><!--<script>", "amp": "&lt;", "sep": "\u2028"}


def test_bad_arguments_name_the_fix(widget, tmp_path, monkeypatch):
    with pytest.raises(LayerError, match="unknown layer 'nope'"):
        widget.to_html(tmp_path / "x.html", layers=["nope"], progress=False)
    with pytest.raises(ValueError, match="unknown rule 'smooth'; choose among auto, deconvnet, guided, gradient"):
        widget.to_html(tmp_path / "x.html", rules=["smooth"], progress=False)
    with pytest.raises(ValueError, match="unknown display 'sepia'; choose among auto, raw, gray, norm, blurred_norm"):
        widget.to_html(tmp_path / "x.html", displays=["sepia"], progress=False)
    with pytest.raises(ValueError, match="unknown crop 'whole'; choose among auto, field, center"):
        widget.to_html(tmp_path / "x.html", crops=["whole"], progress=False)
    with pytest.raises(ValueError, match="unknown position"):
        widget.to_html(tmp_path / "x.html", positions=["centre"], progress=False)
    with pytest.raises(ValueError, match="unknown units 'some'; choose among reader, all"):
        widget.to_html(tmp_path / "x.html", units="some", progress=False)
    with pytest.raises(ValueError, match="layers='every': pass 'all' or a list of layer names"):
        widget.to_html(tmp_path / "x.html", layers="every", progress=False)
    monkeypatch.setattr(export.page, "_STATIC", tmp_path / "nothing")
    with pytest.raises(CNNVizError, match="the front end is not built"):
        widget.to_html(tmp_path / "x.html", progress=False)
    assert not (tmp_path / "x.html").exists()


def test_the_page_opens_on_an_exported_layer_and_lists_only_those(widget, tmp_path):
    assert widget.layer == "0"
    report = widget.to_html(tmp_path / "b.html", layers=["3", "4"], progress=False)
    doc = read_document(report.path)
    state = doc["state"]
    assert [entry["name"] for entry in state["layers"]] == ["3", "4"]
    assert (state["layer"], state["channel"], state["position"]) == ("3", 0, "max")
    assert state["unit"] == doc["answers"]["unit"]["3|0|max|auto|auto|auto"]
    assert state["busy"] is False and state["error"] == ""
    assert widget.layer == "0", "exporting leaves the widget's selection alone"


def test_a_saved_page_keeps_finished_runs_and_drops_running_ones(widget, tmp_path):
    done = {"id": 1, "state": "done", "done": 4, "total": 4, "message": ""}
    widget.jobs = {"occlusion": done, "synthesis": {**done, "id": 2, "state": "running", "done": 1}}
    doc = read_document(widget.to_html(tmp_path / "c.html", layers=["0"], progress=False).path)
    assert doc["state"]["jobs"] == {"occlusion": done}  # nothing runs on the page: no bar stuck at 1 of 4


def test_progress_counts_every_card(widget, tmp_path):
    seen = []
    widget.to_html(tmp_path / "c.html", layers=["0", "3"], progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (10, 10)


@pytest.mark.slow
def test_cli_export_writes_one_page(tmp_path, capsys):
    out = tmp_path / "atlas.html"
    assert cli_main(["export", "--layers", "features.0", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{out}: ") and "1 layers, 64 unit cards" in printed
    doc = read_document(out)
    assert doc["about"]["model"] == "squeezenet1_1" and len(doc["answers"]["unit"]) == 64
    torch.testing.assert_close(torch.tensor(len(doc["state"]["layers"])), torch.tensor(1))


def test_top9_tiles_are_saved_at_the_size_the_panel_shows():
    big = np.stack([np.full((96, 96, 3), 10, np.uint8), np.full((96, 96, 3), 200, np.uint8)])
    small = np.zeros((2, 32, 32, 3), np.uint8)
    shrunk = export.answers._displayed(Tiles((96, 96), big, big[::-1].copy(), small, small), 64)
    assert shrunk.patches.shape == shrunk.projections.shape == (2, 64, 64, 3)
    assert (shrunk.patches[0] == 10).all() and (shrunk.patches[1] == 200).all() and (shrunk.projections[0] == 200).all()
    assert shrunk.box == (96, 96) and shrunk.small_patches is small  # the layer atlas's tiles stay as they are
    tiny = Tiles((3, 3), big[:, :3, :3], big[:, :3, :3], small, small)
    assert export.answers._displayed(tiny, 64) is tiny  # small tiles are not enlarged (the panel scales them)


def test_a_page_saved_at_a_picked_location_opens_on_a_unit_it_answers(widget, tmp_path):
    # Opening an exemplar selects its unit at the exemplar's location; the page holds strongest locations only.
    widget.layer, widget.channel, widget.position = "3", 2, [1, 2]
    report = widget.to_html(tmp_path / "picked.html", layers=["0", "3"], progress=False)
    doc = read_document(report.path)
    state = doc["state"]
    assert (state["layer"], state["channel"], state["position"], state["rule"]) == ("3", 2, "max", "auto")
    assert doc["holds"] == {"layers": ["0", "3"], "rules": ["auto"], "displays": ["auto"], "crops": ["auto"],
                            "positions": ["max"], "exemplars": []}
    saved = doc["answers"]["unit"]
    opening = resolve(doc, state["unit"])
    assert opening["request"] == {"image": 1, "layer": "3", "channel": 2, "position": "max", "rule": "auto",
                                  "display": "auto", "crop": "auto"}
    assert comparable(opening) == comparable(resolve(doc, saved[answer_key("unit", state)]))
    assert all(answer_key("unit", {**state, "channel": c}) in saved for c in range(6))  # its first click answers
    assert not any("1,2" in key for key in saved)  # nothing at the picked location, which the page cannot answer
    assert state["note"] == {}


def test_a_page_opens_on_a_saved_rule_and_layer(widget, tmp_path):
    widget.layer, widget.channel, widget.rule, widget.position = "3", 4, "guided", "map"
    doc = read_document(widget.to_html(tmp_path / "r.html", layers=["0", "3"], rules=["gradient", "deconvnet"],
                                       positions=["max", "map"], progress=False).path)
    assert [doc["state"][k] for k in ("layer", "channel", "position", "rule")] == ["3", 4, "map", "gradient"]
    assert resolve(doc, doc["state"]["unit"])["request"]["rule"] == "gradient"
    doc = read_document(widget.to_html(tmp_path / "l.html", layers=["0"], progress=False).path)
    assert [doc["state"][k] for k in ("layer", "channel", "position", "rule")] == ["0", 0, "max", "guided"]
    assert resolve(doc, doc["state"]["atlas"])["layer"] == "0"


def test_saved_unit_cards_say_when_a_unit_is_silent(widget, tmp_path):
    # Channel 1 of the first ReLU is silent on every image (its bias is −100): its saved card says so.
    doc = read_document(widget.to_html(tmp_path / "s.html", layers=["1"], progress=False).path)
    cards = {c: resolve(doc, doc["answers"]["unit"][f"1|{c}|max|auto|auto|auto"]) for c in range(4)}
    assert cards[1]["silent"] == "everywhere"
    widget.layer = "1"
    for c in (0, 2, 3):
        widget.channel = c
        assert cards[c]["silent"] == widget.unit["silent"], c


def test_the_top5_classes_evidence_is_saved_at_the_exported_and_the_default_layer(widget, tmp_path):
    assert widget.class_info["default_layer"] == "4"  # the harness net's last layer with a map
    widget.class_target = widget.picture["predictions"][1]["index"]
    assert widget.wait_class_evidence(60)
    doc = read_document(widget.to_html(tmp_path / "classes.html", layers=["0"], lossless=True, progress=False).path)
    state = doc["state"]
    assert state["class_info"]["layers"] == ["0", "4"], "the page offers the layers it holds"
    assert resolve(doc, state["class_evidence"]) == comparable_raw(widget.class_evidence)
    saved = doc["answers"]["class_evidence"]
    targets = [p["index"] for p in widget.picture["predictions"]]
    assert len(targets) == 3 and len(saved) == 3 * 2 * 2  # classes × layers × (for, against)
    for target in targets:
        for layer in ("0", "4"):
            for counterfactual in (False, True):
                widget.class_target, widget.class_layer, widget.class_counterfactual = target, layer, counterfactual
                assert widget.wait_class_evidence(60)
                key = answer_key("class_evidence", {"class_target": target, "class_layer": layer,
                                                    "class_counterfactual": counterfactual})
                assert resolve(doc, saved[key]) == comparable_raw(widget.class_evidence), key


def comparable_raw(state: dict) -> dict:
    """A state as ``resolve`` gives it back: memoryviews as bytes."""
    if isinstance(state, dict):
        return {k: comparable_raw(v) for k, v in state.items()}
    if isinstance(state, list):
        return [comparable_raw(v) for v in state]
    return bytes(state) if isinstance(state, (bytes, bytearray, memoryview)) else state


def test_a_model_the_engine_refuses_keeps_its_class_panel_as_it_was(tmp_path):
    maps = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1), torch.nn.ReLU())  # no class scores
    w = CNNViz(model=maps, preprocess=PREPROCESS, gallery=tiny_images())
    doc = read_document(w.to_html(tmp_path / "maps.html", progress=False).path)
    assert "class_evidence" not in doc["answers"] and doc["state"]["class_info"]["layers"] == ["0", "1"]
    w.close()


def test_class_evidence_keeps_the_page_small_on_the_default_model(tmp_path):
    w = CNNViz(gallery=[])
    doc = read_document(w.to_html(tmp_path / "squeeze.html", layers=["features.0"], progress=False).path)
    assert doc["state"]["class_info"]["layers"] == ["features.0", "features.12"]  # and the default layer
    saved = doc["answers"]["class_evidence"]
    assert len(saved) == 5 * 2 * 2
    blobs: set[int] = set()
    for answer in saved.values():
        guided = answer["guided"]
        assert guided["shape"] == [128, 128] and guided["channels"] == 3  # shrunk from 227 px, as projections
        assert Image.open(io.BytesIO(base64.b64decode(doc["blobs"][guided["$img"]]))).format == "WEBP"
        codes = answer["map"]["codes"]
        blobs |= {guided["$img"], codes["$img"] if "$img" in codes else codes["data"]["$b"]}
    total = sum(len(base64.b64decode(doc["blobs"][i])) for i in blobs)
    assert total < 20 * 2_000, f"{total} bytes for 20 answers"  # about 11 KB when written
    w.close()


# ------------------------------------------------------------------------------------- the reader's page (default)
@pytest.fixture
def mined(widget, tmp_path) -> CNNViz:
    """The tiny widget with its two convolutions mined on the three harness photos (k=2)."""
    widget.mine([img for _, img in tiny_images()], layers=["0", "3"], k=2, cache_dir=tmp_path / "cache")
    assert widget.wait_exemplars(60)
    return widget


def by_strength(widget: CNNViz, layer: str) -> list[int]:
    """A layer's channels strongest on the image first, read from the grid's statistics (its max column)."""
    widget.layer = layer
    maxima = np.frombuffer(widget.atlas["stats"], "<f4").reshape(-1, 5)[:, 1]
    return sorted(range(len(maxima)), key=lambda c: (-maxima[c], c))


def test_the_default_page_holds_the_stages_and_the_units_a_reader_clicks(mined, tmp_path, monkeypatch):
    monkeypatch.setattr(export.plan, "STRONGEST", 2)
    monkeypatch.setattr(export.plan, "ATLAS_UNITS", 1)
    w, result = mined, mined.exemplars
    head = {name: max(range(w.explorer.layer(name).channels), key=lambda c: (result.top(name, c)[0].value, -c))
            for name in ("0", "3")}  # the layer atlas's first page in strength order: its strongest unit
    # Strongest on the image first, then the atlas's first page, then the selected unit (each once).
    expected = {"0": list(dict.fromkeys([*by_strength(w, "0")[:2], head["0"], 1])),
                "3": list(dict.fromkeys([*by_strength(w, "3")[:2], head["3"]])), "7": by_strength(w, "7")[:2]}
    w.layer, w.channel = "0", 1  # the selected unit (a silent one)
    report = w.to_html(tmp_path / "reader.html", progress=False)
    doc = read_document(report.path)
    assert report.layers == ["0", "3", "7"]  # the stages: conv, conv, linear (not the ReLUs and pools)
    holds = doc["holds"]
    assert holds["units"] == expected
    assert holds["exemplars"] == ["0", "3"]
    assert sorted(doc["answers"]["unit"]) == sorted(f"{n}|{c}|max|auto|auto|auto"
                                                    for n, cs in expected.items() for c in cs)
    assert report.units == sum(map(len, expected.values())) and report.exemplars == len(doc["answers"]["top9"])
    assert sorted(doc["answers"]["top9"]) == sorted({f"0|{head['0']}|auto|auto|auto", "0|1|auto|auto|auto",
                                                     f"3|{head['3']}|auto|auto|auto"})
    assert sorted(doc["answers"]["layer_atlas"]) == ["0|0|auto|auto|auto|strength", "3|0|auto|auto|auto|strength"]
    page = resolve(doc, doc["answers"]["layer_atlas"]["3|0|auto|auto|auto|strength"])
    assert (page["channels"], page["page_size"], page["pages"]) == ([head["3"]], 1, 6)
    state = doc["state"]  # opened on the selected unit, the grid and the atlas sorted by strength
    assert (state["layer"], state["channel"], state["sort_by"], state["layer_atlas_page"]) == ("0", 1, "strength", 0)
    assert resolve(doc, state["top9"])["request"] == {"layer": "0", "channel": 1, "rule": "auto", "display": "auto",
                                                      "crop": "auto"}
    assert doc["unsaved"]["top9"]["request"] == {"layer": "layer", "channel": "channel", "rule": "rule",
                                                 "display": "display", "crop": "crop"}
    assert doc["unsaved"]["layer_atlas"]["request"]["page"] == "layer_atlas_page"
    # Every saved top-9 panel is the one the widget shows (its tiles shrunk to the panel's size: these are small).
    w.sort_by = "strength"
    for key in doc["answers"]["top9"]:
        layer, channel, *_ = key.split("|")
        w.layer, w.channel = layer, int(channel)
        assert w.wait_exemplars(60)
        saved = resolve(doc, doc["answers"]["top9"][key])
        assert {k: v for k, v in saved.items() if k not in ("patches", "projections")} == comparable_raw(
            {k: v for k, v in w.top9.items() if k not in ("patches", "projections")})


def test_named_layers_hold_every_unit_unless_asked_for_the_readers(mined, tmp_path, monkeypatch):
    monkeypatch.setattr(export.plan, "STRONGEST", 2)
    monkeypatch.setattr(export.plan, "ATLAS_UNITS", 1)
    doc = read_document(mined.to_html(tmp_path / "all.html", layers=["3"], progress=False).path)
    assert "units" not in doc["holds"] and doc["unsaved"] == {}
    assert sorted(doc["answers"]["top9"]) == [f"3|{c}|auto|auto|auto" for c in range(6)]
    assert sorted(doc["answers"]["layer_atlas"]) == ["3|0|auto|auto|auto|channel", "3|0|auto|auto|auto|strength"]
    doc = read_document(mined.to_html(tmp_path / "r.html", layers=["3"], units="reader", progress=False).path)
    assert len(doc["holds"]["units"]["3"]) <= 3 and len(doc["answers"]["unit"]) == len(doc["holds"]["units"]["3"])
    doc = read_document(mined.to_html(tmp_path / "every.html", layers="all", progress=False).path)
    assert doc["holds"]["layers"] == [entry["name"] for entry in mined.layers] and "units" not in doc["holds"]


def test_every_units_exemplars_are_projected_once(mined, tmp_path, monkeypatch):
    # Top-9 panels, then every page of the layer atlas in both orders: one projection of each exemplar, in all.
    calls = []
    original = type(mined.exemplars).atlas

    def counting(self, layer, channels=None, **kwargs):
        calls.extend((layer, c) for c in channels)
        return original(self, layer, channels, **kwargs)

    monkeypatch.setattr(type(mined.exemplars), "atlas", counting)
    mined.panels.exemplars.tiles = type(mined.panels.exemplars.tiles)(max_bytes=0)  # no reuse across calls
    mined.to_html(tmp_path / "once.html", layers=["0", "3"], progress=False)
    live = [(n, c) for n in ("0", "3") for c in range(mined.explorer.layer(n).channels)
            if mined.exemplars.top(n, c) and not mined.exemplars.stats(n).dead[c]]
    assert sorted(calls) == sorted(live)


def test_an_interrupt_writes_no_file_and_leaves_the_widget_usable(mined, tmp_path):
    path = tmp_path / "stopped.html"
    seen = []

    def stop(done: int, total: int) -> None:
        seen.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mined.to_html(path, progress=stop)
    assert seen == [len(read_units_of_first_layer(mined))] and list(tmp_path.glob("stopped*")) == []
    assert all(not m._forward_hooks and not m._backward_hooks for m in mined.explorer.model.modules())
    mined.layer, mined.channel = "3", 2  # the widget still answers, and exports
    assert mined.unit["request"]["channel"] == 2 and mined.error == ""
    doc = read_document(mined.to_html(path, progress=False).path)
    assert doc["state"]["channel"] == 2 and list(tmp_path.glob("stopped*")) == [path]


def read_units_of_first_layer(widget: CNNViz) -> list[int]:
    return export.plan_layer(widget, "0", "reader").cards


def test_an_interrupt_while_writing_leaves_no_partial_file(widget, tmp_path, monkeypatch):
    def interrupted(self, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        widget.to_html(tmp_path / "half.html", progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_default_page_of_the_tour_fits_in_5_mb():
    """The tour's widget (the default model, the demo set mined): the default page's layers, units and size."""
    w = CNNViz()
    w.mine("demo")
    assert w.wait_exemplars(600)
    with tempfile.TemporaryDirectory() as tmp:
        report = w.to_html(Path(tmp) / "tour.html", progress=False)
        doc = read_document(report.path)
    stages = ["features.0", "features.3", "features.4", "features.6", "features.7", "features.9", "features.10",
              "features.11", "features.12", "classifier.1"]
    assert report.layers == stages and report.size <= 5_000_000, str(report)
    held = doc["holds"]["units"]
    assert all(export.plan.STRONGEST <= len(held[n]) <= export.plan.STRONGEST + export.plan.ATLAS_UNITS + 1 for n in stages)
    assert 0 in held["features.0"] and report.exemplars == len(doc["answers"]["top9"])
    assert sorted(doc["answers"]["layer_atlas"]) == sorted(f"{n}|0|auto|auto|auto|strength" for n in stages)
    w.close()
