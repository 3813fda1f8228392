"""The dataset forms users hold: WebDataset tar shards, Hugging Face datasets, Imagenette and CIFAR-10 by name.

Each form is read into the same ``ImageDataset`` (ids, labels, class names, a stable fingerprint, a source a cached
result can reopen), and mining any of them gives exactly the tables of mining the same images as plain files.
Shards and copies are made here; the named datasets are tested on local copies, and offline with torchvision's
download function replaced by one that fails as an offline machine does (no test touches the network).
"""

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from cnnviz_widget import CNNVizError, ImageError
from cnnviz_widget.cli import main
from cnnviz_widget.engine.exemplars.datasets import EncodedImage, open_dataset, reopen
from cnnviz_widget.engine.exemplars.mining import mine
from cnnviz_widget.engine.exemplars.results import Exemplars
from cnnviz_widget.engine.exemplars.tar_shards import expand_braces

sys.path.insert(0, str(Path(__file__).parent))
from test_mining import tables_equal, tiny_images, tiny_spec


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


class Labelled(torch.utils.data.Dataset):
    """The reference: the same images with the same labels, as a torch Dataset."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


def make_shards(folder: Path, images: list, per_shard: int = 3) -> list[Path]:
    """WebDataset shards ``train-0000.tar`` …: image ``i`` is ``img{i:03d}.png`` with ``img{i:03d}.cls`` = i % 3,
    under a ``d{shard}/`` folder inside the tar; each shard also holds a key without an image (ignored)."""
    folder.mkdir(parents=True, exist_ok=True)
    shards = []
    for s in range(0, len(images), per_shard):
        path = folder / f"train-{s // per_shard:04d}.tar"
        with tarfile.open(path, "w") as tar:
            for i in range(s, min(s + per_shard, len(images))):
                _add(tar, f"d{s // per_shard}/img{i:03d}.png", _png(images[i]))
                _add(tar, f"d{s // per_shard}/img{i:03d}.cls", f"{i % 3}\n".encode())
            _add(tar, f"d{s // per_shard}/meta.json", b"{}")
        shards.append(path)
    return shards


# ------------------------------------------------------------------------------------------------ tar shards
def test_brace_patterns_expand_like_bash():
    assert expand_braces("s/train-{0000..0003}.tar") == [f"s/train-000{i}.tar" for i in range(4)]
    assert expand_braces("{8..11}") == ["8", "9", "10", "11"]
    assert expand_braces("{08..10}") == ["08", "09", "10"]
    assert expand_braces("{3..1}") == ["3", "2", "1"]
    assert expand_braces("{a,b}-{1..2}.tar") == ["a-1.tar", "a-2.tar", "b-1.tar", "b-2.tar"]
    assert expand_braces("plain.tar") == ["plain.tar"]
    with pytest.raises(CNNVizError, match="unbalanced"):
        expand_braces("train-{0..3.tar")


def test_shards_by_pattern_folder_file_and_glob(tmp_path):
    images = tiny_images(8)
    shards = make_shards(tmp_path / "shards", images)
    data = open_dataset(str(tmp_path / "shards" / "train-{0000..0002}.tar"))
    assert len(data) == 8 and data.ids[:4] == ["train-0000.tar/d0/img000", "train-0000.tar/d0/img001",
                                               "train-0000.tar/d0/img002", "train-0001.tar/d1/img003"]
    assert [data.read(i).label for i in range(8)] == [i % 3 for i in range(8)]
    assert all(np.array_equal(np.asarray(data.read(i).image), np.asarray(images[i].convert("RGB"))) for i in range(8))
    raw = data.read(5, decode=False).image
    assert isinstance(raw, EncodedImage) and raw.data == _png(images[5])
    assert data.source == {"kind": "tar", "path": str(tmp_path / "shards" / "train-{0000..0002}.tar")}
    for other in (tmp_path / "shards", str(tmp_path / "shards" / "*.tar")):
        same = open_dataset(other)
        assert same.ids == data.ids and same.fingerprint() == data.fingerprint()
    one = open_dataset(shards[1])
    assert one.ids == ["train-0001.tar/d1/img003", "train-0001.tar/d1/img004", "train-0001.tar/d1/img005"]
    assert reopen(data.source).fingerprint() == data.fingerprint()


def test_shard_fingerprint_follows_the_files(tmp_path):
    shards = make_shards(tmp_path, tiny_images()[:6])
    base = open_dataset(tmp_path).fingerprint()
    assert open_dataset(tmp_path).fingerprint() == base
    make_shards(tmp_path, tiny_images()[:6][::-1])  # same names, other contents
    assert open_dataset(tmp_path).fingerprint() != base
    assert len(shards) == 2


def test_shard_errors_name_the_fix(tmp_path):
    make_shards(tmp_path, tiny_images()[:6])
    with pytest.raises(CNNVizError, match="1 of the 3 shards .* missing"):
        open_dataset(str(tmp_path / "train-{0000..0002}.tar"))
    (tmp_path / "bad.tar").write_bytes(b"this is no tar file" * 40)
    with pytest.raises(CNNVizError, match="not a readable tar file"):
        open_dataset(tmp_path / "bad.tar")
    (tmp_path / "z.tar.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(CNNVizError, match="decompress"):
        open_dataset(tmp_path / "z.tar.gz")
    empty = tmp_path / "empty"
    empty.mkdir()
    with tarfile.open(empty / "x.tar", "w") as tar:
        _add(tar, "a.json", b"{}")
    with pytest.raises(CNNVizError, match="no image members"):
        open_dataset(empty)
    with pytest.raises(CNNVizError, match="no .tar shards match"):
        open_dataset(str(tmp_path / "nothing-*.tar"))


def test_truncated_shard_member_is_an_unreadable_item(tmp_path):
    (shard,) = make_shards(tmp_path, tiny_images()[:3])
    data = open_dataset(shard)
    with tarfile.open(shard) as tar:
        cut = tar.getmember("d0/img002.png").offset_data + 20
    with open(shard, "r+b") as fh:  # cut the file inside the last image's data
        fh.truncate(cut)
    with pytest.raises(ImageError, match="truncated|corrupt"):
        data.read(2)
    res = mine(tiny_spec(), data, k=2, bar=False)
    assert (res.images, res.skipped) == (2, 1) and res.skipped_items[0][1] == "train-0000.tar/d0/img002"


def test_mining_shards_equals_mining_the_files(tmp_path):
    images = tiny_images(20)
    make_shards(tmp_path / "shards", images, per_shard=6)
    spec = tiny_spec()
    from_shards = mine(spec, str(tmp_path / "shards" / "train-{0000..0003}.tar"), k=4, batch_size=3, bar=False)
    labelled = Labelled(images, [i % 3 for i in range(20)])
    tables_equal(from_shards, mine(spec, labelled, k=4, batch_size=3, bar=False))
    assert from_shards.top("conv1", 0)[0].id == "train-0000.tar/d0/img001"  # image 1: the 250 at the corner


def test_cli_mines_shards_and_a_reopened_result_cuts_patches(tmp_path, capsys):
    make_shards(tmp_path / "shards", tiny_images(8))
    pattern = str(tmp_path / "shards" / "train-{0000..0002}.tar")
    args = ["mine", "--model", "squeezenet1_1", "--layers", "features.0", "--batch-size", "4", "--json", "--quiet"]
    assert main([*args, "--data", pattern, "--out", str(tmp_path / "cache")]) == 0
    assert '"images": 8' in capsys.readouterr().out
    from cnnviz_widget import load_model

    loaded = Exemplars.load(tmp_path / "cache", model=load_model("squeezenet1_1"))  # the shards are reopened
    top = loaded.exemplars("features.0", 0)
    assert len(top) == 8 and all(e.patch is not None for e in top)


# ------------------------------------------------------------------------------------------- Hugging Face
datasets = pytest.importorskip("datasets")


def _hf(images, labels, image="image", label="label", names=("a", "b", "c")):
    features = datasets.Features({image: datasets.Image(), label: datasets.ClassLabel(names=list(names))})
    return datasets.Dataset.from_dict({image: images, label: labels}, features=features)


def test_hf_dataset_columns_detected_labels_and_images():
    images = tiny_images()[:5]
    ds = _hf(images, [0, 2, 1, 0, 2])
    data = open_dataset(ds)
    assert data.ids == ["0", "1", "2", "3", "4"] and data.class_names == ["a", "b", "c"]
    assert [data.read(i).label for i in range(5)] == [0, 2, 1, 0, 2]
    assert isinstance(data.read(3, decode=False).image, EncodedImage)
    assert np.array_equal(np.asarray(data.read(3).image), np.asarray(images[3].convert("RGB")))
    assert data.source == {"kind": "dataset", "type": "datasets.Dataset"} and reopen(data.source) is None
    assert open_dataset(_hf(images, [0, 2, 1, 0, 2])).fingerprint() == data.fingerprint()
    assert open_dataset(_hf(images[::-1], [0, 2, 1, 0, 2])).fingerprint() != data.fingerprint()


def test_hf_named_columns_arrays_and_errors():
    images = tiny_images()[:3]
    ds = datasets.Dataset.from_dict({"photo": [np.asarray(im) for im in images], "fine": [5, 6, 7],
                                     "note": ["x", "y", "z"]})
    with pytest.raises(CNNVizError, match="no image column among photo, fine, note"):
        open_dataset(ds)
    data = open_dataset(ds, image_column="photo", label_column="fine")
    assert [data.read(i).label for i in range(3)] == [5, 6, 7]
    assert np.array_equal(np.asarray(data.read(1).image)[..., 0], np.asarray(images[1]))  # arrays read as pixels
    with pytest.raises(CNNVizError, match="no label column 'labels'"):
        open_dataset(ds, image_column="photo", label_column="labels")
    with pytest.raises(CNNVizError, match="DatasetDict with the splits train, test"):
        open_dataset(datasets.DatasetDict({"train": ds, "test": ds}))
    with pytest.raises(CNNVizError, match="cannot be read at random"):
        open_dataset(ds.to_iterable_dataset())
    with pytest.raises(CNNVizError, match="columns of a Hugging Face dataset"):
        open_dataset(images, image_column="photo")


def test_hf_saved_folder_by_path_cli_and_reopened(tmp_path, capsys):
    images = tiny_images(12)
    _hf(images, [i % 3 for i in range(12)], image="img", label="y").save_to_disk(str(tmp_path / "saved"))
    data = open_dataset(tmp_path / "saved")
    assert data.source == {"kind": "hf", "path": str((tmp_path / "saved").resolve()), "image_column": "img",
                           "label_column": "y"}
    assert open_dataset(str(tmp_path / "saved")).fingerprint() == data.fingerprint()  # stable across loads
    spec = tiny_spec()
    tables_equal(mine(spec, data, k=4, batch_size=5, bar=False),
                 mine(spec, Labelled(images, [i % 3 for i in range(12)]), k=4, batch_size=5, bar=False))

    dd = datasets.DatasetDict({"train": _hf(images[:6], [0] * 6), "val": _hf(images[6:], [1] * 6)})
    dd.save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(CNNVizError, match="splits train, val"):
        open_dataset(tmp_path / "dict")
    assert len(open_dataset(tmp_path / "dict" / "val")) == 6

    args = ["mine", "--model", "squeezenet1_1", "--layers", "features.0", "--json", "--quiet"]
    assert main([*args, "--data", str(tmp_path / "saved"), "--out", str(tmp_path / "cache")]) == 0
    assert '"images": 12' in capsys.readouterr().out
    assert main([*args, "--data", str(tmp_path / "saved"), "--label-column", "nope", "--out", str(tmp_path / "c")]) == 2
    assert "no label column 'nope'" in capsys.readouterr().err
    from cnnviz_widget import load_model

    loaded = Exemplars.load(tmp_path / "cache", model=load_model("squeezenet1_1"))
    assert loaded.class_names == ["a", "b", "c"] and loaded.image(4).size == (8, 8)  # reopened from the folder


# ---------------------------------------------------------------------------------------- named datasets
WNIDS = ["n01440764", "n02102040"]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """$CNNVIZ_DATA in a temporary folder, and torchvision's downloader failing as on a machine without network."""
    calls = []

    def no_network(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(torchvision.datasets.imagenette, "download_and_extract_archive", no_network)
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", no_network)
    return calls


def test_named_datasets_offline_say_where_to_put_a_copy(offline, tmp_path):
    root = tmp_path / "data"
    with pytest.raises(CNNVizError) as error:
        open_dataset("imagenette")
    message = str(error.value)
    assert "Imagenette (val split) is not in" in message and "could not be downloaded" in message
    assert "Temporary failure in name resolution" in message
    assert f"unpack https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz into {root}" in message
    assert f"{root}/imagenette2-320/val/<wnid>/*.JPEG" in message and "$CNNVIZ_DATA" in message
    with pytest.raises(CNNVizError, match=r"CIFAR-10 \(train split\) is not in .*cifar-10-python.tar.gz into "):
        open_dataset("cifar10:train")
    assert offline == ["https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz",
                       "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    with pytest.raises(CNNVizError, match="splits val, train, not 'test'"):
        open_dataset("imagenette:test")
    assert main(["mine", "--data", "cifar10", "--out", str(tmp_path / "c"), "--quiet"]) == 2


def test_imagenette_local_copy(offline, tmp_path):
    val = tmp_path / "data" / "imagenette2-320" / "val"
    for w, wnid in enumerate(WNIDS):
        (val / wnid).mkdir(parents=True)
        for j in range(2):
            Image.new("RGB", (40, 30), (w * 100, j * 50, 7)).save(val / wnid / f"ILSVRC2012_val_{w}{j}.JPEG")
    data = open_dataset("imagenette")
    assert offline == []  # found on disk: nothing downloaded
    assert data.ids[0] == "n01440764/ILSVRC2012_val_00.JPEG" and len(data) == 4
    assert data.class_names == ["tench", "English springer"] and [i.label for i in data] == [0, 0, 1, 1]
    assert data.source == {"kind": "folder", "path": str(val.resolve())}
    assert data.fingerprint() == open_dataset(val).fingerprint()  # the same cache as the folder itself


def _cifar_copy(root: Path, monkeypatch) -> dict:
    """A CIFAR-10 copy in torchvision's format (batches of 2 images each), with the checksums torchvision checks
    set to this copy's."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    arrays = {}
    for n, name in enumerate(names):
        data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        arrays[name] = data
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": data, "labels": [n % 10, (n + 1) % 10]}, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, fh)

    def md5(name):
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    cifar = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cifar, "train_list", [[n, md5(n)] for n in names[:5]])
    monkeypatch.setattr(cifar, "test_list", [["test_batch", md5("test_batch")]])
    monkeypatch.setattr(cifar, "meta", {**cifar.meta, "md5": md5("batches.meta")})
    return arrays


def test_cifar10_local_copy(offline, tmp_path, monkeypatch):
    arrays = _cifar_copy(tmp_path / "data", monkeypatch)
    test = open_dataset("cifar10")
    assert offline == [] and len(test) == 2 and test.name == "CIFAR-10 test (2 images)"
    assert test.class_names[:2] == ["class0", "class1"] and [i.label for i in test] == [5, 6]
    pixels = arrays["test_batch"][1].reshape(3, 32, 32).transpose(1, 2, 0)
    assert np.array_equal(np.asarray(test.read(1).image), pixels)
    train = open_dataset("cifar10:train")
    assert len(train) == 10 and train.fingerprint() != test.fingerprint()
    assert reopen(test.source).fingerprint() == test.fingerprint() == open_dataset("CIFAR10").fingerprint()


def test_an_existing_path_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (9, 9)).save(Path("cifar10.png"))
    (tmp_path / "cifar10").mkdir()
    Image.new("RGB", (9, 9)).save(tmp_path / "cifar10" / "a.png")
    assert open_dataset("cifar10").ids == ["a.png"]


def test_mining_a_named_copy_equals_mining_its_images(offline, tmp_path, monkeypatch):
    _cifar_copy(tmp_path / "data", monkeypatch)
    data = open_dataset("cifar10:train")
    from cnnviz_widget import ImagePreprocess, load_model

    spec = load_model(torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3)), preprocess=ImagePreprocess(
        size=32, resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)), name="c")
    items = [data.read(i) for i in range(len(data))]
    tables_equal(mine(spec, data, k=3, batch_size=4, bar=False),
                 mine(spec, Labelled([i.image for i in items], [i.label for i in items]), k=3, batch_size=4, bar=False))
    assert torch.equal(torch.tensor(data.read(0).image.size), torch.tensor([32, 32]))


@pytest.mark.slow
def test_torchrun_splits_tar_shards_like_one_process(tmp_path, capsys):
    make_shards(tmp_path / "shards", tiny_images(11), per_shard=4)
    pattern = str(tmp_path / "shards" / "train-{0000..0002}.tar")
    args = ["mine", "--model", "squeezenet1_1", "--layers", "features.0", "features.3.expand1x1", "--batch-size", "3",
            "--json", "--quiet", "--data", pattern]
    torchrun = Path(sys.executable).parent / "torchrun"
    out = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "cnnviz_widget.cli", *args,
                          "--out", str(tmp_path / "two")], env={**os.environ, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout)["images"] == 11
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the thread count each torchrun process had (CPU convolutions round per split)
    try:
        assert main([*args, "--out", str(tmp_path / "one")]) == 0
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    two, one = Exemplars.load(tmp_path / "two"), Exemplars.load(tmp_path / "one")
    assert two.key == one.key
    tables_equal(two, one)
    assert two._state["ids"] == one._state["ids"]
