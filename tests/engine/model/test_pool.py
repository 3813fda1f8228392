"""The demo image pool: composites made deterministically, labelled from the catalogue, cached once, made again
when an input changes, and the sample photos alone (with a warning naming the fix) without the cut-outs.

The tests build a tiny stamps folder of hand-made cut-outs and backgrounds, so they need neither the Debian package
nor the sample-photo packages; one test checks the real catalogue against the installed package when present.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from cnnviz_widget.engine.exemplars.datasets import open_dataset
from cnnviz_widget.engine.model import pool
from cnnviz_widget.engine.model.models import imagenet_labels
from cnnviz_widget.engine.model.pool import STAMPS_FOLDER, Stamp, composite, image_pool, read_catalogue
from cnnviz_widget.engine.model.samples import SamplePhoto, sample_photos

MEAN = (124, 116, 104)  # the background without background photos


def _cutout(size, colour, disc=False):
    """An RGBA cut-out: an opaque ``colour`` square (or disc) on a transparent border of 5 px."""
    h, w = size
    rgba = np.zeros((h + 10, w + 10, 4), np.uint8)
    if disc:
        yy, xx = np.mgrid[:h, :w]
        inside = (yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2 <= (min(h, w) / 2) ** 2
    else:
        inside = np.ones((h, w), bool)
    rgba[5:5 + h, 5:5 + w][inside] = (*colour, 255)
    return Image.fromarray(rgba, "RGBA")


@pytest.fixture
def stamps(tmp_path):
    """A stamps folder with three cut-outs (one too small to enlarge to size: it is pasted several times) and two
    background photos; returns ``(folder, catalogue, backgrounds)``."""
    folder = tmp_path / "stamps"
    (folder / "animals").mkdir(parents=True)
    _cutout((120, 90), (200, 30, 30)).save(folder / "animals" / "red_box.png")
    _cutout((150, 150), (30, 30, 200), disc=True).save(folder / "animals" / "blue_disc.png")
    _cutout((20, 30), (30, 200, 30)).save(folder / "tiny.png")
    rng = np.random.default_rng(0)
    backgrounds = []
    for i in range(2):
        path = tmp_path / f"bg{i}.png"
        Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(path)
        backgrounds.append(SamplePhoto(f"bg {i}", path, "test"))
    catalogue = (Stamp("animals/red_box.png", "red box", None), Stamp("animals/blue_disc.png", "tiger", 292),
                 Stamp("tiny.png", "green chip", None))
    return folder, catalogue, tuple(backgrounds)


def _pool(stamps, root, **kw):
    folder, catalogue, backgrounds = stamps
    return image_pool(stamps=folder, root=root, catalogue=catalogue, backgrounds=backgrounds, **kw)


def _composites(photos):
    return [p for p in photos if p.source == "tuxpaint-stamps"]


def test_same_inputs_give_the_same_bytes(stamps, tmp_path):
    one = _composites(_pool(stamps, tmp_path / "a"))
    two = _composites(_pool(stamps, tmp_path / "b"))
    assert len(one) == 3
    assert [p.path.read_bytes() for p in one] == [p.path.read_bytes() for p in two]
    assert [p.path.parent.parent.name for p in one] == [p.path.parent.parent.name for p in two]  # same key
    other = _composites(_pool(stamps, tmp_path / "c", seed=1))
    assert [p.path.read_bytes() for p in other] != [p.path.read_bytes() for p in one]


def test_names_labels_and_order(stamps, tmp_path):
    photos = _pool(stamps, tmp_path)
    assert photos[:len(sample_photos())] == sample_photos()  # the sample photos lead (the gallery's first image)
    made = _composites(photos)
    assert [(p.name, p.label, p.label_name) for p in made] == [
        ("red_box · red box", None, "red box"), ("blue_disc · tiger", 292, "tiger"),
        ("tiny · green chip", None, "green chip")]
    assert [p.path.name for p in made] == ["000-red_box.jpg", "001-blue_disc.jpg", "002-tiny.jpg"]
    for p in made:
        with Image.open(p.path) as img:
            assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (256, 256))


def test_demo_dataset_labels(stamps, tmp_path, monkeypatch):
    """ImageNet-labelled composites keep their index; the others get indices from 1000 on, in name order."""
    photos = _pool(stamps, tmp_path)
    monkeypatch.setattr(pool, "image_pool", lambda: photos)
    data = open_dataset("demo")
    assert len(data) == len(photos)
    assert data.class_names[:1000] == imagenet_labels()
    assert data.class_names[1000:] == ["green chip", "red box"]
    last = [data.read(i) for i in range(len(data) - 3, len(data))]
    assert [(item.id, item.label) for item in last] == [
        ("red_box · red box", 1001), ("blue_disc · tiger", 292), ("tiny · green chip", 1000)]
    assert [data.class_names[item.label] for item in last] == ["red box", "tiger", "green chip"]


def test_composite_places_the_cutout_in_the_view():
    """An opaque 100×60 red box on the plain background: one box, 55–85 % of the 227-px view on its long side,
    inside the view's centre crop, with the background colour around it."""
    cutout = Image.new("RGBA", (60, 100), (255, 0, 0, 255))
    for seed in range(5):
        picture = np.asarray(composite(cutout, [], np.random.default_rng(seed)))
        red = (picture[..., 0] > 200) & (picture[..., 1] < 60)
        ys, xs = np.nonzero(red)
        top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        assert 0.55 * 227 - 1 <= bottom - top <= 0.85 * 227 + 1
        assert abs((right - left) / (bottom - top) - 0.6) < 0.02
        assert top >= 14 and bottom <= 14 + 227 and left >= 14 and right <= 14 + 227
        assert red.sum() >= 0.97 * (bottom - top) * (right - left)  # one solid box, not copies
        assert tuple(picture[0, 0]) == MEAN and tuple(picture[-1, -1]) == MEAN


def test_small_cutouts_are_pasted_several_times():
    """A 20×30 cut-out enlarged at most twice is too small for the view: 3–6 copies, none larger than twice."""
    cutout = Image.new("RGBA", (30, 20), (0, 255, 0, 255))
    for seed in range(5):
        picture = np.asarray(composite(cutout, [], np.random.default_rng(seed)))
        green = (picture[..., 1] > 200) & (picture[..., 0] < 60)
        assert 0 < green.sum() <= 6 * (60 * 1.15 + 1) * (40 * 1.15 + 1)
        assert green.sum() > 2 * (60 * 0.85 - 1) * (40 * 0.85 - 1)


def test_cache_is_reused(stamps, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    first = _pool(stamps, root)
    stamp_times = [p.path.stat().st_mtime_ns for p in _composites(first)]

    def fail(*args, **kwargs):
        raise AssertionError("the pool was made again")

    monkeypatch.setattr(pool, "composite", fail)
    again = _pool(stamps, root)
    assert again == first
    assert [p.path.stat().st_mtime_ns for p in _composites(again)] == stamp_times
    assert [d.name for d in root.iterdir()] == [first[-1].path.parent.parent.name]  # no leftovers


def test_changed_input_makes_a_new_pool(stamps, tmp_path):
    folder, catalogue, backgrounds = stamps
    first = _composites(_pool(stamps, tmp_path))
    _cutout((120, 90), (30, 200, 200)).save(folder / "animals" / "red_box.png")  # same size, new pixels and time
    os.utime(folder / "animals" / "red_box.png", ns=(1, 1))
    second = _composites(_pool(stamps, tmp_path))
    assert second[0].path.parent != first[0].path.parent
    assert second[0].path.read_bytes() != first[0].path.read_bytes()
    assert second[1].path.read_bytes() == first[1].path.read_bytes()  # each composite has its own random stream
    renamed = _composites(image_pool(stamps=folder, root=tmp_path, backgrounds=backgrounds,
                                     catalogue=[Stamp(catalogue[0].path, "crimson box", None)]))
    assert renamed[0].name == "red_box · crimson box"


def test_new_version_makes_a_new_pool(stamps, tmp_path, monkeypatch):
    first = _composites(_pool(stamps, tmp_path))
    monkeypatch.setattr(pool, "POOL_VERSION", pool.POOL_VERSION + 1)
    second = _composites(_pool(stamps, tmp_path))
    assert second[0].path.parent.parent.name.startswith(f"pool-v{pool.POOL_VERSION}-")
    assert second[0].path.parent != first[0].path.parent


def test_a_damaged_pool_is_made_again(stamps, tmp_path):
    root = tmp_path / "cache"
    first = _composites(_pool(stamps, root))
    expected = first[1].path.read_bytes()
    first[1].path.unlink()
    second = _composites(_pool(stamps, root))
    assert second[1].path == first[1].path and second[1].path.read_bytes() == expected
    (root / first[0].path.parent.parent.name / "index.json").write_text("{not json")
    assert _composites(_pool(stamps, root))[1].path.read_bytes() == expected
    assert sorted(d.name for d in root.iterdir()) == [first[0].path.parent.parent.name]


def test_the_index_records_the_key(stamps, tmp_path):
    made = _composites(_pool(stamps, tmp_path))
    index = json.loads((made[0].path.parent.parent / "index.json").read_text())
    assert index["key"]["version"] == pool.POOL_VERSION
    assert [s[0] for s in index["key"]["stamps"]] == [s.path for s in stamps[1]]
    assert [e["stamp"] for e in index["images"]] == [s.path for s in stamps[1]]


def test_without_cutouts_the_sample_photos_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"apt-get install tuxpaint-stamps-default.*own photos"):
        photos = image_pool(stamps=tmp_path / "nowhere", root=tmp_path / "cache")
    assert photos == sample_photos()
    assert not (tmp_path / "cache").exists()


def test_an_unwritable_cache_falls_back_with_a_warning(stamps, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="set CNNVIZ_CACHE to a writable folder"):
        photos = _pool(stamps, blocker)
    assert photos == sample_photos()


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    from cnnviz_widget.engine.cache import cache_root

    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("CNNVIZ_CACHE")
    assert cache_root() == pool.Path("~/.cache/cnnviz").expanduser()


def test_the_catalogue():
    """Every catalogue row names a PNG once, with a name, and an ImageNet index in range; with the Debian package
    installed every file is there and the pool reaches 250 images."""
    catalogue = read_catalogue()
    assert len(catalogue) >= 300
    assert len({s.path for s in catalogue}) == len({s.id for s in catalogue}) == len(catalogue)
    assert all(s.path.endswith(".png") and s.name for s in catalogue)
    assert all(s.imagenet is None or 0 <= s.imagenet < 1000 for s in catalogue)
    if not STAMPS_FOLDER.is_dir():
        pytest.skip("Debian's tuxpaint-stamps-default is not installed")
    assert [s.path for s in catalogue if not (STAMPS_FOLDER / s.path).is_file()] == []
    assert len(catalogue) + len(sample_photos()) >= 250
