"""Saved failure traces: JSON files that ``ckspec replay FILE --target T`` reruns.

A trace holds the steps after the starting account (in the model's identifiers, passwords
as aliases), the target seed that made the failing example, and what failed. Traces in the
failures folder are replayed first by the next ``ckspec check`` (the regression gate).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import attrs

from .steps import Step, from_json, to_json

FORMAT = "ckspec-trace/1"


class TraceError(ValueError):
    """A file that is not a ckspec trace."""


@attrs.frozen
class Trace:
    target: str
    seed: int
    steps: tuple[Step, ...]
    failure: dict[str, Any]


def save_trace(folder: Path, target: str, failure: Any) -> Path:
    steps = [to_json(s) for s in failure.steps]
    data = {
        "format": FORMAT,
        "target": target,
        "seed": failure.target_seed,
        "failure": {"message": failure.message, "rules": list(failure.rules), "expected": list(failure.expected),
                    "observed": failure.observed},
        "steps": steps,
        "program": failure.program,
    }
    text = json.dumps(data, indent=2, default=str)
    digest = hashlib.sha256(json.dumps(steps, default=str).encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", target).strip("-")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}-{digest}.json"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def load_trace(path: Path) -> Trace:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TraceError(f"cannot read trace {str(path)!r}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TraceError(f"{path}: not a JSON trace ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraceError(f"{path}: not a ckspec trace (expected \"format\": \"{FORMAT}\")")
    if not isinstance(data.get("steps"), list) or not isinstance(data.get("seed", 0), int):
        raise TraceError(f"{path}: a trace needs a list of steps and an integer seed")
    try:
        steps = tuple(from_json(s) for s in data["steps"])
    except (ValueError, TypeError) as exc:
        raise TraceError(f"{path}: bad step: {exc}") from None
    return Trace(str(data.get("target", "")), data.get("seed", 0), steps, dict(data.get("failure") or {}))
