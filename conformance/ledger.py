"""The ledger of what a run against a real AWS account created, so it can always be removed.

Every custom key store and KMS key an ``aws`` run creates is written here *before* the call
that created it returns to the engine (one JSON document, replaced atomically), so an
interrupted run (Ctrl-C, a crash, a lost laptop lid) leaves a complete list behind.
``ckspec cleanup`` reads it and removes what is listed, and an entry leaves the ledger only
once AWS says the resource is gone or going:

* a KMS key is scheduled for deletion with the shortest waiting period (7 days, KEY-...
  deletion rules); AWS keeps it ``PendingDeletion`` until then, so it stays listed as
  *pending* and a later cleanup finds it gone;
* a custom key store is disconnected and deleted, which AWS refuses while any key, even one
  pending deletion, is still in it (DELETE-02): the entry stays until its keys are gone.

The ledger holds identifiers, names and the Region, never a password. Processes sharing
one ledger serialise their changes with a lock file beside it (``aws-ledger.json.lock``);
see :class:`Ledger`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from .jsonfile import DEFAULT_MAX_BYTES, JsonFileError, read_json

try:
    import fcntl
except ImportError:  # not POSIX: one writer at a time is then up to the user
    fcntl = None  # type: ignore[assignment]

DEFAULT_LEDGER = Path(".ckspec") / "aws-ledger.json"
FORMAT = "ckspec-aws-ledger"
KINDS = ("store", "key")


class LedgerError(ValueError):
    """The ledger file cannot be read (not JSON, not a ledger)."""


@attrs.frozen
class Entry:
    kind: str  # "store" or "key"
    id: str
    region: str
    name: str = ""
    #: "created", or "pending" once a key is scheduled for deletion
    status: str = "created"

    def as_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class Ledger:
    """A ledger file; every change is written through at once.

    Several processes may share one ledger (two ``--target aws`` runs from one folder, a
    ``ckspec cleanup`` during a run): each change takes an exclusive ``flock`` on
    ``<ledger>.lock``, reads the file again under it, applies only its own change to what it
    read, and replaces the file atomically, so no process's entries are lost. ``entries`` is
    what the file held after this process's last read or change.
    """

    def __init__(self, path: Path = DEFAULT_LEDGER, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.entries: dict[tuple[str, str], Entry] = self._keyed(self._read())

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self.entries.values()))

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry: Entry) -> None:
        if entry.kind not in KINDS:
            raise ValueError(f"ledger: unknown kind {entry.kind!r}")
        self._change(lambda entries: entries.__setitem__((entry.kind, entry.id), entry))

    def mark(self, entry: Entry, status: str) -> None:
        """Give ``entry`` a new status (listing it again if another process removed it: a
        stale entry costs a cleanup call, a lost one a billed resource)."""
        changed = attrs.evolve(entry, status=status)
        self._change(lambda entries: entries.__setitem__((entry.kind, entry.id), changed))

    def remove(self, entry: Entry) -> None:
        self._change(lambda entries: entries.pop((entry.kind, entry.id), None))

    def _change(self, change: Callable[[dict[tuple[str, str], Entry]], Any]) -> None:
        """Read, change and write the ledger under its lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path.with_name(self.path.name + ".lock")):
            entries = self._keyed(self._read())
            change(entries)
            self._write(entries)
        self.entries = entries

    @staticmethod
    def _keyed(entries: list[Entry]) -> dict[tuple[str, str], Entry]:
        return {(e.kind, e.id): e for e in entries}

    def _read(self) -> list[Entry]:
        try:
            data = read_json(self.path, max_bytes=self.max_bytes, missing=None)
        except JsonFileError as exc:
            raise LedgerError(f"ledger: {exc}; it was left as it is") from None
        if data is None:
            return []
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), list):
            raise LedgerError(f"ledger {self.path}: not a ckspec AWS ledger; it was left as it is")
        try:
            return [_entry(item) for item in data["entries"]]
        except (TypeError, ValueError) as exc:
            raise LedgerError(f"ledger {self.path}: a malformed entry ({exc}); it was left as it is") from None

    def _write(self, entries: dict[tuple[str, str], Entry]) -> None:
        data = {"format": FORMAT, "version": 1, "entries": [e.as_json() for e in entries.values()]}
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".ledger-", suffix=".json")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(data, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_folder(self.path.parent)


def _entry(item: Any) -> Entry:
    if not isinstance(item, dict):
        raise TypeError(f"expected an object, got {type(item).__name__}")
    entry = Entry(**item)
    if entry.kind not in KINDS or not all(isinstance(v, str) for v in entry.as_json().values()):
        raise ValueError(f"expected kind {' or '.join(KINDS)} and string fields, got {item}")
    return entry


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``lock`` (created if missing, kept afterwards: removing a lock
    file another process is waiting on would let a third one in beside it)."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (a crash just after it must not bring the old file back)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
