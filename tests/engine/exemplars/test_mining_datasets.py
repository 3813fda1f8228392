"""open_dataset: every dataset form, stable ids, labels, unreadable items, fingerprints."""

import os

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from cnnviz_widget import CNNVizError, ImageError
from cnnviz_widget.engine.exemplars.datasets import ImageDataset, open_dataset


def _save(path, value, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, value, value)).save(path)


@pytest.fixture
def folder(tmp_path):
    _save(tmp_path / "cats" / "b.png", 10)
    _save(tmp_path / "cats" / "deep" / "a.jpg", 20)
    _save(tmp_path / "dogs" / "c.png", 30)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG nope")
    (tmp_path / "dogs" / "README.txt").write_text("ignored")
    (tmp_path / ".hidden").mkdir()
    _save(tmp_path / ".hidden" / "x.png", 40)
    return tmp_path


def test_folder_recursive_sorted_ids_and_subfolder_labels(folder):
    data = open_dataset(folder)
    assert data.ids == ["cats/b.png", "cats/deep/a.jpg", "dogs/broken.png", "dogs/c.png"]
    assert data.class_names == ["cats", "dogs"]
    items = list(data)
    assert [(i.index, i.id, i.label) for i in items] == [(0, "cats/b.png", 0), (1, "cats/deep/a.jpg", 0),
                                                          (3, "dogs/c.png", 1)]
    assert items[0].image.mode == "RGB" and items[0].image.getpixel((0, 0)) == (10, 10, 10)
    assert [s[0] for s in data.skipped] == ["dogs/broken.png"]
    with pytest.raises(ImageError, match="broken.png"):
        data.read(2)
    assert data.source == {"kind": "folder", "path": str(folder.resolve())}


def test_flat_folder_has_no_labels(tmp_path):
    _save(tmp_path / "a.png", 1)
    _save(tmp_path / "sub" / "b.png", 2)
    data = open_dataset(tmp_path)
    assert data.class_names is None and [i.label for i in data] == [None, None]


def test_imagefolder_matches_folder_ids_and_labels(folder):
    (folder / "dogs" / "broken.png").unlink()
    (folder / ".hidden" / "x.png").unlink()
    (folder / ".hidden").rmdir()  # ImageFolder would take it for a class
    tv = torchvision.datasets.ImageFolder(folder)
    data = open_dataset(tv)
    assert data.ids == open_dataset(folder).ids == ["cats/b.png", "cats/deep/a.jpg", "dogs/c.png"]
    assert [i.label for i in data] == [0, 0, 1]
    assert data.class_names == ["cats", "dogs"]
    assert data.source["kind"] == "folder"


def test_imagefolder_transform_gives_tensors(folder):
    tv = torchvision.datasets.ImageFolder(folder, transform=torchvision.transforms.PILToTensor())
    item = open_dataset(tv).read(1)
    assert isinstance(item.image, torch.Tensor) and item.image.shape == (3, 10, 12) and item.label == 1
    assert item.id == "cats/b.png"


def test_lists_of_paths_pil_and_arrays(folder):
    paths = [folder / "cats" / "b.png", str(folder / "dogs" / "c.png"), folder / "cats" / "b.png"]
    data = open_dataset(paths)
    assert data.ids == [str(paths[0]), str(paths[1]), str(paths[0]) + "#1"]  # unique even when repeated
    mixed = open_dataset([Image.new("L", (9, 9), 7), np.full((9, 9, 3), 200, np.uint8)])
    assert mixed.ids == ["0", "1"]
    assert [i.image.getpixel((0, 0)) for i in mixed] == [(7, 7, 7), (200, 200, 200)]


class Pairs(torch.utils.data.Dataset):
    classes = ("zero", "one")

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise OSError("disk error")
        return Image.new("RGB", (9, 9), (i, i, i)), torch.tensor(i % 2)


def test_torch_dataset_pairs_labels_and_failures():
    data = open_dataset(Pairs())
    assert [(i.id, i.label) for i in data] == [("0", 0), ("1", 1), ("3", 1)]
    assert data.skipped == [("2", "item '2' could not be read: OSError: disk error")]
    assert data.class_names == ["zero", "one"]


def test_dict_items():
    class Dicts(torch.utils.data.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return {"image": Image.new("RGB", (9, 9)), "label": 3}

    item = open_dataset(Dicts()).read(0)
    assert item.label == 3 and item.image.size == (9, 9)


def test_preprocessed_tensors_pass_through():
    xs = torch.randn(3, 1, 8, 8)
    data = open_dataset(torch.utils.data.TensorDataset(xs, torch.tensor([0, 1, 0])))
    x = data.read(1).image
    assert data.to_input(x, lambda im: pytest.fail("must not preprocess"), (1, 8, 8)) is x
    assert data.to_input(x, lambda im: "preprocessed", (3, 8, 8)) == "preprocessed"  # another shape: an image
    data = open_dataset(data, preprocessed=False)
    assert data.to_input(x, lambda im: "preprocessed", (1, 8, 8)) == "preprocessed"


def test_demo_dataset_is_offline_and_labelled():
    data = open_dataset("demo")
    if len(data) == 0:
        pytest.skip("no demo photo packages installed")
    assert data.ids[0] == "chelsea (cat)"
    imagenet = [i for i in range(len(data)) if data.id(i).startswith("imagenet_")]
    item = data.read(imagenet[0])
    assert item.label == 243 and data.class_names[243] == "bull mastiff"
    assert open_dataset("demo").fingerprint() == data.fingerprint()


def test_errors_name_the_fix(tmp_path):
    with pytest.raises(CNNVizError, match="no image files"):
        open_dataset(tmp_path)
    with pytest.raises(CNNVizError, match="no folder"):
        open_dataset(tmp_path / "missing")
    _save(tmp_path / "a.png", 1)
    with pytest.raises(CNNVizError, match="is a file"):
        open_dataset(tmp_path / "a.png")
    with pytest.raises(CNNVizError, match="empty"):
        open_dataset([])

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield Image.new("RGB", (9, 9))

    with pytest.raises(CNNVizError, match="random access"):
        open_dataset(Stream())
    with pytest.raises(CNNVizError, match="cannot read a dataset"):
        open_dataset(42)


def test_fingerprints_follow_contents(tmp_path, folder):
    base = open_dataset(folder).fingerprint()
    assert open_dataset(folder).fingerprint() == base  # stable
    assert open_dataset(torchvision.datasets.ImageFolder(folder, allow_empty=True)).fingerprint() != base
    _save(folder / "cats" / "b.png", 11)  # same name and size, new contents and time
    os.utime(folder / "cats" / "b.png", ns=(1, 1))
    changed = open_dataset(folder).fingerprint()
    assert changed != base
    _save(folder / "dogs" / "new.png", 1)
    assert open_dataset(folder).fingerprint() != changed
    a = open_dataset([Image.new("L", (9, 9), 7)]).fingerprint()
    assert a == open_dataset([Image.new("L", (9, 9), 7)]).fingerprint()
    assert a != open_dataset([Image.new("L", (9, 9), 8)]).fingerprint()
    pairs = open_dataset(Pairs())
    assert pairs.fingerprint() == open_dataset(Pairs()).fingerprint()
    assert open_dataset(Pairs(), fingerprint="v2").fingerprint() != pairs.fingerprint()
    assert isinstance(open_dataset(pairs), ImageDataset)
