"""Reading images from anything, converting every mode correctly, and refusing bad input clearly."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

import cnnviz_widget
from cnnviz_widget import ImageError, ImagePreprocess, load_image


def _png(img, fmt="PNG", **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


RGB = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]] * 9, dtype=np.uint8).repeat(3, axis=1)  # 9×9×3


@pytest.mark.parametrize("kind", ["pil", "numpy", "numpy-float", "numpy-chw", "torch-float", "torch-uint8", "path",
                                  "bytes", "pathlib"])
def test_every_source_gives_the_same_pixels(kind, tmp_path):
    img = Image.fromarray(RGB)
    path = tmp_path / "img.png"
    img.save(path)
    source = {
        "pil": img,
        "numpy": RGB,
        "numpy-float": RGB.astype(np.float32) / 255.0,
        "numpy-chw": RGB.transpose(2, 0, 1).copy(),
        "torch-float": torch.from_numpy(RGB).permute(2, 0, 1).float() / 255.0,
        "torch-uint8": torch.from_numpy(RGB).permute(2, 0, 1),
        "path": str(path),
        "bytes": path.read_bytes(),
        "pathlib": path,
    }[kind]
    out = load_image(source)
    assert out.mode == "RGB" and out.size == (9, 9)
    assert np.array_equal(np.asarray(out), RGB)


def test_exif_orientation_is_honoured():
    img = Image.new("RGB", (20, 10), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 10, 10))  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = load_image(_png(img, "JPEG", exif=exif, quality=95))
    assert out.size == (10, 20)
    arr = np.asarray(out).astype(int)
    assert arr[:8].mean() > 200 and arr[12:].mean() < 50  # the white half is now on top


def test_modes_are_converted_correctly():
    gray = load_image(Image.new("L", (10, 10), 77))
    assert np.asarray(gray)[0, 0].tolist() == [77, 77, 77]
    la = load_image(Image.new("LA", (10, 10), (100, 0)))  # fully transparent: white, as a browser shows it
    assert np.asarray(la)[0, 0].tolist() == [255, 255, 255]
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 128))
    assert np.asarray(load_image(rgba))[0, 0].tolist() == [255, 127, 127]
    pal = Image.new("RGB", (10, 10), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert np.asarray(load_image(pal))[0, 0].tolist() == [10, 200, 30]
    cmyk = Image.new("CMYK", (10, 10), (0, 255, 255, 0))  # pure red in CMYK
    assert np.asarray(load_image(cmyk))[0, 0].tolist() == [255, 0, 0]
    # 16-bit: PIL's convert("L") would clip 40000 to 255; it must scale to 40000/65535·255 = 155
    deep = Image.fromarray(np.full((10, 10), 40000, dtype=np.uint16))
    assert np.asarray(load_image(deep))[0, 0].tolist() == [155, 155, 155]
    assert np.asarray(load_image(np.full((10, 10), 40000, dtype=np.uint16)))[0, 0].tolist() == [155, 155, 155]


@pytest.mark.parametrize(("data", "match"), [
    (b"", "empty"),
    (b"hello, I am plainly text" * 4, "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt|not an image"),
])
def test_bad_bytes_are_one_clear_error(data, match):
    with pytest.raises(ImageError, match=match):
        load_image(data)


def test_truncated_jpeg_is_corrupt():
    data = _png(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(data[: len(data) // 2])


def test_decompression_bomb_names_the_limit(monkeypatch):
    data = _png(Image.new("L", (4000, 3000)))  # 12 MP, a few kB of PNG
    monkeypatch.setattr(cnnviz_widget, "MAX_PIXELS", 10_000_000)
    with pytest.raises(ImageError, match=r"4000×3000 \(12 MP\); the limit is 10 MP — resize it or raise cnnviz_widget.MAX_PIXELS"):
        load_image(data)


def test_tiny_images_are_rejected_clearly_and_small_ones_upscaled():
    with pytest.raises(ImageError, match="at least 8 px"):
        load_image(Image.new("RGB", (3, 40)))
    x = ImagePreprocess(size=64)(Image.new("RGB", (8, 8), (255, 255, 255)))
    assert x.shape == (3, 64, 64)


def test_other_types_and_shapes_are_refused():
    with pytest.raises(ImageError, match="cannot read an image from a dict"):
        load_image({"a": 1})
    with pytest.raises(ImageError, match="one image, not a batch"):
        load_image(np.zeros((2, 5, 10, 10, 3)))
    with pytest.raises(ImageError, match="no image file"):
        load_image("/no/such/file.png")
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((10, 10), np.nan))


def test_preprocess_to_pixels_round_trips():
    pre = ImagePreprocess.caffe(size=32, resize=32)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    assert np.array_equal(pre.to_pixels(pre(img)), np.asarray(img))
