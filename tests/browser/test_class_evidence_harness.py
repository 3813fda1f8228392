"""The class-evidence panel in Chromium against the mock model, answered by a real CNNViz on the harness's tiny net in
this process: a click on a top-5 class paints its Grad-CAM map (over the image, on its own, with its colour scale)
and its guided Grad-CAM picture; the counterfactual toggle and the layer picker ask for another map; any class can be
found by name; stale answers are never painted; the engine's refusals reach the panel and the banner."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from harness_bridge import TINY_LABELS, canvas_rgb, to_js
from PIL import Image

from cnnviz_widget import CNNViz, ImagePreprocess, encode

PANEL = "[data-view='0'] [data-testid=class-evidence]"
PREDICTION = "[data-view='0'] [data-testid=prediction][data-index='{index}']"
ALPHA = 0.6  # js/src/lib/scales.js OVERLAY_ALPHA: the weight of the map's highest code


@pytest.fixture(autouse=True)
def no_page_errors(page):
    yield
    assert page.js_errors == []


def settle(harness) -> dict:
    """Apply what the page saved and sent, let the class panel's thread answer, and push the answer."""
    drained = harness.answer()
    assert harness.widget.wait_class_evidence(60)
    harness.push()
    return drained


def wait_painted(page, key: str) -> None:
    page.wait_for_function("([s, k]) => { const el = document.querySelector(s);"
                           " return el.dataset.state === 'ready' && el.dataset.request === k; }", arg=[PANEL, key])


def key_of(widget: CNNViz) -> str:
    r = widget.class_evidence["request"]
    return f"{r['image']}|{r['target']}|{r['layer']}|{'true' if r['counterfactual'] else 'false'}"


def codes(state: dict) -> np.ndarray:
    raw = state["map"]["codes"]
    return np.frombuffer(raw["data"], np.uint8).reshape(raw["shape"])


def expected_overlay(widget: CNNViz) -> np.ndarray:
    """The engine's upsampled Grad-CAM (bilinear, align_corners=False) coloured and laid over the picture."""
    request = widget.class_evidence["request"]
    up = widget.explorer.grad_cam(widget.session.x, request["layer"], request["target"], upsample=True,
                                  counterfactual=request["counterfactual"]).numpy().astype(np.float64)
    lo, hi = widget.class_evidence["map"]["min"], widget.class_evidence["map"]["max"]  # the layer map's range
    up_codes = np.floor(255 * (up - lo) / (hi - lo) + 0.5).astype(np.uint8)
    colours = encode.colorize(up_codes, "heat").astype(np.float64)
    image = np.asarray(Image.open(io.BytesIO(widget.picture["png"])).convert("RGB"), np.float64)
    weight = (ALPHA * up_codes / 255)[..., None]
    return np.floor((1 - weight) * image + weight * colours + 0.5)


def test_a_click_on_a_top5_class_paints_its_grad_cam_and_guided_grad_cam(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    assert page.get_attribute(PANEL, "data-state") == "none"
    assert page.inner_text(f"{PANEL} [data-testid=class-status]").startswith("Click a class in the top-5")
    target = tiny_widget.picture["predictions"][1]["index"]
    page.click(PREDICTION.format(index=target))
    assert page.get_attribute(PANEL, "data-state") == "pending"  # busy until the kernel answers
    assert page.inner_text(f"{PANEL} [data-testid=class-status]").startswith("computing the evidence for ")
    assert settle(harness)["saved"] == [{"class_target": target}] and tiny_widget.class_target == target
    state = tiny_widget.class_evidence
    assert state["request"]["layer"] == "4" == tiny_widget.class_info["default_layer"]
    wait_painted(page, f"1|{target}|4|false")

    # The map at the layer's resolution, exactly; the guided Grad-CAM picture, exactly; the colour scale.
    assert np.array_equal(canvas_rgb(page, f"{PANEL} [data-testid=class-map]"), encode.colorize(codes(state), "heat"))
    guided = state["guided"]
    assert np.array_equal(canvas_rgb(page, f"{PANEL} [data-testid=class-guided]"),
                          np.frombuffer(guided["data"], np.uint8).reshape(*guided["shape"], 3))
    for end in ("min", "max"):  # 3 significant digits
        shown = float(page.inner_text(f"{PANEL} [data-testid=class-scale-{end}]"))
        assert shown == pytest.approx(state["map"][end], rel=5e-3)
    # The map over the image: the engine's own upsampling, within a code's colour of it.
    overlay = canvas_rgb(page, f"{PANEL} [data-testid=class-overlay]").astype(np.float64)
    assert overlay.shape == (16, 16, 3)
    assert np.abs(overlay - expected_overlay(tiny_widget)).max() <= 2
    assert page.get_attribute(PREDICTION.format(index=target), "aria-pressed") == "true"
    assert page.inner_text(f"{PANEL} [data-testid=class-chosen]") == f"{TINY_LABELS[target]} ({target})"
    assert page.locator(".cnnviz-root b, .cnnviz-root img, .cnnviz-root script").count() == 0  # names are text


def test_the_counterfactual_toggle_and_the_layer_picker(harness, tiny_widget, page):
    tiny_widget.class_target = 0
    assert tiny_widget.wait_class_evidence(60)
    harness.mount(tiny_widget)
    wait_painted(page, "1|0|4|false")
    page.click(f"{PANEL} [data-testid=class-counterfactual] [data-value=true]")
    assert settle(harness)["saved"] == [{"class_counterfactual": True}]
    wait_painted(page, "1|0|4|true")
    assert page.inner_text(f"{PANEL} [data-testid=class-overlay-caption]").startswith("against ")
    assert np.array_equal(canvas_rgb(page, f"{PANEL} [data-testid=class-map]"),
                          encode.colorize(codes(tiny_widget.class_evidence), "heat"))
    options = page.locator(f"{PANEL} [data-testid=class-layer] option").all_inner_texts()
    assert [o.split(" — ")[0] for o in options] == ["0", "1", "2", "3", "4"] and options[-1].endswith("(default)")
    page.select_option(f"{PANEL} [data-testid=class-layer]", "2")
    assert settle(harness)["saved"] == [{"class_layer": "2"}]
    wait_painted(page, "1|0|2|true")
    assert page.inner_text(f"{PANEL} [data-testid=class-map-caption]") == "map at 2 (8×8)"
    page.click(f"{PANEL} [data-testid=class-clear]")
    assert settle(harness)["saved"] == [{"class_target": None}]
    page.wait_for_function("s => document.querySelector(s).dataset.state === 'none'", arg=PANEL)


def test_any_class_can_be_found_by_name(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    search = f"{PANEL} [data-testid=class-search]"
    page.fill(search, "DOG")
    options = page.locator(f"{PANEL} [data-testid=class-option]")
    assert options.all_inner_texts() == [f"{TINY_LABELS[1]} (1)"]
    options.first.click()
    assert settle(harness)["saved"] == [{"class_target": 1}]
    wait_painted(page, "1|1|4|false")
    assert page.input_value(search) == "" and page.locator(f"{PANEL} [data-testid=class-results]").is_hidden()
    page.fill(search, "2")  # a number finds that class
    page.press(search, "Enter")
    assert settle(harness)["saved"] == [{"class_target": 2}]
    wait_painted(page, "1|2|4|false")
    assert page.locator(".cnnviz-root b, .cnnviz-root img, .cnnviz-root script").count() == 0


def test_a_stale_answer_is_never_painted(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    page.click(PREDICTION.format(index=0))
    settle(harness)
    wait_painted(page, "1|0|4|false")
    page.click(PREDICTION.format(index=1))
    page.click(PREDICTION.format(index=2))  # the user moves on before class 1 is answered
    tiny_widget.class_target = 1
    assert tiny_widget.wait_class_evidence(60)
    harness.push({"class_evidence": to_js(tiny_widget.class_evidence)})  # class 1's answer arrives late
    assert page.get_attribute(PANEL, "data-state") == "pending"
    assert page.get_attribute(PANEL, "data-request") == "1|0|4|false", "what was painted stays (dimmed)"
    settle(harness)
    wait_painted(page, "1|2|4|false")


def test_the_engines_refusal_reaches_the_panel_and_the_banner(harness, page):
    maps = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1), torch.nn.ReLU())  # no class scores
    preprocess = ImagePreprocess(size=16, resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    widget = CNNViz(model=maps, preprocess=preprocess, gallery=[], image=Image.new("RGB", (16, 16), (90, 20, 200)))
    harness.mount(widget)
    page.click(PREDICTION.format(index=widget.picture["predictions"][0]["index"]))
    settle(harness)
    page.wait_for_function("s => document.querySelector(s).dataset.state === 'error'", arg=PANEL)
    assert page.inner_text(f"{PANEL} [data-testid=class-status]").startswith(
        "No map: Grad-CAM needs class scores, but the model's output has shape (1, 2, 16, 16)")
    assert page.inner_text("[data-view='0'] [data-testid=error-banner] .cnnviz-error-text").startswith(
        "class evidence: Grad-CAM needs class scores")
    widget.close()


def test_each_panel_says_which_way_to_look(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    unit_line = page.inner_text("[data-view='0'] [data-testid=unit-evidence-about]")
    assert unit_line.startswith("Unit evidence: what this unit responds to (deconvnet / guided / gradient).")
    assert "Where in the image the evidence for a class lies (Grad-CAM, Selvaraju et al. 2017)" in page.inner_text(
        f"{PANEL} [data-testid=class-evidence-about]")
    page.set_viewport_size({"width": 1280, "height": 400})
    page.click("[data-view='0'] [data-testid=to-class-evidence]")
    page.wait_for_function("s => { const r = document.querySelector(s).getBoundingClientRect();"
                           " return r.top < innerHeight && r.bottom > 0; }", arg=PANEL)
    page.click(f"{PANEL} [data-testid=to-unit-evidence]")
    page.wait_for_function("() => { const r = document.querySelector(\"[data-view='0'] [data-testid=unit-card]\")"
                           ".getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; }")
