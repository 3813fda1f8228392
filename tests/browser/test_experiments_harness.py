"""The experiment panels (occlusion, invariance, feature evolution; activation maximisation in the unit card) in
Chromium against the mock model, answered by a real CNNViz in this process.

The occlusion tests use the summing net of ``tests/panels/test_experiments.py``: an 8×8 gray input whose
top-left 4×4 block holds 9s and bottom-right block −1s in model space; a 4×4 occluder with stride 4 gives a 2×2 map
whose cell (0, 0) flips the prediction from "yes" to "no"."""

from __future__ import annotations

import io
import json
import time

import jupyter_driver
import numpy as np
import pytest
import torch
from handset_nets import SumNet
from harness_bridge import TINY_LABELS, canvas_rgb, tiny_images, tiny_model, to_js
from PIL import Image

from cnnviz_widget import CNNViz, ImagePreprocess, encode
from cnnviz_widget.engine.experiments.synthesis import AscentParams, clear_memory_cache

OCCLUSION = "[data-view='0'] [data-testid=occlusion]"
INVARIANCE = "[data-view='0'] [data-testid=invariance]"
EVOLUTION = "[data-view='0'] [data-testid=evolution]"
SYNTHESIS = "[data-view='0'] [data-testid=synthesis]"
#: js/src/lib/scales.js CLASS_PALETTE, OVERLAY_ALPHA
PALETTE = [[78, 121, 167], [242, 142, 43], [225, 87, 89], [118, 183, 178], [89, 161, 79], [237, 201, 72],
           [176, 122, 161], [255, 157, 167], [156, 117, 95], [186, 176, 172]]
ALPHA = 0.6


@pytest.fixture(autouse=True)
def no_page_errors_and_a_fresh_cache(page):
    clear_memory_cache()
    yield
    assert page.js_errors == []


@pytest.fixture
def summing() -> CNNViz:
    pixels = np.kron(np.array([[14, 5], [5, 4]], np.uint8), np.ones((4, 4), np.uint8))
    pre = ImagePreprocess(size=8, resize=None, mean=(5.0,), std=(1.0,), scale=255.0, channel_order="L")
    return CNNViz(model=SumNet(), preprocess=pre, labels=["yes", "no"], gallery=[],
                  image=Image.fromarray(pixels).convert("RGB"))



def png_rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def codes(state: dict) -> np.ndarray:
    return np.frombuffer(state["codes"]["data"], np.uint8).reshape(state["codes"]["shape"])


def wait_state(page, selector: str, state: str = "ready", id_: int | None = None) -> None:
    page.wait_for_function("([s, st, id]) => { const el = document.querySelector(s);"
                           " return el && el.dataset.state === st && (id === null || el.dataset.id === String(id)); }",
                           arg=[selector, state, id_])


def settle(harness) -> dict:
    """Apply what the page saved and sent, let the experiment thread finish, and push the answers."""
    drained = harness.answer()
    assert harness.widget.wait_experiments(60)
    harness.push()
    return drained


def hover(page, selector: str, fx: float, fy: float, click: bool = False) -> None:
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
    page.mouse.move(x, y)
    if click:
        page.mouse.click(x, y)


# ------------------------------------------------------------------------------------------------- occlusion
def test_occlusion_maps_colour_scale_legend_and_the_occluded_image_on_hover(harness, summing, page):
    maps = summing.occlusion(size=4, stride=4)
    state = summing.occlusion_result
    harness.mount(summing)
    wait_state(page, OCCLUSION, id_=1)
    assert page.get_attribute("[data-view='0'] [data-testid=experiments]", "data-tab") == "occlusion"
    # (b) by default: the probability map, coloured with the heat scale from its min to its max
    assert np.array_equal(canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-map]"),
                          encode.colorize(codes(state["maps"]["probability"]), "heat"))
    assert page.inner_text(f"{OCCLUSION} [data-testid=occlusion-scale-min]") == "0.378"
    assert page.inner_text(f"{OCCLUSION} [data-testid=occlusion-scale-max]") == "0.989"
    image = png_rgb(state["image"])
    cells = encode.colorize(codes(state["maps"]["probability"]), "heat")
    overlay = canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-overlay]")
    for y, x in ((0, 0), (3, 5), (7, 2), (6, 6)):  # each pixel blended with the cell whose window holds it
        blend = np.floor((1 - ALPHA) * image[y, x] + ALPHA * cells[y // 4, x // 4] + 0.5).astype(np.uint8)
        assert np.array_equal(overlay[y, x], blend), (y, x)

    page.click(f"{OCCLUSION} [data-testid=occlusion-map-toggle] [data-value=activation]")
    assert np.array_equal(canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-map]"),
                          encode.colorize(codes(state["maps"]["activation"]), "heat"))
    assert page.inner_text(f"{OCCLUSION} [data-testid=occlusion-scale-max]") == "144"
    assert "(a) total activation of conv channel 0" in page.inner_text(OCCLUSION)
    page.click(f"{OCCLUSION} [data-testid=occlusion-map-toggle] [data-value=top_class]")
    painted = canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-map]")
    assert np.array_equal(painted, np.array([[PALETTE[1], PALETTE[0]], [PALETTE[0], PALETTE[0]]], np.uint8))
    assert page.locator(f"{OCCLUSION} [data-testid=occlusion-legend] li").all_inner_texts() == ["yes ×3", "no ×1"]
    assert page.locator(f"{OCCLUSION} [data-testid=occlusion-scale-min]").is_hidden()

    # Hovering the map over the image shows the image occluded there, with the values at that position.
    hover(page, f"{OCCLUSION} [data-testid=occlusion-overlay]", 0.8, 0.2)
    page.wait_for_function("s => document.querySelector(s).dataset.cell === '0,1'",
                           arg=f"{OCCLUSION} [data-testid=occlusion-image]")
    explorer = summing.explorer
    assert np.array_equal(canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-image]"),
                          explorer.to_pixels(maps.occluded(0, 1)))
    readout = page.inner_text(f"{OCCLUSION} [data-testid=occlusion-readout]")
    assert readout == "p(yes) 0.982 · top: yes 0.982 · activation 128"
    hover(page, f"{OCCLUSION} [data-testid=occlusion-map]", 0.2, 0.9, click=True)  # the map itself: cell (1, 0)
    assert np.array_equal(canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-image]"),
                          explorer.to_pixels(maps.occluded(1, 0)))
    hover(page, f"{OCCLUSION} [data-testid=occlusion-overlay]", 0.1, 0.1)
    assert page.get_attribute(f"{OCCLUSION} [data-testid=occlusion-image]", "data-cell") == "0,0"
    assert page.inner_text(f"{OCCLUSION} [data-testid=occlusion-readout]").startswith("p(yes) 0.378 · top: no 0.622")
    page.mouse.move(0, 0)  # leaving the maps: the kept (clicked) cell again
    assert page.get_attribute(f"{OCCLUSION} [data-testid=occlusion-image]", "data-cell") == "1,0"
    jupyter_driver.screenshot(page, "harness-occlusion")


def test_occlusion_runs_from_the_panel_and_bad_input_shows_in_the_banner(harness, summing, page):
    summing.occlusion(size=4, stride=4)
    harness.mount(summing)
    wait_state(page, OCCLUSION, id_=1)
    assert page.input_value(f"{OCCLUSION} [data-testid=occlusion-size]") == "4"  # the maps shown: "run" repeats them
    assert page.input_value(f"{OCCLUSION} [data-testid=occlusion-stride]") == "4"
    page.fill(f"{OCCLUSION} [data-testid=occlusion-size]", "4")
    page.fill(f"{OCCLUSION} [data-testid=occlusion-stride]", "2")
    page.select_option(f"{OCCLUSION} [data-testid=occlusion-target]", "1")
    page.click(f"{OCCLUSION} [data-testid=occlusion-run]")
    drained = settle(harness)
    assert drained["sent"] == [{"content": {"type": "experiment", "action": "run", "kind": "occlusion",
                                            "params": {"size": 4, "stride": 2, "target": 1}}, "buffers": []}]
    wait_state(page, OCCLUSION, id_=2)
    assert canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-map]").shape == (3, 3, 3)
    assert page.inner_text(f"{OCCLUSION} [data-testid=occlusion-message]").startswith(
        "4×4 px occluder, stride 2: 3×3 positions on image")
    assert "(b) p(no)" in page.inner_text(OCCLUSION)

    page.fill(f"{OCCLUSION} [data-testid=occlusion-size]", "9")
    page.click(f"{OCCLUSION} [data-testid=occlusion-run]")
    settle(harness)
    page.wait_for_function("document.querySelector('[data-testid=error-banner]').hidden === false")
    assert page.inner_text("[data-testid=error-banner] .cnnviz-error-text").startswith(
        "occlusion: the occluder (9 px) is larger than the 8 px model input — use size ≤ 8")
    assert page.inner_text(f"{OCCLUSION} [data-testid=occlusion-job-text]").startswith("occlusion failed: the occluder")
    assert page.get_attribute(OCCLUSION, "data-id") == "2"  # the maps computed before stay
    assert canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-map]").shape == (3, 3, 3)
    page.click("[data-view='0'] [data-testid=unit-tile][data-channel='0']")  # the widget stays usable
    harness.answer()


def test_before_any_run_the_panel_offers_the_default_occluder(harness, tiny, page):
    harness.mount(tiny)
    wait_state(page, OCCLUSION, state="none")
    assert page.input_value(f"{OCCLUSION} [data-testid=occlusion-size]") == "3"  # a fifth of the 16 px input
    assert page.input_value(f"{OCCLUSION} [data-testid=occlusion-stride]") == "1"
    assert page.locator(f"{OCCLUSION} [data-testid=occlusion-target] option").all_inner_texts() == [
        "predicted class", *[f"{p['label']} ({float(format(p['probability'], '.3g')):g})"
                             for p in tiny.picture["predictions"]]]
    assert page.locator("[data-view='0'] [data-testid=experiment-tab][data-kind=evolution]").is_hidden()


def test_stale_occlusion_answers_are_dropped(harness, summing, page):
    states = []
    for stride in (4, 2, 1):
        summing.occlusion(size=4, stride=stride)
        states.append(dict(summing.occlusion_result))
    harness.mount(summing, state={"occlusion_result": to_js(states[0]),
                                  "jobs": {"occlusion": {"id": 1, "state": "done", "done": 4, "total": 4,
                                                         "message": ""}}})
    wait_state(page, OCCLUSION, id_=1)
    body = f"{OCCLUSION} > div:last-child"
    harness.push({"jobs": {"occlusion": {"id": 3, "state": "running", "done": 2, "total": 25, "message": ""}}})
    page.wait_for_function("s => document.querySelector(s).classList.contains('cnnviz-stale')", arg=body)
    assert page.inner_text(f"{OCCLUSION} [data-testid=occlusion-job-text]") == "occlusion: 2 of 25"
    assert page.evaluate(f"document.querySelector(\"{OCCLUSION} [data-testid=occlusion-progress]\").value") == 2
    harness.push({"occlusion_result": to_js(states[1])})  # an older run's answer arrives late: dropped
    page.wait_for_timeout(150)
    assert page.get_attribute(OCCLUSION, "data-id") == "1"
    harness.push({"occlusion_result": to_js(states[2]),
                  "jobs": {"occlusion": {"id": 3, "state": "done", "done": 25, "total": 25, "message": ""}}})
    wait_state(page, OCCLUSION, id_=3)
    assert canvas_rgb(page, f"{OCCLUSION} [data-testid=occlusion-map]").shape == (5, 5, 3)
    assert not page.evaluate("s => document.querySelector(s).classList.contains('cnnviz-stale')", body)
    harness.push({"occlusion_result": to_js(states[1])})  # older than what is painted: dropped
    page.wait_for_timeout(150)
    assert page.get_attribute(OCCLUSION, "data-id") == "3"


# ------------------------------------------------------------------------------------------------- invariance
@pytest.fixture
def tiny() -> CNNViz:
    preprocess = ImagePreprocess(size=16, resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    return CNNViz(model=tiny_model(), preprocess=preprocess, labels=TINY_LABELS, gallery=tiny_images())


def plot_geometry(page, selector: str) -> dict:
    return page.evaluate("""(s) => {
      const svg = document.querySelector(s);
      const path = svg.querySelector('[data-testid=plot-line]').getAttribute('d');
      const cursor = svg.querySelector('[data-testid=plot-cursor]');
      return { d: path, cursor: Number(cursor.getAttribute('x1')), visible: cursor.getAttribute('visibility') };
    }""", selector)


def points(d: str) -> np.ndarray:
    import re

    return np.array([[float(a), float(b)] for a, b in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)])


def test_invariance_curves_are_drawn_at_the_right_points_and_the_slider_shows_each_image(harness, tiny, page):
    curves = tiny.invariance()
    harness.mount(tiny)
    wait_state(page, INVARIANCE, id_=1)
    assert page.get_attribute("[data-view='0'] [data-testid=experiments]", "data-tab") == "invariance"
    series = page.locator(f"{INVARIANCE} [data-testid=invariance-plot]")
    assert [series.nth(i).get_attribute("data-series") for i in range(series.count())] == [*curves.layers,
                                                                                         "probability"]
    translate = curves.curves["translate"]
    # Plots are 240×120 with margins 16 / 8 / 18 / 40: x spans −60…60 over 40…232, y 0…max over 102…16.
    left, right, top, bottom = 40.0, 232.0, 16.0, 102.0
    for layer in curves.layers:
        d = translate.distance[layer].astype(np.float64)
        hi = max(0.0, float(d.max()))
        expected = np.stack([left + (translate.values + 60) / 120 * (right - left),
                             bottom - d / hi * (bottom - top)], axis=1)
        got = points(plot_geometry(page, f"{INVARIANCE} [data-series='{layer}']")["d"])
        np.testing.assert_allclose(got, expected, atol=0.006)
    p = translate.probability.astype(np.float64)
    got = points(plot_geometry(page, f"{INVARIANCE} [data-series='probability']")["d"])
    np.testing.assert_allclose(got[:, 1], bottom - p * (bottom - top), atol=0.006)

    # The slider starts at the original (no shift); each step shows that transformed image, as the model saw it.
    slider = f"{INVARIANCE} [data-testid=invariance-slider]"
    assert page.input_value(slider) == "12"
    np.testing.assert_array_equal(canvas_rgb(page, f"{INVARIANCE} [data-testid=invariance-canonical]"),
                                  curves.canonical)
    page.evaluate("s => { const e = document.querySelector(s); e.value = '3'; e.dispatchEvent(new Event('input')); }",
                  slider)
    np.testing.assert_array_equal(canvas_rgb(page, f"{INVARIANCE} [data-testid=invariance-transformed]"),
                                  translate.images[3])
    geometry = plot_geometry(page, f"{INVARIANCE} [data-series='probability']")
    assert geometry["visible"] == "visible" and geometry["cursor"] == pytest.approx(left + 15 / 120 * (right - left))
    readout = page.inner_text(f"{INVARIANCE} [data-testid=invariance-readout]")
    assert readout.startswith(f"translate -45 px · p({curves.target_label}) ")

    page.click(f"{INVARIANCE} [data-testid=invariance-transform] [data-value=rotate]")
    assert page.get_attribute(f"{INVARIANCE} [data-testid=invariance-plots]", "data-transform") == "rotate"
    assert page.get_attribute(slider, "max") == "35" and page.input_value(slider) == "0"
    page.evaluate("s => { const e = document.querySelector(s); e.value = '9'; e.dispatchEvent(new Event('input')); }",
                  slider)
    np.testing.assert_array_equal(canvas_rgb(page, f"{INVARIANCE} [data-testid=invariance-transformed]"),
                                  curves.curves["rotate"].images[9])
    assert page.inner_text(f"{INVARIANCE} [data-testid=invariance-readout]").startswith("rotate 90° · ")
    jupyter_driver.screenshot(page, "harness-invariance")


# ------------------------------------------------------------------------------------------------- evolution
def test_evolution_grid_and_a_click_opens_that_checkpoints_unit_card(harness, tiny, page):
    later = tiny_model()
    with torch.no_grad():
        later[0].weight.mul_(-1.0)
    tiny.evolution({"epoch 1": tiny_model().state_dict(), "epoch 5": later}, [img for _, img in tiny_images()],
                   units=[("0", 0), ("3", 2)])
    state = tiny.evolution_result
    harness.mount(tiny)
    page.wait_for_function("s => document.querySelector(s).dataset.id === '1'", arg=EVOLUTION)
    assert page.get_attribute("[data-view='0'] [data-testid=experiments]", "data-tab") == "evolution"
    cells = page.locator(f"{EVOLUTION} [data-testid=evolution-cell]")
    assert cells.count() == 4
    assert page.locator(f"{EVOLUTION} .cnnviz-evolution-head").all_inner_texts() == ["epoch 1", "epoch 5"]
    for u, c in ((0, 1), (1, 0)):
        unit = state["units"][u]
        cell = f"{EVOLUTION} [data-testid=evolution-cell][data-unit='{u}'][data-column='{c}']"
        for kind, sheet in (("projection", unit["projections"]), ("patch", unit["patches"])):
            tile = encode.sheet_tiles(sheet, 2, 2, unit["tile"])[c]
            assert np.array_equal(canvas_rgb(page, f"{cell} [data-testid=evolution-{kind}]"), tile), (u, c, kind)
        value = np.frombuffer(state["values"], "<f4")[u * 2 + c]
        assert page.inner_text(f"{cell} .cnnviz-top9-caption") == format(float(format(value, ".3g")), "g")

    page.click(f"{EVOLUTION} [data-testid=evolution-cell][data-unit='1'][data-column='1']")
    drained = harness.answer()
    assert drained["sent"] == [{"content": {"type": "checkpoint", "action": "open", "column": 1, "unit": 1},
                                "buffers": []}]
    cell = state["units"][1]["cells"][1]
    assert (tiny.layer, tiny.channel, tiny.picture["name"]) == ("3", 2, cell["id"])
    page.wait_for_function("document.querySelector('[data-testid=model-name]').textContent === 'Sequential @ epoch 5'")
    page.wait_for_function("document.querySelector('[data-testid=unit-card] .cnnviz-panel-title').textContent"
                           " === '3 · channel 2'")
    assert page.inner_text(f"{EVOLUTION} [data-testid=evolution-open]") == "the widget shows checkpoint epoch 5"
    assert "cnnviz-evolution-cell--open" in page.get_attribute(
        f"{EVOLUTION} [data-testid=evolution-cell][data-unit='0'][data-column='1']", "class")
    assert page.locator(f"{EVOLUTION} [data-testid=evolution-run]").is_hidden()
    jupyter_driver.screenshot(page, "harness-evolution")

    page.click(f"{EVOLUTION} [data-testid=evolution-back]")
    assert harness.answer()["sent"][0]["content"] == {"type": "checkpoint", "action": "close"}
    page.wait_for_function("document.querySelector('[data-testid=model-name]').textContent === 'Sequential'")
    assert page.locator(f"{EVOLUTION} [data-testid=evolution-back]").is_hidden()
    assert page.locator(f"{EVOLUTION} .cnnviz-evolution-cell--open").count() == 0


# ------------------------------------------------------------------------------------------------- synthesis
def test_synthesis_in_the_unit_card_per_unit_and_seeded(harness, tiny, page):
    result = tiny.synthesize(params=AscentParams(steps=5))
    harness.mount(tiny)
    wait_state(page, SYNTHESIS)
    png = tiny.synthesis_result["image"]
    assert np.array_equal(canvas_rgb(page, f"{SYNTHESIS} [data-testid=synthesis-image]"), png_rgb(png))
    top, left, bottom, right = result.field
    caption = page.inner_text(f"{SYNTHESIS} [data-testid=synthesis-caption]")
    assert caption == (f"activation {format(float(format(result.activation, '.3g')), 'g')} after 5 steps · seed 0 · "
                       f"its receptive field ({bottom - top}×{right - left} px of 16×16)")
    history = points(page.get_attribute(f"{SYNTHESIS} [data-testid=plot-line]", "d"))
    assert len(history) == 5

    page.click("[data-view='0'] [data-testid=unit-tile][data-channel='1']")
    harness.answer()
    wait_state(page, SYNTHESIS, state="none")
    assert page.inner_text(f"{SYNTHESIS} [data-testid=synthesis-message]").startswith(
        "Synthesise the image that excites 0 channel 1 most")
    page.fill(f"{SYNTHESIS} [data-testid=synthesis-seed]", "3")
    page.click(f"{SYNTHESIS} [data-testid=synthesis-run]")
    drained = settle(harness)
    assert drained["sent"] == [{"content": {"type": "experiment", "action": "run", "kind": "synthesis",
                                            "params": {"seed": 3}}, "buffers": []}]
    page.wait_for_function("s => document.querySelector(s).dataset.request === '0|1|3'", arg=SYNTHESIS)
    assert tiny.synthesis_result["request"]["seed"] == 3 and tiny.synthesis_result["steps"] == 5
    page.click("[data-view='0'] [data-testid=unit-tile][data-channel='0']")  # synthesised before: shown at once
    harness.answer()
    page.wait_for_function("s => document.querySelector(s).dataset.request === '0|0|0'", arg=SYNTHESIS)
    assert np.array_equal(canvas_rgb(page, f"{SYNTHESIS} [data-testid=synthesis-image]"), png_rgb(png))
    jupyter_driver.screenshot(page, "harness-synthesis")


def test_a_runs_progress_bar_and_cancel_button(harness, tiny, page):
    job = tiny.synthesize(params=AscentParams(steps=1_000_000), wait=False)
    while tiny.jobs["synthesis"]["done"] < 2:
        time.sleep(0.01)
    harness.mount(tiny)
    done = tiny.jobs["synthesis"]["done"]
    progress = f"{SYNTHESIS} [data-testid=synthesis-progress]"
    assert page.evaluate(f"document.querySelector(\"{progress}\").max") == 1_000_000
    assert page.evaluate(f"document.querySelector(\"{progress}\").value") == done
    assert page.inner_text(f"{SYNTHESIS} [data-testid=synthesis-job-text]") == f"synthesis: {done} of 1000000"
    page.click(f"{SYNTHESIS} [data-testid=synthesis-cancel]")
    drained = settle(harness)
    assert drained["sent"] == [{"content": {"type": "experiment", "action": "cancel", "kind": "synthesis"},
                                "buffers": []}]
    assert job.done() and job.cancelled()
    stopped = tiny.jobs["synthesis"]["done"]
    page.wait_for_function("s => document.querySelector(s).dataset.state === 'cancelled'",
                           arg=f"{SYNTHESIS} [data-testid=synthesis-job]")
    assert page.inner_text(f"{SYNTHESIS} [data-testid=synthesis-job-text]") == (
        f"synthesis cancelled after {stopped} of 1000000")
    assert page.locator(progress).is_hidden() and page.locator(f"{SYNTHESIS} [data-testid=synthesis-cancel]").is_hidden()
    assert json.dumps(tiny.synthesis_result) == "{}"  # nothing was shown for the cancelled run


# ------------------------------------------------------------------------------------------------- export
def test_a_saved_page_shows_the_experiments_without_a_kernel(browser, tiny, tmp_path):
    maps = tiny.occlusion()
    tiny.invariance(transforms={"translate": [-4, 0, 4]})
    tiny.synthesize(params=AscentParams(steps=3))
    tiny.synthesize(channel=2, params=AscentParams(steps=3))  # the newest synthesis, of a unit not selected
    assert tiny.channel == 0 and tiny.synthesis_result["request"]["channel"] == 2
    report = tiny.to_html(tmp_path / "page.html", layers=["0"], progress=False)
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(report.path.as_uri())
        page.wait_for_function("window.cnnvizExport?.ready === true", timeout=20_000)
        wait_state(page, "[data-testid=invariance]")
        assert page.get_attribute("[data-testid=experiments]", "data-tab") == "invariance"  # the newest run
        page.click("[data-testid=experiment-tab][data-kind=occlusion]")
        wait_state(page, "[data-testid=occlusion]")
        assert np.array_equal(canvas_rgb(page, "[data-testid=occlusion-map]"),
                              encode.colorize(codes(tiny.occlusion_result["maps"]["probability"]), "heat"))
        hover(page, "[data-testid=occlusion-map]", 0.01, 0.01)  # hovering needs no kernel: cell (0, 0)
        assert np.array_equal(canvas_rgb(page, "[data-testid=occlusion-image]"),
                              tiny.explorer.to_pixels(maps.occluded(0, 0)))
        wait_state(page, "[data-testid=synthesis]")  # the selected unit's own synthesis
        for button in ("occlusion-run", "invariance-run", "synthesis-run"):
            assert page.locator(f"[data-testid={button}]").is_hidden(), button
        synthesised = {c: tiny.panels.experiments.syntheses_of(tiny.explorer)[("0", c)]["image"] for c in (0, 2)}
        for channel in (0, 2, 1):  # every unit synthesised before saving shows its image; the others none
            page.click(f"[data-testid=unit-tile][data-channel='{channel}']")
            page.wait_for_function("u => document.querySelector('[data-testid=synthesis]').dataset.unit === u",
                                   arg=f"0|{channel}")
            wait_state(page, "[data-testid=synthesis]", "ready" if channel in synthesised else "none")
            if channel in synthesised:
                assert np.array_equal(canvas_rgb(page, "[data-testid=synthesis] [data-testid=synthesis-image]"),
                                      png_rgb(synthesised[channel]))
        assert errors == []
    finally:
        context.close()
