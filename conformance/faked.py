"""Answers that only set-up ckspec made up can explain.

A target without a CloudHSM v2 API cannot create the starting account's clusters, HSMs,
trust anchors or kmsuser: ckspec fakes them (:meth:`.wire.BotoTarget._thin_fake`) and the
target never sees them. The model still holds them, so an answer that depends on one of them
(a kmsuser password the target cannot check, a trust anchor it never saw, the relation of two
clusters it does not know) could be blamed on the target for a fact ckspec invented.

:class:`FakedSetUp` keeps, beside the strict worlds, the *lenient* ones: the same worlds, and
copies in which every faked fact is as favourable as the request needs (each cluster's kmsuser
password is its store's, each cluster's trust anchor is its store's, a cluster a Create names
exists, is ready, holds the request's trust anchor and password and a certificate lineage of
its own, and the cluster an update moves to shares the store's lineage). The lenient worlds observe every answer the strict ones
do, so they are never fewer. When no strict world explains an answer and a lenient one does,
the answer *depends on faked set-up*: neither a failure nor a pass, counted apart in every
report, and the example goes on from the lenient worlds.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ckspec.model import identifiers as ids
from ckspec.model.actions import Call
from ckspec.model.world import KeyStore, World

from .adapter import Reply
from .checker import Matched, Nonconformance, PossibleWorlds, canonical, world_key
from .identity import Binding

#: lineages of clusters a request names that the faked set-up never made (far from the model's)
_INVENTED_LINEAGE = 1_000_000


class FakedSetUp:
    """The lenient worlds of a session whose starting account was faked."""

    def __init__(self, strict: PossibleWorlds) -> None:
        self.worlds = _copy(strict)

    def time_passes(self) -> None:
        self.worlds.time_passes()

    def days_pass(self) -> None:
        self.worlds.days_pass()

    def follow(self, call: Call, reply: Reply, binding: Binding, strict: PossibleWorlds) -> None:
        """The strict worlds explained the answer: the lenient ones observe it too (with a copy
        of the binding: the strict observation bound what the answer named). Should none of
        them explain it (they are a superset, so only through a target's own choice that the
        favourable facts rule out), they start again from the strict worlds."""
        self._favour(call)
        try:
            self.worlds.observe_call(call, reply, _copy_binding(binding))
        except Nonconformance:
            self.worlds = _copy(strict)

    def explain(self, call: Call, reply: Reply, binding: Binding) -> tuple[Matched, PossibleWorlds, Binding] | None:
        """No strict world explained the answer: the lenient worlds' match, worlds for the
        strict side to go on from, and the binding to go on with; None if none explains it."""
        self._favour(call)
        lenient = _copy_binding(binding)
        try:
            matched = self.worlds.observe_call(call, reply, lenient)
        except Nonconformance:
            return None
        return matched, _copy(self.worlds), lenient

    def _favour(self, call: Call) -> None:
        keep: dict[tuple, World] = {}
        for world in self.worlds.worlds:
            for w in (world, favourable(world, call)):
                keep.setdefault(world_key(w), w)
        self.worlds.worlds = tuple(keep.values())


def favourable(world: World, call: Call) -> World:
    """``world`` with every faked fact as favourable as ``call`` needs."""
    world = _stores_match_their_clusters(world, world.stores)
    params = call.kwargs
    named = ids.parse_cluster_id(params.get("CloudHsmClusterId"))
    if named is None:
        return canonical(world)
    if call.operation == "CreateCustomKeyStore":  # a lineage of its own: related to no store's cluster
        world = _ready(world, named, params.get("TrustAnchorCertificate"), params.get("KeyStorePassword"),
                       _INVENTED_LINEAGE + named)
    elif call.operation == "UpdateCustomKeyStore":
        store = world.store(ids.parse_store_id(params.get("CustomKeyStoreId")))
        current = world.cluster(store.cluster_id) if store is not None else None
        if store is not None:
            password = params.get("KeyStorePassword", store.password)
            lineage = current.lineage if current is not None else None
            world = _ready(world, named, store.trust_anchor, password, lineage)
    return canonical(world)


def _stores_match_their_clusters(world: World, stores: Iterable[KeyStore]) -> World:
    """Each store's cluster holds the store's trust anchor and its kmsuser the store's password."""
    for store in stores:
        cluster = world.cluster(store.cluster_id)
        if cluster is None:
            continue
        user = cluster.kmsuser
        if user is not None and user.password != store.password:
            user = attrs.evolve(user, password=store.password)
        world = world.with_cluster(attrs.evolve(cluster, trust_anchor=store.trust_anchor, kmsuser=user))
    return world


def _ready(world: World, cluster_id: int, anchor: object, password: object, lineage: int | None) -> World:
    """The named cluster exists, is as ready as the starting account's, and holds ``anchor``,
    ``password`` and ``lineage`` (the certificate lineage that relates clusters, CL-05)."""
    cluster = world.cluster(cluster_id)
    if cluster is None:
        template = next(iter(world.clusters), None)
        if template is None:
            return world
        cluster = attrs.evolve(template, cluster_id=cluster_id, key_material=frozenset(), source_backup_id=None)
    changes: dict[str, object] = {}
    if isinstance(anchor, str) and anchor:
        changes["trust_anchor"] = anchor
    if cluster.kmsuser is not None and isinstance(password, str) and password:
        changes["kmsuser"] = attrs.evolve(cluster.kmsuser, password=password)
    if lineage is not None:
        changes["lineage"] = lineage
    elif world.cluster(cluster_id) is None:
        changes["lineage"] = _INVENTED_LINEAGE + cluster_id
    return world.with_cluster(attrs.evolve(cluster, **changes))


def _copy(worlds: PossibleWorlds) -> PossibleWorlds:
    copy = PossibleWorlds(worlds.representative)
    copy.worlds, copy.recent = worlds.worlds, worlds.recent
    return copy


def _copy_binding(binding: Binding) -> Binding:
    copy = Binding()
    copy.to_target.update(binding.to_target)
    copy.to_model.update(binding.to_model)
    return copy

