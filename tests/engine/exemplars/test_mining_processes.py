"""Mining across processes: killed with SIGKILL and resumed, and split by torchrun — each exactly one clean run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz_widget.cli import main
from cnnviz_widget.engine.exemplars.mining import mine
from cnnviz_widget.engine.exemplars.results import Exemplars

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from test_mining import tables_equal, tiny_images, tiny_spec  # noqa: E402

WORKER = """
import sys
sys.path.insert(0, {here!r})
from test_mining import tiny_images, tiny_spec
from cnnviz_widget.engine.exemplars.mining import mine
mine(tiny_spec(delay=0.03), tiny_images(60), k=4, batch_size=2, cache_dir={cache!r}, checkpoint_every=0, bar=False)
print("finished")
"""


def _checkpoint(cache: Path) -> Path | None:
    found = list(cache.glob("*/progress/rank0-of-1.pt"))
    return found[0] if found else None


def _stamp(cache: Path) -> int | None:
    path = _checkpoint(cache)
    try:
        return path.stat().st_mtime_ns if path is not None else None
    except FileNotFoundError:
        return None


def _kill_when(cache: Path, process: subprocess.Popen, after: float) -> None:
    """SIGKILL the worker ``after`` seconds past the moment it first writes its checkpoint."""
    before = _stamp(cache)
    deadline = time.monotonic() + 60
    while _stamp(cache) in (None, before) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(after)
    assert process.poll() is None, "the worker finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.slow
def test_killed_twice_with_sigkill_then_resumed_equals_one_clean_run(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(here=str(HERE), cache=str(tmp_path / "cache")))
    images = tiny_images(60)
    seen = []
    for after in (0.17, 0.29):  # arbitrary moments: mid-batch, mid-write, between — the files stay whole
        worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _kill_when(tmp_path / "cache", worker, after)
        assert worker.returncode == -signal.SIGKILL
        partial = Exemplars.load(tmp_path / "cache", model=tiny_spec())
        assert not partial.complete and 0 < partial.images < 60
        seen.append(partial.images)
    assert seen[1] > seen[0]  # the second run resumed from the first one's checkpoint
    resumed = mine(tiny_spec(), images, k=4, batch_size=2, cache_dir=tmp_path / "cache", bar=False)
    assert resumed.complete
    tables_equal(resumed, mine(tiny_spec(), images, k=4, batch_size=2, bar=False))
    entry = next((tmp_path / "cache").iterdir())
    assert sorted(p.name for p in entry.iterdir()) == ["key.json", "progress", "result.pt"]
    assert list((entry / "progress").iterdir()) == []  # checkpoints and temporaries are cleaned up


def _photos(folder: Path, n: int = 10) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        (folder / f"sub{i % 2}").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40 + 3 * i, 50, 3), dtype=np.uint8)).save(folder / f"sub{i % 2}" / f"p{i}.png")
    (folder / "sub0" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    return folder


ARGS = ["mine", "--model", "squeezenet1_1", "--layers", "features.0", "features.3.expand1x1", "--batch-size", "3",
        "--json", "--quiet"]


@pytest.mark.slow
def test_torchrun_two_processes_equals_one_process(tmp_path, capsys):
    data = _photos(tmp_path / "photos")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = Path(sys.executable).parent / "torchrun"
    out = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "cnnviz_widget.cli", *ARGS,
                          "--data", str(data), "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert (summary["images"], summary["skipped"], summary["complete"]) == (10, 1, True)

    # one process, with the thread count each torchrun process had (CPU convolutions round per thread split)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main([*ARGS, "--data", str(data), "--out", str(tmp_path / "one")]) == 0
    finally:
        torch.set_num_threads(threads)
    assert json.loads(capsys.readouterr().out)["images"] == 10
    two, one = Exemplars.load(tmp_path / "two"), Exemplars.load(tmp_path / "one")
    assert two.key == one.key
    tables_equal(two, one)
    assert two._state["ids"] == one._state["ids"] and two.skipped_items == one.skipped_items
    assert one.class_names == ["sub0", "sub1"]


def test_cli_errors_name_the_fix(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["mine", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "c"), "--quiet"]) == 2
    assert "no image files" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["mine", "--out", str(tmp_path / "c")])  # --data is required
    assert "--data" in capsys.readouterr().err


def test_cli_mines_your_own_module_by_factory_name(tmp_path, monkeypatch, capsys):
    """`cnnviz mine --model package.module:factory` — the widget then opens the cache with the same model."""
    (tmp_path / "mynets_cli").mkdir()
    (tmp_path / "mynets_cli" / "__init__.py").write_text(
        "import torch\nfrom torch import nn\n\n\ndef make():\n    torch.manual_seed(5)\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = _photos(tmp_path / "photos")
    with pytest.warns(UserWarning, match="no preprocess given"):
        assert main(["mine", "--model", "mynets_cli:make", "--input-size", "32", "--layers", "0", "--data", str(data),
                     "--out", str(tmp_path / "cache"), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 10
    import mynets_cli

    from cnnviz_widget import ImagePreprocess, load_model

    with pytest.warns(UserWarning, match="no preprocess given"):
        spec = load_model(mynets_cli.make(), input_size=32)
    assert isinstance(spec.preprocess, ImagePreprocess)
    result = Exemplars.load(tmp_path / "cache", model=spec)
    assert result.images == 10 and result.layer_names == ["0"]
