"""The camera in Chromium with its fake camera (a generated 640×480 video), on the harness page answered by a real
widget: frames are downscaled, one at a time (dropped while the kernel computes, never queued), at most 5 a second;
freeze stops them; a refused permission is explained in the banner."""

from __future__ import annotations

import base64
import io
import itertools

import jupyter_driver
import pytest
from conftest import HARNESS_ORIGIN, _serve
from harness_bridge import Harness
from PIL import Image

PANEL = "[data-view='0'] [data-testid=camera-panel]"
SECURE = f"--unsafely-treat-insecure-origin-as-secure={HARNESS_ORIGIN}"  # getUserMedia needs a secure origin


def open_harness(browser, extra: list[str]):
    """A second Chromium (the camera flags are per browser), started by the session's Playwright."""
    chromium = browser.browser_type.launch(executable_path=str(jupyter_driver.CHROMIUM), headless=True,
                                           args=[*jupyter_driver.CHROMIUM_FLAGS, SECURE, *extra])
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route(f"{HARNESS_ORIGIN}/**", _serve)
    page.goto(f"{HARNESS_ORIGIN}/harness/index.html")
    page.wait_for_function("window.harnessReady === true")
    return chromium, page, errors


@pytest.fixture
def camera_page(browser):
    chromium, page, errors = open_harness(
        browser, ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    yield page
    chromium.close()
    assert errors == []


@pytest.fixture
def refusing_page(browser):
    chromium, page, errors = open_harness(browser, ["--use-fake-device-for-media-stream"])  # no prompt to accept
    yield page
    chromium.close()
    assert errors == []


def frames(page) -> list[dict]:
    """Every frame the page sent so far: ``{content, at}`` (``at``: performance.now() when sent)."""
    return page.evaluate("() => window.harness.model.log.filter((m) => m.content.type === 'frame')")


def busy_dropped(page) -> int:
    return int(page.get_attribute(PANEL, "data-busy-dropped") or 0)


def test_camera_frames_are_downscaled_paced_and_never_queued(camera_page, tiny_widget):
    page = camera_page
    harness = Harness(page)
    harness.mount(tiny_widget)
    page.click("[data-view='0'] [data-testid=camera-button]")
    page.wait_for_function("() => window.harness.model.log.some((m) => m.content.type === 'frame')")

    # The kernel has not answered: later frames are dropped (counted), not sent and not queued.
    page.wait_for_function(f"() => Number(document.querySelector(\"{PANEL}\").dataset.busyDropped) >= 10")
    assert len(frames(page)) == 1
    drained = harness.drain()
    (frame,) = [m for m in drained["sent"] if m["content"]["type"] == "frame"]
    assert frame["content"]["seq"] == 1 and (frame["content"]["width"], frame["content"]["height"]) == (320, 240)
    jpeg = Image.open(io.BytesIO(base64.b64decode(frame["buffers"][0])))
    assert jpeg.format == "JPEG" and jpeg.size == (320, 240)

    # Answered at once, frame after frame: each waits for the answer to the last and keeps ≥ 200 ms from it.
    harness.answer(drained)
    assert tiny_widget.picture["name"] == "camera" and tiny_widget.picture["id"] == 2
    for seq in range(2, 6):
        page.wait_for_function("s => window.harness.model.sent.some((m) => m.content.seq === s)", arg=seq)
        drained = harness.drain()
        assert [m["content"]["seq"] for m in drained["sent"] if m["content"]["type"] == "frame"] == [seq]
        harness.answer(drained)
    sent = frames(page)
    assert [f["content"]["seq"] for f in sent] == [1, 2, 3, 4, 5]
    taken = [f["content"]["taken"] for f in sent]  # the gate's clock when it let each frame through
    assert all(b - a >= 200 for a, b in itertools.pairwise(taken)), taken
    assert tiny_widget.picture["id"] == 6

    # Freeze: no frame leaves any more; the image stays the last one answered.
    page.click("[data-view='0'] [data-testid=freeze-button]")
    assert page.get_attribute(PANEL, "data-state") == "frozen"
    harness.answer()  # the frame in flight when frozen, if any
    count = len(frames(page))
    page.wait_for_timeout(700)
    assert len(frames(page)) == count
    page.click("[data-view='0'] [data-testid=freeze-button]")
    page.wait_for_function("n => window.harness.model.log.filter((m) => m.content.type === 'frame').length > n",
                           arg=count)

    # Stop: the camera is released and nothing more is sent.
    page.click("[data-view='0'] [data-testid=camera-button]")
    assert page.get_attribute(PANEL, "data-state") == "off"
    assert page.evaluate("() => document.querySelector(\"[data-view='0'] [data-testid=camera-video]\").srcObject")\
        is None
    jupyter_driver.screenshot(page, "harness-camera")


def test_a_refused_camera_is_explained_in_the_banner(refusing_page, tiny_widget):
    page = refusing_page
    harness = Harness(page)
    harness.mount(tiny_widget)
    page.click("[data-view='0'] [data-testid=camera-button]")
    page.wait_for_function(f"() => document.querySelector(\"{PANEL}\").dataset.state === 'refused'")
    assert page.inner_text("[data-view='0'] [data-testid=error-banner] .cnnviz-error-text").startswith(
        "Camera access was refused. Allow the camera for this page")
    assert frames(page) == []
    assert page.get_attribute("[data-view='0'] [data-testid=camera-button]", "aria-pressed") == "false"
    assert page.locator("[data-view='0'] [data-testid=freeze-button]").is_disabled()
