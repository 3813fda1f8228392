"""Train-your-own: the Fashion-MNIST reader, the small ZF-like net, and the trainer's checkpoints."""

import gzip

import numpy as np
import pytest
import torch

from cnnviz_widget import Explorer, load_model
from cnnviz_widget.demos import fashion
from cnnviz_widget.errors import CNNVizError


def _write_idx(folder, stem, array, header):
    with gzip.open(folder / f"{stem}.gz", "wb") as fh:
        fh.write(bytes(header) + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_fashion(tmp_path):
    """A 4-image stand-in written in the real IDX layout (16-byte image header, 8-byte label header)."""
    images = np.arange(4 * 28 * 28).reshape(4, 28, 28) % 256
    _write_idx(tmp_path, "t10k-images-idx3-ubyte", images, [0] * 16)
    _write_idx(tmp_path, "t10k-labels-idx1-ubyte", np.array([9, 0, 3, 7]), [0] * 8)
    return tmp_path, images


def test_reads_idx_files(tiny_fashion):
    root, images = tiny_fashion
    x, y = fashion.load_data("test", root=root)
    assert x.dtype == torch.uint8 and x.shape == (4, 28, 28)
    assert torch.equal(x, torch.from_numpy(images.astype(np.uint8)))
    assert y.tolist() == [9, 0, 3, 7]


@pytest.mark.skipif(not fashion.DEBIAN_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_reads_debians_package():
    x, y = fashion.load_data("test")
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert sorted(torch.bincount(y).tolist()) == [1000] * 10


def test_missing_files_name_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion, "DEBIAN_DIR", tmp_path / "nowhere")
    with pytest.raises(CNNVizError, match="apt-get install dataset-fashion-mnist.*download=True"):
        fashion.load_data("train", root=tmp_path)


def test_net_shapes_and_layers():
    torch.manual_seed(0)
    ex = Explorer(load_model(fashion.SmallZFNet(), preprocess=fashion.preprocess(), labels=list(fashion.CLASSES)))
    assert ex.filters().shape == (24, 1, 7, 7)
    assert ex.layer("features.12").shape == (48, 3, 3)
    assert ex.receptive_field("features.0", (10, 10)) == (7, 7, 14, 14)
    assert len(ex.predict(torch.zeros(1, 28, 28), k=3)) == 3


def test_training_learns_and_keeps_a_checkpoint_per_epoch(tmp_path):
    # 2 classes that differ in brightness: a few hundred steps separate them.
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (256,), generator=gen)
    images = (torch.rand(256, 28, 28, generator=gen) * 100 + labels[:, None, None] * 120).to(torch.uint8)
    torch.manual_seed(0)
    model = fashion.SmallZFNet()
    steps = []
    reports = fashion.train(model, images, labels, epochs=2, batch_size=32, checkpoint_dir=tmp_path,
                            test=(images, labels), progress=lambda step, total, loss: steps.append((step, total)))
    assert [r.epoch for r in reports] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_00.pth", "epoch_01.pth", "epoch_02.pth"]
    assert steps[-1] == (16, 16)
    assert reports[-1].accuracy == 1.0 and reports[-1].loss < reports[0].loss
    saved = torch.load(tmp_path / "epoch_02.pth", weights_only=True)
    assert torch.equal(saved["features.0.weight"], model.features[0].weight)
    assert not model.training
