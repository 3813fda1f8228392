"""The harness page's fake kernel: a real CNNViz in the test process answers the mock model in the page.

The page's mock model records what the front end saves (trait changes) and sends (commands); ``Harness.answer``
applies them to the widget exactly as ipywidgets does in a kernel (``set_state``, custom messages) and pushes the
traits that changed back to the page. Binary values travel as ``{"$bytes": base64}``.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def to_js(value: Any) -> Any:
    """A widget state value as JSON for the mock model: bytes become ``{"$bytes": base64}``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: to_js(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_js(v) for v in value]
    return value


def synced_state(widget: Any) -> dict[str, Any]:
    """The widget's own synced traits (not the ipywidgets/anywidget plumbing), as the front end receives them."""
    keys = [k for k in widget.keys if not k.startswith("_") and k not in ("layout", "tabbable", "tooltip")]
    return {k: to_js(v) for k, v in widget.get_state(keys).items()}


class Harness:
    """The harness page with a mock model, answered by a real :class:`CNNViz` in this process (a fake kernel)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.widget: Any = None
        self._pushed: dict[str, str] = {}
        #: Custom messages the widget sent to the front end and the page has not received yet.
        self.outbox: list[tuple[Any, list[bytes]]] = []

    def mount(self, widget: Any = None, views: int = 1, state: dict[str, Any] | None = None) -> None:
        self.widget = widget
        if widget is not None:  # the widget's custom messages go to the page (there is no comm here)
            widget.send = lambda content, buffers=None: self.outbox.append(
                (content, [bytes(b) for b in buffers or []]))
        full = synced_state(widget) if widget is not None else {}
        full.update(state or {})
        self._pushed = {k: json.dumps(v, sort_keys=True) for k, v in full.items()}
        self.page.evaluate("([s, n]) => window.harness.mount(s, n)", [full, views])

    def push(self, state: dict[str, Any] | None = None) -> list[str]:
        """Send the widget's changed traits (or ``state``) to the page, as the kernel would."""
        if state is None:
            state = {}
            for key, value in synced_state(self.widget).items():
                text = json.dumps(value, sort_keys=True)
                if self._pushed.get(key) != text:
                    state[key] = value
                    self._pushed[key] = text
        if state:
            self.page.evaluate("(s) => window.harness.model.update(s)", state)
        return list(state)

    def drain(self, settle: float = 0.3) -> dict[str, Any]:
        """What the front end saved and sent since the last drain — waiting up to ``settle`` seconds for something,
        as the page paces selections to the kernel (``js/src/lib/selection-gate.js``: one every 100 ms at most)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function("() => window.harness.model.saved.length + window.harness.model.sent.length",
                                        timeout=settle * 1000)
        except PlaywrightTimeout:  # nothing came: an empty drain
            pass
        return self.page.evaluate("() => window.harness.model.drain()")

    def answer(self, drained: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply what the front end saved and sent to the widget, as the kernel does, and push the result."""
        drained = drained if drained is not None else self.drain()
        for changes in drained["saved"]:
            self.widget.set_state(changes)
            for key, value in changes.items():  # what the front end set is already there: no echo needed
                self._pushed[key] = json.dumps(to_js(value), sort_keys=True)
        for message in drained["sent"]:
            buffers = [memoryview(base64.b64decode(b)) for b in message["buffers"]]
            self.widget._handle_custom_msg(message["content"], buffers)
        self.push()
        self.deliver()
        return drained

    def deliver(self) -> int:
        """Hand the widget's custom messages to the page (``msg:custom``), as the kernel would; returns how many."""
        sent, self.outbox = self.outbox, []
        for content, buffers in sent:
            self.page.evaluate("([c, b]) => window.harness.model.receive(c, b)",
                               [to_js(content), [to_js(b) for b in buffers]])
        return len(sent)

    def tile_pixels(self, channel: int, view: int = 0) -> dict[str, Any]:
        """The RGBA pixels a tile shows: ``{width, height, data}``."""
        return tile_pixels(self.page, f'[data-view="{view}"] [data-testid=unit-tile][data-channel="{channel}"]')


#: The pixels a tile of the activation grid shows (``{width, height, data}``): its rect (``data-rect``) of the sheet
#: behind its background (``lib/sprite.js``), decoded as the page decodes it.
_TILE_PIXELS = """async (selector) => {
  const picture = document.querySelector(`${selector} .cnnviz-tile-picture`);
  const url = getComputedStyle(picture).backgroundImage.match(/^url\\("(.*)"\\)$/)[1];
  const [x, y, width, height] = picture.dataset.rect.split(",").map(Number);
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.drawImage(image, x, y, width, height, 0, 0, width, height);
  return { width, height, data: Array.from(context.getImageData(0, 0, width, height).data) };
}"""


def tile_pixels(page: Any, selector: str) -> dict[str, Any]:
    """The RGBA pixels the grid tile ``selector`` shows: ``{width, height, data}``."""
    return page.evaluate(_TILE_PIXELS, selector)


def canvas_rgb(page: Any, selector: str) -> Any:
    """The RGB pixels of the canvas ``selector`` names, as a uint8 array ``[height, width, 3]``."""
    import numpy as np

    out = page.evaluate("""s => {
      const c = document.querySelector(s);
      return { w: c.width, h: c.height, d: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) };
    }""", selector)
    return np.array(out["d"], np.uint8).reshape(out["h"], out["w"], 4)[..., :3]


def tiny_model() -> Any:
    """A two-conv net with fixed random weights, 16×16 inputs, three classes whose names hold markup."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    )
    return model.eval()


TINY_LABELS = ["<b>bold</b> cat", "dog</script><img src=x onerror=alert(1)>", "car"]


def tiny_images() -> list[Any]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    stripes = np.zeros((32, 32, 3), np.uint8)
    stripes[:, ::4] = 255
    return [("noise", Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))),
            ("stripes", Image.fromarray(stripes)),
            ("red", Image.new("RGB", (32, 32), (220, 30, 30)))]
