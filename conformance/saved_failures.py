"""The saved failures folder (``.ckspec/failures``): what is in it, which failures still fail.

``ckspec check`` saves each failure it finds there as a trace (:mod:`.traces`) and replays them
first on the next run; the pytest plugin does the same. This module lists the folder
(:func:`listing`), replays a saved failure against the target it was saved for
(:func:`replay_saved`), and prunes the failures that no longer fail (:func:`prune`).

Pruning never loses a failure that still fails: a failure is removed only after a replay on its
own target passed (``conformant``); one that fails again, is inconclusive, cannot be replayed
(an unknown or unreachable target, an adapter that breaks the interface) or cannot be read is
kept. A file is removed only if it still holds the bytes that were replayed (a ``check`` running
meanwhile may have saved it again), and a removal is a single ``unlink``: an interrupted prune
leaves every file either whole or gone.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from .traces import Trace, TraceError, load_trace

#: what a replay says of a saved failure
STILL_FAILS, FIXED, INCONCLUSIVE, NOT_REPLAYED = "still fails", "fixed", "inconclusive", "not replayed"


@attrs.frozen
class SavedFailure:
    """One saved failure trace and what it records."""

    path: Path
    trace: Trace
    #: when it was saved (UTC ISO 8601; the file's modification time for older traces)
    saved: str
    #: SHA-256 of the file's bytes when read (a prune removes only those bytes)
    digest: str

    @property
    def rule(self) -> str:
        rules = self.trace.failure.get("rules") or []
        return str(rules[0]) if rules else "-"

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "target": self.trace.target, "rule": self.rule, "saved": self.saved,
                "steps": len(self.trace.steps), "message": self.trace.failure.get("message", "")}


@attrs.frozen
class Unreadable:
    """A file in the folder that is not a readable trace (kept, never pruned)."""

    path: Path
    reason: str


@attrs.frozen
class Replayed:
    """A saved failure and what replaying it on its target said."""

    failure: SavedFailure
    status: str  # STILL_FAILS, FIXED, INCONCLUSIVE or NOT_REPLAYED
    why: str = ""
    #: whether a prune removed it (or, on a dry run, would remove it)
    removed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.failure.as_dict(), status=self.status, why=self.why, removed=self.removed)


def listing(folder: Path, target: str | None = None) -> tuple[list[SavedFailure], list[Unreadable]]:
    """The saved failures in ``folder`` (of ``target`` only, if given), oldest first, and the
    ``*.json`` files that cannot be read as traces."""
    found, unreadable = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            data = path.read_bytes()
            trace = load_trace(path)
        except (TraceError, OSError) as exc:
            unreadable.append(Unreadable(path, str(exc)))
            continue
        if target is not None and trace.target != target:
            continue
        found.append(SavedFailure(path, trace, _saved(path, data), hashlib.sha256(data).hexdigest()))
    return sorted(found, key=lambda f: (f.saved, f.path.name)), unreadable


def _saved(path: Path, data: bytes) -> str:
    """The trace's own "saved" time, else the file's modification time."""
    import json

    try:
        saved = json.loads(data).get("saved")
    except (ValueError, AttributeError):
        saved = None
    if isinstance(saved, str) and saved:
        return saved
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def targets(open_target: Callable[[str], Any]) -> Iterator[Callable[[str], Any]]:
    """A ``target name -> spec`` function that opens each target once (a server it starts is shared
    by every failure saved for it) and closes them all at the end. ``open_target`` raises what
    :func:`~.targets.load_target` raises; the error is remembered and raised again for that name."""
    opened: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        def spec_for(name: str) -> Any:
            if name not in opened:
                try:
                    opened[name] = stack.enter_context(open_target(name))
                except Exception as exc:  # noqa: BLE001 - raised again, for every failure of that target
                    opened[name] = exc
            if isinstance(opened[name], Exception):
                raise opened[name]
            return opened[name]

        yield spec_for


def replay_saved(failure: SavedFailure, spec_for: Callable[[str], Any], **replay_options: Any) -> Replayed:
    """Replay one saved failure on the target it was saved for."""
    from . import AdapterError, TargetUnreachable
    from .engine import replay

    try:
        spec = spec_for(failure.trace.target)
    except Exception as exc:  # noqa: BLE001 - an unknown or unreachable target: the failure is kept
        return Replayed(failure, NOT_REPLAYED, f"cannot open target {failure.trace.target!r}: {exc}")
    try:
        outcome = replay(spec, failure.trace.steps, failure.trace.seed, **replay_options)
    except (TargetUnreachable, AdapterError) as exc:
        return Replayed(failure, NOT_REPLAYED, f"{type(exc).__name__}: {exc}")
    if outcome.verdict == "non-conformant":
        rules = getattr(getattr(outcome.error, "failure", None), "rules", ())
        return Replayed(failure, STILL_FAILS, f"broken rule {rules[0]}" if rules else "")
    if outcome.verdict == "inconclusive":
        return Replayed(failure, INCONCLUSIVE, str(outcome.error))
    return Replayed(failure, FIXED, "the steps pass")


def prune(failures: list[SavedFailure], spec_for: Callable[[str], Any], *, dry_run: bool = False,
          **replay_options: Any) -> list[Replayed]:
    """Replay each saved failure; remove those that pass (none on a dry run). Every other one is
    kept, and so is a file that changed since it was read."""
    out = []
    for failure in failures:
        done = replay_saved(failure, spec_for, **replay_options)
        if done.status == FIXED:
            if dry_run:
                done = attrs.evolve(done, removed=True)
            elif _remove_if_unchanged(failure):
                done = attrs.evolve(done, removed=True)
            else:
                done = attrs.evolve(done, why="kept: the file changed since it was replayed")
        out.append(done)
    return out


def _remove_if_unchanged(failure: SavedFailure) -> bool:
    try:
        now = hashlib.sha256(failure.path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return True  # already gone (another prune)
    if now != failure.digest:
        return False
    failure.path.unlink(missing_ok=True)
    return True
