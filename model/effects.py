"""What a transition does to the world, by name.

Rows of the transition table name their effects; this module says what each name does
to a concrete :class:`~ckspec.model.world.World`. The subject's next state and
ConnectionErrorCode are applied by the executor from the row itself (``target``,
``error_code``); effects cover everything else: passwords, network plumbing, key
material, creation and deletion. Each effect returns the new world and any facts the
response needs (a new store's or key's id).
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from . import identifiers as ids
from .facts import Context
from .world import Key, KeyStore, World

Info = dict[str, Any]
Effect = Callable[[World, Context, Info], World]

EFFECTS: dict[str, Effect] = {}


def effect(fn: Effect) -> Effect:
    EFFECTS[fn.__name__] = fn
    return fn


def _store(world: World, ctx: Context) -> KeyStore:
    store = world.store(ctx.store.store_id if ctx.store else None)
    assert store is not None, "effect applied without a subject store"
    return store


@effect
def start_attempt(world: World, ctx: Context, info: Info) -> World:
    """TR-01: a connection attempt is now in flight."""
    return world.with_store(attrs.evolve(_store(world, ctx), attempt_in_flight=True))


@effect
def end_attempt(world: World, ctx: Context, info: Info) -> World:
    """TR-02/TR-03 end the attempt; AMB-06: Disconnect drops it."""
    return world.with_store(attrs.evolve(_store(world, ctx), attempt_in_flight=False))


@effect
def catch_up_reads(world: World, ctx: Context, info: Info) -> World:
    """AMB-30: eventual consistency has caught up; reads show the current state only."""
    return world.with_store(attrs.evolve(_store(world, ctx), lag=None))


@effect
def rotate_kmsuser_password(world: World, ctx: Context, info: Info) -> World:
    """CONNECT-11, CONNECT-05: KMS sets kmsuser's password to a value only it knows, on every HSM
    it logged in to (all of them: the attempt succeeds only then, KU-14)."""
    store = _store(world, ctx)
    cluster = world.cluster(store.cluster_id)
    assert cluster is not None and cluster.kmsuser is not None
    world, secret = world.next_secret()
    base = next((u for u in cluster.kmsuser_copies(ctx.profile.active_hsm_states) if u is not None), cluster.kmsuser)
    user = attrs.evolve(base, password=secret, failed_login=False)
    world = world.with_cluster(cluster.with_kmsuser_everywhere(user))
    return world.with_store(attrs.evolve(store, password=secret))


@effect
def lock_out_kmsuser(world: World, ctx: Context, info: Info) -> World:
    """AMB-25, KU-07: KMS's wrong-password login reached the lockout threshold (on each HSM)."""
    cluster = world.cluster(_store(world, ctx).cluster_id)
    assert cluster is not None and cluster.kmsuser is not None
    return world.with_cluster(cluster.map_kmsuser(lambda u: attrs.evolve(u, locked_out=True)))


@effect
def record_failed_login(world: World, ctx: Context, info: Info) -> World:
    """AMB-25: a wrong-password login counts towards the lockout (on each HSM KMS tried)."""
    cluster = world.cluster(_store(world, ctx).cluster_id)
    assert cluster is not None and cluster.kmsuser is not None
    return world.with_cluster(cluster.map_kmsuser(lambda u: attrs.evolve(u, failed_login=True)))


@effect
def apply_update(world: World, ctx: Context, info: Info) -> World:
    """UPDATE-01, UPDATE-09, AMB-34: record the new name, password and cluster; nothing else."""
    store = _store(world, ctx)
    p = ctx.params
    changes: dict[str, Any] = {}
    if "NewCustomKeyStoreName" in p:
        changes["name"] = p["NewCustomKeyStoreName"]
    if "KeyStorePassword" in p:
        changes["password"] = p["KeyStorePassword"]
    if "CloudHsmClusterId" in p:
        changes["cluster_id"] = ids.parse_cluster_id(p["CloudHsmClusterId"])
    return world.with_store(attrs.evolve(store, **changes))


@effect
def create_store(world: World, ctx: Context, info: Info) -> World:
    """CREATE-02, CS-02: a new store, DISCONNECTED."""
    p = ctx.params
    world, serial = world.next_serial()
    info["store_id"] = serial
    store = KeyStore(
        store_id=serial,
        name=p["CustomKeyStoreName"],
        cluster_id=ids.parse_cluster_id(p["CloudHsmClusterId"]),
        trust_anchor=p["TrustAnchorCertificate"],
        password=p["KeyStorePassword"],
    )
    return world.with_store(store)


@effect
def delete_store(world: World, ctx: Context, info: Info) -> World:
    """DELETE-04: only KMS's metadata goes; the cluster and its contents stay."""
    return world.without_store(_store(world, ctx).store_id)


@effect
def create_key(world: World, ctx: Context, info: Info) -> World:
    """KEY-06: KMS metadata plus a 256-bit AES key in the cluster."""
    store = _store(world, ctx)
    world, serial = world.next_serial()
    info["key_id"] = serial
    cluster = world.cluster(store.cluster_id)
    assert cluster is not None
    world = world.with_cluster(attrs.evolve(cluster, key_material=cluster.key_material | {serial}))
    return world.with_key(Key(key_id=serial, store_id=store.store_id))


def _key(world: World, ctx: Context) -> Key:
    key = world.key(ctx.key.key_id if ctx.key else None)
    assert key is not None, "effect applied without a subject key"
    return key


@effect
def set_pending_window(world: World, ctx: Context, info: Info) -> World:
    """DK-01: the waiting period, 30 days unless the request says otherwise."""
    return world.with_key(attrs.evolve(_key(world, ctx), pending_window_days=ctx.params.get("PendingWindowInDays", 30)))


@effect
def clear_pending_window(world: World, ctx: Context, info: Info) -> World:
    return world.with_key(attrs.evolve(_key(world, ctx), pending_window_days=None))


@effect
def delete_backing_key(world: World, ctx: Context, info: Info) -> World:
    """DK-04: the best-effort deletion of the AES key in the cluster succeeded."""
    key = _key(world, ctx)
    store = world.store(key.store_id)
    cluster = world.cluster(store.cluster_id) if store else None
    if cluster is None:
        return world
    return world.with_cluster(attrs.evolve(cluster, key_material=cluster.key_material - {key.key_id}))


@effect
def delete_key(world: World, ctx: Context, info: Info) -> World:
    """DK-04, DK-07: the KMS key's metadata is gone for good."""
    return world.without_key(_key(world, ctx).key_id)


#: What each effect does to the facts guards read about the same subject: a fact mapped to
#: True or False takes that value, one mapped to None may take any value, and every fact
#: not listed keeps its value. This is the effects' meaning at the level of the transition
#: table (what a solver encoding of the table needs); a test checks it against the code
#: above on many worlds. The subject's state and ConnectionErrorCode come from the row itself.
FACT_CHANGES: dict[str, dict[str, bool | None]] = {
    "start_attempt": {"attempt_in_flight": True},
    "end_attempt": {"attempt_in_flight": False},
    "catch_up_reads": {"reads_lag": False},
    "rotate_kmsuser_password": {"password_matches": True, "kmsuser_failed_before": False},
    "lock_out_kmsuser": {"kmsuser_locked": True},
    "record_failed_login": {"kmsuser_failed_before": True},
    # a new password and/or a related cluster: every fact about the cluster may change
    "apply_update": {name: None for name in (
        "password_matches", "cluster_exists", "cluster_active", "hsm_ge1", "hsm_2az", "subnets_2az", "sg_intact",
        "subnets_exist", "subnets_free", "kmsuser_exists", "kmsuser_on_every_hsm", "kmsuser_logged_in", "kmsuser_locked",
        "kmsuser_failed_before", "kmsuser_2fa", "sessions_free", "material_present")},
    "create_store": {},
    "delete_store": {},
    "create_key": {"store_has_keys": True},
    "set_pending_window": {},
    "clear_pending_window": {},
    "delete_backing_key": {"material_present": False},
    "delete_key": {"store_has_keys": None},
}
