"""The unit card's "save card" button in Chromium (harness page answered by a real widget): the kernel's PNG is
saved as a download, by the view whose button was pressed only."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def no_page_errors(page):
    yield
    assert page.js_errors == []


def test_save_card_downloads_the_kernels_png_in_the_view_that_asked(harness, tiny_widget, page, tmp_path):
    harness.mount(tiny_widget, views=2)
    downloads = []
    page.on("download", lambda d: downloads.append(d))
    button = "[data-view='1'] [data-testid=unit-download]"
    page.click(button)
    assert page.locator(button).is_disabled()
    drained = harness.drain()
    (message,) = drained["sent"]
    assert message["content"]["type"] == "save_unit" and message["content"]["id"]
    with page.expect_download() as info:
        harness.answer(drained)
    download = info.value
    assert download.suggested_filename == "Sequential-0-channel0.png"
    saved = Path(download.path()).read_bytes()
    assert saved == tiny_widget.unit_card().png()
    page.wait_for_function(f"() => !document.querySelector(\"{button}\").disabled")
    assert len(downloads) == 1, "the other view heard the answer but did not download it"
