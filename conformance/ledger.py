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

The ledger holds identifiers, names and the Region, never a password.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

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
    """A ledger file; every change is written through at once."""

    def __init__(self, path: Path = DEFAULT_LEDGER) -> None:
        self.path = Path(path)
        self.entries: dict[tuple[str, str], Entry] = {(e.kind, e.id): e for e in self._read()}

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self.entries.values()))

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry: Entry) -> None:
        if entry.kind not in KINDS:
            raise ValueError(f"ledger: unknown kind {entry.kind!r}")
        self.entries[(entry.kind, entry.id)] = entry
        self._write()

    def mark(self, entry: Entry, status: str) -> None:
        self.entries[(entry.kind, entry.id)] = attrs.evolve(entry, status=status)
        self._write()

    def remove(self, entry: Entry) -> None:
        self.entries.pop((entry.kind, entry.id), None)
        self._write()

    def _read(self) -> list[Entry]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise LedgerError(f"ledger {self.path}: cannot read it ({exc}); it was left as it is") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), list):
            raise LedgerError(f"ledger {self.path}: not a ckspec AWS ledger; it was left as it is")
        try:
            return [Entry(**item) for item in data["entries"]]
        except TypeError as exc:
            raise LedgerError(f"ledger {self.path}: a malformed entry ({exc}); it was left as it is") from None

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "version": 1, "entries": [e.as_json() for e in self.entries.values()]}
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
