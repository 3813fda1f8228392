"""Top-k exemplar mining on a net small enough to check by hand.

``TinyNet``: conv1 (3×3, padding 1) has two filters, the identity (channel 0 = the image) and minus the identity
(channel 1 = -image), followed by an in-place ReLU, a 2×2 max-pool and conv2 (1×1, weights 1 and 0.5) — so
conv2 = the max-pooled image. Inputs are the grayscale pixel values 0–255 themselves, and every weight is a small
integer or a half, so all arithmetic is exact and each expected number below is read off the images.

The images (8×8, constant background, bright pixels):

    image  background  bright pixel(s)
      0        10      200 at (3, 4)
      1        20      250 at (0, 0)   (a corner: its patch shows the padding)
      2         5      120 at (7, 7)
      3        30      250 at (5, 2)   (ties image 1: the earlier image ranks first)
      4        15       90 at (2, 6)
      5        40      180 at (6, 1)
      6         1       60 at (4, 4)
      7        25      220 at (1, 5) and (6, 3)   (two maxima: the first in raster order counts)
"""

import math
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnviz_widget import CNNVizError, Explorer, ImagePreprocess, load_model
from cnnviz_widget.engine.exemplars.mining import Miner, mine
from cnnviz_widget.engine.exemplars.results import Exemplars

IMAGES = [(10, [(200, 3, 4)]), (20, [(250, 0, 0)]), (5, [(120, 7, 7)]), (30, [(250, 5, 2)]), (15, [(90, 2, 6)]),
          (40, [(180, 6, 1)]), (1, [(60, 4, 4)]), (25, [(220, 1, 5), (220, 6, 3)])]


class TinyNet(nn.Module):
    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.conv1 = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(2, 1, 1, bias=False)
        self.fc = nn.Linear(16, 2, bias=False)
        with torch.no_grad():
            self.conv1.weight.zero_()
            self.conv1.weight[0, 0, 1, 1] = 1.0
            self.conv1.weight[1, 0, 1, 1] = -1.0
            self.conv2.weight[:] = torch.tensor([1.0, 0.5]).view(1, 2, 1, 1)
            self.fc.weight.zero_()
            self.fc.weight[0, 0] = 1.0  # fc[0] = conv2 at (0, 0)
            self.fc.weight[1, 15] = -2.0  # fc[1] = -2 × conv2 at (3, 3)

    def forward(self, x):
        if self.delay:
            time.sleep(self.delay)
        return self.fc(self.conv2(self.pool(self.relu(self.conv1(x)))).flatten(1))


PREPROCESS = ImagePreprocess(size=8, resize=None, mean=(0.0,), std=(1.0,), scale=255.0, channel_order="L",
                             interpolation="nearest")


def tiny_spec(delay: float = 0.0):
    return load_model(TinyNet(delay), preprocess=PREPROCESS, name="tiny")


def make_image(background: int, bright: list) -> Image.Image:
    a = np.full((8, 8), background, dtype=np.uint8)
    for value, y, x in bright:
        a[y, x] = value
    return Image.fromarray(a)


def tiny_images(n: int | None = None) -> list:
    """The eight images above; with ``n``, more made by the same recipe (seeded)."""
    images = [make_image(b, bright) for b, bright in IMAGES]
    rng = np.random.default_rng(0)
    while n is not None and len(images) < n:
        images.append(make_image(int(rng.integers(1, 50)), [(int(rng.integers(50, 256)), int(rng.integers(0, 8)),
                                                              int(rng.integers(0, 8)))]))
    return images


def tables_equal(a: Exemplars, b: Exemplars) -> None:
    assert a.layer_names == b.layer_names
    assert (a.images, a.skipped, a.complete) == (b.images, b.skipped, b.complete)
    for name in a.layer_names:
        ta, tb = a._tables[name], b._tables[name]
        for field in ta:
            assert torch.equal(ta[field], tb[field]), (name, field)


@pytest.fixture(scope="module")
def spec():
    return tiny_spec()


@pytest.fixture(scope="module")
def result(spec):
    return mine(spec, tiny_images(), k=4, batch_size=3, bar=False)


def _rows(result, layer, channel):
    return [(e.index, e.value, e.position) for e in result.top(layer, channel)]


def test_default_layers_are_convolutions_blocks_and_linear_layers(result):
    assert result.layer_names == ["conv1", "conv2", "fc"]  # not the ReLU or the pool: they repeat conv1
    assert result.images == 8 and result.skipped == 0 and result.total == 8 and result.complete


def test_top_k_values_and_locations(result):
    # channel 0 = the image: the brightest pixels; ties by dataset position; the first maximum in raster order
    assert _rows(result, "conv1", 0) == [(1, 250.0, (0, 0)), (3, 250.0, (5, 2)), (7, 220.0, (1, 5)), (0, 200.0, (3, 4))]
    # channel 1 = -image, read before the in-place ReLU overwrites it: the darkest backgrounds, at the first pixel
    assert _rows(result, "conv1", 1) == [(6, -1.0, (0, 0)), (2, -5.0, (0, 0)), (0, -10.0, (0, 0)), (4, -15.0, (0, 0))]
    # conv2 = the 2×2 max-pooled image: positions halve
    assert _rows(result, "conv2", 0) == [(1, 250.0, (0, 0)), (3, 250.0, (2, 1)), (7, 220.0, (0, 2)), (0, 200.0, (1, 2))]


def test_at_most_one_entry_per_image_per_channel(spec):
    # image 7 has two equal maxima and a background that beats several images: it still appears once
    res = mine(spec, tiny_images(), k=8, batch_size=8, bar=False)
    for layer in res.layer_names:
        t = res.table(layer)
        for c in range(t["indices"].shape[0]):
            assert sorted(t["indices"][c].tolist()) == list(range(8))
    assert [e.index for e in res.top("conv1", 0)] == [1, 3, 7, 0, 5, 2, 4, 6]


def test_fewer_images_than_k(spec):
    res = mine(spec, tiny_images()[:3], k=9, bar=False)
    assert [e.index for e in res.top("conv1", 0)] == [1, 0, 2]
    assert res.table("conv1")["indices"][0].tolist() == [1, 0, 2, -1, -1, -1, -1, -1, -1]


def test_same_result_for_every_batch_size(spec, result):
    for batch_size in (1, 2, 5, 8, 64):
        tables_equal(mine(spec, tiny_images(), k=4, batch_size=batch_size, bar=False), result)


def test_linear_layer_has_no_position(spec):
    res = mine(spec, tiny_images(), layers=["fc"], k=3, bar=False)
    # fc[0] = conv2 at (0, 0) = max of the image's top-left 2×2 block; fc[1] = -2 × its bottom-right block
    assert _rows(res, "fc", 0) == [(1, 250.0, ()), (5, 40.0, ()), (3, 30.0, ())]
    assert [(e.index, e.value) for e in res.top("fc", 1)] == [(6, -2.0), (0, -20.0), (4, -30.0)]


def test_statistics(result):
    s = result.stats("conv1")
    assert s.images == 8
    assert s.fired.tolist() == [8, 0]
    assert s.dead.tolist() == [False, True]
    assert s.firing_rate.tolist() == [1.0, 0.0]
    assert s.histogram.sum(axis=1).tolist() == [8, 8]
    assert s.high.tolist() == [250.0, -1.0] and s.low.tolist() == [60.0, -40.0]
    q = s.quantiles([0.0, 1.0])
    assert q[:, 0].tolist() == [60.0, -40.0] and q[:, 1].tolist() == [250.0, -1.0]
    edges = s.edges
    # the maxima are 60 90 120 180 200 220 250 250: the median is read in the bin of the 4th, 180 (2^7.375..2^7.5)
    median = s.quantiles(0.5)[0, 0]
    b = int(np.searchsorted(edges, 180.0, side="left"))
    assert edges[b - 1] <= median <= edges[b] and edges[b] / edges[b - 1] == pytest.approx(2 ** (1 / 8))
    for value in (60.0, 250.0):  # each maximum sits in the bin whose edges bracket it
        b = int(np.searchsorted(edges, value, side="left"))
        assert edges[b - 1] < value <= edges[b] and s.histogram[0, b] >= 1


def test_patches_and_projections_are_receptive_field_crops(result):
    ex = result.exemplars("conv1", 0)
    corner = ex[0]  # image 1's 250 at (0, 0): the 3×3 field reaches one pixel into the padding on two sides
    assert corner.box == (-1, -1, 2, 2)
    assert corner.valid == (1, 1, 3, 3)
    assert corner.patch.shape == (3, 3, 3) and corner.patch.dtype == np.uint8
    assert corner.patch[..., 0].tolist() == [[0, 0, 0], [0, 250, 20], [0, 20, 20]]  # padding: the model's 0
    assert (corner.patch == corner.patch[..., :1]).all()
    expected = torch.zeros(1, 3, 3)
    expected[0, 1, 1] = 250.0  # the identity filter's transpose puts the seed back on its pixel
    assert torch.equal(corner.projection, expected)
    inside = ex[1]  # image 3's 250 at (5, 2)
    assert inside.box == (4, 1, 7, 4) and inside.valid == (0, 0, 3, 3)
    assert inside.patch[..., 0].tolist() == [[30, 30, 30], [30, 250, 30], [30, 30, 30]]


@pytest.mark.parametrize(("rule", "center"), [("deconvnet", 125.0), ("guided", 250.0), ("gradient", 250.0)])
def test_projection_rules_through_pool_and_relu(result, rule, center):
    # conv2 at (0, 0) of image 1 (value 250): back through conv2 (250 and 125), the pooling switches (both at
    # (0, 0)), the ReLU — the deconvnet rectifies the signal only, so channel 1's -1 filter takes 125 away; guided
    # backprop and the gradient also stop where the forward input was negative — and conv1's transpose.
    e = result.exemplars("conv2", 0, rule=rule)[0]
    assert e.box == (-1, -1, 3, 3) and e.valid == (1, 1, 4, 4)
    assert e.patch.shape == (4, 4, 3)
    expected = torch.zeros(1, 4, 4)
    expected[0, 1, 1] = center
    assert torch.equal(e.projection, expected)


def test_atlas_equals_one_unit_at_a_time(result):
    atlas = result.atlas("conv1", images_per_batch=2, units_per_batch=3)
    assert sorted(atlas) == [0, 1]
    fresh = Exemplars(result._state, key=result.key, explorer=result._explorer, dataset=result._dataset)
    for c in (0, 1):
        one = fresh.exemplars("conv1", c)
        for a, b in zip(atlas[c], one, strict=True):
            assert (a.index, a.box, a.valid) == (b.index, b.box, b.valid)
            assert np.array_equal(a.patch, b.patch) and torch.equal(a.projection, b.projection)


class LabelledImages(torch.utils.data.Dataset):
    classes = ("dim", "bright")

    def __init__(self):
        self.images = tiny_images()

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], int(np.asarray(self.images[i]).max() >= 200)


def test_labels_and_class_mix(spec):
    res = mine(spec, LabelledImages(), k=4, bar=False)
    top = res.top("conv1", 0)
    assert [(e.id, e.label, e.label_name) for e in top] == [("1", 1, "bright"), ("3", 1, "bright"),
                                                           ("7", 1, "bright"), ("0", 1, "bright")]
    assert res.class_mix("conv1", 0) == [(1, "bright", 4)]
    assert res.class_mix("conv1", 1) == [(0, "dim", 3), (1, "bright", 1)]


def test_unreadable_files_are_skipped_and_counted(spec, tmp_path):
    for i, image in enumerate(tiny_images()):
        image.save(tmp_path / f"im{i}.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image: ignored, not counted")
    res = mine(spec, tmp_path, k=4, bar=False)
    assert (res.images, res.skipped, res.total) == (8, 2, 10)
    assert [item[1] for item in res.skipped_items] == ["broken.png", "empty.jpg"]
    assert "not an image" in res.skipped_items[0][2]
    assert [e.id for e in res.top("conv1", 0)] == ["im1.png", "im3.png", "im7.png", "im0.png"]


def test_empty_or_unreadable_datasets_are_clear_errors(spec, tmp_path):
    with pytest.raises(CNNVizError, match="no image files"):
        mine(spec, tmp_path, bar=False)
    with pytest.raises(CNNVizError, match="empty"):
        mine(spec, [], bar=False)
    (tmp_path / "a.png").write_bytes(b"garbage")
    with pytest.raises(CNNVizError, match="none of the 1 items"):
        mine(spec, tmp_path, bar=False)


def test_bad_arguments(spec):
    with pytest.raises(CNNVizError, match="k must be"):
        Miner(spec, tiny_images(), k=0)
    with pytest.raises(CNNVizError, match="closest"):
        Miner(spec, tiny_images(), layers=["conv3"])


def test_cache_hit_and_stale_cache_after_one_weight_changes(tmp_path):
    spec = tiny_spec()
    explorer = Explorer(spec)
    first = mine(explorer, tiny_images(), k=4, cache_dir=tmp_path, bar=False)
    calls = []
    spec.model.conv1.register_forward_hook(lambda *a: calls.append(1))
    again = mine(explorer, tiny_images(), k=4, cache_dir=tmp_path, bar=False)
    assert calls == []  # loaded from the cache
    tables_equal(first, again)
    assert len(list(tmp_path.iterdir())) == 1

    with torch.no_grad():
        spec.model.conv2.weight[0, 0, 0, 0] = -1.0  # one weight, changed in place: conv2 now = -(pooled image)
    changed = mine(explorer, tiny_images(), k=4, cache_dir=tmp_path, bar=False)
    assert calls  # recomputed
    assert len(list(tmp_path.iterdir())) == 2
    assert _rows(changed, "conv2", 0)[0] == (6, -1.0, (0, 0))
    loaded = Exemplars.load(tmp_path, model=spec)
    tables_equal(loaded, changed)
    with pytest.raises(CNNVizError, match="several"):
        Exemplars.load(tmp_path)
    with pytest.raises(CNNVizError, match="differ"):
        loaded.attach(model=tiny_spec())


def test_cache_is_keyed_by_layers_k_and_data(tmp_path, spec):
    mine(spec, tiny_images(), k=4, cache_dir=tmp_path, bar=False)
    mine(spec, tiny_images(), k=5, cache_dir=tmp_path, bar=False)
    mine(spec, tiny_images(), k=4, layers=["conv2"], cache_dir=tmp_path, bar=False)
    images = tiny_images()
    images[2] = make_image(6, [(120, 7, 7)])  # one pixel value of one image
    mine(spec, images, k=4, cache_dir=tmp_path, bar=False)
    assert len(list(tmp_path.iterdir())) == 4


def test_loaded_result_gives_patches_from_the_folder(tmp_path, spec):
    data = tmp_path / "images"
    data.mkdir()
    for i, image in enumerate(tiny_images()):
        image.save(data / f"im{i}.png")
    mined = mine(spec, data, k=4, cache_dir=tmp_path / "cache", bar=False)
    loaded = Exemplars.load(tmp_path / "cache", model=spec)  # the folder is reopened from the cache's record
    a, b = mined.exemplars("conv2", 0), loaded.exemplars("conv2", 0)
    assert [e.id for e in b] == ["im1.png", "im3.png", "im7.png", "im0.png"]
    assert all(np.array_equal(x.patch, y.patch) and torch.equal(x.projection, y.projection) for x, y in zip(a, b, strict=True))
    (data / "im2.png").write_bytes((data / "im2.png").read_bytes() + b"\0")  # the dataset changes
    stale = Exemplars.load(tmp_path / "cache", model=spec)
    with pytest.raises(CNNVizError, match="not the one"):
        stale.exemplars("conv2", 0)


def test_background_run_partial_results_cancel_and_resume(tmp_path):
    spec = tiny_spec(delay=0.05)
    images = tiny_images(40)
    reference = mine(tiny_spec(), images, k=4, batch_size=2, bar=False)
    miner = Miner(spec, images, k=4, batch_size=2, cache_dir=tmp_path, checkpoint_every=0)
    seen = []
    miner.start(progress=lambda done, total: seen.append((done, total)))
    deadline = time.monotonic() + 30
    while (miner.snapshot() is None or miner.snapshot().images < 6) and time.monotonic() < deadline:
        time.sleep(0.02)
    partial = miner.snapshot()
    assert not partial.complete and 6 <= partial.images < 40
    assert len(partial.top("conv1", 0)) == 4
    from_disk = Exemplars.load(tmp_path, model=tiny_spec())  # the checkpoint, readable while the pass runs
    assert not from_disk.complete and from_disk.images >= 2
    # the widget keeps using the model meanwhile: its forward passes and the miner's hooks do not mix
    x = PREPROCESS(images[1])
    for _ in range(3):
        assert torch.equal(miner.explorer.activations(x, ["conv1"])["conv1"][0], x[0])
    miner.cancel()
    stopped = miner.wait(timeout=30)
    assert not stopped.complete and stopped.images < 40
    assert seen[0] == (0, 40) and all(total == 40 for _, total in seen)
    resumed = Miner(tiny_spec(), images, k=4, batch_size=2, cache_dir=tmp_path).run(bar=False)
    tables_equal(resumed, reference)
    assert miner.progress.finished


def test_cancel_event_stops_a_blocking_run(tmp_path, spec):
    cancel = threading.Event()
    res = mine(spec, tiny_images(), k=4, batch_size=2, cache_dir=tmp_path, cancel=cancel,
               progress=lambda done, total: cancel.set() if done >= 2 else None, bar=False)
    assert not res.complete and res.images == 2
    done = mine(spec, tiny_images(), k=4, batch_size=2, cache_dir=tmp_path, bar=False)
    tables_equal(done, mine(spec, tiny_images(), k=4, bar=False))


def test_nan_activations_rank_last(spec):
    images = tiny_images()
    model = TinyNet()
    with torch.no_grad():
        model.conv2.weight[0, 1, 0, 0] = math.inf  # inf × 0 = NaN wherever channel 1 is rectified to 0
    res = mine(load_model(model, preprocess=PREPROCESS), images, layers=["conv2"], k=2, bar=False)
    assert res.images == 8 and all(math.isinf(e.value) and e.value < 0 for e in res.top("conv2", 0))


def test_project_batch_boxes_equal_cropped_full_canvases():
    # Explorer.project_batch(boxes=...) (used for exemplars) returns exactly the boxes of the full projections
    torch.manual_seed(0)
    ex = Explorer(load_model("squeezenet1_1", weights=None))
    xs = torch.randn(2, 3, 227, 227)
    requests = [(0, "features.4", 3, (0, 0)), (1, "features.4", 7, (27, 27)), (0, "features.4", 9, (10, 5)),
                (1, "features.0", 1, (112, 0)), (0, "features.0", 2, (50, 60))]
    for layer in ("features.4", "features.0"):
        units = [r for r in requests if r[1] == layer]
        boxes = [ex.receptive_field(layer, r[3]) for r in units]
        full = ex.project_batch(xs, units)
        cropped = ex.project_batch(xs, units, boxes=boxes)
        for f, c, (top, left, bottom, right) in zip(full, cropped, boxes, strict=True):
            pt, pl = max(0, -top), max(0, -left)  # zero padding where the box leaves the image
            padded = torch.nn.functional.pad(f, (pl, max(0, right - 227), pt, max(0, bottom - 227)))
            expected = padded[:, top + pt:bottom + pt, left + pl:right + pl]
            assert c.shape == (3, bottom - top, right - left)
            assert torch.equal(c, expected)


def test_patches_are_the_image_as_squeezenet_saw_it():
    # Caffe preprocessing (BGR, mean subtracted, resize 256 + centre crop 227): a patch is the receptive field cut
    # from that 227×227 picture; where the field leaves it, the colour the model's zero padding stands for (the mean).
    from cnnviz_widget.engine.model.samples import sample_photos

    photos = [p.path for p in sample_photos()[:3]]
    if len(photos) < 3:
        pytest.skip("no demo photo packages installed")
    spec = load_model("squeezenet1_1")
    res = mine(spec, photos, layers=["features.3.expand3x3"], k=3, bar=False)
    mean_rgb = np.round(np.array(spec.preprocess.mean[::-1])).astype(np.uint8)
    edge = [c for c in range(64) if any(0 in e.position or 55 in e.position for e in res.top("features.3.expand3x3", c))]
    border = 0
    for channel in [0, *edge[:2]]:
        for e in res.exemplars("features.3.expand3x3", channel):
            seen = np.asarray(spec.preprocess.geometry(photos[e.index]))
            top, left, bottom, right = e.box
            assert (bottom - top, right - left) == (15, 15)  # the unit's receptive field, never stretched
            t, lf, b, r = e.valid
            assert np.array_equal(e.patch[t:b, lf:r], seen[top + t:top + b, left + lf:left + r])
            outside = np.ones((15, 15), bool)
            outside[t:b, lf:r] = False
            assert (e.patch[outside] == mean_rgb).all()
            border += int(outside.any())
            assert e.projection.shape == (3, 15, 15) and float(e.projection.abs().sum()) > 0
    assert border > 0
    assert res.top("features.3.expand3x3", 0)[0].position == tuple(int(v) for v in res.table(
        "features.3.expand3x3")["positions"][0, 0])
