"""Answer keys are defined once, in Python (``cnnviz_widget/state/keys.py``); the saved page builds them from that
spec in JavaScript (``js/src/protocol.js: answerKeys``). Both ends, run on the same states, give the same text."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cnnviz_widget.state.keys import ANSWER_KEYS, answer_key

REPO = Path(__file__).resolve().parents[2]
STATES = [
    {"layer": "features.3", "channel": 5, "position": "max", "rule": "deconvnet", "layer_atlas_open": False,
     "layer_atlas_page": 0, "sort_by": "channel"},
    {"layer": "layer4.1.conv2", "channel": 0, "position": [3, 12], "rule": "guided", "display": "auto",
     "crop": "center", "layer_atlas_open": True, "layer_atlas_page": 2, "sort_by": "strength"},
    {"layer": "fc|odd name,with separators", "channel": 511, "position": "map", "rule": "auto", "display": "norm",
     "crop": "auto", "layer_atlas_open": True, "layer_atlas_page": 0, "sort_by": "channel"},
    {"layer": "x", "channel": 1, "position": None, "rule": "deconvnet"},
    {"layer": "features.3", "channel": 5, "position": "max", "rule": "deconvnet", "class_target": 0,
     "class_layer": "features.12", "class_counterfactual": True},
    {"layer": "features.3", "channel": 5, "position": "max", "rule": "deconvnet", "class_target": None,
     "class_layer": "features.12", "class_counterfactual": False},
]
SPEC = {**ANSWER_KEYS, "future_panel": {"fields": ["future_target", "negate", "scale"], "when": "future_open"}}
EXTRA = [{"future_target": 207, "negate": True, "scale": 2.0, "future_open": 1},
         {"future_target": None, "negate": False, "scale": 0.5, "future_open": 0}]


def test_python_keys_read_as_documented():
    assert answer_key("unit", STATES[1]) == "layer4.1.conv2|0|3,12|guided|auto|center"
    assert answer_key("top9", STATES[2]) == "fc|odd name,with separators|511|auto|norm|auto"
    assert answer_key("layer_atlas", STATES[0]) is None
    assert answer_key("layer_atlas", STATES[1]) == "layer4.1.conv2|2|guided|auto|center|strength"
    assert answer_key("synthesis_result", STATES[0]) == "features.3|5"
    assert answer_key("class_evidence", STATES[4]) == "0|features.12|true"  # class 0 is asked for
    assert answer_key("class_evidence", STATES[5]) == "|features.12|false"  # no class: nothing is saved under it


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_python_and_the_page_build_the_same_keys(monkeypatch):
    monkeypatch.setitem(ANSWER_KEYS, "future_panel", SPEC["future_panel"])
    states = [*STATES, *({**STATES[0], **extra} for extra in EXTRA)]
    script = (
        "import { answerKeys } from './js/src/protocol.js';"
        "const [spec, states] = JSON.parse(process.argv[1]);"
        "const model = (s) => ({ get: (k) => s[k] });"
        "console.log(JSON.stringify(states.map((s) => answerKeys(model(s), spec))));"
    )
    out = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps([SPEC, states])], cwd=REPO,
                         capture_output=True, text=True, check=True, timeout=60)
    page = json.loads(out.stdout)
    python = [{trait: answer_key(trait, state) for trait in SPEC} for state in states]
    assert page == python
