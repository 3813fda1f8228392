"""The classroom notebooks run top to bottom offline in a fresh kernel (nbclient, no browser), in their quick form:
``CNNVIZ_QUICK=1`` shrinks the work (a training subset, fewer units and steps), ``CNNVIZ_OFFLINE=1`` keeps them from
trying a download, and an empty ``TORCH_HOME`` makes the torchvision notebook take its documented offline path.
Each runs in a copy under a temporary folder, so nothing it writes lands in the repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

#: What each notebook must print when it ran as meant (the story's checkable facts).
EXPECTED = {
    "02-paper-figures.ipynb": [
        "layer 1: features.0", "layer 5: features.10", "(epoch_00 | epoch_01 | epoch_02)", "epoch 2: test accuracy",
        "imagenet_15 · goose: true class goose", "p(goose) =",
        "Hamming distance of sign(ε) between image pairs", "features.9.squeeze", "features.7 channel 12: activation",
        "top-9 ready", "occlusion panel: 9×9 positions", "invariance panel: translate (13 steps)",
        "unit card: synthesised image of features.10", "evolution panel: 4 units × 3 checkpoints",
    ],
    "03-your-own-model.ipynb": [
        "No pretrained AlexNet here:", "load_model('alexnet', weights=None) for random weights",
        "AlexNet: random weights (untrained)", "features.0   conv 11×11/4", "a unit sees 11×11 pixels",
        "64 filters of 11×11 — random weights", "layers found: conv1 (conv 5×5 · 12×28×28), conv2",
        "CNNViz() got unknown keyword 'prepocess'",
    ],
    "04-train-your-own.ipynb": [
        "60000 training and 10000 test images", "epoch 2: training loss",
        "checkpoints: epoch_00.pth, epoch_01.pth, epoch_02.pth", "top-9 of 7 layers over 1000 images",
        "checkpoints: epoch_00, epoch_01, epoch_02", "smallzfnet.html:", "5 layers, 248 unit cards",
        "1000 test images mined (the quick run", "layer 5 = features.10", "units ≥ 6 of 9 one class",
    ],
    "05-why-projections-speckle.ipynb": [
        "images of the demo pool mined for 5 stages; 6 units per stage", "structure score (contour agreement)",
        "scale at the maximum vs at the 99.5th percentile", "conv1 covers each input pixel 1, 2 or 4 times",
        "[[1 1 2 1 2 1]", "with the switches vs spreading evenly", "defaults by the measure (6 units per stage)",
        "layer 1    features.0   deconvnet  ",
        "quick run: too few units to decide; the table at the top is the full run's",
    ],
}


def run_notebook(name: str, folder: Path) -> str:
    """Execute ``notebooks/<name>`` in a copy under ``folder``; return everything its cells printed."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    copy = folder / name
    shutil.copy(NOTEBOOKS / name, copy)
    nb = nbformat.read(copy, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"commit {name} without outputs"
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_QUICK", "1")
    monkeypatch.setenv("CNNVIZ_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    printed = run_notebook(name, tmp_path)
    missing = [text for text in EXPECTED[name] if text not in printed]
    assert not missing, f"{name} did not print {missing}; it printed:\n{printed[-3000:]}"
