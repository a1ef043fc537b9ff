"""Seeded-bug targets: the reference target with one realistic bug each.

Each is named after the rule it breaks (``CONNECT-03-connect-accepted-on-failed``) and must be
caught by the default run of ``ckspec check``; ``ckspec mutants`` runs them all and prints
the kill matrix. Several are bugs real emulators have (``../shared/guides/targets.md``):
a Connect that completes at once, Delete while CONNECTED answered with the wrong exception,
Update with no state check.
"""

from __future__ import annotations

from typing import Any

import attrs

from ckspec.model import Call, Internal, Response, World
from ckspec.model import identifiers as ids
from ckspec.model.aws_service import ConnectionState as S
from ckspec.model.facts import MARKER_PREFIX, parse_marker

from .reference import ReferenceTarget, chosen

MUTANTS: dict[str, type["Mutant"]] = {}


class Mutant(ReferenceTarget):
    """A reference target with one deliberate deviation."""

    rule: str = ""
    summary: str = ""

    def __init__(self, seed: int = 0, **options: Any) -> None:
        super().__init__(seed, **options)
        self.name = f"mutant:{type(self).mutant_name()}"

    @classmethod
    def mutant_name(cls) -> str:
        return getattr(cls, "_name", cls.__name__)


def mutant(name: str, rule: str, summary: str):
    def register(cls: type[Mutant]) -> type[Mutant]:
        cls._name, cls.rule, cls.summary = f"{rule}-{name}", rule, summary
        cls.__doc__ = f"{rule}: {summary}"
        MUTANTS[cls._name] = cls
        return cls
    return register


def _store(world: World, call: Call):
    return world.store(ids.parse_store_id(call.kwargs.get("CustomKeyStoreId")))


def _as_if(world: World, call: Call, state: S, keep_state: bool = True) -> tuple[World, Response]:
    """Answer ``call`` as if its store were in ``state``, then put the store's own state back."""
    store = _store(world, call)
    outcome = chosen(world.with_store(attrs.evolve(store, state=state, error_code=None, lag=None)), call)
    after = outcome.world.store(store.store_id)
    if after is not None and keep_state:
        restored = outcome.world.with_store(attrs.evolve(after, state=store.state, error_code=store.error_code,
                                                         lag=store.lag))
        return restored, outcome.response
    return outcome.world, outcome.response


@mutant("connect-accepted-on-failed", "CONNECT-03",
        "Connect on a FAILED store is accepted and starts connecting, instead of CustomKeyStoreInvalidStateException")
class ConnectOnFailed(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        if call.operation == "ConnectCustomKeyStore" and store is not None and store.state is S.FAILED:
            return _as_if(world, call, S.DISCONNECTED, keep_state=False)
        return super().perform(world, call)


@mutant("connected-without-active-hsm", "CONNECT-06",
        "Connect never checks the cluster's HSMs: a store connects although its cluster has no active HSM")
class ConnectedWithoutHsm(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        if call.operation != "ConnectCustomKeyStore" or store is None:
            return super().perform(world, call)
        after, response = super().perform(_phantom_hsm(world, store.cluster_id), call)
        return _without_phantom(after, store.cluster_id), response

    def complete(self, world, event):
        store = world.store(event.subject) if event.event == "ConnectionAttemptCompletes" else None
        if store is None:
            return super().complete(world, event)
        return _without_phantom(super().complete(_phantom_hsm(world, store.cluster_id), event), store.cluster_id)


_PHANTOM = -7


def _phantom_hsm(world: World, cluster_id: int) -> World:
    from ckspec.model.world import Hsm

    cluster = world.cluster(cluster_id)
    if cluster is None or cluster.active_hsms(frozenset({"ACTIVE"})):
        return world
    zone = cluster.subnets[0].availability_zone if cluster.subnets else "us-east-1a"
    return world.with_cluster(attrs.evolve(cluster, hsms=cluster.hsms + (Hsm(_PHANTOM, zone),)))


def _without_phantom(world: World, cluster_id: int) -> World:
    cluster = world.cluster(cluster_id)
    if cluster is None or all(h.hsm_id != _PHANTOM for h in cluster.hsms):
        return world
    return world.with_cluster(attrs.evolve(cluster, hsms=tuple(h for h in cluster.hsms if h.hsm_id != _PHANTOM)))


@mutant("error-code-missing-in-failed", "CS-07", "Describe omits ConnectionErrorCode for a FAILED store")
class ErrorCodeMissing(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        if call.operation == "DescribeCustomKeyStores" and response.ok:
            entries = [{k: v for k, v in e.items() if k != "ConnectionErrorCode"}
                       for e in response.body["CustomKeyStores"]]
            response = Response.success({**response.body, "CustomKeyStores": entries})
        return world, response


@mutant("error-code-kept-after-disconnect", "TR-06",
        "Disconnect of a FAILED store leaves the old ConnectionErrorCode in Describe")
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


@mutant("delete-allowed-with-keys", "DELETE-02",
        "Delete of a DISCONNECTED store that holds KMS keys succeeds and deletes the keys with it")
class DeleteWithKeys(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        if (call.operation == "DeleteCustomKeyStore" and store is not None and store.state is S.DISCONNECTED
                and any(world.keys_in(store.store_id))):
            for key in list(world.keys_in(store.store_id)):
                world = world.without_key(key.key_id)
            return world.without_store(store.store_id), Response.success({})
        return super().perform(world, call)


@mutant("password-update-while-connected", "UPDATE-03",
        "UpdateCustomKeyStore changes the kmsuser password of a CONNECTED store")
class PasswordUpdateConnected(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        p = call.kwargs
        if (call.operation == "UpdateCustomKeyStore" and store is not None and store.state is S.CONNECTED
                and "KeyStorePassword" in p and "CloudHsmClusterId" not in p):
            return world.with_store(attrs.evolve(store, password=p["KeyStorePassword"])), Response.success({})
        return super().perform(world, call)


@mutant("keys-enabled-after-disconnect", "KS-02",
        "DescribeKey still shows a key Enabled after its store is disconnected (it must read Unavailable)")
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


@mutant("create-key-in-disconnected-store", "KEY-02", "CreateKey succeeds in a DISCONNECTED store")
class CreateKeyDisconnected(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        if call.operation == "CreateKey" and store is not None and store.state is S.DISCONNECTED:
            return _as_if(world, call, S.CONNECTED)
        return super().perform(world, call)


@mutant("wrong-error-for-missing-store", "CONNECT-01",
        "Connect of a missing store answers NotFoundException instead of CustomKeyStoreNotFoundException")
class WrongNotFound(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        if response.error == "CustomKeyStoreNotFoundException" and call.operation == "ConnectCustomKeyStore":
            response = Response.failure("NotFoundException", "no such custom key store")
        return world, response


@mutant("store-name-not-unique", "CREATE-03", "CreateCustomKeyStore accepts a name another store already has")
class NameNotUnique(Mutant):
    def perform(self, world, call):
        name = call.kwargs.get("CustomKeyStoreName")
        if (call.operation == "CreateCustomKeyStore"
                and chosen(world, call).response.error == "CustomKeyStoreNameInUseException"):
            hidden = world
            for s in world.stores:
                if s.name == name:
                    hidden = hidden.with_store(attrs.evolve(s, name=f"\0hidden-{s.store_id}"))
            outcome = chosen(hidden, call)
            after = outcome.world
            for s in world.stores:
                if s.name == name and after.store(s.store_id) is not None:
                    after = after.with_store(attrs.evolve(after.store(s.store_id), name=name))
            return after, outcome.response
        return super().perform(world, call)


@mutant("pagination-drops-an-entry", "DESC-04", "DescribeCustomKeyStores' NextMarker skips the next store")
class PaginationDrops(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        if call.operation == "DescribeCustomKeyStores" and response.ok and "NextMarker" in response.body:
            after = parse_marker(response.body["NextMarker"])
            later = [s.store_id for s in world.stores if s.store_id > after]
            if later:
                response = Response.success({**response.body, "NextMarker": f"{MARKER_PREFIX}{later[0]}"})
        return world, response


@mutant("kmsuser-password-not-rotated", "CONNECT-11",
        "a successful connect leaves kmsuser's password as it was (people can still log in as kmsuser)")
class PasswordNotRotated(Mutant):
    def complete(self, world, event):
        after = super().complete(world, event)
        if event.event != "ConnectionAttemptCompletes":
            return after
        store, was = after.store(event.subject), world.store(event.subject)
        if store is None or store.state is not S.CONNECTED:
            return after
        cluster = after.cluster(store.cluster_id)
        old = world.cluster(store.cluster_id).kmsuser
        after = after.with_cluster(attrs.evolve(cluster, kmsuser=attrs.evolve(cluster.kmsuser, password=old.password)))
        return after.with_store(attrs.evolve(store, password=was.password))


@mutant("connect-completes-synchronously", "TR-01",
        "ConnectCustomKeyStore finishes the connection before it returns (the store is never seen CONNECTING)")
class SynchronousConnect(Mutant):
    def perform(self, world, call):
        world, response = super().perform(world, call)
        store = _store(world, call)
        if call.operation == "ConnectCustomKeyStore" and store is not None and store.attempt_in_flight:
            world = self.complete(world, Internal("ConnectionAttemptCompletes", store.store_id))
            done = world.store(store.store_id)
            world = world.with_store(attrs.evolve(done, lag=None))
        return world, response


@mutant("disconnect-accepted-when-disconnected", "DISC-02",
        "Disconnect of a DISCONNECTED store answers 200 instead of CustomKeyStoreInvalidStateException")
class DisconnectIdempotent(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        if call.operation == "DisconnectCustomKeyStore" and store is not None and store.state is S.DISCONNECTED:
            return world, Response.success({})
        return super().perform(world, call)


@mutant("delete-while-connected-wrong-error", "DELETE-01",
        "Delete of a store that is not DISCONNECTED answers CustomKeyStoreHasCMKsException (as fakecloud does)")
class DeleteWrongError(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        if call.operation == "DeleteCustomKeyStore" and store is not None and store.state is not S.DISCONNECTED:
            return world, Response.failure("CustomKeyStoreHasCMKsException", "the store has keys")
        return super().perform(world, call)


@mutant("update-without-state-check", "UPDATE-04",
        "UpdateCustomKeyStore is accepted while the store is CONNECTING, DISCONNECTING or FAILED")
class UpdateNoStateCheck(Mutant):
    def perform(self, world, call):
        store = _store(world, call)
        if (call.operation == "UpdateCustomKeyStore" and store is not None
                and store.state in (S.CONNECTING, S.DISCONNECTING, S.FAILED)):
            return _as_if(world, call, S.DISCONNECTED)
        return super().perform(world, call)


@mutant("cluster-shared-by-two-stores", "CREATE-06",
        "CreateCustomKeyStore accepts a cluster that already backs another store")
class ClusterShared(Mutant):
    def perform(self, world, call):
        cluster = ids.parse_cluster_id(call.kwargs.get("CloudHsmClusterId"))
        users = [s for s in world.stores if s.cluster_id == cluster]
        if call.operation == "CreateCustomKeyStore" and users and not any(
                s.name == call.kwargs.get("CustomKeyStoreName") for s in world.stores):
            hidden = world
            for s in users:
                hidden = hidden.without_store(s.store_id)
            outcome = chosen(hidden, call)
            new = [s for s in outcome.world.stores if world.store(s.store_id) is None]
            after = world
            for s in new:
                after = after.with_store(s)
            return attrs.evolve(after, serial=outcome.world.serial), outcome.response
        return super().perform(world, call)


@mutant("wrong-password-reported-as-internal-error", "CEC-05",
        "a connection attempt with the wrong kmsuser password ends FAILED with INTERNAL_ERROR, not INVALID_CREDENTIALS")
class WrongPasswordCode(Mutant):
    def complete(self, world, event):
        after = super().complete(world, event)
        store = after.store(event.subject) if event.event == "ConnectionAttemptCompletes" else None
        if store is not None and store.error_code == "INVALID_CREDENTIALS":
            return after.with_store(attrs.evolve(store, error_code="INTERNAL_ERROR"))
        return after
