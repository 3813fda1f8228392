"""The front end runs wherever anywidget does — JupyterLab, Notebook 7, Voilà, marimo (all four driven in
tests/browser), VS Code and Colab — so it may use nothing only some hosts provide: no Jupyter application globals,
no AMD loader (require.js), no host-specific API, and no document-wide lookups (marimo renders widgets inside a
shadow root, where ``document.querySelector`` cannot see them; a widget finds its own elements under its ``el``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "js" / "src"
SOURCES = sorted(SRC.rglob("*.js"))

HOST_ONLY = {
    "JupyterLab / Notebook application": r"\bjupyterapp\b|\bJupyter\.|\bIPython\b",
    "AMD loader (require.js)": r"\brequire(js)?\s*\(|\bdefine\s*\(",
    "Colab": r"\bgoogle\.colab\b",
    "VS Code": r"\bacquireVsCodeApi\b",
    "document-wide lookup": r"\bdocument\.(querySelector|querySelectorAll|getElementById|getElementsBy\w+)\s*\(",
}


def _code(path: Path) -> str:
    """The module without its comments (they may name the hosts)."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"/\*.*?\*/|(?<![:\"'`])//[^\n]*", "", text, flags=re.DOTALL)


def test_the_sources_are_there():
    assert len(SOURCES) > 20 and any(p.name == "index.js" for p in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_host_only_globals(path):
    code = _code(path)
    found = {what: m.group(0) for what, pattern in HOST_ONLY.items() if (m := re.search(pattern, code))}
    assert not found, f"{path.name} uses {found}"
