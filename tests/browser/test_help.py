"""The help overlay in Chromium (harness page): opened and closed with the keyboard, keeps the keyboard inside,
explains each panel and the three rules with their papers."""

from __future__ import annotations

import pytest

HELP = "[data-view='0'] [data-testid=help]"


@pytest.fixture(autouse=True)
def no_page_errors(page):
    yield
    assert page.js_errors == []


def focused_testid(page) -> str | None:
    return page.evaluate("() => document.activeElement?.dataset?.testid ?? null")


def test_help_opens_and_closes_from_the_keyboard(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    overlay = page.locator("[data-view='0'] .cnnviz-help-overlay")
    assert overlay.is_hidden()
    page.focus("[data-view='0'] [data-testid=help-button]")
    page.keyboard.press("Enter")
    assert overlay.is_visible()
    assert focused_testid(page) == "help-close"
    dialog = page.locator(HELP)
    assert dialog.get_attribute("role") == "dialog" and dialog.get_attribute("aria-modal") == "true"
    title_id = dialog.get_attribute("aria-labelledby")
    assert page.inner_text(f"#{title_id}") == "What you are looking at"
    assert page.get_attribute("[data-view='0'] [data-testid=help-button]", "aria-expanded") == "true"

    # The keyboard stays in the dialog: Tab keeps focus on its control, arrows never select another unit.
    page.keyboard.press("Tab")
    assert focused_testid(page) == "help-close"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("PageDown")
    assert harness.drain()["saved"] == []

    page.keyboard.press("Escape")
    assert overlay.is_hidden()
    assert focused_testid(page) == "help-button"
    assert page.get_attribute("[data-view='0'] [data-testid=help-button]", "aria-expanded") == "false"

    # "?" anywhere in the widget opens it; the close button closes it.
    page.focus("[data-view='0'] [data-testid=activation-grid]")
    page.keyboard.press("?")
    assert overlay.is_visible()
    page.click("[data-view='0'] [data-testid=help-close]")
    assert overlay.is_hidden()


def test_help_explains_the_panels_and_the_three_rules_with_references(harness, tiny_widget, page):
    harness.mount(tiny_widget)
    page.click("[data-view='0'] [data-testid=help-button]")
    terms = page.locator(f"{HELP} dt").all_inner_texts()
    assert terms[:3] == ["Layer picker", "Activations", "Unit card"]
    assert {"Deconvnet", "Gradient", "Guided backprop", "Top-9 exemplars and layer atlas", "Camera", "Occlusion",
            "Invariance", "Feature evolution", "Activation maximisation", "Class evidence"} <= set(terms)
    text = page.inner_text(HELP)
    assert "arXiv:1311.2901" in text and "arXiv:1312.6034" in text and "arXiv:1412.6806" in text
    assert "arXiv:1506.06579" in text and "arXiv:1610.02391" in text  # Grad-CAM
    assert "only where the forward input was positive" in text
    assert page.locator(f"{HELP} a, {HELP} img, {HELP} script").count() == 0


def test_each_view_has_its_own_help(harness, tiny_widget, page):
    harness.mount(tiny_widget, views=2)
    page.click("[data-view='1'] [data-testid=help-button]")
    assert page.locator("[data-view='1'] .cnnviz-help-overlay").is_visible()
    assert page.locator("[data-view='0'] .cnnviz-help-overlay").is_hidden()
    ids = page.locator("[data-testid=help]").evaluate_all("els => els.map((e) => e.getAttribute('aria-labelledby'))")
    assert len(set(ids)) == 2
