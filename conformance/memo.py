"""A memo with a cap: the least recently used entry goes first once it is full.

:func:`~ckspec.conformance.checker.memoised_outcomes` takes one. A conformance run shares
one big memo across examples (their worlds recur); ``ckspec serve`` gives its account a small
one of its own, since a long-lived account's worlds almost never recur and an uncapped memo
grows with every call (issue 14: about 3.6 MiB per 1,000 Create/Delete cycles).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class BoundedMemo:
    """``get``, ``[key] = value``, ``len`` and ``clear`` of a dict, holding at most ``cap`` entries."""

    __slots__ = ("cap", "_entries")

    def __init__(self, cap: int) -> None:
        if not isinstance(cap, int) or cap < 1:
            raise ValueError(f"BoundedMemo: cap must be a whole number >= 1, got {cap!r}")
        self.cap = cap
        self._entries: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, default: Any = None) -> Any:
        found = self._entries.get(key, default)
        if found is not default:
            self._entries.move_to_end(key)
        return found

    def __setitem__(self, key: Any, value: Any) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.cap:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
