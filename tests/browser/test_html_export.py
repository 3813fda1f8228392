"""The self-contained HTML export in Chromium, opened from a ``file://`` URL with the network off: tiles click, unit
cards open, pictures decode to the widget's exact pixels, and no text from the model can break out of the page."""

from __future__ import annotations

import json
import re
from collections import OrderedDict

import jupyter_driver
import numpy as np
import pytest
import torch
from harness_bridge import TINY_LABELS, canvas_rgb, tile_pixels, tiny_images, tiny_model
from torch import nn

from cnnviz_widget import CNNViz, ImagePreprocess, encode, export

HOSTILE_LAYER = "</script><b>conv</b>"
PREPROCESS = ImagePreprocess(size=16, resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def hostile_model() -> nn.Module:
    """Layer names and (with TINY_LABELS) class names that are markup."""
    torch.manual_seed(1)
    return nn.Sequential(OrderedDict([
        (HOSTILE_LAYER, nn.Conv2d(3, 4, 3, padding=1)), ("relu&amp;", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
        ("<img src=x onerror=alert(1)>", nn.Conv2d(4, 5, 3, padding=1)), ("relu2", nn.ReLU()),
        ("gap", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", nn.Linear(5, 3)),
    ])).eval()


@pytest.fixture
def offline_page(browser):
    """A page that can open files and nothing else: offline, and every non-file request aborted and recorded."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 1000})
    requests: list[str] = []

    def refuse(route):
        requests.append(route.request.url)
        route.abort()

    context.route("http://**/*", refuse)
    context.route("https://**/*", refuse)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.js_errors = errors
    page.network_requests = requests
    yield page
    context.close()


def open_export(page, path) -> None:
    page.goto(path.as_uri())
    page.wait_for_function("window.cnnvizExport?.ready === true", timeout=20_000)


def painted_key(page) -> str:
    return page.get_attribute("[data-testid=projection]", "data-request") or ""


def wait_key(page, key: str) -> None:
    page.wait_for_function("k => document.querySelector('[data-testid=projection]')?.dataset.request === k", arg=key)



@pytest.fixture
def hostile_widget():
    return CNNViz(model=hostile_model(), preprocess=PREPROCESS, labels=TINY_LABELS, gallery=tiny_images())


def test_export_opens_offline_and_answers_clicks_with_the_widgets_pixels(offline_page, hostile_widget, tmp_path):
    page, w = offline_page, hostile_widget
    path = tmp_path / "atlas.html"
    w.to_html(path, layers="all", lossless=True, progress=False)
    open_export(page, path)
    wait_key(page, f"1|{HOSTILE_LAYER}|0|max|auto|auto|auto")
    assert page.locator("[data-testid=unit-tile]").count() == 4

    page.click("[data-testid=unit-tile][data-channel='2']")
    wait_key(page, f"1|{HOSTILE_LAYER}|2|max|auto|auto|auto")
    w.channel = 2  # the live widget's card for the same unit
    expected = np.asarray(encode.to_pil(w.unit["projection"]))
    assert np.array_equal(canvas_rgb(page, "[data-testid=projection]"), expected)
    assert page.locator("[data-testid=error-banner]").is_hidden()

    # Another layer, through the layer picker and PgDn; its tiles are its own atlas, exactly.
    page.select_option("[data-testid=layer-select]", "<img src=x onerror=alert(1)>")
    wait_key(page, "1|<img src=x onerror=alert(1)>|2|max|auto|auto|auto")
    # The grid paints once its PNG is decoded, which may come after the card.
    page.wait_for_function("() => document.querySelector('[data-testid=activation-grid]').dataset.layer === "
                           "'<img src=x onerror=alert(1)>'")
    assert page.locator("[data-testid=unit-tile]").count() == 5
    w.layer = "<img src=x onerror=alert(1)>"
    sheet = np.asarray(encode.to_pil(w.atlas["png"]))
    tile = tile_pixels(page, "[data-testid=unit-tile][data-channel='3']")
    th, tw = w.atlas["tile"]
    cols = w.atlas["cols"]
    codes = sheet[(3 // cols) * th:(3 // cols + 1) * th, (3 % cols) * tw:(3 % cols + 1) * tw, 0]
    assert np.array_equal(np.array(tile["data"], np.uint8).reshape(th, tw, 4)[..., 0], codes)  # gray colour map
    page.check("[data-testid=layer-all]")  # every layer, not only the stages: PgDn reaches the ReLU after the conv
    page.focus(".cnnviz-root")
    page.keyboard.press("PageDown")
    wait_key(page, "1|relu2|2|max|auto|auto|auto")

    # Unsaved choices are not offered: their buttons are disabled and say why; the card stays on its unit.
    guided = page.locator("[data-testid=rule-toggle] [data-value=guided]")
    assert guided.is_disabled() and guided.get_attribute("title") == (
        "not in this saved page: the guided projection needs the live widget")
    guided.click(force=True)
    assert page.get_attribute("[data-testid=rule-toggle] [data-value=auto]", "aria-pressed") == "true"
    assert painted_key(page) == "1|relu2|2|max|auto|auto|auto" and page.locator("[data-testid=error-banner]").is_hidden()
    page.click("[data-testid=unit-tile][data-channel='4']")
    wait_key(page, "1|relu2|4|max|auto|auto|auto")
    assert page.locator("[data-testid=error-banner]").is_hidden()

    jupyter_driver.screenshot(page, "export-hostile")
    assert page.js_errors == []
    assert page.network_requests == []


def test_markup_in_labels_layer_names_and_titles_stays_text(offline_page, hostile_widget, tmp_path):
    page, w = offline_page, hostile_widget
    path = tmp_path / "hostile.html"
    w.to_html(path, title="</title><script>alert(1)</script>", progress=False)
    text = path.read_text()
    assert text.count("</script>") == 4  # the page's own four script elements, nothing else
    assert "<b>" not in text and "<img" not in text
    open_export(page, path)
    assert page.title() == "</title><script>alert(1)</script>"
    labels = page.locator("[data-testid=prediction] .cnnviz-prediction-label").all_inner_texts()
    assert sorted(labels) == sorted(TINY_LABELS)
    options = page.locator("[data-testid=layer-select] option").all_inner_texts()
    assert options[0].startswith("1 · " + HOSTILE_LAYER + " — conv 3×3")  # stage 1
    assert page.locator("body b, body img, body script:not([type])").count() == 0
    assert page.locator("script").count() == 4
    assert page.js_errors == [] and page.network_requests == []


def test_export_of_chosen_layers_rules_and_positions(offline_page, tmp_path):
    page = offline_page
    w = CNNViz(model=tiny_model(), preprocess=PREPROCESS, labels=TINY_LABELS, gallery=tiny_images(), layer="3")
    path = tmp_path / "two.html"
    report = w.to_html(path, layers=["0", "3"], rules=["deconvnet", "gradient"], positions=["max", "map"],
                       progress=False)
    assert report.layers == ["0", "3"] and report.units == (4 + 6) * 2 * 2
    open_export(page, path)
    wait_key(page, "1|3|0|max|deconvnet|auto|auto")
    assert page.locator("[data-testid=layer-select] option").count() == 2
    page.click("[data-testid=rule-toggle] [data-value=gradient]")
    wait_key(page, "1|3|0|max|gradient|auto|auto")
    page.click("[data-testid=position-toggle] [data-value=map]")
    wait_key(page, "1|3|0|map|gradient|auto|auto")
    page.click("[data-testid=unit-tile][data-channel='5']")
    wait_key(page, "1|3|5|map|gradient|auto|auto")
    # Upload and the gallery need a kernel: the page says so instead of waiting forever.
    assert page.locator("[data-testid=drop-zone]").is_hidden()
    page.click("[data-testid=gallery-item][data-index='1']")
    page.wait_for_function("() => !document.querySelector('[data-testid=error-banner]').hidden")
    assert page.inner_text("[data-testid=error-banner] .cnnviz-error-text").startswith(
        "Switching to another photo needs the live widget")
    assert page.get_attribute("[data-testid=busy]", "data-state") == "idle"
    assert page.js_errors == [] and page.network_requests == []


def test_exported_top9_panels_stay_clickable(offline_page, tmp_path):
    page = offline_page
    w = CNNViz(model=tiny_model(), preprocess=PREPROCESS, labels=TINY_LABELS, gallery=tiny_images(), layer="3")
    w.mine([img for _, img in tiny_images()], layers=["3"], k=2, cache_dir=tmp_path / "cache")
    assert w.wait_exemplars(60)
    path = tmp_path / "mined.html"
    w.to_html(path, layers=["0", "3"], progress=False)
    open_export(page, path)
    wait_key(page, "1|3|0|max|auto|auto|auto")
    page.wait_for_function("() => document.querySelector('[data-testid=top9]')?.dataset.request === '3|0|auto|auto|auto'")
    page.click("[data-testid=unit-tile][data-channel='4']")
    page.wait_for_function("() => document.querySelector('[data-testid=top9]')?.dataset.request === '3|4|auto|auto|auto'")
    state = page.get_attribute("[data-testid=top9]", "data-state")
    w.channel = 4
    assert w.wait_exemplars(60)
    assert state == w.top9["state"]
    if state == "ready":
        assert page.locator("[data-testid=top9-patch]").count() == w.top9["k"]

    # The layer atlas: opened in the page, its saved page is shown; a click on a unit opens that unit's card.
    page.click("[data-testid=layer-atlas-toggle]")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=atlas-unit]').length === 6")
    page.click("[data-testid=atlas-unit][data-channel='1']")
    wait_key(page, "1|3|1|max|auto|auto|auto")
    assert page.locator("[data-testid=error-banner]").is_hidden()
    assert page.js_errors == [] and page.network_requests == []


def test_a_page_saved_after_opening_an_exemplar_answers_its_first_click(offline_page, tmp_path):
    page = offline_page
    w = CNNViz(model=tiny_model(), preprocess=PREPROCESS, labels=TINY_LABELS, gallery=tiny_images(), layer="3")
    w.mine([img for _, img in tiny_images()], layers=["3"], k=2, cache_dir=tmp_path / "cache")
    assert w.wait_exemplars(60)
    first = w.exemplars.top("3", 0)[0]
    w._handle_custom_msg({"type": "exemplar", "layer": "3", "channel": 0, "index": first.index}, [])
    assert isinstance(w.position, list) and w.error == ""  # the unit at the exemplar's location, on its image
    image = w.picture["id"]
    path = tmp_path / "exemplar.html"
    w.to_html(path, layers=["0", "3"], progress=False)
    open_export(page, path)
    wait_key(page, f"{image}|3|0|max|auto|auto|auto")  # opened on the same unit at a location the page holds
    assert page.inner_text("[data-testid=export-note]").endswith(
        "Saved without Python: click units and layers; other rules, displays and crops, whole maps, picked locations "
        "and new images need the live widget.")
    # Only what the page holds is offered; the rest is disabled and says why.
    for rule in ("deconvnet", "guided", "gradient"):
        button = page.locator(f"[data-testid=rule-toggle] [data-value={rule}]")
        assert button.is_disabled() and button.get_attribute("title") == (
            f"not in this saved page: the {rule} projection needs the live widget")
    assert page.locator("[data-testid=paper-rule]").is_disabled()  # the view line's one click to the deconvnet too
    assert page.locator("[data-testid=display-toggle] [data-value=gray]").is_disabled()
    assert page.locator("[data-testid=crop-toggle] [data-value=field]").is_disabled()
    for toggle in ("rule", "display", "crop"):
        assert page.locator(f"[data-testid={toggle}-toggle] [data-value=auto]").is_enabled()
    assert page.locator("[data-testid=position-toggle] [data-value=map]").is_disabled()
    assert page.inner_text("[data-testid=unit-card] figure:nth-child(2) figcaption") == "activation map"
    page.click("[data-testid=activation-map]")  # picking a location is not offered: nothing asked, no banner
    page.wait_for_timeout(200)
    assert painted_key(page) == f"{image}|3|0|max|auto|auto|auto"
    page.click("[data-testid=unit-tile][data-channel='2']")  # the first click is answered
    wait_key(page, f"{image}|3|2|max|auto|auto|auto")
    assert page.locator("[data-testid=error-banner]").is_hidden()
    jupyter_driver.screenshot(page, "export-after-exemplar")
    assert page.js_errors == [] and page.network_requests == []


def test_a_saved_page_answers_a_top5_class_click(offline_page, tmp_path):
    page = offline_page
    w = CNNViz(model=tiny_model(), preprocess=PREPROCESS, labels=TINY_LABELS, gallery=tiny_images())
    path = tmp_path / "classes.html"
    w.to_html(path, layers=["0"], lossless=True, progress=False)
    open_export(page, path)
    panel = "[data-testid=class-evidence]"
    assert page.get_attribute(panel, "data-state") == "none"
    assert page.locator("[data-testid=class-search]").is_hidden()  # other classes need the kernel
    target = w.picture["predictions"][2]["index"]
    page.click(f"[data-testid=prediction][data-index='{target}']")
    page.wait_for_function("([s, k]) => document.querySelector(s).dataset.request === k",
                           arg=[panel, f"1|{target}|4|false"])
    w.class_target = target  # the live widget's answer to the same click
    assert w.wait_class_evidence(60)
    codes = w.class_evidence["map"]["codes"]
    assert np.array_equal(canvas_rgb(page, "[data-testid=class-map]"),
                          encode.colorize(np.frombuffer(codes["data"], np.uint8).reshape(codes["shape"]), "heat"))
    guided = w.class_evidence["guided"]
    assert np.array_equal(canvas_rgb(page, "[data-testid=class-guided]"),
                          np.frombuffer(guided["data"], np.uint8).reshape(*guided["shape"], 3))
    # The counterfactual map and the exported layer "0" (besides the default "4") are saved too.
    page.click("[data-testid=class-counterfactual] [data-value=true]")
    page.wait_for_function("([s, k]) => document.querySelector(s).dataset.request === k",
                           arg=[panel, f"1|{target}|4|true"])
    assert page.locator("[data-testid=class-layer] option").all_inner_texts()[0].startswith("0 — ")
    page.select_option("[data-testid=class-layer]", "0")
    page.wait_for_function("([s, k]) => document.querySelector(s).dataset.request === k",
                           arg=[panel, f"1|{target}|0|true"])
    assert page.get_attribute(panel, "data-state") == "ready"
    assert page.locator("[data-testid=error-banner]").is_hidden()
    jupyter_driver.screenshot(page, "export-class-evidence")
    assert page.js_errors == [] and page.network_requests == []
    w.close()


def test_a_readers_page_dims_the_units_it_does_not_hold_and_says_so_when_clicked(offline_page, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setattr(export.plan, "STRONGEST", 2)
    monkeypatch.setattr(export.plan, "ATLAS_UNITS", 1)
    page = offline_page
    w = CNNViz(model=tiny_model(), preprocess=PREPROCESS, labels=TINY_LABELS, gallery=tiny_images(), layer="3")
    w.mine([img for _, img in tiny_images()], layers=["3"], k=2, cache_dir=tmp_path / "cache")
    assert w.wait_exemplars(60)
    path = tmp_path / "reader.html"
    report = w.to_html(path, progress=False)  # the default: the stages, and the units a reader clicks
    held = export.plan_layer(w, "3", "reader")
    assert report.layers == ["0", "3", "7"] and len(held.cards) < 6
    open_export(page, path)
    wait_key(page, "1|3|0|max|auto|auto|auto")
    assert page.inner_text("[data-testid=export-note]").endswith(
        "Saved without Python: click units (those not dimmed) and layers; other rules, displays and crops, whole maps, "
        "picked locations and new images need the live widget.")
    dimmed = [int(c) for c in page.eval_on_selector_all(".cnnviz-tile--unsaved", "ts => ts.map(t => t.dataset.channel)")]
    assert sorted(dimmed) == [c for c in range(6) if c not in held.cards]
    page.click(f"[data-testid=unit-tile][data-channel='{dimmed[0]}']")  # a unit the page does not hold
    page.wait_for_function("() => !document.querySelector('[data-testid=error-banner]').hidden")
    assert page.inner_text("[data-testid=error-banner] .cnnviz-error-text") == (
        f"3 channel {dimmed[0]} is not in this saved page: it holds {len(held.cards)} of the layer's 6 units — "
        f"{read_holds(path)['units_note']} (the tiles not dimmed). Run the notebook to see every unit.")
    assert painted_key(page) == "1|3|0|max|auto|auto|auto"  # the card stays on the unit shown
    # A unit held without its top-9 panel says so in the panel; one of the atlas's first page shows its exemplars.
    plain = next(c for c in held.cards if c not in held.top9)
    page.click(f"[data-testid=unit-tile][data-channel='{plain}']")
    wait_key(page, f"1|3|{plain}|max|auto|auto|auto")
    page.wait_for_function("() => document.querySelector('[data-testid=top9]').dataset.state === 'not-saved'")
    assert page.inner_text("[data-testid=top9-message]").startswith("Not in this saved page: it holds the top-9")
    page.click(f"[data-testid=unit-tile][data-channel='{held.top9[0]}']")
    page.wait_for_function("() => document.querySelector('[data-testid=top9]').dataset.state === 'ready'")
    # The layer atlas opens on its first page in strength order; the next page says it is not saved, and back.
    page.click("[data-testid=layer-atlas-toggle]")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=atlas-unit]').length === 1")
    page.click("[data-testid=layer-atlas-next]")
    page.wait_for_function("() => document.querySelector('[data-testid=layer-atlas]').dataset.state === 'not-saved'")
    assert page.inner_text("[data-testid=layer-atlas-message]").startswith("Not in this saved page")
    page.click("[data-testid=layer-atlas-prev]")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=atlas-unit]').length === 1")
    # Another layer: the selected channel when it holds it, else the strongest unit it holds, and a note says so.
    first = export.plan_layer(w, "7", "reader").cards
    page.select_option("[data-testid=layer-select]", "7")
    clamped = min(held.top9[0], 2)  # the layer has 3 channels
    channel = clamped if clamped in first else first[0]
    wait_key(page, f"1|7|{channel}|max|auto|auto|auto")
    assert page.locator("[data-testid=error-banner]").is_hidden()
    if clamped not in first:
        assert page.inner_text("[data-testid=selection-note]") == (
            f"channel {held.top9[0]} → {channel}: this saved page holds {len(first)} of 7's 3 units")
    assert page.js_errors == [] and page.network_requests == []
    w.close()


def read_holds(path) -> dict:
    text = re.search(r'id="cnnviz-document">(.*?)</script>', path.read_text(), re.S).group(1)
    return json.loads(text)["holds"]
