"""``w.mine(...)`` takes every dataset form mining reads: tar shards, a Hugging Face dataset, its saved folder.

The net and images are those of ``test_exemplar_panels``: the red unit's top-9 is a, b, d, c, e (values 250, 200,
150, 100, 0), whatever form holds the five images.
"""

from __future__ import annotations

import io
import tarfile

import pytest
from test_exemplars import IMAGES, LABELS, PRE, make_image, net

from cnnviz_widget import CNNViz

RED_TOP = [250.0, 200.0, 150.0, 100.0, 0.0]


def _widget() -> CNNViz:
    return CNNViz(model=net(), preprocess=PRE, labels=LABELS, image=make_image([]), gallery=[])


def _mined(data) -> CNNViz:
    w = _widget()
    w.mine(data)
    assert w.wait_exemplars(60)
    assert w.mining["state"] == "complete" and w.mining["images"] == 5
    return w


def test_mine_tar_shards(tmp_path):
    for s, names in enumerate((list(IMAGES)[:3], list(IMAGES)[3:])):
        with tarfile.open(tmp_path / f"part-{s:02d}.tar", "w") as tar:
            for name in names:
                buffer = io.BytesIO()
                make_image(IMAGES[name]).save(buffer, format="PNG")
                info = tarfile.TarInfo(name.replace(".png", "") + ".png")
                info.size = buffer.tell()
                tar.addfile(info, io.BytesIO(buffer.getvalue()))
    w = _mined(str(tmp_path / "part-{00..01}.tar"))
    top = w.top9["exemplars"]
    assert [e["value"] for e in top] == RED_TOP
    assert [e["id"] for e in top] == ["part-00.tar/cat/a", "part-00.tar/cat/b", "part-01.tar/dog/d",
                                      "part-00.tar/dog/c", "part-01.tar/dog/e"]
    assert w.mining["dataset"] == f"tar shards {tmp_path}/part-{{00..01}}.tar (2 shards, 5 images)"


def test_mine_a_hugging_face_dataset_and_its_saved_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog"])})
    ds = datasets.Dataset.from_dict({"image": [make_image(p) for p in IMAGES.values()],
                                     "label": [0 if n.startswith("cat") else 1 for n in IMAGES]}, features=features)
    w = _mined(ds)
    assert [(e["value"], e["id"], e["label_name"]) for e in w.top9["exemplars"]] == [
        (250.0, "0", "cat"), (200.0, "1", "cat"), (150.0, "3", "dog"), (100.0, "2", "dog"), (0.0, "4", "dog")]
    ds.save_to_disk(str(tmp_path / "saved"))
    assert [e["value"] for e in _mined(tmp_path / "saved").top9["exemplars"]] == RED_TOP
