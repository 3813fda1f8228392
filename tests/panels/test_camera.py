"""The ``frame`` command (camera frames): each becomes the image and is always answered with ``frame_done``, so
the camera in the browser sends its next frame — even when a frame is unreadable."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from harness_bridge import TINY_LABELS, tiny_images, tiny_model

from cnnviz_widget import CNNViz, ImagePreprocess


@pytest.fixture
def widget() -> CNNViz:
    preprocess = ImagePreprocess(size=16, resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    w = CNNViz(model=tiny_model(), preprocess=preprocess, labels=TINY_LABELS, gallery=tiny_images())
    w.sent = []
    w.send = lambda content, buffers=None: w.sent.append(content)
    return w


def jpeg(color) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_a_frame_becomes_the_image_and_is_answered(widget):
    widget._handle_custom_msg({"type": "frame", "seq": 7, "camera": "c1", "taken": 12.5}, [memoryview(jpeg("red"))])
    assert widget.picture["name"] == "camera" and widget.picture["id"] == 2
    assert widget.image.size == (320, 240) and widget.image.getpixel((5, 5))[0] > 200
    assert widget.sent == [{"type": "frame_done", "seq": 7, "camera": "c1"}]
    assert widget.error == ""


def test_an_unreadable_frame_is_answered_too(widget):
    widget._handle_custom_msg({"type": "frame", "seq": 8, "camera": "c1"}, [memoryview(b"not a jpeg")])
    widget._handle_custom_msg({"type": "frame", "seq": 9, "camera": "c1"}, [])
    assert widget.sent == [{"type": "frame_done", "seq": 8, "camera": "c1"},
                           {"type": "frame_done", "seq": 9, "camera": "c1"}]
    assert widget.error == "a camera frame arrived without its pixels"
    assert widget.picture["id"] == 1, "the last good image stays"
