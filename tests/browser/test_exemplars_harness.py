"""The dataset-exemplar panels (top-9 in the unit card, the layer atlas, the mining status) in Chromium against the
mock model, answered by a real CNNViz on the tiny net that has mined a small labelled dataset in this process."""

from __future__ import annotations

import io
import time

import jupyter_driver
import numpy as np
import pytest
import torch
from harness_bridge import TINY_LABELS, canvas_rgb, tiny_model, to_js
from PIL import Image

from cnnviz_widget import CNNViz, ImagePreprocess
from cnnviz_widget.state import exemplars as exemplar_states

TOP9 = "[data-view='0'] [data-testid=top9]"
CLASSES = ["<b>bold</b> cat", "dog</script><img src=x onerror=alert(1)>"]


@pytest.fixture(autouse=True)
def no_page_errors(page):
    yield
    assert page.js_errors == []


class Photos(torch.utils.data.Dataset):
    """Seeded noise images labelled with markup-laden class names (shown as text, never parsed); optionally slow."""

    classes = CLASSES

    def __init__(self, n: int, delay: float = 0.0) -> None:
        rng = np.random.default_rng(1)
        self.images = [Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for _ in range(n)]
        self.delay = delay

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        time.sleep(self.delay)
        return self.images[i], i % 2


@pytest.fixture
def widget() -> CNNViz:
    """The harness's tiny widget, with unit 3 of the first convolution dead (it never fires)."""
    model = tiny_model()
    with torch.no_grad():
        model[0].weight[3] = 0.0
        model[0].bias[3] = -1.0
    preprocess = ImagePreprocess(size=16, resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    return CNNViz(model=model, preprocess=preprocess, labels=TINY_LABELS, gallery=[],
                  image=Image.new("RGB", (16, 16), (90, 160, 30)))


def mined(widget: CNNViz, n: int = 12) -> CNNViz:
    widget.mine(Photos(n))
    assert widget.wait_exemplars(60)
    return widget


def settle(harness) -> dict:
    """Apply what the page saved and sent, let the panel thread finish, and push the answers to the page."""
    drained = harness.answer()
    assert harness.widget.wait_exemplars(60)
    harness.push()
    return drained



def tile(png: bytes, index: int, cols: int, size: list[int]) -> np.ndarray:
    sheet = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    (h, w), (row, col) = size, divmod(index, cols)
    return sheet[row * h:(row + 1) * h, col * w:(col + 1) * w]


def wait_top9(page, key: str, state: str = "ready") -> None:
    page.wait_for_function("([s, k, st]) => { const el = document.querySelector(s);"
                           " return el.dataset.request === k && el.dataset.state === st; }", arg=[TOP9, key, state])


# ------------------------------------------------------------------------------------------------- top-9
def test_top9_shows_projections_beside_patches_with_values_and_labels(harness, widget, page):
    harness.mount(mined(widget))
    wait_top9(page, "0|0|auto|auto|auto")
    top9 = widget.top9
    assert page.locator(f"{TOP9} [data-testid=top9-projection]").count() == 9
    assert page.locator(f"{TOP9} .cnnviz-top9-cell--empty").count() == 0
    for rank in (0, 4, 8):  # the right pixels in the right cell
        for kind, png in (("projection", top9["projections"]), ("patch", top9["patches"])):
            painted = canvas_rgb(page, f"{TOP9} [data-testid=top9-{kind}][data-rank='{rank}'] canvas")
            assert np.array_equal(painted, tile(png, rank, 3, top9["tile"])), (kind, rank)
    captions = page.locator(f"{TOP9} [data-testid=top9-patch] .cnnviz-top9-caption").all_inner_texts()
    first = top9["exemplars"][0]
    value = format(float(format(first["value"], ".3g")), "g")  # formatNumber: 3 significant digits
    assert captions[0] == f"{value} · {CLASSES[first['label']]}"
    assert page.locator(".cnnviz-root b, .cnnviz-root img, .cnnviz-root script").count() == 0
    summary = page.inner_text(f"{TOP9} [data-testid=top9-summary]")
    assert summary.startswith(f"fires on {round(100 * top9['stats']['firing_rate'])}% of 12 images · top-9 classes: ")
    assert page.inner_text("[data-testid=mining-text]") == "exemplars: 12 images of Photos (12 items)"
    assert page.locator("[data-testid=mining-progress]").is_hidden()
    jupyter_driver.screenshot(page, "harness-top9")


def test_click_on_an_exemplar_opens_its_image_at_its_position(harness, widget, page):
    harness.mount(mined(widget))
    wait_top9(page, "0|0|auto|auto|auto")
    exemplar = widget.top9["exemplars"][2]
    page.click(f"{TOP9} [data-testid=top9-patch][data-rank='2']")
    drained = settle(harness)
    assert drained["sent"] == [{"content": {"type": "exemplar", "layer": "0", "channel": 0,
                                            "index": exemplar["index"]}, "buffers": []}]
    assert (widget.picture["name"], widget.position) == (exemplar["id"], exemplar["position"])
    key = f"{widget.picture['id']}|0|0|{','.join(map(str, exemplar['position']))}|auto|auto|auto"
    page.wait_for_function("k => document.querySelector('[data-testid=projection]').dataset.request === k", arg=key)
    assert page.inner_text("[data-testid=image-name]") == exemplar["id"]
    assert float(widget.unit["stats"]["value"]) == pytest.approx(exemplar["value"], rel=1e-5)


def test_stale_top9_answers_are_dropped(harness, widget, page):
    mined(widget)
    widget.channel = 1
    widget.wait_exemplars()
    stale = widget.top9
    widget.channel = 0
    widget.wait_exemplars()
    harness.mount(widget)
    wait_top9(page, "0|0|auto|auto|auto")
    page.click("[data-view='0'] [data-testid=unit-tile][data-channel='2']")
    drained = harness.drain()
    assert drained["saved"] == [{"channel": 2}]
    page.wait_for_function(f"document.querySelector(\"{TOP9}\").dataset.state === 'pending'")
    harness.push({"top9": to_js(stale)})  # the answer to an earlier click arrives late: not painted
    page.wait_for_timeout(150)
    assert page.get_attribute(TOP9, "data-request") == "0|0|auto|auto|auto"
    assert page.get_attribute(TOP9, "data-state") == "pending"
    assert "cnnviz-stale" in page.get_attribute(TOP9, "class")
    harness.answer(drained)
    widget.wait_exemplars()
    harness.push()
    wait_top9(page, "0|2|auto|auto|auto")
    assert "cnnviz-stale" not in page.get_attribute(TOP9, "class")


def test_the_rule_toggle_applies_to_the_top9_projections(harness, widget, page):
    mined(widget)
    widget.layer = "3"  # after a ReLU and a max-pool the rules differ
    widget.wait_exemplars()
    harness.mount(widget)
    wait_top9(page, "3|0|auto|auto|auto")
    caption = f"{TOP9} [data-testid=top9-projections-caption]"
    assert page.inner_text(caption) == "projections · guided backprop · gray · central half"  # this layer's view
    assert page.inner_text(f"{TOP9} .cnnviz-subtitle") == "Top-9 exemplars · central half of the receptive field 4×4 px"
    page.click("[data-testid=rule-toggle] [data-value=deconvnet]")
    assert settle(harness)["saved"] == [{"rule": "deconvnet"}]
    wait_top9(page, "3|0|deconvnet|auto|auto")
    assert page.inner_text(caption) == "projections · deconvnet · gray · central half"
    top9 = widget.top9
    painted = canvas_rgb(page, f"{TOP9} [data-testid=top9-projection][data-rank='0'] canvas")
    assert np.array_equal(painted, tile(top9["projections"], 0, 3, top9["tile"]))


def test_fewer_than_nine_images_and_a_dead_unit(harness, widget, page):
    harness.mount(mined(widget, n=4))
    wait_top9(page, "0|0|auto|auto|auto")
    assert page.locator(f"{TOP9} [data-testid=top9-patch]:not(.cnnviz-top9-cell--empty)").count() == 4
    assert page.locator(f"{TOP9} [data-testid=top9-patch].cnnviz-top9-cell--empty").count() == 5
    assert page.inner_text(f"{TOP9} [data-testid=top9-message]") == "only 4 of 9: the dataset has 4 images so far"
    page.click("[data-view='0'] [data-testid=unit-tile][data-channel='3']")
    settle(harness)
    wait_top9(page, "0|3|auto|auto|auto", state="dead")
    assert page.inner_text(f"{TOP9} [data-testid=top9-summary]") == "dead: fired on none of the 4 images mined"
    assert page.locator(f"{TOP9} .cnnviz-top9-grids").is_hidden()
    jupyter_driver.screenshot(page, "harness-top9-dead")


# ------------------------------------------------------------------------------------------------- layer atlas
def test_layer_atlas_pages_and_opens_a_units_card(harness, widget, page, monkeypatch):
    monkeypatch.setattr(exemplar_states, "LAYER_ATLAS_PAGE", 4)  # the 6 units of layer 3 on two pages
    mined(widget)
    widget.layer = "3"
    widget.wait_exemplars()
    harness.mount(widget)
    atlas = "[data-view='0'] [data-testid=layer-atlas]"
    page.wait_for_selector(f"{atlas} [data-testid=layer-atlas-toggle]")
    assert page.locator(f"{atlas} [data-testid=layer-atlas-grid]").is_hidden()
    page.click(f"{atlas} [data-testid=layer-atlas-toggle]")
    assert settle(harness)["saved"] == [{"layer_atlas_open": True}]
    page.wait_for_function("s => document.querySelector(s).dataset.state === 'ready'", arg=atlas)
    units = page.locator(f"{atlas} [data-testid=atlas-unit]")
    assert units.count() == 4
    assert [units.nth(i).get_attribute("data-channel") for i in range(4)] == ["0", "1", "2", "3"]
    state = widget.layer_atlas
    k, size = state["k"], state["tile"]
    for row, rank in ((0, 0), (2, 4), (3, 8)):  # the right pixels in the right cell of the right unit
        for kind, png in (("projections", state["projections"]), ("patches", state["patches"])):
            block = canvas_rgb(page, f"{atlas} [data-testid=atlas-unit][data-channel='{row}'] "
                                     f"[data-testid=atlas-{kind}]")
            (h, w), (r, c) = size, divmod(rank, 3)
            assert np.array_equal(block[r * h:(r + 1) * h, c * w:(c + 1) * w], tile(png, row * k + rank, k, size))
    assert page.inner_text(f"{atlas} [data-testid=layer-atlas-page]") == "units 1–4 of 6 · page 1 of 2"

    page.click(f"{atlas} [data-testid=layer-atlas-next]")
    assert settle(harness)["saved"] == [{"layer_atlas_page": 1}]
    page.wait_for_function("s => document.querySelector(s + ' [data-testid=layer-atlas-grid]').dataset.request"
                           " === '3|1|auto|auto|auto|channel'", arg=atlas)
    assert [units.nth(i).get_attribute("data-channel") for i in range(units.count())] == ["4", "5"]
    assert page.inner_text(f"{atlas} [data-testid=layer-atlas-page]") == "units 5–6 of 6 · page 2 of 2"
    assert page.locator(f"{atlas} [data-testid=layer-atlas-next]").is_disabled()

    page.click(f"{atlas} [data-testid=atlas-unit][data-channel='5']")
    assert settle(harness)["saved"] == [{"channel": 5}]
    page.wait_for_function("document.querySelector('[data-testid=unit-card] .cnnviz-panel-title').textContent"
                           " === '3 · channel 5'")
    assert "cnnviz-tile--selected" in page.get_attribute(f"{atlas} [data-testid=atlas-unit][data-channel='5']",
                                                         "class")
    wait_top9(page, "3|5|auto|auto|auto")
    jupyter_driver.screenshot(page, "harness-layer-atlas")


def test_dead_units_are_marked_in_the_layer_atlas(harness, widget, page):
    mined(widget)
    widget.layer_atlas_open = True
    widget.wait_exemplars()
    harness.mount(widget)
    page.wait_for_selector("[data-testid=atlas-unit][data-channel='3']")
    dead = page.locator(".cnnviz-layer-atlas-unit--dead")
    assert dead.count() == 1 and dead.get_attribute("data-channel") == "3"
    assert dead.inner_text().startswith("3 · dead")


# ------------------------------------------------------------------------------------------------- mining
def test_progress_bar_partial_results_and_cancel(harness, widget, page, monkeypatch):
    # one reader thread, whatever the cores: the pass lasts ~4 s (n items at 0.03 s), time to watch and cancel it
    # even on a busy machine
    monkeypatch.setattr("cnnviz_widget.engine.exemplars.loading.default_workers", lambda: 1)
    n = 120
    photos = Photos(n)
    from cnnviz_widget.engine.exemplars.datasets import open_dataset

    data = open_dataset(photos)
    data.fingerprint()
    photos.delay = 0.03
    widget.mine(data, batch_size=2, layers=["0"])
    harness.mount(widget)
    while widget.mining["done"] < 6 or widget.top9.get("state") != "ready":
        time.sleep(0.02)
    harness.push()
    mining = widget.mining
    page.wait_for_function("d => document.querySelector('[data-testid=mining-progress]').value === d",
                           arg=mining["done"])
    assert page.get_attribute("[data-testid=mining]", "data-state") == "running"
    assert page.evaluate("document.querySelector('[data-testid=mining-progress]').max") == n
    assert page.inner_text("[data-testid=mining-text]").startswith(f"mining Photos ({n} items): ")
    wait_top9(page, "0|0|auto|auto|auto")  # partial results fill the panel while the pass goes on
    assert page.inner_text(f"{TOP9} [data-testid=top9-summary]").endswith("partial (mining goes on)")

    page.click("[data-testid=mining-cancel]")
    drained = settle(harness)
    assert drained["sent"] == [{"content": {"type": "mining", "action": "cancel"}, "buffers": []}]
    done = widget.mining["done"]
    assert widget.mining["state"] == "cancelled" and done < n
    page.wait_for_function("document.querySelector('[data-testid=mining]').dataset.state === 'cancelled'")
    assert page.inner_text("[data-testid=mining-text]") == (
        f"mining cancelled after {done} of {n} images: partial exemplars (mine again to resume)")
    assert page.locator("[data-testid=mining-progress]").is_hidden()
    assert page.locator("[data-testid=mining-cancel]").is_hidden()
    page.wait_for_function(f"document.querySelector(\"{TOP9}\").dataset.version === '{widget.top9['version']}'")
    assert f"of {done} images" in page.inner_text(f"{TOP9} [data-testid=top9-summary]")
