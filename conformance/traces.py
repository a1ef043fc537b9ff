"""Saved failure traces: JSON files that ``ckspec replay FILE --target T`` reruns.

A trace holds the steps after the starting account (in the model's identifiers, passwords
as aliases), the target seed that made the failing example, what failed, and when it was saved
(UTC; ``ckspec failures list`` falls back on the file's time for traces saved before that). Traces in the
failures folder are replayed first by the next ``ckspec check`` (the regression gate).

A trace is written through a temporary file and ``os.replace``, so a ``check`` killed while
it saves leaves the old file or the new one, never half of one; it is read through
:func:`ckspec.conformance.jsonfile.read_json` (regular files only, a size cap, bounded nesting).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from .jsonfile import DEFAULT_MAX_BYTES, JsonFileError, read_json
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
        "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
    _write_atomically(path, text + "\n")
    return path


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` (named ``.*.tmp``, so a reader of
    ``*.json`` never sees it), flush it to disk, then rename it over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_trace(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Trace:
    """Read a saved trace; TraceError (one line, naming the file) when it is not one."""
    try:
        data = read_json(path, max_bytes=max_bytes)
    except JsonFileError as exc:
        raise TraceError(str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraceError(f"{path}: not a ckspec trace (expected \"format\": \"{FORMAT}\")")
    seed, failure, target = data.get("seed", 0), data.get("failure") or {}, data.get("target", "")
    if not isinstance(data.get("steps"), list) or not isinstance(seed, int) or isinstance(seed, bool):
        raise TraceError(f"{path}: a trace needs a list of steps and an integer seed")
    if not isinstance(failure, dict) or not isinstance(target, str):
        raise TraceError(f"{path}: a trace's \"failure\" must be an object and its \"target\" a string")
    try:
        steps = tuple(from_json(s) for s in data["steps"])
    except (ValueError, TypeError) as exc:
        raise TraceError(f"{path}: bad step: {exc}") from None
    return Trace(target, seed, steps, dict(failure))
