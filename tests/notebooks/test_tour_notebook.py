"""notebooks/01-tour.ipynb runs top to bottom offline in a fresh kernel (nbclient, no browser), and tells its story:
the cells assert every fact the text relies on, so a change that breaks the story fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01-tour.ipynb"


@pytest.mark.slow
def test_tour_runs_top_to_bottom():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the tour without outputs"
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "-45° (\\): filter" in printed and "+45° (/): filter" in printed
    assert "the network says: Egyptian cat" in printed
    # the story's checkable facts (the notebook asserts the rest as it runs)
    assert "layer 5: 139×139 px,  62%  →  features.10 (63%)" in printed
    assert "of 9 birds" in printed and "of 9 vehicles" in printed
    assert "top-9 of 34 layers over 365 images" in printed
    assert "the evidence for Egyptian cat peaks at (" in printed and "), for cheetah at (" in printed  # Grad-CAM
