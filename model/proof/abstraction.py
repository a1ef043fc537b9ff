"""From concrete worlds and actions to values of the symbolic variables.

This is how the executor and the solver are compared: the same concrete world, projected
here, must have the same successors on both sides (``tests/test_proof_agreement.py``).
Cluster facts are read with the concrete fact readers themselves, so the projection adds no
third statement of what a fact means.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import z3

from .. import identifiers as ids
from ..actions import Action, Call, Internal
from ..executor import subject_context
from ..facts import FACTS, Context
from ..profiles import Profile
from ..transitions import CALLS, INTERNAL_EVENTS, Operation
from ..world import ABSENT, Cluster, KeyStore, Secret, World
from .readers import REQUEST_FACTS, Request
from .state import CODE, CONN, KSTATE, NO_CODE, State, SymbolicScope

_ANCHOR_PREFIX = ids.trust_anchor(0).split("ckspec-customer-ca-")[0] + "ckspec-customer-ca-"


class Codec:
    """Numbers for names, person-chosen passwords and foreign trust anchors (only equality matters)."""

    def __init__(self) -> None:
        self._names: dict[str, int] = {}
        self._passwords: dict[str, int] = {}
        self._anchors: dict[str, int] = {}

    def name(self, value: str) -> int:
        return self._names.setdefault(value, len(self._names))

    def password(self, value: str | Secret) -> int:
        if isinstance(value, Secret):
            return -value.serial
        return self._passwords.setdefault(value, len(self._passwords))

    def anchor(self, value: str) -> int:
        """A lineage's trust anchor is the lineage (>= 1); anything else a distinct number <= 0."""
        for lineage in _lineages(value):
            if ids.trust_anchor(lineage) == value:
                return lineage
        return -self._anchors.setdefault(value, len(self._anchors))


def _lineages(value: object) -> Iterable[int]:
    if isinstance(value, str) and value.startswith(_ANCHOR_PREFIX):
        digits = value[len(_ANCHOR_PREFIX):].split("\n", 1)[0]
        if digits.isdigit():
            yield int(digits)


class Slots:
    """Which slot each concrete store, cluster and key takes, stable across the worlds given."""

    def __init__(self, worlds: Iterable[World], extra_clusters: Iterable[int] = ()) -> None:
        worlds = list(worlds)
        store_ids = sorted({s.store_id for w in worlds for s in w.stores})
        cluster_ids = sorted({c.cluster_id for w in worlds for c in w.clusters}
                             | {s.cluster_id for w in worlds for s in w.stores} | set(extra_clusters))
        key_ids = sorted({k.key_id for w in worlds for k in w.keys})
        self.stores = {sid: n for n, sid in enumerate(store_ids)}
        self.clusters = {cid: n for n, cid in enumerate(cluster_ids)}
        self.keys = {kid: n for n, kid in enumerate(key_ids)}
        #: one more cluster slot than named: where a request naming no known cluster points
        self.scope = SymbolicScope(stores=max(1, len(store_ids)), clusters=len(cluster_ids) + 1,
                                   keys=max(1, len(key_ids)))
        self.spare_cluster = len(cluster_ids)


def _fake_store(cluster_id: int) -> KeyStore:
    return KeyStore(store_id=-1, name="", cluster_id=cluster_id, trust_anchor="", password="")


def values(world: World, slots: Slots, codec: Codec, profile: Profile) -> dict[str, Any]:
    """The meaningful variables of ``world`` (see :func:`ckspec.model.proof.state.meaningful`)."""
    out: dict[str, Any] = {
        "network_ok": not world.network_fault, "kms_ok": not world.internal_fault,
        "quota": world.quota, "secrets": world.secrets,
    }
    scope = slots.scope
    by_slot = {n: world.store(sid) for sid, n in slots.stores.items()}
    for i in range(scope.stores):
        store = by_slot.get(i)
        if store is None:
            out[f"st.{i}"] = ABSENT
            continue
        out.update({
            f"st.{i}": store.state.value, f"code.{i}": store.error_code or NO_CODE,
            f"attempt.{i}": store.attempt_in_flight, f"lag.{i}": store.lag is not None,
            f"name.{i}": codec.name(store.name), f"cluster.{i}": slots.clusters[store.cluster_id],
            f"anchor.{i}": codec.anchor(store.trust_anchor), f"password.{i}": codec.password(store.password),
        })
    clusters = {n: world.cluster(cid) for cid, n in slots.clusters.items()}
    for c in range(scope.clusters):
        cluster = clusters.get(c)
        out[f"exists.{c}"] = cluster is not None
        if cluster is None:
            continue
        ctx = Context(world, profile, {}, store=_fake_store(cluster.cluster_id))
        out.update({
            f"lineage.{c}": cluster.lineage, f"initialized.{c}": cluster.trust_anchor is not None,
            f"active.{c}": ctx.fact("cluster_active"),
            **{f"{name}.{c}": ctx.fact(name) for name in ("hsm_ge1", "hsm_2az", "subnets_2az", "sg_intact",
                                                          "subnets_exist", "subnets_free", "sessions_free")},
            f"user.{c}": ctx.fact("kmsuser_exists"),
        })
        if ctx.fact("kmsuser_exists"):  # KU-14: what KMS finds on the active HSMs
            out.update({f"logged_in.{c}": ctx.fact("kmsuser_logged_in"), f"locked.{c}": ctx.fact("kmsuser_locked"),
                        f"failed_before.{c}": ctx.fact("kmsuser_failed_before"),
                        f"two_factor.{c}": ctx.fact("kmsuser_2fa"), f"user_all.{c}": ctx.fact("kmsuser_on_every_hsm"),
                        f"user_password.{c}": _user_password(codec, cluster, profile)})
    keys = {n: world.key(kid) for kid, n in slots.keys.items()}
    for k in range(scope.keys):
        key = keys.get(k)
        if key is None:
            out[f"ks.{k}"] = ABSENT
            continue
        out[f"ks.{k}"] = key.state
        out[f"key_store.{k}"] = slots.stores[key.store_id]
        for c in slots.clusters.values():
            cluster = clusters.get(c)
            if cluster is not None:
                out[f"material.{k}.{c}"] = key.key_id in cluster.key_material
    return out


def _user_password(codec: Codec, cluster: Cluster, profile: Profile) -> int:
    """kmsuser's password on the active HSMs; HSMs that disagree (KU-12) give a number no store's
    password has, so the password matches no store's, as the concrete reader says."""
    passwords = {u.password for u in cluster.kmsuser_copies(profile.active_hsm_states) if u is not None}
    if len(passwords) == 1:
        return codec.password(passwords.pop())
    return codec.password(f"\x00passwords differ on the HSMs of cluster {cluster.cluster_id}")


def literal(name: str, value: Any) -> z3.ExprRef:
    field = name.split(".")[0]
    if field == "st":
        return CONN[value]
    if field == "code":
        return CODE[value]
    if field == "ks":
        return KSTATE[value]
    if isinstance(value, bool):
        return z3.BoolVal(value)
    return z3.IntVal(value)


def pin(state: State, assignment: dict[str, Any]) -> z3.BoolRef:
    return z3.And([state[name] == literal(name, value) for name, value in assignment.items()])


def operation_of(action: Action) -> Operation:
    if isinstance(action, Call):
        return CALLS[action.operation]
    if isinstance(action, Internal):
        return INTERNAL_EVENTS[action.event]
    raise TypeError(f"not a table action: {action!r}")


def request_cluster(action: Action) -> int | None:
    if isinstance(action, Call):
        return ids.parse_cluster_id(action.kwargs.get("CloudHsmClusterId"))
    return None


def subject_slot(world: World, action: Action, slots: Slots, profile: Profile) -> int | None | str:
    """The slot of the action's subject, None for account-level ones, ABSENT for a missing one."""
    op = operation_of(action)
    ctx = subject_context(world, action, profile)
    if op.subject == "store":
        return ABSENT if ctx.store is None else slots.stores[ctx.store.store_id]
    if op.subject == "key":
        return ABSENT if ctx.key is None else slots.keys[ctx.key.key_id]
    return None


def request_values(world: World, action: Action, slots: Slots, codec: Codec, profile: Profile,
                   request: Request) -> z3.BoolRef:
    """Pin the request variables to what ``action`` asks (request-only facts by the concrete readers)."""
    ctx = subject_context(world, action, profile)
    params = ctx.params
    parts = [request.facts[name] == z3.BoolVal(bool(FACTS[name].read(ctx))) for name in REQUEST_FACTS]
    name = params.get("NewCustomKeyStoreName", params.get("CustomKeyStoreName"))
    parts.append(request.has_name == z3.BoolVal(name is not None))
    if name is not None:
        parts.append(request.name == codec.name(name))
    cluster = request_cluster(action)
    parts.append(request.cluster == slots.clusters.get(cluster, slots.spare_cluster))
    parts.append(request.has_anchor == z3.BoolVal("TrustAnchorCertificate" in params))
    if "TrustAnchorCertificate" in params:
        parts.append(request.anchor == codec.anchor(params["TrustAnchorCertificate"]))
    parts.append(request.has_password == z3.BoolVal("KeyStorePassword" in params))
    if "KeyStorePassword" in params:
        parts.append(request.password == codec.password(params["KeyStorePassword"]))
    return z3.And(parts)
