"""Answer keys: which saved result answers which selection, in a page without a kernel (the HTML export).

The exported page (``js/src/static-model.js``) answers a change of the selection by looking up the result saved
under the key of the new selection. The keys are defined here, once: :data:`ANSWER_KEYS` is written into the page,
whose ``answerKeys(model, spec)`` (``js/src/protocol.js``) builds the same text from it — a test runs both on the
same states. A panel whose result depends on the selection adds its entry here and saves its results under
:func:`answer_key`; the front end needs no change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ANSWER_KEYS", "answer_key", "field_text"]

#: For each answered trait: the selection traits its key is made of (``fields``, in order) and, optionally, a trait
#: that must be true for the trait to be asked for at all (``when``).
ANSWER_KEYS: dict[str, dict[str, Any]] = {
    "atlas": {"fields": ["layer"]},
    "unit": {"fields": ["layer", "channel", "position", "rule", "display", "crop"]},
    "top9": {"fields": ["layer", "channel", "rule", "display", "crop"]},
    "layer_atlas": {"fields": ["layer", "layer_atlas_page", "rule", "display", "crop", "sort_by"],
                    "when": "layer_atlas_open"},
    "synthesis_result": {"fields": ["layer", "channel"]},
    # No "when": class 0 is a class. With no class chosen the key starts with "|", under which nothing is saved.
    "class_evidence": {"fields": ["class_target", "class_layer", "class_counterfactual"]},
}


def field_text(value: Any) -> str:
    """One field of a key: a list → its items joined with ``","``; ``None`` → ``""``; a bool → ``"true"`` /
    ``"false"``; a number or a text as it reads (integral floats as integers, as JavaScript writes them)."""
    if isinstance(value, (list, tuple)):
        return ",".join(field_text(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def answer_key(trait: str, state: Mapping[str, Any]) -> str | None:
    """The key under which ``trait``'s result for the selection in ``state`` is saved (``None``: not asked for).

    Example::

        answer_key("unit", {"layer": "features.3", "channel": 5, "position": [2, 7], "rule": "guided",
                            "display": "auto", "crop": "auto"})
        # 'features.3|5|2,7|guided|auto|auto'
    """
    spec = ANSWER_KEYS[trait]
    when = spec.get("when")
    if when is not None and not state.get(when):
        return None
    return "|".join(field_text(state.get(name)) for name in spec["fields"])
