"""Seeded-bug targets: the reference target with one realistic bug each, and conformant variants.

One catalogue. Most seeded bugs are edits of the transition table
(:mod:`ckspec.model.mutations`): the reference target runs the edited table, and the proofs
prove it (``ckspec prove --mutation NAME``). The few a table edit cannot express are response
or scheduler wrappers here: a Describe that leaves out a field, a Connect that completes
before it returns, an error answered for the wrong reason. Each is named after the rule it
breaks (``CONNECT-03-connect-accepted-on-failed``) and must be caught by the default run of
``ckspec check``, with that rule named first; ``ckspec mutants`` runs them all and prints the
kill matrix. Several are bugs real emulators have: a Connect that completes at once, Delete
while CONNECTED answered with the wrong exception, Update with no state check.

:data:`VARIANTS` are the other side: documented alternatives (random documented choices,
random delays, no read lag, shorter pages, the model's own identifiers, a real clock) that
must never be flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ckspec.model import Call, Internal, Response, World
from ckspec.model import identifiers as ids
from ckspec.model.aws_service import ConnectionState as S
from ckspec.model.facts import MARKER_PREFIX, parse_marker
from ckspec.model.mutations import TABLE_EDITS, TableEdit

from .reference import ReferenceTarget

MUTANTS: dict[str, type["Mutant"]] = {}


class Mutant(ReferenceTarget):
    """A reference target with one deliberate deviation."""

    rule: str = ""
    summary: str = ""
    #: the catalog group the bug belongs to
    group: str = ""
    #: the table edit it runs (None: a response or scheduler wrapper)
    edit: TableEdit | None = None

    def __init__(self, seed: int = 0, **options: Any) -> None:
        super().__init__(seed, **options)
        self.name = f"mutant:{type(self).mutant_name()}"

    @classmethod
    def mutant_name(cls) -> str:
        return getattr(cls, "_name", cls.__name__)


class TableMutant(Mutant):
    """The reference target on a seeded bug's edited table."""

    table_of_class: dict[str, Any] = {}

    def __init__(self, seed: int = 0, **options: Any) -> None:
        super().__init__(seed, table=type(self).table_of_class, **options)


def _table_mutant(edit: TableEdit) -> type[Mutant]:
    cls = type(edit.name, (TableMutant,), {
        "_name": edit.name, "rule": edit.rule, "summary": edit.summary, "group": edit.group, "edit": edit,
        "table_of_class": edit.apply(), "__doc__": f"{edit.rule}: {edit.summary} (a table edit)"})
    MUTANTS[edit.name] = cls
    return cls


for _edit in TABLE_EDITS:
    _table_mutant(_edit)


def mutant(name: str, rule: str, summary: str, group: str):
    def register(cls: type[Mutant]) -> type[Mutant]:
        cls._name, cls.rule, cls.summary, cls.group = f"{rule}-{name}", rule, summary, group
        cls.__doc__ = f"{rule}: {summary}"
        MUTANTS[cls._name] = cls
        return cls
    return register


def _store(world: World, call: Call):
    return world.store(ids.parse_store_id(call.kwargs.get("CustomKeyStoreId")))


@mutant("error-code-missing-in-failed", "CS-07", "Describe omits ConnectionErrorCode for a FAILED store", "Describe")
class ErrorCodeMissing(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        if call.operation == "DescribeCustomKeyStores" and response.ok:
            entries = [{k: v for k, v in e.items() if k != "ConnectionErrorCode"}
                       for e in response.body["CustomKeyStores"]]
            response = Response.success({**response.body, "CustomKeyStores": entries})
        return world, response


@mutant("error-code-kept-after-disconnect", "TR-06",
        "Disconnect of a FAILED store leaves the old ConnectionErrorCode in Describe", "Describe")
class ErrorCodeKept(Mutant):
    def __init__(self, seed: int = 0, **options: Any) -> None:
        super().__init__(seed, **options)
        self.stale: dict[int, str] = {}

    def perform(self, world, call):
        store = _store(world, call)
        if store is not None and call.operation == "DisconnectCustomKeyStore" and store.state is S.FAILED:
            self.stale[store.store_id] = store.error_code
        if store is not None and call.operation == "ConnectCustomKeyStore":
            self.stale.pop(store.store_id, None)
        world, response = super().perform(world, call)
        if call.operation == "DescribeCustomKeyStores" and response.ok:
            entries = []
            for e in response.body["CustomKeyStores"]:
                code = self.stale.get(ids.parse_store_id(e["CustomKeyStoreId"]))
                entries.append({**e, "ConnectionErrorCode": code} if code and e["ConnectionState"] != "FAILED" else e)
            response = Response.success({**response.body, "CustomKeyStores": entries})
        return world, response


@mutant("keys-enabled-after-disconnect", "KS-02",
        "DescribeKey still shows a key Enabled after its store is disconnected (it must read Unavailable)", "keys")
class KeysEnabledAfterDisconnect(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        meta = response.body.get("KeyMetadata") if response.ok and call.operation == "DescribeKey" else None
        if meta is not None and meta["KeyState"] == "Unavailable":
            key = world.key(ids.parse_key_id(call.kwargs.get("KeyId")))
            store = world.store(key.store_id) if key else None
            if key is not None and store is not None and store.state is not S.CONNECTED:
                meta = {**response.body["KeyMetadata"], "KeyState": key.state, "Enabled": key.state == "Enabled"}
                response = Response.success({"KeyMetadata": meta})
        return world, response


@mutant("pagination-drops-an-entry", "DESC-04", "DescribeCustomKeyStores' NextMarker skips the next store",
        "Describe")
class PaginationDrops(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        if call.operation == "DescribeCustomKeyStores" and response.ok and "NextMarker" in response.body:
            after = parse_marker(response.body["NextMarker"])
            later = [s.store_id for s in world.stores if s.store_id > after]
            if later:
                response = Response.success({**response.body, "NextMarker": f"{MARKER_PREFIX}{later[0]}"})
        return world, response


@mutant("connect-completes-synchronously", "TR-01",
        "ConnectCustomKeyStore finishes the connection before it returns (the store is never seen CONNECTING)",
        "asynchrony")
class SynchronousConnect(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        store = _store(world, call)
        if call.operation == "ConnectCustomKeyStore" and store is not None and store.attempt_in_flight:
            world = self.complete(world, Internal("ConnectionAttemptCompletes", store.store_id))
            done = world.store(store.store_id)
            world = world.with_store(attrs.evolve(done, lag=None))
        return world, response


@mutant("delete-while-connected-wrong-error", "DELETE-01",
        "Delete of a store that is not DISCONNECTED answers CustomKeyStoreHasCMKsException (as fakecloud does)",
        "error codes")
class DeleteWrongError(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        if call.operation == "DeleteCustomKeyStore" and store is not None and store.state is not S.DISCONNECTED:
            return world, Response.failure("CustomKeyStoreHasCMKsException", "the store has keys")
        return super().perform(world, call)




@mutant("password-in-describe", "KU-04",
        "DescribeCustomKeyStores echoes the kmsuser password each store was created with", "secrets")
class PasswordInDescribe(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        if call.operation == "DescribeCustomKeyStores" and response.ok:
            entries = []
            for e in response.body["CustomKeyStores"]:
                store = world.store(ids.parse_store_id(e["CustomKeyStoreId"]))
                secret = store.password if store is not None and isinstance(store.password, str) else None
                entries.append({**e, "KeyStorePassword": secret} if secret else e)
            response = Response.success({**response.body, "CustomKeyStores": entries})
        return world, response


@mutant("password-in-error-message", "KU-04",
        "a refused UpdateCustomKeyStore quotes the password it was given in the error message", "secrets")
class PasswordInErrorMessage(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        password = call.kwargs.get("KeyStorePassword")
        if call.operation == "UpdateCustomKeyStore" and not response.ok and isinstance(password, str):
            response = Response.failure(response.error, f"{response.message} (KeyStorePassword={password})")
        return world, response

# --- conformant variants: documented alternatives that must never be flagged -------------------

class ShortPages(ReferenceTarget):
    """DescribeCustomKeyStores answers one store per page, whatever ``Limit`` asks (DESC-04:
    a page may be shorter than ``Limit``; follow ``NextMarker``)."""

    def perform(self, world, call):
        p = call.kwargs
        limit = p.get("Limit", 1000)
        if call.operation == "DescribeCustomKeyStores" and not p.get("CustomKeyStoreId") and \
                not p.get("CustomKeyStoreName") and isinstance(limit, int) and 1 <= limit <= 1000:
            call = Call.of(call.operation, {**p, "Limit": 1})
        return super().perform(world, call)


class RefusesConnectedRename(ReferenceTarget):
    """A CONNECTED CloudHSM store must be disconnected before it is renamed, as the current AWS CLI
    example for update-custom-key-store and an AWS sample say (AMB-14: documented next to the API's
    rename while CONNECTED, so permissive allows both)."""

    def perform(self, world, call):
        after, response = super().perform(world, call)
        p = call.kwargs
        store = world.store(ids.parse_store_id(p.get("CustomKeyStoreId")))
        if call.operation == "UpdateCustomKeyStore" and response.ok and "NewCustomKeyStoreName" in p \
                and store is not None and not store.external and store.state is S.CONNECTED:
            return world, Response.failure("CustomKeyStoreInvalidStateException",
                                           "AMB-14: disconnect the custom key store before renaming it")
        return after, response


@attrs.frozen
class Variant:
    """A conformant variant: the reference target making documented choices of its own."""

    name: str
    #: the documented alternative it takes, with the rule or ambiguity that allows it
    summary: str
    factory: Callable[..., ReferenceTarget] = attrs.field(repr=False)


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("random-documented-choices", "picks any documented outcome where the docs allow several "
            "(AMB-05, AMB-16, AMB-19, AMB-30, ...)", lambda seed=0: ReferenceTarget(seed, choices="random")),
    Variant("random-delays", "asynchronous work takes a random time (CONNECT-09, TR-02, TR-05)",
            lambda seed=0: ReferenceTarget(seed, delays="random")),
    Variant("slow-work", "a connection attempt or a disconnect takes 4 s instead of 1 s (CONNECT-09)",
            lambda seed=0: ReferenceTarget(seed, work_delay=4.0)),
    Variant("no-read-lag", "reads are up to date at once (AMB-30, AMB-12 allow a lag, never require it)",
            lambda seed=0: ReferenceTarget(seed, lag=False)),
    Variant("model-identifiers", "identifiers in the model's own spelling, not random-looking ones (KS-11)",
            lambda seed=0: ReferenceTarget(seed, foreign_ids=False)),
    Variant("real-clock", "time passes between calls on its own (the engine cannot hold the clock, T-01)",
            lambda seed=0: ReferenceTarget(seed, delays="random", controlled_clock=False)),
    Variant("short-pages", "DescribeCustomKeyStores answers one store per page (DESC-04)",
            lambda seed=0: ShortPages(seed)),
    Variant("refuses-connected-rename", "a CONNECTED CloudHSM store is renamed only after a Disconnect, as the "
            "AWS CLI example says (AMB-14)", lambda seed=0: RefusesConnectedRename(seed)),
)}
