"""The package's layering, checked from the source: data flows one way, engine → encode → widget layer.

* The engine (``cnnviz_widget/engine``) imports nothing of the widget layer, nor ipywidgets / anywidget / traitlets;
  of the package outside itself it uses only ``cnnviz_widget.errors`` and the version.
* Inside the engine, subpackages import downward only, in this order (a module may import its own level and the
  levels below): ``cache``/``progress`` → ``model`` → ``projection`` → ``explorer`` → ``exemplars`` → ``experiments``.
* ``encode`` (tensors → display bytes) imports no widget-layer module either.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnviz_widget"
ENGINE_LEVELS = {"cache": 0, "progress": 0, "model": 1, "projection": 2, "explorer": 3, "exemplars": 4,
                 "experiments": 5}
WIDGET_LIBRARIES = ("ipywidgets", "anywidget", "traitlets")
#: What the engine may use of the package outside itself: its errors and the version (stamped into caches).
ENGINE_MAY_USE = ("cnnviz_widget.errors", "cnnviz_widget.__version__")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def _engine_level(module: str) -> int | None:
    parts = module.split(".")
    if parts[:2] != ["cnnviz_widget", "engine"] or len(parts) < 3:
        return None
    return ENGINE_LEVELS.get(parts[2])


ENGINE_FILES = sorted((PACKAGE / "engine").rglob("*.py"))


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_engine_never_imports_the_widget_layer(path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] not in WIDGET_LIBRARIES, f"{path.name} imports {name}"
        if name.startswith("cnnviz_widget.") and not name.startswith("cnnviz_widget.engine"):
            assert name.startswith(ENGINE_MAY_USE), f"{path.name} imports {name} (outside the engine)"


@pytest.mark.parametrize("path", [p for p in ENGINE_FILES if p.name != "__init__.py" or p.parent.name != "engine"],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_engine_subpackages_import_downward_only(path: Path) -> None:
    own = _engine_level(_module_name(path))
    assert own is not None, f"{path} is in no known engine level — add its subpackage to ENGINE_LEVELS"
    for name in _imports(path):
        level = _engine_level(name)
        if level is not None:
            assert level <= own, f"{_module_name(path)} (level {own}) imports {name} (level {level}), an upper level"


@pytest.mark.parametrize("path", sorted((PACKAGE / "encode").rglob("*.py")), ids=lambda p: p.name)
def test_encode_imports_no_widget_layer_module(path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] not in WIDGET_LIBRARIES
        if name.startswith("cnnviz_widget."):
            assert name.startswith(("cnnviz_widget.engine", "cnnviz_widget.errors", "cnnviz_widget.encode")), name


def test_test_files_have_unique_names():
    """pytest imports test modules by file name (tests/ has no packages): two folders may not share one."""
    names = [p.name for p in (PACKAGE.parent / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "export").rglob("*.py")), ids=lambda p: p.name)
def test_the_html_export_uses_only_the_widgets_public_api(path: Path) -> None:
    """The saved page is built from public state (``widget.session``, ``widget.panels``, traits, ``state/``
    functions): no ``widget._anything``."""
    assert not re.findall(r"\bwidget\._\w+", path.read_text(encoding="utf-8"))
