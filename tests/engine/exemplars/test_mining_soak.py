"""Mining survives what long runs meet: kills at any moment, a full disk, damaged cache files.

The soak (slow): a folder of generated JPEGs mined by a worker process killed with SIGKILL at three random moments,
then resumed, ends with a ``result.pt`` byte for byte equal to an uninterrupted run's. ``bench/mining_soak.py``
runs the same at full size (20,000 images, SqueezeNet) and also measures peak memory against 2,000 images.
"""

import errno
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz_widget import CNNVizError
from cnnviz_widget.engine import cache
from cnnviz_widget.engine.cache import load_checked
from cnnviz_widget.engine.exemplars.mining import Miner, mine
from cnnviz_widget.engine.exemplars.results import Exemplars

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from test_mining import tables_equal, tiny_images, tiny_spec  # noqa: E402


def jpeg_folder(folder: Path, n: int) -> Path:
    """``n`` seeded 40×32 grey JPEGs: a background and a bright block (decoded at half size for the 8 px net)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        a = np.full((32, 40), rng.integers(0, 60), np.uint8)
        y, x = rng.integers(0, 24), rng.integers(0, 32)
        a[y:y + 8, x:x + 8] = rng.integers(60, 256)
        Image.fromarray(a).save(folder / f"im{i:05d}.jpg", quality=90)
    return folder


def _entry(root: Path) -> Path:
    return next(p for p in root.iterdir() if p.is_dir())


def _fail_fsync_of_file(number: int, monkeypatch) -> list[int]:
    """Make the ``number``-th fsync of a file (not a folder) fail as a full disk does; returns the call count."""
    calls = [0]
    real = os.fsync

    def fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):
            calls[0] += 1
            if calls[0] == number:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(cache.os, "fsync", fsync)
    return calls


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one_and_says_so(tmp_path, monkeypatch):
    images = tiny_images(40)
    clean = mine(tiny_spec(), images, k=4, batch_size=2, bar=False)
    # fsyncs of files: key.json, then one checkpoint per batch (checkpoint_every=0): the 4th is batch 3's
    _fail_fsync_of_file(4, monkeypatch)
    miner = Miner(tiny_spec(), images, k=4, batch_size=2, cache_dir=tmp_path, checkpoint_every=0)
    with pytest.raises(CNNVizError) as error:
        miner.run(bar=False)
    message = str(error.value)
    assert message.startswith("the disk is full (No space left on device): writing the checkpoint ")
    assert "the previous checkpoint (4 images mined) is intact" in message
    assert "free some space on the disk holding" in message and "run again to resume" in message
    entry = _entry(tmp_path)
    assert sorted(p.name for p in (entry / "progress").iterdir()) == ["rank0-of-1.pt"]  # no temporary left
    kept = load_checked(entry / "progress" / "rank0-of-1.pt", miner.key)
    assert (kept["images"], kept["next"]) == (4, 2)
    monkeypatch.undo()
    resumed = Miner(tiny_spec(), images, k=4, batch_size=2, cache_dir=tmp_path).run(bar=False)
    tables_equal(resumed, clean)


def test_a_full_disk_before_any_checkpoint_and_for_the_result(tmp_path, monkeypatch):
    images = tiny_images(6)
    _fail_fsync_of_file(2, monkeypatch)  # the first checkpoint
    with pytest.raises(CNNVizError, match="no checkpoint had been written yet"):
        mine(tiny_spec(), images, k=4, batch_size=2, cache_dir=tmp_path / "a", checkpoint_every=0, bar=False)
    monkeypatch.undo()
    _fail_fsync_of_file(3, monkeypatch)  # checkpoint_every=60: key.json, the final checkpoint, the result
    with pytest.raises(CNNVizError, match=r"writing the result .*result.pt failed"):
        mine(tiny_spec(), images, k=4, batch_size=2, cache_dir=tmp_path / "b", bar=False)


def test_other_write_errors_are_not_called_a_full_disk(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(cache.os, "fsync", fsync)
    with pytest.raises(OSError, match="Input/output error"):
        mine(tiny_spec(), tiny_images(), k=4, cache_dir=tmp_path, bar=False)


def test_damaged_cache_files_are_noticed_and_recomputed(tmp_path):
    images = tiny_images(20)
    spec = tiny_spec()
    done = mine(spec, images, k=4, batch_size=2, cache_dir=tmp_path, bar=False)
    entry = _entry(tmp_path)
    whole = (entry / "result.pt").read_bytes()
    (entry / "result.pt").write_bytes(whole[: len(whole) // 2])
    with pytest.warns(RuntimeWarning, match=r"the mining result .*result.pt is damaged or unreadable \(cut short\?\)"):
        again = mine(spec, images, k=4, batch_size=2, cache_dir=tmp_path, bar=False)
    tables_equal(again, done)
    assert (entry / "result.pt").read_bytes() == whole

    key = (entry / "key.json").read_bytes()
    (entry / "key.json").write_bytes(key[:10])
    with pytest.raises(CNNVizError, match="no mined exemplars"):  # the entry cannot be listed: a clear error
        Exemplars.load(tmp_path)
    mine(spec, images, k=4, batch_size=2, cache_dir=tmp_path, bar=False)  # a cache hit that mends key.json
    assert (entry / "key.json").read_bytes() == key
    tables_equal(Exemplars.load(tmp_path), done)

    cancel = threading.Event()
    other = tmp_path / "partial"
    mine(spec, images, k=4, batch_size=2, cache_dir=other, checkpoint_every=0, cancel=cancel,
         progress=lambda d, t: cancel.set() if d >= 6 else None, bar=False)
    checkpoint = _entry(other) / "progress" / "rank0-of-1.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match="the mining checkpoint .* is damaged"):
        restarted = mine(spec, images, k=4, batch_size=2, cache_dir=other, bar=False)
    tables_equal(restarted, done)


WORKER = """
import sys
sys.path.insert(0, {here!r})
from test_mining import tiny_spec
from cnnviz_widget.engine.exemplars.mining import mine
result = mine(tiny_spec(delay={delay}), {folder!r}, k=4, batch_size=4, cache_dir=sys.argv[1], checkpoint_every=0,
              bar=False)
print("finished", result.images)
"""


def _progress(cache_dir: Path) -> int:
    """Images in the worker's checkpoint (0 before the first)."""
    found = list(cache_dir.glob("*/progress/rank0-of-1.pt"))
    if not found:
        return 0
    import torch

    try:
        return int(torch.load(found[0], weights_only=True)["images"])
    except Exception:  # being replaced at this very moment
        return -1


@pytest.mark.slow
def test_soak_three_random_sigkills_then_resume_is_byte_identical(tmp_path):
    folder = jpeg_folder(tmp_path / "jpegs", 240)
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(here=str(HERE), delay=0.02, folder=str(folder)))
    clean = subprocess.run([sys.executable, str(script), str(tmp_path / "clean")], capture_output=True, text=True,
                           timeout=300)
    assert clean.returncode == 0 and "finished 240" in clean.stdout, clean.stderr[-2000:]
    rng = random.Random(12)
    seen = []
    for _ in range(3):
        worker = subprocess.Popen([sys.executable, str(script), str(tmp_path / "killed")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        start = _progress(tmp_path / "killed")
        deadline = time.monotonic() + 60
        while _progress(tmp_path / "killed") <= max(start, 0) and time.monotonic() < deadline:
            time.sleep(0.005)  # wait until this run has checkpointed once, then kill at a random moment
        time.sleep(rng.uniform(0.0, 0.5))
        assert worker.poll() is None, "the worker finished before it could be killed"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        seen.append(_progress(tmp_path / "killed"))
    assert 0 < seen[0] < seen[1] < seen[2] < 240  # each run resumed where the last one's checkpoint was
    final = subprocess.run([sys.executable, str(script), str(tmp_path / "killed")], capture_output=True, text=True,
                           timeout=300)
    assert final.returncode == 0 and "finished 240" in final.stdout, final.stderr[-2000:]
    a, b = _entry(tmp_path / "clean"), _entry(tmp_path / "killed")
    assert a.name == b.name
    assert (a / "result.pt").read_bytes() == (b / "result.pt").read_bytes()
    assert list((b / "progress").iterdir()) == []
    result = Exemplars.load(tmp_path / "killed", model=tiny_spec())
    assert result.images == 240 and result.complete and result.top("conv1", 0)[0].value > 60
    assert result.key["decode"] == "jpeg-dct-reduced"  # the JPEGs were decoded at half size (40×32 for 8×8)
