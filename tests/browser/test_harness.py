"""The front end in Chromium against a mock model. The mock is answered by a real CNNViz on a tiny net in this
process (``Harness.answer`` applies what the page saved and sent, as the kernel would, and pushes the changes)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import jupyter_driver
import numpy as np
import pytest
import torch
from harness_bridge import TINY_LABELS, canvas_rgb, to_js
from PIL import Image

from cnnviz_widget import encode

TILE = "[data-view='{view}'] [data-testid=unit-tile][data-channel='{channel}']"


@pytest.fixture(autouse=True)
def no_page_errors(page):
    yield
    assert page.js_errors == []


def tile(channel: int, view: int = 0) -> str:
    return TILE.format(view=view, channel=channel)


def painted(page, view: int = 0) -> str:
    return page.get_attribute(f"[data-view='{view}'] [data-testid=projection]", "data-request") or ""


def wait_painted(page, key: str, view: int = 0) -> None:
    page.wait_for_function("([v, k]) => document.querySelector(`[data-view='${v}'] [data-testid=projection]`)"
                           "?.dataset.request === k", arg=[view, key])


def key(widget) -> str:
    r = widget.unit["request"]
    position = ",".join(map(str, r["position"])) if isinstance(r["position"], list) else r["position"]
    return f"{r['image']}|{r['layer']}|{r['channel']}|{position}|{r['rule']}|{r['display']}|{r['crop']}"


def busy_state(page, view: int = 0) -> str:
    return page.get_attribute(f"[data-view='{view}'] [data-testid=busy]", "data-state")


def png_file(tmp_path, name: str, img: Image.Image) -> str:
    path = tmp_path / name
    img.save(path)
    return str(path)


# ------------------------------------------------------------------------------------------- rendering
def test_tiles_layers_and_model_text_render_as_text(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    assert page.locator("[data-testid=unit-tile]").count() == 4
    options = page.locator("[data-testid=layer-select] option").all_inner_texts()
    stages = [layer["name"] for layer in tiny_widget.layers if layer["stage"]]
    assert stages == ["0", "3", "7"]  # the convolutions and the linear layer; not the ReLUs and pools
    assert options == ["1 · 0 — conv 3×3 · 4×16×16", "2 · 3 — conv 3×3 · 6×8×8", "3 · 7 — linear 6→3 · 3"]
    labels = page.locator("[data-testid=prediction] .cnnviz-prediction-label").all_inner_texts()
    assert sorted(labels) == sorted(TINY_LABELS)  # markup in class names is shown, never parsed
    assert page.locator(".cnnviz-root b, .cnnviz-root img, .cnnviz-root script").count() == 0
    assert page.locator("[data-testid=filter-tile]").count() == 4
    assert page.locator("[data-testid=gallery-item]").count() == 3
    assert page.locator("[data-testid=top9]").is_visible()
    assert busy_state(page) == "idle" and page.locator("[data-testid=error-banner]").is_hidden()
    jupyter_driver.screenshot(page, "harness-tiny")


def test_the_right_pixels_land_in_the_right_tile(harness, tiny_widget, page):
    # 4 channels of 16×16 whose values are integers up to 255 (= the layer max): each code equals its value.
    acts = torch.zeros(4, 16, 16)
    for c in range(3):
        acts[c] = (torch.arange(256).reshape(16, 16) * (c + 1)) % 256
    acts[0, 15, 15] = 255
    atlas = encode.activation_atlas(acts, percentile=100, gamma=1)  # the layer's largest value, linearly
    state = {"atlas": to_js({"image": 1, "layer": "0", **atlas.to_state()})}
    harness.mount(tiny_widget, state=state)
    page.wait_for_selector(tile(3))
    for c in range(4):
        pixels = harness.tile_pixels(c)
        assert (pixels["width"], pixels["height"]) == (16, 16)
        rgba = np.array(pixels["data"], dtype=np.uint8).reshape(16, 16, 4)
        expected = acts[c].numpy().astype(np.uint8)
        for channel in range(3):
            assert np.array_equal(rgba[..., channel], expected), (c, channel)
        assert np.all(rgba[..., 3] == 255)
    dead = page.locator(".cnnviz-tile--dead")
    assert dead.count() == 1 and dead.get_attribute("data-channel") == "3"
    page.hover(tile(1))
    assert page.inner_text("[data-testid=tile-readout]") == "channel 1 · max 254 · mean 127"


def test_the_grid_legend_says_what_full_brightness_is_and_marks_clipped_tiles(harness, tiny_widget, page):
    # 21 one-pixel units peaking at 0, 1, 4, 9, 16 (×16) and 64: the scale is 16 (their 95th percentile), codes
    # round(255 · √min(x / 16, 1)) = 0, 64, 128, 191, 255 …, and the unit at 64 is clipped (tests/test_encode.py).
    values = [0.0, 1.0, 4.0, 9.0] + [16.0] * 16 + [64.0]
    atlas = encode.activation_atlas(torch.tensor(values)[:, None, None])
    harness.mount(tiny_widget, state={"atlas": to_js({"image": 1, "layer": "0", **atlas.to_state()})})
    page.wait_for_selector(tile(20))
    assert [harness.tile_pixels(c)["data"][0] for c in (1, 2, 3, 20)] == [64, 128, 191, 255]
    assert page.inner_text("[data-testid=grid-legend-text]") == (
        "full brightness = 16: the 95th percentile of the units' peaks · half = 4 (√ scale) · ◥ 1 unit above it, "
        "clipped")
    assert (page.inner_text("[data-testid=grid-legend-low]"), page.inner_text("[data-testid=grid-legend-high]")) == (
        "0", "16")
    ramp = page.evaluate("""() => {
      const c = document.querySelector("[data-testid=grid-legend-ramp]");
      return Array.from(c.getContext("2d").getImageData(0, 0, 256, 1).data).filter((_, i) => i % 4 === 0);
    }""")
    assert ramp == list(range(256))  # code k is drawn as gray k, the colours of the tiles
    clipped = page.locator(".cnnviz-tile--clipped")
    assert clipped.count() == 1 and clipped.get_attribute("data-channel") == "20"
    page.hover(tile(20))  # the exact value, beyond what the tile can show
    assert page.inner_text("[data-testid=tile-readout]") == (
        "channel 20 · max 64 · mean 64 · above the grid's scale (16): clipped")
    jupyter_driver.screenshot(page, "harness-grid-legend")


def test_a_layer_without_the_channel_moves_it_and_says_so(harness, tiny_widget, page):
    tiny_widget.layer, tiny_widget.channel = "4", 5  # 6 channels; layer 7 (linear) has 3
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    assert page.locator("[data-testid=selection-note]").is_hidden()
    page.select_option("[data-testid=layer-select]", "7")
    note = {"layer": "7", "channel": 2, "text": "channel 5 → 2: 7 has 3 channels"}
    assert harness.answer()["saved"] == [{"layer": "7", "channel": 2, "note": note}]
    assert (tiny_widget.layer, tiny_widget.channel, tiny_widget.note) == ("7", 2, note)  # the kernel keeps it
    wait_painted(page, "1|7|2|max|auto|auto|auto")
    assert page.inner_text("[data-testid=selection-note]") == "channel 5 → 2: 7 has 3 channels"
    page.click(tile(1))  # another unit: the note was about channel 2
    harness.answer()
    assert page.locator("[data-testid=selection-note]").is_hidden()
    page.select_option("[data-testid=layer-select]", "3")  # has channel 1: kept, the note cleared
    assert harness.answer()["saved"] == [{"layer": "3", "note": {}}]
    wait_painted(page, "1|3|1|max|auto|auto|auto")
    assert page.locator("[data-testid=selection-note]").is_hidden()


def test_a_silent_unit_says_why_its_projection_is_empty(harness, tiny_widget, page):
    tiny_widget.layer, tiny_widget.channel, tiny_widget.position = "1", 0, [0, 0]  # its activation is 0 there
    assert tiny_widget.unit["silent"] == "here"
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    note = page.locator("[data-testid=silent-note]")
    assert note.is_visible() and note.get_attribute("data-silent") == "here"
    assert note.inner_text().startswith("Silent here: its activation at this location is 0, so its projection is "
                                        "empty.")
    page.click("[data-testid=position-toggle] [data-value=max]")
    harness.answer()
    wait_painted(page, key(tiny_widget))
    assert tiny_widget.unit["silent"] is None and note.is_hidden()


def test_click_on_a_tile_sends_the_selection_and_paints_the_answer(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    page.click(tile(2))
    assert busy_state(page) == "busy"  # waiting for the kernel's answer
    drained = harness.answer()
    assert drained["saved"] == [{"channel": 2}] and tiny_widget.channel == 2
    wait_painted(page, "1|0|2|max|auto|auto|auto")
    assert page.inner_text("[data-testid=unit-card] .cnnviz-panel-title") == "0 · channel 2"
    assert page.get_attribute(tile(2), "aria-selected") == "true"
    assert busy_state(page) == "idle"
    top, left, bottom, right = (min(max(v, 0), 16) for v in tiny_widget.unit["field"])  # clipped to the input
    box = page.locator("[data-testid=rf-box]").bounding_box()
    image = page.locator("[data-testid=unit-image]").bounding_box()
    scale = image["width"] / 16
    expected = (image["x"] + left * scale, image["y"] + top * scale, (right - left) * scale, (bottom - top) * scale)
    assert np.allclose((box["x"], box["y"], box["width"], box["height"]), expected, atol=1.0)
    # the patch is the field widened (clipped to the input): its caption says both sizes, not the patch's alone
    crop, field = tiny_widget.unit["crop"], tiny_widget.unit["field"]
    assert (crop[2] - crop[0], field[2] - field[0]) == (16, 3)
    caption = page.locator("figure:has([data-testid=patch]) figcaption").inner_text()
    assert caption == "image patch · receptive field 3×3 px (16×16 px shown)"


def test_rule_and_position_toggles(harness, tiny_widget, page):
    tiny_widget.layer = "4"  # after two ReLUs the three rules differ
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    page.click("[data-testid=rule-toggle] [data-value=guided]")
    assert page.get_attribute("[data-testid=rule-toggle] [data-value=guided]", "aria-pressed") == "true"
    assert harness.answer()["saved"] == [{"rule": "guided"}]
    wait_painted(page, key(tiny_widget))
    guided = page.evaluate("document.querySelector('[data-testid=projection]').toDataURL()")
    page.click("[data-testid=rule-toggle] [data-value=gradient]")
    harness.answer()
    wait_painted(page, key(tiny_widget))
    assert page.evaluate("document.querySelector('[data-testid=projection]').toDataURL()") != guided

    page.click("[data-testid=position-toggle] [data-value=map]")
    assert harness.answer()["saved"] == [{"position": "map"}]
    wait_painted(page, "1|4|0|map|gradient|auto|auto")
    assert page.locator("[data-testid=rf-box]").is_hidden()
    box = page.locator("[data-testid=activation-map]").bounding_box()  # the 8×8 map: click cell (6, 1)
    page.mouse.click(box["x"] + box["width"] * 1.5 / 8, box["y"] + box["height"] * 6.5 / 8)
    assert harness.answer()["saved"] == [{"position": [6, 1]}]
    wait_painted(page, "1|4|0|6,1|gradient|auto|auto")
    assert page.inner_text("[data-testid=picked-position]") == "picked (6, 1)"


def caption(page, testid: str) -> str:
    return page.inner_text(f"[data-view='0'] figure:has([data-testid={testid}]) figcaption")


def test_auto_views_are_named_and_the_paper_rule_is_one_click_away(harness, tiny_widget, page):
    w = tiny_widget
    harness.mount(w)
    wait_painted(page, key(w))
    auto = "[data-testid={}-toggle] [data-value=auto]"
    text = "[data-testid=view-text]"
    # The first convolution: "auto" is the paper's view, and says so.
    assert [page.inner_text(auto.format(t)) for t in ("rule", "display", "crop")] == [
        "auto · deconvnet", "auto · raw", "auto · receptive field"]
    assert page.get_attribute(auto.format("rule"), "aria-pressed") == "true"
    deconvnet = "[data-testid=rule-toggle] [data-value=deconvnet]"
    assert page.get_attribute(deconvnet, "aria-pressed") == "false"
    assert "cnnviz-toggle-button--implied" in page.get_attribute(deconvnet, "class")  # what auto stands for
    assert page.inner_text(text) == "deconvnet · raw colour · receptive field — the paper's view, the clearest at this depth"
    assert page.locator("[data-testid=paper-rule]").is_hidden()

    # Deeper (conv "3" sees half the input): guided backprop in gray on the central half, named, the deconvnet a link.
    page.select_option("[data-testid=layer-select]", "3")
    assert harness.answer()["saved"] == [{"layer": "3"}]
    wait_painted(page, key(w))
    assert [page.inner_text(auto.format(t)) for t in ("rule", "display", "crop")] == [
        "auto · guided", "auto · gray", "auto · central half"]
    assert page.inner_text(text) == "guided backprop · gray · central half — the clearest view at this depth"
    assert page.inner_text("[data-testid=paper-rule]") == "deconvnet: the paper's rule"
    unit = w.unit
    y, x = unit["location"]
    assert caption(page, "projection") == f"guided · gray at ({y}, {x}) · central half"
    top, left, bottom, right = unit["field"]
    assert caption(page, "patch") == f"image patch · central half of the {bottom - top}×{right - left} px field (16×16 px)"
    projection = w.explorer.project(w.session.x, "3", 0, position=(y, x), rule="guided")
    expected = encode.projection_display(projection, "gray", "RGB", box=unit["crop"])
    assert np.array_equal(canvas_rgb(page, "[data-view='0'] [data-testid=projection]"), expected)

    # One click to the paper's rule; display and crop stay "auto", and the card says which part is whose.
    page.click("[data-testid=paper-rule]")
    assert harness.answer()["saved"] == [{"rule": "deconvnet"}]
    wait_painted(page, key(w))
    assert key(w).endswith("|deconvnet|auto|auto")
    assert page.inner_text(text) == ("deconvnet · gray · central half — rule: your choice; display and crop: the "
                                     "clearest at this depth")
    assert page.locator("[data-testid=paper-rule]").is_hidden()
    assert page.get_attribute(deconvnet, "aria-pressed") == "true"

    # A choice survives a layer change; "auto" parts follow the layer.
    page.select_option("[data-testid=layer-select]", "0")
    assert harness.answer()["saved"] == [{"layer": "0"}]
    wait_painted(page, key(w))
    assert w.rule == "deconvnet" and page.get_attribute(deconvnet, "aria-pressed") == "true"
    assert page.inner_text(text).startswith("deconvnet · raw colour · receptive field — rule: your choice")

    # The display selector: another picture of the same unit, exactly the kernel's.
    page.click("[data-testid=display-toggle] [data-value=norm]")
    assert harness.answer()["saved"] == [{"display": "norm"}]
    wait_painted(page, key(w))
    assert key(w).endswith("|deconvnet|norm|auto")
    shown = w.unit["projection"]
    assert np.array_equal(canvas_rgb(page, "[data-view='0'] [data-testid=projection]"),
                          np.frombuffer(shown["data"], np.uint8).reshape(*shown["shape"], 3))
    page.click("[data-testid=crop-toggle] [data-value=center]")
    page.click(auto.format("rule"))
    assert harness.answer()["saved"] == [{"crop": "center"}]  # the next waits for this answer (selection-gate.js)
    assert harness.answer()["saved"] == [{"rule": "auto"}]
    wait_painted(page, key(w))
    assert (w.rule, w.display, w.crop) == ("auto", "norm", "center")
    jupyter_driver.screenshot(page, "harness-views")


def test_rapid_clicks_last_wins_and_stale_answers_are_dropped(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    first = key(tiny_widget)
    wait_painted(page, first)
    for channel in (1, 2, 3):
        page.click(tile(channel))
    # One selection in flight: the kernel gets channel 1 now, and the newest (3) once 1 is answered — never 2.
    assert harness.drain()["saved"] == [{"channel": 1}]
    page.wait_for_function("s => document.querySelector(s).getAttribute('aria-selected') === 'true'",
                           arg=tile(3))  # the page shows the newest (its redraws paced in a burst)
    harness.answer({"saved": [{"channel": 1}], "sent": []})
    page.wait_for_timeout(150)
    assert painted(page) == first and busy_state(page) == "busy"  # the answer for channel 1 is stale: dropped
    assert harness.answer()["saved"] == [{"channel": 3}]
    wait_painted(page, "1|0|3|max|auto|auto|auto")
    assert busy_state(page) == "idle"


#: Click ``channels`` in turn, all in one task (faster than any hand), in views ``views[i % len(views)]``.
_BURST = """([channels, views]) => channels.forEach((c, i) => document.querySelector(
  `[data-view="${views[i % views.length]}"] [data-testid=unit-tile][data-channel="${c}"]`).click())"""


def test_a_burst_of_100_clicks_costs_the_kernel_two_answers_and_paints_only_the_last(harness, tiny_widget, page):
    tiny_widget.layer = "3"  # 6 channels
    harness.mount(tiny_widget, views=2)
    wait_painted(page, key(tiny_widget), view=1)
    page.evaluate("() => { window.unitPaints = []; document.addEventListener('cnnviz:painted', (e) => "
                  "e.detail.panel === 'unit' && window.unitPaints.push(e.detail.request.channel)); }")
    tiny_widget.timings.clear()
    channels = [1 + i % 5 for i in range(99)] + [2]  # ends on channel 2, clicked in both views in turn
    page.evaluate(_BURST, [channels, [0, 1]])
    for view in (0, 1):
        assert page.get_attribute(tile(2, view), "aria-selected") == "true"
        assert page.locator(f"[data-view='{view}'] .cnnviz-tile--selected").count() == 1
    assert harness.answer()["saved"] == [{"channel": 1}]  # the first click; the 98 after it are superseded
    assert harness.answer()["saved"] == [{"channel": 2}]  # sent when channel 1 was answered
    for view in (0, 1):
        wait_painted(page, "1|3|2|max|auto|auto|auto", view)
    assert harness.drain()["saved"] == []
    assert [t["channel"] for t in tiny_widget.timings if t["kind"] == "unit"] == [1, 2]
    assert page.evaluate("window.unitPaints") == [2, 2]  # one paint a view: channel 1's answer was dropped
    assert busy_state(page, 0) == busy_state(page, 1) == "idle"
    tiny_widget.channel = 4  # a Python-side change still selects, in both views
    harness.push()
    for view in (0, 1):
        wait_painted(page, "1|3|4|max|auto|auto|auto", view)
        assert page.get_attribute(tile(4, view), "aria-selected") == "true"
    page.click(tile(5, 1))  # and the next click goes at once
    assert harness.answer()["saved"] == [{"channel": 5}]


def test_kernel_busy_flag_shows_the_indicator(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    harness.push({"busy": True})
    assert busy_state(page) == "busy" and page.locator("[data-testid=busy]").is_visible()
    harness.push({"busy": False})
    assert busy_state(page) == "idle"


# ------------------------------------------------------------------------------------------- input
def test_upload_sends_the_file_and_predictions_change(harness, tiny_widget, page, tmp_path):
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    before = page.locator("[data-testid=predictions]").inner_text()
    path = png_file(tmp_path, "stripes.png", Image.fromarray(
        (np.indices((40, 40)).sum(0) % 6 < 3).astype(np.uint8)[..., None].repeat(3, 2) * 255))
    page.set_input_files("[data-testid=upload-input]", path)
    page.wait_for_function("window.harness.model.sent.length === 1")
    assert busy_state(page) == "busy"
    drained = harness.answer()
    message = drained["sent"][0]
    assert message["content"] == {"type": "upload", "name": "stripes.png"}
    assert base64.b64decode(message["buffers"][0]) == Path(path).read_bytes()  # small files go as they are
    page.wait_for_function("document.querySelector('[data-testid=image-name]').textContent === 'stripes.png'")
    wait_painted(page, key(tiny_widget))
    assert page.locator("[data-testid=predictions]").inner_text() != before
    assert busy_state(page) == "idle"


def test_large_upload_is_downscaled_in_the_browser(harness, tiny_widget, page, tmp_path):
    harness.mount(tiny_widget)
    noise = np.random.default_rng(1).integers(0, 256, (1000, 1200, 3), dtype=np.uint8)
    path = png_file(tmp_path, "big.png", Image.fromarray(noise))
    assert (tmp_path / "big.png").stat().st_size > 2 * 1024 * 1024
    page.set_input_files("[data-testid=upload-input]", path)
    page.wait_for_function("window.harness.model.sent.length === 1", timeout=20_000)
    message = harness.drain()["sent"][0]
    sent = Image.open(io.BytesIO(base64.b64decode(message["buffers"][0])))
    assert (sent.format, sent.size) == ("JPEG", (1024, 853))


def test_corrupt_upload_shows_the_banner_and_keeps_the_image(harness, tiny_widget, page, tmp_path):
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    name_before = page.inner_text("[data-testid=image-name]")
    image_before = page.evaluate("document.querySelector('[data-testid=unit-image]').toDataURL()")
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    page.set_input_files("[data-testid=upload-input]", str(path))
    page.wait_for_function("window.harness.model.sent.length === 1")
    harness.answer()
    banner = page.locator("[data-testid=error-banner]")
    banner.wait_for(state="visible")
    assert banner.inner_text().startswith("broken.jpg is ")
    assert page.inner_text("[data-testid=image-name]") == name_before
    assert page.evaluate("document.querySelector('[data-testid=unit-image]').toDataURL()") == image_before
    assert busy_state(page) == "idle"
    jupyter_driver.screenshot(page, "harness-error-banner")
    page.click("[data-testid=error-banner] button")
    assert harness.answer()["saved"] == [{"error": ""}] and tiny_widget.error == ""
    assert banner.is_hidden()
    page.click(tile(1))  # still usable
    harness.answer()
    wait_painted(page, "1|0|1|max|auto|auto|auto")


def test_gallery_click_asks_for_the_sample(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    page.click("[data-testid=gallery-item][data-index='2']")
    assert harness.answer()["sent"] == [{"content": {"type": "sample", "index": 2}, "buffers": []}]
    page.wait_for_function("document.querySelector('[data-testid=image-name]').textContent === 'red'")


# ------------------------------------------------------------------------------------------- navigation
def test_keyboard_moves_between_units_and_layers(harness, tiny_widget, page):
    tiny_widget.layer = "3"  # 6 channels
    harness.mount(tiny_widget)
    page.add_style_tag(content=".cnnviz-grid { width: 200px; }")  # two 88 px tiles a row
    wait_painted(page, key(tiny_widget))
    page.focus(".cnnviz-root")
    page.keyboard.press("ArrowRight")
    assert harness.answer()["saved"] == [{"channel": 1}]
    page.keyboard.press("ArrowDown")
    assert harness.answer()["saved"] == [{"channel": 3}]
    page.keyboard.press("ArrowLeft")
    assert harness.answer()["saved"] == [{"channel": 2}]
    page.keyboard.press("ArrowUp")
    assert harness.answer()["saved"] == [{"channel": 0}]
    page.keyboard.press("ArrowUp")  # the top edge: nothing happens
    page.keyboard.press("PageDown")  # to the next stage: the linear layer, past the ReLU and the pool
    assert harness.answer()["saved"] == [{"layer": "7"}]
    page.keyboard.press("PageUp")
    assert harness.answer()["saved"] == [{"layer": "3"}]
    wait_painted(page, key(tiny_widget))
    page.check("[data-testid=layer-all]")  # every layer, on demand
    assert page.locator("[data-testid=layer-select] option").count() == len(tiny_widget.layers)
    page.focus(".cnnviz-root")
    page.keyboard.press("PageDown")
    assert harness.answer()["saved"] == [{"layer": "4"}]


def test_layer_picker_and_filters_select(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    page.select_option("[data-testid=layer-select]", "3")
    assert harness.answer()["saved"] == [{"layer": "3"}]
    page.wait_for_function("document.querySelector('[data-testid=activation-grid]').dataset.layer === '3'")
    assert page.locator("[data-testid=unit-tile]").count() == 6
    page.click("[data-testid=filter-tile][data-channel='2']")
    assert harness.answer()["saved"] == [{"layer": "0", "channel": 2}]
    wait_painted(page, "1|0|2|max|auto|auto|auto")
    assert "cnnviz-tile--selected" in page.get_attribute("[data-testid=filter-tile][data-channel='2']", "class")


def test_sort_by_strength_reorders_tiles(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    page.wait_for_selector(tile(3))
    page.click("[data-testid=sort-toggle]")
    assert harness.answer()["saved"] == [{"sort_by": "strength"}]
    order = [int(c) for c in page.eval_on_selector_all("[data-testid=unit-tile]", "ts => ts.map(t => t.dataset.channel)")]
    maxima = np.frombuffer(tiny_widget.atlas["stats"], "<f4").reshape(-1, 5)[:, 1]
    assert order == sorted(range(4), key=lambda c: (-maxima[c], c))


def test_two_views_of_one_widget_stay_in_sync(harness, tiny_widget, page):
    harness.mount(tiny_widget, views=2)
    wait_painted(page, key(tiny_widget), view=1)
    page.click(tile(3, view=0))
    harness.answer()
    wait_painted(page, "1|0|3|max|auto|auto|auto", view=0)
    wait_painted(page, "1|0|3|max|auto|auto|auto", view=1)
    assert page.get_attribute(tile(3, view=1), "aria-selected") == "true"
    tiny_widget.layer = "2"  # a Python-side change redraws both
    harness.push()
    for view in (0, 1):
        page.wait_for_function("v => document.querySelector(`[data-view='${v}'] [data-testid=activation-grid]`)"
                               ".dataset.layer === '2'", arg=view)
    assert page.evaluate("() => window.harness.unmount()") == 0  # every listener removed with its view


def test_dark_theme_is_readable(harness, tiny_widget, page):
    page.emulate_media(color_scheme="dark")
    harness.mount(tiny_widget)
    wait_painted(page, key(tiny_widget))
    background = page.eval_on_selector(".cnnviz-root", "e => getComputedStyle(e).backgroundColor")
    text = page.eval_on_selector(".cnnviz-root", "e => getComputedStyle(e).color")
    assert background == "rgb(17, 17, 17)" and text.startswith("rgba(255, 255, 255")
    jupyter_driver.screenshot(page, "harness-dark")
    # JupyterLab's own theme variables win over the fallbacks
    page.evaluate("document.documentElement.style.setProperty('--jp-layout-color0', 'rgb(1, 2, 3)')")
    assert page.eval_on_selector(".cnnviz-root", "e => getComputedStyle(e).backgroundColor") == "rgb(1, 2, 3)"
