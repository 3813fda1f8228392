"""What ``pip install`` gives a user, built the way a release is.

``python -m build`` runs on a clean copy of the tree — the files git knows, as a fresh clone has them: no front-end
bundle, no ``node_modules`` — and makes an sdist, then a wheel *from that sdist*; the npm build hook
(hatch-jupyter-builder, ``[build-system]`` in pyproject) puts the front end in both. The wheel goes into a fresh
virtual environment that sees this environment's site-packages read-only (torch & co. are not downloaded again) but
not this source tree, where ``CNNViz()`` loads the real bundle and a plain ``jupyter lab`` — no flag — has Nagle's
algorithm off on its kernel websockets. Offline: the build runs without isolation (its requirements are in the test
extra) and npm installs from its cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import jupyter_driver

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BUNDLE = ["cnnviz_widget/static/widget.js", "cnnviz_widget/static/export.js", "cnnviz_widget/static/widget.css"]


@dataclass
class Release:
    """The built distributions and the fresh environment the wheel went into."""

    sdist: Path
    wheel: Path
    python: Path  # the fresh environment's interpreter
    prefix: Path
    site_packages: Path
    env: dict[str, str]  # for its processes: no PYTHONPATH, so this source tree stays out of sight
    source_esm: str  # CNNViz._esm of the clean copy before the build: a source tree without the bundle


def _run(args: list, **kwargs) -> str:
    """Run ``args``; return what it printed on stdout (raise with its output if it failed)."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise AssertionError(f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-3000:]}")
    return result.stdout


def _clean_copy(target: Path) -> None:
    """The files git knows (tracked, or new and not ignored), as a clone of this tree would have them."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: no clean copy of the tree to build from")
    listed = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO)
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of it
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Release:
    if shutil.which("npm") is None:
        pytest.skip("npm is missing: the build hook needs it (Debian: apt-get install npm)")
    tmp = tmp_path_factory.mktemp("release")
    clean = tmp / "clean"
    _clean_copy(clean)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    assert not (clean / BUNDLE[0]).exists()
    source_esm = _run([sys.executable, "-c", "from cnnviz_widget.widget import CNNViz; print(CNNViz._esm)"],
                      cwd=clean, env=env)

    npm_offline = {"npm_config_prefer_offline": "true", "npm_config_audit": "false", "npm_config_fund": "false",
                   "npm_config_update_notifier": "false"}
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", tmp / "dist", clean], env={**env, **npm_offline})
    (sdist,), (wheel,) = sorted((tmp / "dist").glob("*.tar.gz")), sorted((tmp / "dist").glob("*.whl"))

    prefix = tmp / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", prefix])
    python = prefix / "bin" / "python"
    site_packages = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip())
    # This environment's packages, read-only: a path in a .pth file is added to sys.path, but the .pth files in it
    # (this source tree's editable install among them) are not processed.
    (site_packages / "_cnnviz_test_base.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "--no-warn-script-location",
          "--disable-pip-version-check", "--quiet", wheel], env=env)
    return Release(sdist, wheel, python, prefix, site_packages, env, source_esm)


def test_the_sdist_and_the_wheel_carry_the_front_end(release):
    with tarfile.open(release.sdist) as sdist:
        top = f"{release.sdist.name.removesuffix('.tar.gz')}/"
        in_sdist = {m.name.removeprefix(top): m for m in sdist.getmembers()}
        sdist_bundle = sdist.extractfile(in_sdist[BUNDLE[0]]).read()
    with zipfile.ZipFile(release.wheel) as wheel:
        in_wheel = set(wheel.namelist())
        wheel_bundle = wheel.read(BUNDLE[0])
    # the sdist: the bundle, and what rebuilds it (sources, build script, lock file), without node_modules
    assert {*BUNDLE, "js/package.json", "js/package-lock.json", "js/build.mjs", "js/src/index.js",
            "jupyter-config/server-config/cnnviz_widget.nodelay.json", "notebooks/classroom-app.ipynb"} <= set(in_sdist)
    assert not [name for name in in_sdist if "node_modules" in name]
    # the wheel: the package with its bundle and the app's template; the server setting and the app notebook as data
    data = "-".join(release.wheel.name.split("-")[:2]) + ".data/data/"
    assert {*BUNDLE, "cnnviz_widget/share/voila/templates/cnnviz/index.html.j2",
            f"{data}etc/jupyter/jupyter_server_config.d/cnnviz_widget.nodelay.json",
            f"{data}share/cnnviz-widget/classroom-app.ipynb"} <= in_wheel
    assert not [name for name in in_wheel if name.startswith(("js/", "tests/", "notebooks/", "bench/"))]
    assert wheel_bundle == sdist_bundle  # the wheel was built from the sdist's bundle, not rebuilt
    assert b"cnnviz-root" in wheel_bundle and b"as default\n};" in wheel_bundle  # esbuild's ES module, unminified


def test_the_installed_wheel_loads_the_real_bundle(release):
    code = ("import json, sys, cnnviz_widget; from cnnviz_widget import CNNViz; "
            "from cnnviz_widget.app import installed_notebook; "
            "print(json.dumps({'file': cnnviz_widget.__file__, 'esm': str(CNNViz()._esm), 'path': sys.path, "
            "'notebook': str(installed_notebook())}))")
    seen = json.loads(_run([release.python, "-c", code], cwd=release.prefix, env=release.env))
    package = release.site_packages / "cnnviz_widget"
    assert Path(seen["file"]) == package / "__init__.py"
    # nothing of the source tree on the path (the project's own venv, seen read-only, may live inside it)
    assert not [p for p in seen["path"] if p.startswith(str(REPO)) and not p.startswith(sys.prefix)]
    assert seen["esm"] == (package / "static" / "widget.js").read_text()
    assert "the front end is not built" not in seen["esm"]
    assert Path(seen["notebook"]) == release.prefix / "share" / "cnnviz-widget" / "classroom-app.ipynb"
    # the same tree before the build (a checkout, or an editable install, without the bundle) says how to build it
    assert "the front end is not built" in release.source_esm and "make js" in release.source_esm


def _toggle_nodelay(release: Release, action: str) -> None:
    """``jupyter server extension <action> cnnviz_widget.nodelay`` in the fresh environment (its etc/jupyter)."""
    result = subprocess.run([release.python, "-m", "jupyter_server.extension.serverextension", action,
                             "cnnviz_widget.nodelay"], env=release.env, capture_output=True, text=True, check=True)
    assert "Extension successfully" in result.stderr, result.stderr


@pytest.mark.jupyter
@pytest.mark.parametrize("turned_off", [False, True], ids=["plain", "turned-off"])
def test_a_plain_jupyter_lab_of_the_installed_wheel_turns_nagle_off(release, tmp_path, turned_off):
    """No flag: the environment's installed config enables the extension; the README's off switch
    (``jupyter server extension disable cnnviz_widget.nodelay``) turns it off again."""
    pytest.importorskip("jupyterlab")
    env = {**release.env, "JUPYTER_CONFIG_DIR": str(tmp_path / "user-config")}  # not the real ~/.jupyter
    if turned_off:
        _toggle_nodelay(release, "disable")
    server = jupyter_driver.JupyterServer(tmp_path, python=release.python, env=env)
    try:
        server.wait()
        kernel = jupyter_driver.start_kernel(server)
        url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel}/channels"
        assert jupyter_driver.kernel_websocket_nodelay(server.process.pid, url) is not turned_off
        assert ("cnnviz_widget.nodelay: TCP_NODELAY on kernel websockets" in server.log()) is not turned_off
    finally:
        server.stop()
        if turned_off:
            _toggle_nodelay(release, "enable")
