"""The emulator's clock: wall-clock time (``real``) or time that only moves when told (``manual``).

Asynchronous work (a connection attempt, a disconnect, reads catching up, a key deletion
window) is due at a time on this clock. ``POST /_ckspec/wait`` moves either clock forward
at once, so tests never sleep; with ``real`` time also passes by itself.
"""

from __future__ import annotations

import time

from ckspec.conformance.control import CLOCKS


class Clock:
    """Seconds since the account was created (or last reset)."""

    def __init__(self, kind: str) -> None:
        if kind not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {kind!r}")
        self.kind = kind
        self._started = time.monotonic()
        self._skipped = 0.0

    @property
    def real(self) -> bool:
        return self.kind == "real"

    def now(self) -> float:
        elapsed = time.monotonic() - self._started if self.real else 0.0
        return elapsed + self._skipped

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass at once (``POST /_ckspec/wait``)."""
        self._skipped += seconds
