"""What a recorded trace cannot see, and the model worlds that fill it in for the observer.

The facts the table's guards read are split three ways: about the environment (free at every
step), about stores and keys the trace has not shown (free while it has not shown them), and
read off the request and what the trace has shown. A :class:`Belief` holds the shown stores and
keys, with placeholders for what the trace has not shown about them.

:func:`belief_outcomes` says how an action can go in a belief: for each row of the transition
table that some value of the free facts allows (:func:`~ckspec.model.executor.matching_rows`
on assumed facts), one concrete world is built in which its guard holds (clusters, HSMs,
kmsuser, faults, and phantom stores and keys where an unseen fact needs one), and the executor
produces the outcome there. The rest turn a realised world back into a belief, and take in
what a listing or a connection attempt shows or hides about a store.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from ckspec.model import PERMISSIVE, Call, Internal, Outcome, World, outcomes
from ckspec.model import identifiers as ids
from ckspec.model.aws_service import (
    ClusterState,
    ConnectionState,
    ParameterError,
    validate_input,
)
from ckspec.model.executor import matching_rows, subject_context
from ckspec.model.facts import Context, subject_state
from ckspec.model.transitions import (
    CALLS,
    CONNECTION_ATTEMPT_COMPLETES,
    INTERNAL_EVENTS,
    Operation,
)
from ckspec.model.world import (
    AVAILABILITY_ZONES,
    Cluster,
    Hsm,
    Key,
    KeyStore,
    KmsUser,
    OwnCopy,
    Subnet,
)

from .checker import canonical, world_key

# --- what the trace cannot see ----------------------------------------------------------------

#: Facts about the environment: free at every step (CS-03, TR-08: the environment never moves a
#: store, but it changes everything a later transition reads).
ENVIRONMENT_FACTS = frozenset({
    "cluster_exists", "cluster_active", "hsm_ge1", "hsm_2az", "subnets_2az", "sg_intact", "subnets_exist",
    "subnets_free", "kmsuser_exists", "kmsuser_on_every_hsm", "kmsuser_logged_in", "kmsuser_locked",
    "kmsuser_failed_before", "kmsuser_2fa", "password_matches", "network_ok", "sessions_free", "kms_ok", "material_present", "target_exists",
    "target_active", "target_config_ok", "target_related", "trust_anchor_matches",
    # Q-02, AMB-24: the account's quota is not something the trace shows
    "quota_reached",
})
#: Facts that stores and keys the trace has not shown (yet) may make true.
UNSEEN_FACTS = frozenset({"name_taken", "target_in_use", "store_has_keys", "idempotent_match"})
#: Facts read off the request and off what the trace has shown (the belief itself).
SHOWN_FACTS = frozenset({
    "attempt_in_flight", "reads_lag", "store_connected", "malformed_arn", "ciphertext_invalid",
    "ciphertext_key_mismatch", "window_out_of_range", "req_store", "req_name", "req_password", "req_cluster",
    "rename_allowed_connected", "cloudhsm_request", "key_request_forbidden", "outside_custom_key_stores",
    "both_filters", "filter_given", "filter_matches", "marker_given", "marker_valid",
})
FREE_FACTS = ENVIRONMENT_FACTS | UNSEEN_FACTS

#: Placeholders for what the trace has not shown about a store.
UNSEEN_NAME = "\x00unseen name"
UNSEEN_ANCHOR = "\x00unseen trust anchor"
UNSEEN_PASSWORD = "\x00unseen password"
UNSEEN_CODE = "\x00unseen code"
#: A store whose cluster the trace has not shown is on cluster UNSEEN_CLUSTER + its serial.
UNSEEN_CLUSTER = 1 << 40
#: Serials of stores, keys, HSMs and lineages that exist only in one realised world.
PHANTOM = 1 << 41
_OTHER_PASSWORD = "\x00another password"
_ANCHOR = re.compile(re.escape(ids.trust_anchor(0)).replace("0", r"(\d+)", 1))


@attrs.frozen
class Belief:
    """A model world holding what the trace has shown (stores and keys only; placeholders for
    the unseen), which stores may hold keys the trace has not shown, and whether every store of
    the account is in it (an unfiltered listing showed them all)."""

    world: World
    hidden_keys: frozenset[int] = frozenset()
    complete: bool = False

    @property
    def identity(self) -> tuple[Any, ...]:
        return (world_key(self.world), self.hidden_keys, self.complete)


# --- how an action can go in a belief ------------------------------------------------------------


def belief_outcomes(belief: Belief, action: Call | Internal, serial: int) -> Iterable[Outcome]:
    """Every outcome of ``action`` some environment gives in this belief, with model serials
    handed out after ``serial``."""
    if isinstance(action, Call):
        op = CALLS[action.operation]
        try:
            validate_input(op.name, action.kwargs)
        except ParameterError:  # AMB-18: the executor answers ValidationError, whatever the world
            yield from outcomes(belief.world, action, PERMISSIVE)
            return
    else:
        op = INTERNAL_EVENTS[action.event]
    base = _realise(belief, action, {}, None, serial)
    ctx = subject_context(base, action)
    state = subject_state(ctx, op.subject)
    atoms = _atoms(op)
    fixed = tuple((n, ctx.fact(n)) for n in sorted(atoms - FREE_FACTS))
    free = tuple(sorted(atoms & FREE_FACTS))
    default = tuple(ctx.fact(n) for n in free)
    for row, assignments in _witnesses(op, state, fixed, free, default, ctx.store, ctx.key):
        found = _row_outcomes(belief, action, op, row, [dict(zip(free, a)) for a in assignments], serial)
        yield from found


def _row_outcomes(belief: Belief, action: Call | Internal, op: Operation, row: Any,
                  assignments: list[dict[str, bool]], serial: int) -> list[Outcome]:
    """The outcomes of one row in the first world built for one of its assignments in which the
    executor really takes that row (the assignment is only a hint: the world's own facts, read
    by the model, decide)."""
    label = f"{op.name}: {row.error}" if hasattr(row, "error") else f"{op.name}: {row.name}"
    for want in assignments:
        for lineage in (None, "request", "fresh"):
            world = _realise(belief, action, want, lineage, serial)
            found = [o for o in outcomes(world, action, PERMISSIVE) if o.label == label and o.rules == row.rules]
            if found:
                return found
    return []


def _atoms(op: Operation) -> frozenset[str]:
    return frozenset().union(*(row.when.atoms() for row in op.rows))


class _Assumed:
    """A fact source with every fact given: what :func:`matching_rows` sees for one assignment."""

    __slots__ = ("facts", "key", "store")

    def __init__(self, facts: dict[str, bool], store: Any, key: Any) -> None:
        self.facts, self.store, self.key = facts, store, key

    def fact(self, name: str) -> bool:
        return self.facts[name]


_WITNESSES: dict[tuple[Any, ...], list[tuple[Any, list[tuple[bool, ...]]]]] = {}


def _witnesses(op: Operation, state: str, fixed: tuple[tuple[str, bool], ...], free: tuple[str, ...],
               default: tuple[bool, ...], store: Any, key: Any) -> list[tuple[Any, list[tuple[bool, ...]]]]:
    """Each row that can apply for some values of the free facts, with up to sixteen such values
    (nearest the default first): the table's own resolution, run on assumed facts."""
    memo = (op.name, state, fixed, free, default)
    found = _WITNESSES.get(memo)
    if found is not None:
        return found
    rows: dict[int, list[tuple[bool, ...]]] = {}
    for flips in itertools.chain.from_iterable(itertools.combinations(range(len(free)), n)
                                               for n in range(len(free) + 1)):
        values = tuple(not v if i in flips else v for i, v in enumerate(default))
        facts = dict(fixed) | dict(zip(free, values))
        for row in matching_rows(op, _Assumed(facts, store, key)):
            slot = rows.setdefault(id(row), [])
            if len(slot) < 16:
                slot.append(values)
    by_id = {id(r): r for r in op.rows}
    found = [(by_id[i], values) for i, values in rows.items()]
    _WITNESSES[memo] = found
    return found


# --- realising an environment ------------------------------------------------------------------------


def _realise(belief: Belief, action: Call | Internal, want: dict[str, bool], lineage: str | None,
             serial: int) -> World:
    world = attrs.evolve(belief.world, serial=max(belief.world.serial, serial))
    ctx = subject_context(world, action)
    store, key, params = ctx.store, ctx.key, ctx.params

    def fact(name: str, default: bool = True) -> bool:
        return want.get(name, default)

    clusters: list[Cluster] = []
    target = ids.parse_cluster_id(params.get("CloudHsmClusterId")) if isinstance(action, Call) else None
    if store is not None:
        own = dict(want)
        if target == store.cluster_id:  # an Update naming the store's own cluster (AMB-34)
            own.update(cluster_exists=fact("target_exists"), cluster_active=fact("target_active"),
                       hsm_2az=fact("target_config_ok"), subnets_2az=fact("target_config_ok"))
        if own.get("cluster_exists", True):
            clusters.append(_cluster(store.cluster_id, _lineage(store.trust_anchor, store.store_id), own,
                                     store, key, world))
    if target is not None and (store is None or target != store.cluster_id) and fact("target_exists"):
        choice = {None: _lineage(store.trust_anchor, store.store_id) if store else None,
                  "request": _lineage(params.get("TrustAnchorCertificate"), None),
                  "fresh": PHANTOM + 1}[lineage] or PHANTOM + 1
        config = fact("target_config_ok")
        clusters.append(_cluster(target, choice, {"cluster_active": fact("target_active"), "hsm_2az": config,
                                                  "subnets_2az": config}, None, None, world))
    phantoms = list(_phantoms(belief, world, ctx, want))
    world = attrs.evolve(world, clusters=tuple(clusters), stores=world.stores + tuple(phantoms),
                         network_fault=not fact("network_ok"), internal_fault=not fact("kms_ok"))
    if fact("store_has_keys", False) and store is not None and store.store_id in belief.hidden_keys \
            and not any(world.keys_in(store.store_id)):
        world = world.with_key(Key(PHANTOM, store.store_id))
    if fact("idempotent_match", False):
        world = _learn_idempotent(world, params)
    return attrs.evolve(world, quota=max(1, len(world.stores) + (0 if fact("quota_reached", False) else 1)))


def _phantoms(belief: Belief, world: World, ctx: Context, want: dict[str, bool]) -> Iterable[KeyStore]:
    """Stores the trace has not shown, where a fact needs one (CREATE-03, UPDATE-06, CREATE-06)."""
    if belief.complete:
        return
    params = ctx.params
    name = params.get("NewCustomKeyStoreName", params.get("CustomKeyStoreName"))
    own = ctx.store.store_id if ctx.store else None
    if want.get("name_taken") and isinstance(name, str) and not any(
            s.name == name and s.store_id != own for s in world.stores):
        yield KeyStore(PHANTOM + 1, name, PHANTOM + 2, UNSEEN_ANCHOR, UNSEEN_PASSWORD)
    target = ids.parse_cluster_id(params.get("CloudHsmClusterId"))
    if want.get("target_in_use") and target is not None:
        yield KeyStore(PHANTOM + 3, UNSEEN_NAME + " (in use)", target, UNSEEN_ANCHOR, UNSEEN_PASSWORD)
    if want.get("quota_reached") and not world.stores:
        yield KeyStore(PHANTOM + 4, UNSEEN_NAME + " (quota)", PHANTOM + 5, UNSEEN_ANCHOR, UNSEEN_PASSWORD)


def _lineage(anchor: Any, store_serial: int | None) -> int | None:
    match = _ANCHOR.fullmatch(anchor) if isinstance(anchor, str) else None
    if match:
        return int(match.group(1))
    return PHANTOM + 10 + store_serial if store_serial is not None else None


def _cluster(serial: int, lineage: int, want: Mapping[str, bool], store: KeyStore | None, key: Key | None,
             world: World) -> Cluster:
    """A cluster with the facts ``want`` asks for (healthy where it asks nothing)."""

    def fact(name: str, default: bool = True) -> bool:
        return want.get(name, default)

    count = 2 if fact("hsm_2az") else (1 if fact("hsm_ge1") else 0)
    hsms = tuple(Hsm(PHANTOM + 20 + i, AVAILABILITY_ZONES[i]) for i in range(count))
    subnets = [Subnet(z) for z in AVAILABILITY_ZONES[: 2 if fact("subnets_2az") else 1]]
    if not fact("subnets_exist"):
        subnets.append(Subnet(AVAILABILITY_ZONES[2], exists=False))
    if not fact("subnets_free"):
        subnets[0] = attrs.evolve(subnets[0], free_addresses=0)
    user = None
    if store is not None and fact("kmsuser_exists"):
        user = KmsUser(store.password if fact("password_matches") else _OTHER_PASSWORD,
                       logged_in=fact("kmsuser_logged_in", False), locked_out=fact("kmsuser_locked", False),
                       failed_login=fact("kmsuser_failed_before", False), two_factor=fact("kmsuser_2fa", False))
    if user is not None and hsms and not fact("kmsuser_on_every_hsm"):  # KU-12: one more HSM, without kmsuser
        hsms = hsms[:1] + (Hsm(PHANTOM + 22, hsms[-1].availability_zone, own_kmsuser=OwnCopy(None)),)
    material = frozenset(k.key_id for k in world.keys_in(store.store_id)) if store is not None else frozenset()
    if key is not None and not fact("material_present"):
        material -= {key.key_id}
    return Cluster(serial, ClusterState.ACTIVE if fact("cluster_active") else ClusterState.INITIALIZED, lineage,
                   tuple(subnets), hsms, security_group_intact=fact("sg_intact"),
                   trust_anchor=ids.trust_anchor(lineage), kmsuser=user, key_material=material,
                   sessions_exhausted=not fact("sessions_free"))


def _learn_idempotent(world: World, params: Mapping[str, Any]) -> World:
    """CREATE-10: a DISCONNECTED store whose unseen name, cluster, anchor or password may be the
    request's is taken to be the one an idempotent retry found."""
    cluster = ids.parse_cluster_id(params.get("CloudHsmClusterId"))
    for s in world.stores:
        fits = (s.state is ConnectionState.DISCONNECTED
                and s.name in (params.get("CustomKeyStoreName"), UNSEEN_NAME)
                and s.cluster_id in (cluster, UNSEEN_CLUSTER + s.store_id)
                and s.trust_anchor in (params.get("TrustAnchorCertificate"), UNSEEN_ANCHOR)
                and s.password in (params.get("KeyStorePassword"), UNSEEN_PASSWORD))
        if fits and s.store_id < PHANTOM:
            return world.with_store(attrs.evolve(s, name=params.get("CustomKeyStoreName"), cluster_id=cluster,
                                                 trust_anchor=params.get("TrustAnchorCertificate"),
                                                 password=params.get("KeyStorePassword")))
    return world


# --- beliefs: what the trace shows or hides about a store -----------------------------------------


def _code_is_free() -> bool:
    """Whether every failed connection attempt's code depends on the environment alone (and
    changes nothing else about the store), so that which one a failure has is unknown until a
    listing shows it (true of the table today; checked rather than assumed)."""
    attempt = CONNECTION_ATTEMPT_COMPLETES
    return all(b.when.atoms() <= FREE_FACTS | {"attempt_in_flight"} and set(b.effects) <= _CLUSTER_EFFECTS
               for b in attempt.branches if b.target == ConnectionState.FAILED.value)


#: Effects on the cluster and kmsuser only (what a belief does not hold).
_CLUSTER_EFFECTS = frozenset({"end_attempt", "lock_out_kmsuser", "record_failed_login"})
_CODE_IS_FREE = _code_is_free()


def unshown_code(world: World, event: Internal) -> World:
    """CEC-00, TR-03: after a connection attempt fails, its code is one of ATTEMPT_CODES, which
    one is left open until a listing shows it (instead of one belief per code)."""
    if not _CODE_IS_FREE or event.event != CONNECTION_ATTEMPT_COMPLETES.name:
        return world
    store = world.store(event.subject)
    if store is None or store.state is not ConnectionState.FAILED:
        return world
    return world.with_store(attrs.evolve(store, error_code=UNSEEN_CODE))


def unseen_store(serial: int, state: ConnectionState) -> KeyStore:
    return KeyStore(serial, UNSEEN_NAME, UNSEEN_CLUSTER + serial, UNSEEN_ANCHOR, UNSEEN_PASSWORD, state=state,
                    error_code=UNSEEN_CODE if state is ConnectionState.FAILED else None,
                    attempt_in_flight=state is ConnectionState.CONNECTING)


def with_store(belief: Belief, store: KeyStore) -> Belief:
    stores = tuple(sorted(belief.world.stores + (store,), key=lambda s: s.store_id))
    return attrs.evolve(belief, world=attrs.evolve(belief.world, stores=stores),
                        hidden_keys=belief.hidden_keys | {store.store_id})


def fill_in(belief: Belief, shown: KeyStore) -> Belief:
    """What a listing shows about a store the belief holds with placeholders."""
    store = belief.world.store(shown.store_id)
    if store is None:
        return belief
    changes: dict[str, Any] = {}
    if store.name == UNSEEN_NAME:
        changes["name"] = shown.name
    if store.cluster_id == UNSEEN_CLUSTER + store.store_id:
        changes["cluster_id"] = shown.cluster_id
    if store.trust_anchor == UNSEEN_ANCHOR:
        changes["trust_anchor"] = shown.trust_anchor
    if shown.state is ConnectionState.FAILED and shown.error_code != UNSEEN_CODE:
        if store.error_code == UNSEEN_CODE:
            changes["error_code"] = shown.error_code
        elif store.lag is not None and store.lag == (ConnectionState.FAILED, UNSEEN_CODE):
            changes["lag"] = (ConnectionState.FAILED, shown.error_code)  # AMB-30: a read of the state before
    if not changes:
        return belief
    return attrs.evolve(belief, world=belief.world.with_store(attrs.evolve(store, **changes)))


def project(world: World, before: Belief) -> Belief:
    """A belief from a realised world: its stores and keys, without the environment and phantoms."""
    stores = tuple(s for s in world.stores if s.store_id < PHANTOM)
    keys = tuple(k for k in world.keys if k.key_id < PHANTOM)
    kept = World(stores=stores, keys=keys, serial=world.serial, secrets=world.secrets)
    present = {s.store_id for s in stores}
    return Belief(canonical(kept), frozenset(s for s in before.hidden_keys if s in present), before.complete)


_PLACEHOLDER = re.compile(r"'\\x00unseen [^']*'")


def plain(text: str) -> str:
    """A message without the observer's placeholders (they stand for what the trace has not shown)."""
    return _PLACEHOLDER.sub("a value", text)
