"""The actions worth trying in a world, within a scope.

Exploration, recovery search and random walks all ask the same question: what could
happen next? The answer is every state-changing KMS call the scope's name and password
pools allow, every internal event that can happen, and every environment event whose
guard holds, except faults beyond the scope's budget. Read-only calls (Describe,
DescribeKey, Encrypt, ...) are left out: they never change the world.
"""

from __future__ import annotations

from typing import Iterator

from . import identifiers as ids
from .actions import Action, Call, Environment
from .environment import EVENTS, faults
from .executor import internal_events
from .scope import Scope
from .world import World


def moves(world: World, scope: Scope, environment: bool = True) -> Iterator[Action]:
    """Every action to try next in ``world``: calls, internal events, and environment events
    (only the repairs when ``environment`` is false, e.g. once a path spent its budget)."""
    yield from kms_calls(world, scope)
    yield from internal_events(world)
    yield from environment_events(world, scope, repairs_only=not environment)


def kms_calls(world: World, scope: Scope) -> Iterator[Call]:
    if len(world.stores) < scope.stores:
        for cluster in world.clusters:
            if cluster.trust_anchor is None:
                continue
            for name in scope.names:
                for password in scope.passwords:
                    yield Call.of("CreateCustomKeyStore", CustomKeyStoreName=name,
                                  CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
                                  TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password)
    for store in world.stores:
        sid = ids.store_id(store.store_id)
        for op in ("ConnectCustomKeyStore", "DisconnectCustomKeyStore", "DeleteCustomKeyStore"):
            yield Call.of(op, CustomKeyStoreId=sid)
        for name in scope.names:
            if name != store.name:
                yield Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName=name)
        for password in scope.passwords:
            yield Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword=password)
        for cluster in world.clusters:
            if cluster.cluster_id != store.cluster_id:
                yield Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid,
                              CloudHsmClusterId=ids.cluster_id(cluster.cluster_id))
        if len(world.keys) < scope.keys:
            yield Call.of("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    for key in world.keys:
        kid = ids.key_id(key.key_id)
        for op in ("EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion"):
            yield Call.of(op, KeyId=kid)


def environment_events(world: World, scope: Scope, repairs_only: bool = False) -> Iterator[Environment]:
    budget_left = faults(world) < scope.faults
    for event in EVENTS.values():
        if (event.fault and not budget_left) or (repairs_only and not event.repair):
            continue
        for args in event.choices(world, scope):
            if event.guard(world, *args):
                yield Environment(event.name, args)
