"""The reference target: the model itself behind the adapter interface.

It answers every call from the model, hands out its own identifiers (so the engine's ID
mapping is exercised on every run), shows reads that lag behind writes (AMB-30, T-02), and
completes asynchronous work through a scheduler on a virtual clock: after a fixed delay
(``delays="fixed"``) or a random one (``delays="random"``). Where the documentation allows
several outcomes it takes the catalog's recommendation (``choices="reference"``) or any
documented one at random (``choices="random"``). With ``controlled_clock=False`` every
call also lets a little time pass, so work completes between calls as with a real service.

The seeded-bug targets (:mod:`ckspec.conformance.mutants`) are this class with one
deliberate deviation each, made in :meth:`ReferenceTarget.perform` or
:meth:`ReferenceTarget.complete`.
"""

from __future__ import annotations

import base64
import random
import re
import string
from typing import Any, Mapping

import attrs

from ckspec.model import PERMISSIVE, REFERENCE, Call, Environment, Internal, Outcome, Response, World, internal_events
from ckspec.model import identifiers as ids
from ckspec.model.environment import EVENTS
from ckspec.model.facts import MARKER_PREFIX
from ckspec.model.transitions import CALLS

from .adapter import SETUP_CONTROLS, Capabilities, EnvironmentReply, Reply, Target
from .checker import memoised_outcomes, possible
from .identity import ID_FIELDS
from .memo import BoundedMemo
from .steps import ENVIRONMENT_ARGUMENTS

#: Reads whose answers may lag behind the latest write (AMB-30, AMB-12).
READS = frozenset({"DescribeCustomKeyStores", "DescribeKey"})
_CHOSEN: dict[tuple[Any, ...], tuple[Outcome, ...]] = {}
#: the model's identifiers as they appear in a message: key IDs, store IDs, cluster IDs
_MESSAGE_IDS = re.compile(r"[0-9a-f]{8}-0000-4000-8000-[0-9a-f]{12}|cks-[0-9a-f]{17}|cluster-[2-7a-z]{11}")
#: the memoised outcomes of each edited table a target runs, by the table's id (the table is
#: kept with its cache, so that an id is never reused for another table)
_TABLE_CACHES: dict[int, tuple[Any, dict[tuple[Any, ...], tuple[Outcome, ...]]]] = {}


def chosen(world: World, action: Any) -> Outcome:
    """The reference profile's single outcome, memoised."""
    return memoised_outcomes(_CHOSEN, world, action, REFERENCE)[0]


class ForeignIds:
    """The target's own identifiers: random-looking values, one for each model value."""

    #: model IDs that name nothing: an unknown target ID becomes one of these
    _NOWHERE = {
        "CustomKeyStoreId": "cks-fffffffffffffffff", "CloudHsmClusterId": "cluster-77777777777",
        "KeyId": "ffffffff-0000-4000-8000-0000ffffffff", "Marker": "ckspec-no-such-marker",
        "TrustAnchorCertificate": "-----BEGIN CERTIFICATE-----\nunknown\n-----END CERTIFICATE-----",
    }

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.out: dict[Any, Any] = {}
        self.back: dict[Any, Any] = {}

    def outbound(self, value: Any, field: str) -> Any:
        if isinstance(value, str) and value.startswith("arn:aws:kms:"):
            prefix, _, key = value.rpartition("/")
            return f"{prefix}/{self.outbound(key, 'KeyId')}"
        found = self.out.get(value)
        if found is None:
            found = self._fresh(value, field)
            self.out[value] = found
            self.back[found] = value
        return found

    def inbound(self, value: Any, field: str) -> Any:
        if isinstance(value, str) and value.startswith("arn:aws:kms:") and "/" in value:
            prefix, _, key = value.rpartition("/")
            return f"{prefix}/{self.inbound(key, 'KeyId')}"
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value)
        if value in self.back:
            return self.back[value]
        return self._NOWHERE.get(field, value) if self._looks_like_model(value, field) else value

    @staticmethod
    def _looks_like_model(value: Any, field: str) -> bool:
        parse = {"CustomKeyStoreId": ids.parse_store_id, "CloudHsmClusterId": ids.parse_cluster_id,
                 "KeyId": ids.parse_key_id}.get(field)
        if parse is not None:
            return parse(value) is not None
        return field in ("Marker", "TrustAnchorCertificate")

    def _fresh(self, value: Any, field: str) -> Any:
        r = self.rng
        if isinstance(value, (bytes, bytearray)):
            return b"ref-" + r.randbytes(12) + bytes(value[-8:])
        if field in ("CustomKeyStoreId",) or (isinstance(value, str) and value.startswith("cks-")):
            return f"cks-{r.getrandbits(68):017x}"
        for prefix in ("cluster-", "hsm-", "backup-"):
            if isinstance(value, str) and value.startswith(prefix):
                return prefix + base64.b32encode(r.randbytes(7)).decode("ascii")[:11].lower()
        if field == "TrustAnchorCertificate":
            return f"-----BEGIN CERTIFICATE-----\nreference-ca-{r.getrandbits(48):012x}\n-----END CERTIFICATE-----"
        if field in ("NextMarker", "Marker"):
            return "".join(r.choice(string.ascii_letters) for _ in range(24))
        if field == "KeyId":
            h = f"{r.getrandbits(128):032x}"
            return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
        return value

    def forget(self, value: Any) -> None:
        """Drop the model's ``value`` and its counterpart (what a deleted store was called: an
        identifier nobody holds any more; a caller who still sends it is told it names nothing)."""
        foreign = self.out.pop(value, None)
        if foreign is not None and self.back.get(foreign) == value:
            del self.back[foreign]

    def text(self, message: str) -> str:
        """A message with the model's key IDs, store IDs and cluster IDs it names in the
        target's (the identifiers this target handed out; others as they are)."""
        def swap(found: re.Match[str]) -> str:
            return self.out.get(found.group(0), found.group(0))
        return _MESSAGE_IDS.sub(swap, message) if message else message

    def bind(self, value: Any, foreign: Any) -> None:
        """Use ``foreign`` as the target's value for the model's ``value`` (a trust anchor the
        caller chose); ValueError when either is already bound to something else."""
        if self.out.get(value, foreign) != foreign or self.back.get(foreign, value) != value:
            raise ValueError("ForeignIds.bind: the value or its foreign counterpart is already bound")
        self.out[value] = foreign
        self.back[foreign] = value

    def body(self, body: Any) -> Any:
        if isinstance(body, dict):
            return {k: (self.outbound(v, k) if k in ID_FIELDS and v is not None else self.body(v))
                    for k, v in body.items()}
        if isinstance(body, list):
            return [self.body(v) for v in body]
        return body


@attrs.define
class _Pending:
    due: float
    order: int


class ReferenceTarget(Target):
    """The model as a target; see the module docstring for the knobs."""

    name = "reference"

    def __init__(self, seed: int = 0, *, delays: str = "fixed", choices: str = "reference", lag: bool = True,
                 controlled_clock: bool = True, foreign_ids: bool = True, work_delay: float = 1.0,
                 lag_delay: float = 0.5, table: Mapping[str, Any] | None = None,
                 memo_size: int | None = None) -> None:
        if delays not in ("fixed", "random") or choices not in ("reference", "random"):
            raise ValueError("ReferenceTarget: delays is 'fixed' or 'random', choices 'reference' or 'random'")
        if not (0 <= work_delay < float("inf") and 0 <= lag_delay < float("inf")):
            raise ValueError("ReferenceTarget: work_delay and lag_delay are finite numbers of seconds >= 0")
        self.capabilities = Capabilities(operations=frozenset(CALLS), environment=frozenset(EVENTS),
                                         controlled_clock=controlled_clock, time_travel=True,
                                         real_setup=SETUP_CONTROLS)  # the model performs them all
        self.rng = random.Random(seed)
        self.delays, self.choices, self.lag = delays, choices, lag
        #: seconds until a connection attempt or a disconnect completes, and until reads catch up
        #: (fixed delays; random delays are drawn around them)
        self.work_delay, self.lag_delay = work_delay, lag_delay
        self.ids = ForeignIds(random.Random(seed ^ 0x5EED)) if foreign_ids else None
        #: the transition table the target runs (a seeded bug's edited copy), else the model's
        self.table = table
        self._outcomes = _TABLE_CACHES.setdefault(id(table), (table, {}))[1] if table is not None else {}
        #: memo_size: a memo of the target's own, of that many entries (a long-lived target, such
        #: as ckspec serve's account, whose worlds rarely recur); None: the memo runs share
        self._memo = None if memo_size is None else BoundedMemo(memo_size)
        self.world = World(quota=10)
        self.now = 0.0
        self._pending: dict[Internal, _Pending] = {}
        self._order = 0

    # --- the adapter interface ---------------------------------------------------------------
    def call(self, operation: str, params: Mapping[str, Any]) -> Reply:
        if not self.capabilities.controlled_clock:
            self.wait(0.25)
        given = params
        if self.ids is not None:
            params = {k: (self.ids.inbound(v, k) if k in ID_FIELDS else v) for k, v in params.items()}
        world, response = self.perform(self.world, Call.of(operation, params))
        self._set_world(world)
        body = response.body
        if self.ids is not None and body is not None:
            body = self.ids.body(body)
        message = response.message
        if self.ids is not None and message:
            message = self.ids.text(message)
            for name, value in given.items():  # an unknown ID the caller gave, as the caller gave it
                seen = params.get(name)
                if name in ID_FIELDS and isinstance(value, str) and isinstance(seen, str) and seen != value:
                    message = message.replace(seen.rpartition("/")[2], value.rpartition("/")[2])
        return Reply(response.status, response.error, message, body, rules=response.rules)

    def environment(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        if not self.capabilities.controlled_clock:
            self.wait(0.25)
        model_args = tuple(self._model_arg(kind, a) for kind, a in zip(ENVIRONMENT_ARGUMENTS[event], args))
        found = self._untabled(self.world, Environment(event, model_args))
        if not found:
            return EnvironmentReply(False)
        from .checker import created_identifier

        made = created_identifier(self.world, found[0].world, Environment(event, model_args))
        self._set_world(found[0].world)
        if made is not None and self.ids is not None:
            field = "TrustAnchorCertificate" if event == "initialize_cluster" else "Id"
            made = self.ids.outbound(made, field)
        return EnvironmentReply(True, made)

    def wait(self, seconds: float) -> None:
        end = self.now + seconds
        while self._pending:
            event, slot = min(self._pending.items(), key=lambda item: (item[1].due, item[1].order))
            if slot.due > end:
                break
            self.now = max(self.now, slot.due)
            del self._pending[event]
            self._set_world(self.complete(self.world, event))
        self.now = end

    # --- what mutants change -----------------------------------------------------------------------
    def perform(self, world: World, call: Call) -> tuple[World, Response]:
        """The next world and the response for one call."""
        found = self.possible(world, call)
        if not found:
            raise RuntimeError(f"{self.name}: the target's transition table has no row for {call!r} here")
        if self.choices == "random":
            outcome = self.rng.choice(found)
        elif self.lag and call.operation in READS:
            outcome = lagging(found)
        else:
            outcome = recommended(found, call, self.table)
        return outcome.world, outcome.response

    def complete(self, world: World, event: Internal) -> World:
        """The world after an internal event (a connection attempt ends, ...)."""
        found = self.possible(world, event)
        if not found:  # the target's table has no row for it: the work never ends
            return world
        if self.choices == "random":
            return self.rng.choice(found).world
        return recommended(found, event, self.table).world

    def possible(self, world: World, action: Any) -> tuple[Outcome, ...]:
        """The permissive outcomes under the target's table (memoised)."""
        if self.table is None:
            return self._untabled(world, action)
        return memoised_outcomes(self._outcomes if self._memo is None else self._memo, world, action, PERMISSIVE,
                                 self.table)

    def _untabled(self, world: World, action: Any) -> tuple[Outcome, ...]:
        """The permissive outcomes under the model's own table."""
        if self._memo is None:
            return possible(world, action)
        return memoised_outcomes(self._memo, world, action, PERMISSIVE)

    # --- the scheduler ---------------------------------------------------------------------------
    def _set_world(self, world: World) -> None:
        if self.ids is not None and len(world.stores) < len(self.world.stores):  # (a deletion: rare)
            self._forget_deleted(self.world, world)
        self.world = world
        now_possible = set(internal_events(world))
        if not self.lag:
            for event in [e for e in now_possible if e.event == "ReadsCatchUp"]:
                self.world = self.complete(self.world, event)
            now_possible = set(internal_events(self.world))
        for event in list(self._pending):
            if event not in now_possible:
                del self._pending[event]
        for event in sorted(now_possible - set(self._pending), key=repr):
            self._order += 1
            self._pending[event] = _Pending(self.now + self._delay(event), self._order)

    def _forget_deleted(self, before: World, after: World) -> None:
        """The foreign names of the stores ``after`` no longer has (and of the pagination markers
        after them) are dropped: the identifier maps stay as large as the account, not its history."""
        gone = {s.store_id for s in before.stores} - {s.store_id for s in after.stores}
        for serial in gone:
            self.ids.forget(ids.store_id(serial))
            self.ids.forget(f"{MARKER_PREFIX}{serial}")

    def _delay(self, event: Internal) -> float:
        if event.event == "KeyDeletionCompletes":
            key = self.world.key(event.subject)
            return 86400.0 * ((key.pending_window_days if key else None) or 30)
        base = self.lag_delay if event.event == "ReadsCatchUp" else self.work_delay
        return base if self.delays == "fixed" else self.rng.uniform(0.05, 3 * base)

    def _model_arg(self, kind: str, value: Any) -> Any:
        if self.ids is not None and isinstance(value, str) and kind in ("cluster", "hsm", "backup", "key"):
            value = self.ids.back.get(value, "unknown")
        parse = {"cluster": ids.parse_cluster_id, "hsm": ids.parse_hsm_id, "backup": ids.parse_backup_id,
                 "key": ids.parse_key_id}.get(kind)
        if parse is None:
            return value
        serial = parse(value)
        return -1 if serial is None else serial


def recommended(found: tuple[Outcome, ...], action: Any, table: Mapping[str, Any] | None = None) -> Outcome:
    """The reference profile's choice among the permissive outcomes (what ``step(world, action,
    REFERENCE)`` returns, without running the executor twice): documented alternatives aside, the
    lowest-ranked error (AMB-07), else the first success."""
    primary = [o for o in found if o.alt is None] or list(found)
    errors = [o for o in primary if o.response is not None and not o.response.ok]
    if not errors:
        return primary[0]
    op = (table or CALLS)[action.operation]
    ranks = {(c.error, c.rules): c.rank for c in op.checks}
    return min(errors, key=lambda o: ranks.get((o.response.error, o.rules), 99))


def lagging(found: tuple[Outcome, ...]) -> Outcome:
    """A read as it shows right after a write (AMB-30, AMB-12): the documented lagging answer
    when there is one (for a listing, the full page with the first lagging store as it was)."""
    if len(found) == 1 or not found[0].response.ok:
        return found[0]
    key_lag = [o for o in found if o.alt == "AMB-12"]
    if key_lag:
        return key_lag[0]
    first = found[0].response.body.get("CustomKeyStores")
    if first is None:
        return found[0]
    same_size = [o for o in found[1:] if len(o.response.body["CustomKeyStores"]) == len(first)]
    return same_size[0] if same_size else found[0]


def lagged_view(world: World, call: Call) -> World:
    """The world as a lagging read shows it (AMB-30): the store the read is about (the first
    lagging one for an unfiltered list) in the state it had before the last call changed it."""
    params = call.kwargs
    if call.operation == "DescribeKey":
        key = world.key(ids.parse_key_id(params.get("KeyId")))
        candidates = [world.store(key.store_id)] if key else []
    elif "CustomKeyStoreId" in params:
        candidates = [world.store(ids.parse_store_id(params["CustomKeyStoreId"]))]
    elif "CustomKeyStoreName" in params:
        candidates = [s for s in world.stores if s.name == params["CustomKeyStoreName"]]
    else:
        candidates = list(world.stores)
    lagging = next((s for s in candidates if s is not None and s.lag is not None), None)
    if lagging is None:
        return world
    state, code = lagging.lag
    return world.with_store(attrs.evolve(lagging, state=state, error_code=code, lag=None))
