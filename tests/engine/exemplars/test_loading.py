"""The batch reader behind mining: the model's inputs bit for bit, reduced-size JPEG decoding, layout, read-ahead.

The fast path decodes, resizes and normalises itself (a lookup table per channel, channels-last); every test that
can compares it with ``torch.stack([preprocess(load_image(path)) ...])`` — the definition — with ``torch.equal``.
"""

import io
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz_widget import CNNVizError, ImagePreprocess, load_model
from cnnviz_widget.engine.exemplars.datasets import EncodedImage, open_dataset
from cnnviz_widget.engine.exemplars.loading import BatchReader
from cnnviz_widget.engine.model.images import load_image

PREPROCESSES = {
    "caffe": ImagePreprocess.caffe(),
    "imagenet": ImagePreprocess.imagenet(),
    "gray": ImagePreprocess(size=28, resize=None, mean=(0.1307,), std=(0.3081,), channel_order="L"),
    "bicubic": ImagePreprocess(size=40, resize=48, interpolation="bicubic"),
}


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth picture with some edges (JPEG-friendly, not noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    channels = [128 + 100 * np.sin(x * rng.uniform(5, 20) + y * rng.uniform(5, 20) + rng.uniform(0, 6))
                for _ in range(3)]
    image = np.stack(channels, axis=-1)
    image[height // 3: height // 2, width // 4: width // 2] = rng.integers(0, 256, 3)
    return Image.fromarray(image.clip(0, 255).astype(np.uint8))


def write(path, image, exif_orientation=None, **kwargs):
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif
    image.save(path, **kwargs)
    return path


@pytest.fixture(scope="module")
def model():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2)).eval()


def reader(data, preprocess, model, **kwargs):
    options = {"device": torch.device("cpu"), "dtype": torch.float32, "batch_size": 4, **kwargs}
    return BatchReader(open_dataset(data), preprocess, preprocess.input_shape, model=model, **options)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    return [write(folder / "a.jpg", photo(500, 375, 1), quality=90),
            write(folder / "b.png", photo(120, 90, 2)),
            write(folder / "c.jpg", photo(300, 200, 3).convert("L"), quality=85),
            write(folder / "d.jpg", photo(375, 500, 4), exif_orientation=6, quality=90),  # shown turned
            write(folder / "e.jpg", photo(640, 480, 5).convert("CMYK"), quality=90)]


@pytest.mark.parametrize("name", PREPROCESSES)
def test_inputs_equal_the_preprocessing_bit_for_bit(files, model, name):
    preprocess = PREPROCESSES[name]
    want = torch.stack([preprocess(load_image(p)) for p in files])
    # No file here is twice a 224/227 px input (the crop of the largest, 640×480, is 420 px), so a reduced decode
    # changes nothing for those models; the 28 and 40 px ones do reduce (tested below).
    for reduced in (False, True) if preprocess.size > 200 else (False,):
        got = reader(files, preprocess, model, reduced_decode=reduced).inputs(range(len(files)))
        assert torch.equal(got, want), (name, reduced)


def test_batches_from_pil_images_and_tensors_equal_the_preprocessing(model):
    images = [photo(80, 60, s) for s in range(3)]
    preprocess = PREPROCESSES["imagenet"]
    want = torch.stack([preprocess(im) for im in images])
    assert torch.equal(reader(images, preprocess, model).inputs([0, 1, 2]), want)
    mixed = [images[0], want[1], torch.from_numpy(np.array(images[2])).permute(2, 0, 1)]
    assert torch.equal(reader(mixed, preprocess, model).inputs([0, 1, 2]), want)  # a model input passes through


def test_reduced_decode_keeps_the_crop_at_least_twice_the_input(tmp_path, model):
    # Caffe's 256 then 227: the crop is 227/256 of the shorter side, and must keep 2 × 227 = 454 px once reduced
    preprocess = PREPROCESSES["caffe"]
    cases = {  # size: (expected scale, the crop's side at that scale)
        (2000, 1500): (2, 665),   # crop 1330 px: /2 = 665 ≥ 454, /4 = 332 is not
        (1600, 1200): (2, 532),
        (4000, 3000): (4, 665),   # crop 2660 px: /8 = 332 is too small
        (1200, 900): (1, 798),    # crop 798 px: /2 = 399 < 454 — decoded in full, exactly
    }
    paths = {size: write(tmp_path / f"{size[0]}.jpg", photo(*size, 7), quality=92) for size in cases}
    stored = photo(2000, 1500, 7).transpose(Image.Transpose.ROTATE_270)  # EXIF orientation 8 turns it back
    turned = write(tmp_path / "t.jpg", stored, exif_orientation=8, quality=92)
    r = reader(list(paths.values()), preprocess, model)
    for size, (scale, side) in cases.items():
        reduced = []
        image = EncodedImage(paths[size]).decode(draft=r._draft(reduced))
        assert reduced == ([scale, *size] if scale > 1 else []), size
        assert image.size == tuple(-(-v // scale) for v in size)
        left, top, right, bottom = preprocess.crop_box(*size)
        assert int(min(right - left, bottom - top) / scale) == side >= 2 * preprocess.size or scale == 1
    reduced = []
    EncodedImage(turned).decode(draft=r._draft(reduced))
    assert reduced == [2, 2000, 1500]  # the size as shown, after the EXIF turn
    # what a reduced decode gives: the full image's crop box in the half-size image's pixels, resized
    half = Image.open(paths[(2000, 1500)])
    half.draft("RGB", (1000, 750))
    box = tuple(v / 2 for v in preprocess.crop_box(2000, 1500))
    expected = half.convert("RGB").resize((227, 227), Image.Resampling.BILINEAR, box=box, reducing_gap=None)
    got = reader([paths[(2000, 1500)]], preprocess, model).inputs([0])[0]
    assert np.array_equal(preprocess.to_pixels(got), np.asarray(expected))
    full = reader([paths[(2000, 1500)]], preprocess, model, reduced_decode=False).inputs([0])[0]
    assert torch.equal(full, preprocess(load_image(paths[(2000, 1500)])))
    assert 0 < (got - full).abs().mean() < 1.0  # grey levels: close to the full decode, not equal to it
    assert (reader([turned], preprocess, model).inputs([0])[0] - full).abs().mean() < 1.0  # the same picture
    exact = reader([paths[(1200, 900)]], preprocess, model).inputs([0])[0]
    assert torch.equal(exact, preprocess(load_image(paths[(1200, 900)])))


def test_batches_are_channels_last_when_the_model_allows(files, model):
    preprocess = PREPROCESSES["imagenet"]
    batch = reader(files, preprocess, model).read(0)
    assert batch.inputs.is_contiguous(memory_format=torch.channels_last) and not batch.inputs.is_contiguous()
    assert batch.indices == [0, 1, 2, 3] and batch.labels == [-1] * 4

    class Flat(torch.nn.Module):  # .view fails on a channels-last tensor: the probe keeps the ordinary layout
        def forward(self, x):
            return x.view(x.shape[0], -1)

    nchw = reader(files, preprocess, Flat()).read(0).inputs
    assert nchw.is_contiguous() and torch.equal(nchw, batch.inputs)


def test_unreadable_items_are_listed(tmp_path, model):
    good = write(tmp_path / "g.png", photo(50, 50))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 truncated")
    batch = reader([good, tmp_path / "bad.jpg", good], PREPROCESSES["imagenet"], model).read(0)
    assert batch.indices == [0, 2] and batch.skipped[0][:2] == [1, str(tmp_path / "bad.jpg")]
    assert "not an image PIL can read" in batch.skipped[0][2]


class Slow(torch.utils.data.Dataset):
    """Records which items were read and with how many intra-op threads."""

    def __init__(self, n, delay=0.0):
        self.n, self.delay = n, delay
        self.read, self.threads = [], set()
        self.lock = threading.Lock()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.delay)
        with self.lock:
            self.read.append(i)
            self.threads.add((threading.current_thread().name.split("_")[0], torch.get_num_threads()))
        return Image.new("RGB", (9, 9), (i, i, i))


def slow_reader(data, model, device="cpu"):
    reader = BatchReader(open_dataset(data), PREPROCESSES["gray"], (1, 28, 28), model=model,
                         device=torch.device(device), dtype=torch.float32, batch_size=2, workers=2)
    data.read.clear()  # (opening read a few items for the fingerprint)
    data.threads.clear()
    return reader


def test_on_the_cpu_readers_work_only_while_the_forward_waits(model):
    data = Slow(40, delay=0.01)
    main_threads = torch.get_num_threads()
    batches = slow_reader(data, model).batches(range(20))
    first = next(batches)
    held = len(data.read)
    time.sleep(0.3)  # the forward computes: the readers finish the image they are on, then pause
    assert first.chunk == 0 and len(data.read) <= held + 2
    second = next(batches)
    assert second.chunk == 1 and len(data.read) >= 4
    batches.close()
    assert not any(t.name.startswith("cnnviz-reader") for t in threading.enumerate())
    assert data.threads == {("cnnviz-reader", 1)}  # one intra-op thread each; the forward keeps its own
    assert torch.get_num_threads() == main_threads


def test_beside_an_accelerator_readers_run_ahead_bounded(model):
    data = Slow(40)
    reader = slow_reader(data, model, device="meta")  # not the CPU: the forward leaves the cores to the readers
    assert not reader.gated
    batches = reader.batches(range(20))
    first = next(batches)
    time.sleep(0.3)
    assert first.chunk == 0 and len(data.read) == 2 * 4  # the batch handed over and workers + 1 read ahead
    batches.close()
    assert [b.chunk for b in reader.batches([3, 1, 4])] == [3, 1, 4]  # in the order asked


def test_reader_errors_reach_the_consumer(model):
    class Inputs(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.zeros(1, 9, 9)  # said to be model inputs, but of another shape

    r = BatchReader(open_dataset(Inputs(), preprocessed=True), PREPROCESSES["gray"], (1, 28, 28), model=model,
                    device=torch.device("cpu"), dtype=torch.float32, batch_size=2)
    with pytest.raises(CNNVizError, match=r"inputs of shapes \[\(1, 9, 9\)\] but the model takes \(1, 28, 28\)"):
        list(r.batches([0, 1]))


def test_a_user_preprocess_is_called_as_before(files, model):
    calls = []

    def preprocess(image):
        calls.append(image.size)
        return torch.zeros(3, 8, 8)

    spec = load_model(model, preprocess=preprocess, input_size=8, name="m")
    r = BatchReader(open_dataset(files), spec.preprocess, (3, 8, 8), model=model, device=torch.device("cpu"),
                    dtype=torch.float32, batch_size=8, workers=1)
    assert not r.fast and not r.reduces
    assert r.read(0).inputs.shape == (5, 3, 8, 8)
    assert calls == [load_image(p).size for p in files]


def test_encoded_bytes_decode_like_files(files):
    data = files[0].read_bytes()
    assert np.array_equal(np.asarray(EncodedImage(data).decode()), np.asarray(load_image(files[0])))
    assert io.BytesIO(data).read(2) == b"\xff\xd8"
