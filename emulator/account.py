"""One emulated AWS account: the reference model, its clock, and CloudHSM's extra details.

The model answers every KMS call and applies every environment event through
:class:`~ckspec.conformance.reference.ReferenceTarget`, which also hands out the
random-looking identifiers callers see. The emulator's threads share one :class:`Account`
and take :attr:`Account.lock` around everything they do with it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from ckspec.conformance.reference import ReferenceTarget
from ckspec.model import identifiers as ids
from ckspec.model.world import Backup, Cluster, World

from .clock import Clock
from .cluster_details import ClusterDetails
from .kms_state import KmsState
from .options import ServeOptions

#: the account's own memo of the model's outcomes (least recently used first out): repeated
#: reads of one state hit it, and it stays this size however long the server runs
MEMO_ENTRIES = 2048


class Account:
    """The state behind the endpoint; hold :attr:`lock` while using it."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.lock = threading.RLock()
        #: called, under the lock, with each KMS call the model accepted (operation, request as
        #: the caller sent it): in-process tests act at that moment (the testing kit's faults
        #: that arise while a connection attempt is in flight). Not cleared by a reset.
        self.call_observers: list[Callable[[str, dict[str, Any]], None]] = []
        self.reset(options.seed)

    def reset(self, seed: int | None) -> None:
        """A fresh, empty account (``POST /_ckspec/reset``). Random bytes and key material are
        the operating system's unless ``seed`` is given (:mod:`.kms_state`)."""
        o = self.options
        self.model = ReferenceTarget(seed or 0, choices=o.choices, lag=o.lag > 0, work_delay=o.connect_delay,
                                      lag_delay=o.lag or 0.5, controlled_clock=True, memo_size=MEMO_ENTRIES)
        self.clock = Clock(o.clock)
        self.details = ClusterDetails(random.Random((seed or 0) ^ 0xC105_7E2))
        self.kms = KmsState(seed, self.clock.now)

    @property
    def world(self) -> World:
        return self.model.world

    # --- time ------------------------------------------------------------------------------
    def catch_up(self) -> None:
        """Complete the asynchronous work that is due by now (a real clock moves by itself)."""
        late = self.clock.now() - self.model.now
        if late > 0:
            self.model.wait(late)

    def wait(self, seconds: float) -> float:
        """Let ``seconds`` pass at once; the account's time afterwards."""
        self.clock.advance(seconds)
        self.catch_up()
        return self.model.now

    # --- identifiers -----------------------------------------------------------------------
    def foreign(self, model_id: str, field: str = "Id") -> str:
        """The identifier callers see for one of the model's."""
        return self.model.ids.outbound(model_id, field)

    def serial(self, foreign: str, parse: Callable[[object], int | None]) -> int | None:
        """The model's serial number behind an identifier this account handed out, else None
        (an identifier nobody handed out never reaches the model)."""
        model_id = self.model.ids.back.get(foreign)
        return None if model_id is None else parse(model_id)

    def cluster(self, foreign: str) -> Cluster | None:
        return self.world.cluster(self.serial(foreign, ids.parse_cluster_id))

    def backup(self, foreign: str) -> Backup | None:
        return self.world.backup(self.serial(foreign, ids.parse_backup_id))
