"""Explicit-state exploration of every world reachable within a bounded scope.

Breadth-first from an empty account, trying every move (:mod:`ckspec.model.moves`) and
keeping every documented outcome (the ``permissive`` profile). Worlds that differ only
in how their identifiers and KMS-generated secrets are numbered are the same state: the
visited set is keyed on a canonical renumbering, which keeps the search finite.

The report says how many states and transitions there are, which connection states,
connection error codes and key states are reachable, and which states are *dead ends*:
states from which no sequence of actions brings every key store back to DISCONNECTED
(or deletes it). A transition is an outcome of a table branch, or of an environment event:
error answers never change the world, so the permissive exploration does not follow them
(with a one-answer profile they are followed, since they compete with the branches).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

import attrs

from .actions import Action, Environment
from .aws_service import CLOUDHSM_ERROR_CODES, ConnectionState
from .environment import EVENTS
from .executor import changes, outcomes
from .moves import moves
from .profiles import PERMISSIVE, Profile
from .responses import visible_key_state
from .scenarios import healthy_account
from .scope import LIFECYCLE, Scope
from .identifiers import trust_anchor
from .world import Secret, World


@attrs.frozen
class Exploration:
    scope: Scope
    states: int
    transitions: int
    connection_states: tuple[str, ...]
    error_codes: tuple[str, ...]
    key_states: tuple[str, ...]
    dead_ends: int
    #: a shortest action sequence to one dead end, if there is any
    dead_end_example: tuple[str, ...]
    seconds: float
    complete: bool
    missing_connection_states: tuple[str, ...]
    missing_error_codes: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        d = attrs.asdict(self, recurse=False)
        d["scope"] = self.scope.as_dict()
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        d["seconds"] = round(self.seconds, 3)
        return d


def explore(
    scope: Scope = LIFECYCLE,
    profile: Profile = PERMISSIVE,
    max_states: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    initial: World | None = None,
) -> Exploration:
    """Enumerate the reachable states of ``scope``, from ``initial`` (by default an account whose
    clusters are set up as the documentation requires); stop early (complete=False) at ``max_states``."""
    started = time.perf_counter()
    if initial is None:
        initial = healthy_account(clusters=min(scope.clusters, scope.stores), zones=scope.zones, quota=scope.quota)
    graph = _Graph(initial, max_states)
    seen = _Seen()
    budget = scope.environment_steps
    while graph.queue:
        current = graph.queue.popleft()
        seen.observe(graph.worlds[current])
        if scope.depth is not None and graph.depth[current] >= scope.depth:
            graph.cut(current)
            continue
        used = graph.env_used[current]
        for action in moves(graph.worlds[current], scope, environment=budget is None or used < budget):
            graph.follow(current, action, profile)
        if progress and current % 500 == 0:
            progress(current + 1, len(graph.worlds))
    stuck = _dead_ends(graph.worlds, graph.successors, graph.partial)
    return seen.report(
        scope=scope, states=len(graph.worlds), transitions=graph.transitions, dead_ends=len(stuck),
        dead_end_example=_path_to(graph.parent, min(stuck)) if stuck else (),
        seconds=time.perf_counter() - started, complete=not graph.truncated,
    )


class _Graph:
    """The explored graph: states (worlds keyed canonically, with the environment events
    spent to reach them), their successors, and how each was first reached."""

    def __init__(self, initial: World, max_states: int | None) -> None:
        self.max_states = max_states
        self.index: dict[tuple, int] = {}
        #: worlds seen exactly as they are (a cheap hit before computing a canonical key)
        self.exact: dict[tuple[World, int], int] = {}
        self.worlds: list[World] = []
        self.env_used: list[int] = []
        self.depth: list[int] = []
        self.parent: list[tuple[int, Action] | None] = []
        self.successors: list[list[int]] = []
        #: expanded, but some successors were dropped (state limit) or never tried (depth bound)
        self.partial: set[int] = set()
        self.truncated = False
        self.transitions = 0
        self.queue: deque[int] = deque()
        self._add(initial, 0, None, (canonical_key(initial), 0))

    def _add(self, world: World, spent: int, parent: tuple[int, Action] | None, key: tuple) -> int:
        n = self.index[key] = len(self.worlds)
        self.worlds.append(world)
        self.env_used.append(spent)
        self.depth.append(0 if parent is None else self.depth[parent[0]] + 1)
        self.parent.append(parent)
        self.successors.append([])
        self.queue.append(n)
        return n

    def cut(self, current: int) -> None:
        self.partial.add(current)

    def follow(self, current: int, action: Action, profile: Profile) -> None:
        world, used = self.worlds[current], self.env_used[current]
        spent = used + (isinstance(action, Environment) and not EVENTS[action.event].repair)
        out = self.successors[current]
        # error answers never change the world: a one-answer profile needs them to choose,
        # the permissive one does not (they would only be self-loops)
        found = outcomes(world, action, profile, prevalidated=True) if profile.single else changes(world, action)
        for outcome in found:
            self.transitions += 1
            if outcome.world is world and spent == used:  # an error answer changes nothing
                out.append(current)
                continue
            target = self.exact.get((outcome.world, spent))
            if target is not None:
                out.append(target)
                continue
            key = (canonical_key(outcome.world), spent)
            target = self.index.get(key)
            if target is None:
                if self.max_states is not None and len(self.worlds) >= self.max_states:
                    self.truncated = True
                    self.partial.add(current)
                    continue
                target = self._add(outcome.world, spent, (current, action), key)
            self.exact[(outcome.world, spent)] = target
            out.append(target)


class _Seen:
    """What the exploration saw: connection states, error codes and key states."""

    def __init__(self) -> None:
        self.states: set[str] = set()
        self.codes: set[str] = set()
        self.key_states: set[str] = set()

    def observe(self, world: World) -> None:
        for s in world.stores:
            self.states.add(s.state.value)
            if s.error_code:
                self.codes.add(s.error_code)
        for k in world.keys:
            self.key_states.add(visible_key_state(world, k))

    def report(self, **numbers: object) -> Exploration:
        all_states = tuple(s.value for s in ConnectionState)
        return Exploration(
            connection_states=tuple(s for s in all_states if s in self.states),
            error_codes=tuple(c for c in CLOUDHSM_ERROR_CODES if c in self.codes),
            key_states=tuple(sorted(self.key_states)),
            missing_connection_states=tuple(s for s in all_states if s not in self.states),
            missing_error_codes=tuple(c for c in CLOUDHSM_ERROR_CODES if c not in self.codes),
            **numbers,
        )


def _settled(world: World) -> bool:
    return all(s.state is ConnectionState.DISCONNECTED for s in world.stores)


def _dead_ends(worlds: list[World], successors: list[list[int]], unknown: set[int]) -> list[int]:
    """States that cannot reach a state where every store is DISCONNECTED (or deleted).

    States the search did not expand (a state limit or depth bound cut it short) have unknown
    successors; they are given the benefit of the doubt rather than reported as dead ends."""
    predecessors: list[list[int]] = [[] for _ in worlds]
    for source, targets in enumerate(successors):
        for t in targets:
            predecessors[t].append(source)
    good = [_settled(w) or i in unknown for i, w in enumerate(worlds)]
    queue = deque(i for i, g in enumerate(good) if g)
    while queue:
        for p in predecessors[queue.popleft()]:
            if not good[p]:
                good[p] = True
                queue.append(p)
    return [i for i, g in enumerate(good) if not g]


def _path_to(parent: list[tuple[int, Action] | None], target: int) -> tuple[str, ...]:
    steps = []
    while parent[target] is not None:
        source, action = parent[target]
        steps.append(repr(action))
        target = source
    return tuple(reversed(steps))


def canonical_key(world: World) -> tuple:
    """A hashable key equal for worlds that are the same up to renaming.

    Only key stores have an observable order (Describe lists them in creation order), so they
    keep theirs. Everything else is renumbered in a canonical order: clusters by the first
    store that uses them (then by content), lineages by first appearance, keys by store and
    content, secrets and store names by first appearance (only their equality matters; the
    scope's password and name pools are symmetric). Backing keys of deleted KMS keys (orphans,
    DK-04) are left out: nothing KMS does can see them again. Renamed twins have renamed
    successors, so the quotient keeps every reachable state (a test checks this on examples).
    """
    live = {k.key_id for k in world.keys}
    stores = world.stores
    clusters = world.clusters
    if len(clusters) > 1:
        clusters = sorted(clusters, key=lambda c: (_first_use(c.cluster_id, stores), _signature(c, live)))
    cn: dict[int, int] = {}
    for s in stores:
        cn.setdefault(s.cluster_id, len(cn) + 1)
    for c in clusters:
        cn.setdefault(c.cluster_id, len(cn) + 1)
    lineage: dict[int, int] = {}
    for c in clusters:
        lineage.setdefault(c.lineage, len(lineage) + 1)
    for b in world.backups:
        lineage.setdefault(b.lineage, len(lineage) + 1)
    sn = {s.store_id: i for i, s in enumerate(stores, 1)}
    keys = sorted(world.keys, key=lambda k: (sn[k.store_id], k.state, k.pending_window_days or 0, k.key_id))
    kn = {k.key_id: i for i, k in enumerate(keys, 1)}
    backups = sorted(world.backups, key=lambda b: (lineage[b.lineage], b.backup_id))
    bn = {b.backup_id: i for i, b in enumerate(backups, 1)}
    secrets: dict[object, int] = {}
    names: dict[str, int] = {}
    anchors = {trust_anchor(old): new for old, new in lineage.items()}

    def p(value: object) -> object:
        kind = "S" if isinstance(value, Secret) else "P"
        return (kind, secrets.setdefault(value, len(secrets) + 1))

    def user(u) -> tuple | None:
        return None if u is None else (p(u.password), u.logged_in, u.locked_out, u.failed_login, u.two_factor)

    return (
        tuple((sn[s.store_id], names.setdefault(s.name, len(names)), cn[s.cluster_id],
               anchors.get(s.trust_anchor, s.trust_anchor), p(s.password), s.state, s.error_code,
               s.attempt_in_flight) for s in stores),
        tuple((cn[c.cluster_id], c.state, lineage[c.lineage],
               tuple(sorted((h.availability_zone, h.state, _own(h, user)) for h in c.hsms)),
               c.subnets, c.security_group_intact, c.trust_anchor is not None, user(c.kmsuser),
               tuple(sorted(kn[k] for k in c.key_material & live)),
               None if c.source_backup_id is None else bn.get(c.source_backup_id, -1), c.sessions_exhausted)
              for c in sorted(clusters, key=lambda c: cn[c.cluster_id])),
        tuple((bn[b.backup_id], cn.get(b.source_cluster_id, -1), lineage[b.lineage], user(b.kmsuser),
               tuple(sorted(kn[k] for k in b.key_material & live))) for b in backups),
        tuple((kn[k.key_id], sn[k.store_id], k.state, k.pending_window_days) for k in keys),
        world.quota, world.network_fault, world.internal_fault,
    )


def _own(hsm, user) -> tuple:
    """KU-12: an HSM's own kmsuser copy, if it has one: (False,) in sync, (True, None) missing."""
    own = hsm.own_kmsuser
    return (False,) if own is None else (True, user(own.user))


def _first_use(cluster_id: int, stores: tuple) -> int:
    return next((i for i, s in enumerate(stores) if s.cluster_id == cluster_id), len(stores))


def _signature(c, live: set[int]) -> tuple:
    """What a cluster is, without its identity (orders clusters no store uses)."""
    u = c.kmsuser
    return (c.state, tuple(sorted((h.availability_zone, h.state, h.own_kmsuser is None) for h in c.hsms)),
            tuple((s.availability_zone, s.exists, s.free_addresses) for s in c.subnets), c.security_group_intact,
            c.trust_anchor is not None, u is None, len(c.key_material & live), c.source_backup_id is not None,
            c.sessions_exhausted)
