"""The checker: the set of model worlds still consistent with everything observed.

The model is nondeterministic where the documentation is (several documented outcomes,
AMB-nn) and where time is (a Connect's attempt may or may not have completed by the next
Describe, TR-01; a read may still show the previous state, AMB-30, T-02). Like Knossos
does for operations whose effect is unknown, the checker never guesses: it keeps every
world that explains the observations so far, and reports a nonconformance only when no
world explains the latest one.

Time is explicit. With a target whose clock the engine controls, asynchronous work
(connection attempts, disconnects, reads catching up) progresses only when the engine lets
time pass; with a real clock it may progress before any observation. Key deletion windows
end only when days pass.

Listings are compared in the current shape: an entry without CustomKeyStoreType, as AWS
published them before external key stores existed, is taken as an AWS_CLOUDHSM entry (AMB-38),
for recorded traces and live targets alike.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

import attrs

from ckspec.model import identifiers as ids
from ckspec.model.world import Secret
from ckspec.model import PERMISSIVE, Call, Environment, Outcome, World, internal_events, outcomes
from ckspec.model.environment import EVENTS
from ckspec.model.responses import in_current_shape

from .adapter import EnvironmentReply, Reply
from .contract import CREATES
from .diagnosis import Diagnosis, Transition, diagnose_call, diagnose_environment
from .identity import Binding, difference

#: Internal events that take seconds to minutes (CONNECT-09, T-01, T-02).
SHORT_EVENTS = frozenset({"ConnectionAttemptCompletes", "DisconnectCompletes", "ReadsCatchUp"})
#: Internal events that make a store's connection state change while no call is made.
STATE_EVENTS = frozenset({"ConnectionAttemptCompletes", "DisconnectCompletes"})
#: More possible worlds than this and the run is inconclusive rather than slow.
MAX_WORLDS = 2048
#: transitions of the path kept for a diagnosis (the latest; :mod:`.diagnosis` reads them backwards)
HISTORY = 256
#: transitions kept per observation (one step may be explained by many worlds)
HISTORY_PER_STEP = 16

_VALIDATION_NAMES = frozenset({"ValidationError", "ValidationException"})
#: AMB-21: the documentation disagrees on these errors' HTTP status (Smithy 404 and 409, the guide
#: 400); the catalog recommends asserting their shape names only
_STATUS_AMBIGUOUS = frozenset({"NotFoundException", "KMSInvalidStateException", "DisabledException"})
#: ambiguities whose catalog entry lets tests assert only "a non-success 4xx" for the error the
#: model names (AMB-17: Describe with both filters; no error is documented for it)
ANY_CLIENT_ERROR = frozenset({"AMB-17"})


class Nonconformance(Exception):
    """No model world explains an observation."""

    def __init__(self, failure: "Mismatch") -> None:
        super().__init__(failure.message)
        self.failure = failure


class Inconclusive(Exception):
    """The run cannot decide: polling ran out of budget, or too many worlds remain possible."""


@attrs.frozen
class Mismatch:
    """What the model allowed at the failing step, and what the target did. ``rules`` leads
    with the broken rule (:attr:`Diagnosis.broken`), then the other rules the answer
    contradicts, then the rest of the contradicted row's; ``context`` holds the rules of the
    transitions that led there (named, not blamed)."""

    rules: tuple[str, ...]
    expected: tuple[str, ...]
    observed: str
    detail: str
    message: str
    context: tuple[str, ...] = ()
    diagnosis: Diagnosis | None = None

    @property
    def broken(self) -> str:
        return self.rules[0] if self.rules else "ERR-01"

    @property
    def contradicted(self) -> tuple[str, ...]:
        return self.diagnosis.contradicted if self.diagnosis is not None else self.rules[:1]


def canonical(world: World) -> World:
    """The world with KMS-generated passwords renumbered by first appearance (CONNECT-11: only
    their equality matters). Worlds reached by the same events in different orders then
    coincide, so the set of possible worlds does not grow with the orders of completions
    nobody can observe."""
    if not world.secrets:
        return world
    users = [c.kmsuser for c in world.clusters] + [b.kmsuser for b in world.backups] + [
        h.own_kmsuser.user for c in world.clusters for h in c.hsms if h.own_kmsuser is not None]
    order: dict[Secret, Secret] = {}
    for password in [u.password for u in users if u is not None] + [s.password for s in world.stores]:
        if isinstance(password, Secret) and password not in order:
            order[password] = Secret(len(order) + 1)
    if world.secrets == len(order) and all(k == v for k, v in order.items()):
        return world  # already canonical (the common case): no new objects

    def renumber(holder: Any) -> Any:
        if holder is None or not isinstance(holder.password, Secret):
            return holder
        return attrs.evolve(holder, password=order[holder.password])

    return attrs.evolve(
        world,
        clusters=tuple(c if c.kmsuser is None else _renumber_cluster(c, renumber) for c in world.clusters),
        backups=tuple(b if b.kmsuser is None else attrs.evolve(b, kmsuser=renumber(b.kmsuser)) for b in world.backups),
        stores=tuple(renumber(s) for s in world.stores), secrets=len(order))


def _renumber_cluster(cluster: Any, renumber: Any) -> Any:
    """The cluster's kmsuser and each HSM's own copy of it (KU-12), renumbered."""
    hsms = tuple(h if h.own_kmsuser is None or h.own_kmsuser.user is None
                 else attrs.evolve(h, own_kmsuser=attrs.evolve(h.own_kmsuser, user=renumber(h.own_kmsuser.user)))
                 for h in cluster.hsms)
    return attrs.evolve(cluster, kmsuser=renumber(cluster.kmsuser), hsms=hsms)


def world_key(world: World) -> tuple[Any, ...]:
    """A world's identity including the read lag (which :class:`KeyStore` leaves out of ``==``)."""
    return (world, tuple(s.lag for s in world.stores))


_CACHE: dict[tuple[Any, ...], tuple[Outcome, ...]] = {}


def possible(world: World, action: Any) -> tuple[Outcome, ...]:
    """``outcomes(world, action, PERMISSIVE)``, memoised (examples share most of their worlds)."""
    return memoised_outcomes(_CACHE, world, action, PERMISSIVE)


def memoised_outcomes(cache: dict[Any, tuple[Outcome, ...]], world: World, action: Any,
                      profile: Any, table: Any = None) -> tuple[Outcome, ...]:
    """``outcomes(world, action, profile, table=table)`` through ``cache`` (one cache per table;
    cleared when it grows past 200,000)."""
    key = (world_key(world), action)
    try:
        found = cache.get(key)
    except TypeError:  # a request with list or map members (Tags, EncryptionContext) is not hashable
        return outcomes(world, action, profile, table=table)
    if found is None:
        if len(cache) > 200_000:
            cache.clear()
        found = cache[key] = outcomes(world, action, profile, table=table)
    return found


@attrs.define
class Matched:
    """The outcomes that explained one observation, and the worlds they started from."""

    outcomes: list[Outcome]
    before: list[World]


class PossibleWorlds:
    """The model worlds consistent with the observations so far."""

    def __init__(self, world: World) -> None:
        self.worlds: tuple[World, ...] = (world,)
        #: the internal outcomes the model allowed the last time time passed (named in a failure
        #: that they may explain: the target's own transition may be the wrong one)
        self.recent: tuple[Outcome, ...] = ()
        #: the model's latest transitions (for a diagnosis: which row set what a read shows)
        self.history: list[Transition] = []

    @property
    def representative(self) -> World:
        return self.worlds[0]

    # --- time ----------------------------------------------------------------------------------
    def time_passes(self) -> None:
        """Any pending short asynchronous work may have happened, in any order."""
        self.worlds, taken = _closure(self.worlds, SHORT_EVENTS)
        self.recent = tuple(t.outcome for t in taken)
        self._remember(taken)

    def days_pass(self) -> None:
        """Days passed: every pending asynchronous event has happened (DK-04)."""
        every = SHORT_EVENTS | {"KeyDeletionCompletes"}
        worlds, taken = _closure(self.worlds, every)
        self.recent = tuple(t.outcome for t in taken)
        self._remember(taken)
        self.worlds = tuple(w for w in worlds if not _pending(w, every))

    def work_pending(self) -> bool:
        """Some world still has a connection attempt or a disconnect under way."""
        return any(_pending(w, STATE_EVENTS) for w in self.worlds)

    # --- observations --------------------------------------------------------------------------
    def observe_call(self, call: Call, reply: Reply, binding: Binding,
                     probe: Callable[[int], str | None] | None = None) -> Matched:
        """The worlds that explain ``reply``; none: Nonconformance, diagnosed (``probe`` reads a
        store's ConnectionState from the target, to confirm a diagnosis that it is ahead)."""
        matched = Matched([], [])
        explained = explain_reply(((w, o) for w in self.worlds for o in possible(w, call)), reply, binding)
        keep: dict[tuple[Any, ...], World] = {}
        for world, outcome in explained.matches:
            after = canonical(outcome.world)
            keep.setdefault(world_key(after), after)
            matched.outcomes.append(outcome)
            matched.before.append(world)
        if not keep:
            if probe is not None:  # read each store at most once per diagnosis
                probe = functools.lru_cache(maxsize=None)(probe)
            raise Nonconformance(_call_mismatch(call, reply, explained.reasons, self.recent,
                                                candidates=explained.rejected, binding=binding,
                                                history=self.history, ahead=self._ahead(call), probe=probe))
        binding.bind_all(explained.pairs)
        self._remember(Transition(b, o) for b, o in zip(matched.before, matched.outcomes) if o.world is not b)
        self.worlds = tuple(keep.values())
        return matched

    def _remember(self, transitions: Iterable[Transition]) -> None:
        added: dict[tuple[str, Any], Transition] = {}
        for t in transitions:
            if len(added) >= HISTORY_PER_STEP:
                break
            added.setdefault((t.outcome.label, getattr(t.outcome.action, "subject", None)), t)
        self.history.extend(added.values())
        if len(self.history) > HISTORY:
            del self.history[:len(self.history) - HISTORY]

    def _ahead(self, call: Call) -> list[tuple[World, Outcome, tuple[Transition, ...]]]:
        """The call's outcomes in the worlds one pending asynchronous event away, which the
        model has not let happen yet (a target that completes work at once is ahead of it)."""
        known = {world_key(w) for w in self.worlds}
        found: list[tuple[World, Outcome, tuple[Transition, ...]]] = []
        for world in self.worlds[:64]:
            for event in internal_events(world):
                if event.event not in SHORT_EVENTS:
                    continue
                for step in possible(world, event):
                    after = canonical(step.world)
                    if world_key(after) in known:
                        continue
                    found.extend((after, o, (Transition(world, step),)) for o in possible(after, call))
        return found

    def observe_environment(self, event: Environment, reply: EnvironmentReply, binding: Binding) -> Matched:
        matched = Matched([], [])
        keep: dict[tuple[Any, ...], World] = {}
        refused: list[World] = []
        for world in self.worlds:
            found = possible(world, event)
            if reply.applied and found:
                after = canonical(found[0].world)
                keep.setdefault(world_key(after), after)
                matched.outcomes.append(found[0])
                matched.before.append(world)
            elif not reply.applied and not found:
                keep.setdefault(world_key(world), world)
                refused.append(world)
        if not keep:
            # the target's own earlier transitions may be what differs: name the ones allowed meanwhile
            found = diagnose_environment(event, reply.applied, self.history, self.recent, self.worlds)
            rules = tuple(dict.fromkeys((*found.contradicted, *EVENTS[event.event].rules)))
            expected = "refused" if reply.applied else "applied"
            observed = "applied" if reply.applied else "refused"
            raise Nonconformance(Mismatch(
                rules, (expected,), observed, found.reason,
                f"{rules[0]}: the environment control {event!r} can only be {expected} here "
                f"(rules {', '.join(rules)}); the target {observed} it [{found.reason}]"
                + (f"; context: {', '.join(found.context)}" if found.context else ""),
                found.context, found))
        if reply.applied:
            self._remember(Transition(b, o) for b, o in zip(matched.before, matched.outcomes))
        if reply.applied and reply.created is not None:
            created = created_identifier(matched.before[0], matched.outcomes[0].world, event)
            if created is not None and created not in binding.to_target:
                binding.bind(created, reply.created)
        self.worlds = tuple(keep.values())
        return matched


@attrs.define
class Explained:
    """Which candidate outcomes explain a reply, why the others do not, and the identifier
    pairs the reply binds."""

    matches: list[tuple[Any, Outcome]]
    reasons: list[tuple[Outcome, str]]
    pairs: dict[Any, Any]
    #: the ``(source, outcome)`` candidates that do not explain the reply (for a diagnosis)
    rejected: list[tuple[Any, Outcome]] = attrs.Factory(list)


def explain_reply(candidates: Iterable[tuple[Any, Outcome]], reply: Reply, binding: Binding) -> Explained:
    """The ``(source, outcome)`` candidates whose response is ``reply``. Every match must bind
    the identifiers the reply shows for the first time the same way (the first match decides)."""
    matches: list[tuple[Any, Outcome]] = []
    reasons: list[tuple[Outcome, str]] = []
    rejected: list[tuple[Any, Outcome]] = []
    pairs: dict[Any, Any] | None = None
    for source, outcome in candidates:
        new: dict[Any, Any] = {}
        why = _response_difference(outcome, reply, binding, new)
        if why is None and pairs is not None and new != pairs:
            why = "identifiers bound differently"
        if why is not None:
            reasons.append((outcome, why))
            rejected.append((source, outcome))
            continue
        pairs = new
        matches.append((source, outcome))
    return Explained(matches, reasons, pairs or {}, rejected)


def _response_difference(outcome: Outcome, reply: Reply, binding: Binding, new: dict[Any, Any]) -> str | None:
    expected = outcome.response
    if expected.ok != reply.ok:
        return f"expected {expected.summary()}, observed {reply.summary()}"
    if not expected.ok:
        if ANY_CLIENT_ERROR.intersection(outcome.rules) and (not reply.status or 400 <= reply.status < 500):
            return None
        same = expected.error == reply.error or {expected.error, reply.error} <= _VALIDATION_NAMES
        if not same:
            return f"expected {expected.error}, observed {reply.error}"
        if reply.status and reply.status != expected.status and expected.error not in _STATUS_AMBIGUOUS:
            return f"{expected.error}: expected HTTP {expected.status}, observed HTTP {reply.status} (ERR-02)"
        return None
    return difference(expected.body or {}, _in_current_shape(outcome, reply.body or {}), binding, new)


def _in_current_shape(outcome: Outcome, body: dict[str, Any]) -> dict[str, Any]:
    """AMB-38: a listing published before external key stores existed has entries without
    CustomKeyStoreType. Recorded traces and live targets alike are taken in the current shape
    (the documented ambiguity's recommendation); the model and ckspec serve emit the current one."""
    listed = body.get("CustomKeyStores")
    if getattr(outcome.action, "operation", None) != "DescribeCustomKeyStores" or not isinstance(listed, list):
        return body
    return {**body, "CustomKeyStores": [in_current_shape(e) for e in listed]}


def _call_mismatch(call: Call, reply: Reply, reasons: list[tuple[Outcome, str]],
                   recent: tuple[Outcome, ...] = (), *, candidates: list[tuple[Any, Outcome]] | None = None,
                   binding: Binding | None = None, history: Iterable[Transition] = (),
                   ahead: Iterable[tuple[World, Outcome, tuple[Transition, ...]]] = (),
                   probe: Callable[[int], str | None] | None = None) -> Mismatch:
    """The mismatch of a reply no candidate explains, diagnosed (:mod:`.diagnosis`): the broken
    rule first, the differing member in full, the rules along the path apart."""
    expected: list[str] = []
    for outcome, _ in reasons:
        label = outcome.response.summary() + (f" ({outcome.alt})" if outcome.alt else "")
        if label not in expected:
            expected.append(label)
    if candidates is None:
        candidates = [(None, o) for o, _ in reasons]
    found = diagnose_call(call, reply, [(w if isinstance(w, World) else None, o) for w, o in candidates],
                          binding if binding is not None else Binding(), history=tuple(history),
                          ahead=tuple(ahead), recent=recent, probe=probe)
    closest = next((o for _, o in candidates if o.label == found.row), None)
    row_rules = closest.rules if closest is not None else ()
    rules = tuple(dict.fromkeys((*found.contradicted, *(r for r in row_rules if r not in found.context))))
    detail = found.detail
    first_line = detail.splitlines()[0] if detail else ""
    message = (f"{found.broken}: {call!r}: the model allows {' or '.join(expected) or 'no answer'} "
               f"(rules {', '.join(rules)}); the target returned {reply.summary()}"
               + (f" [{first_line}]" if first_line else "")
               + f" -- broken rule {found.broken}: {found.reason}"
               + (f"; context: {', '.join(found.context)}" if found.context else "")
               + (f"; the target cites {', '.join(reply.rules)}" if getattr(reply, "rules", ()) else ""))
    return Mismatch(rules, tuple(expected), reply.summary(), detail, message, found.context, found)


def created_identifier(before: World, after: World, event: Environment) -> str | None:
    """The model's identifier for what an environment event created, to bind the target's to."""
    kind = CREATES.get(event.event)  # the one table of what each control creates
    if kind == "trust_anchor":
        cluster = after.cluster(event.args[0])
        return cluster.trust_anchor if cluster else None
    if kind is None or after.serial == before.serial:
        return None
    return {"cluster": ids.cluster_id, "hsm": ids.hsm_id, "backup": ids.backup_id}[kind](after.serial)


def _pending(world: World, kinds: frozenset[str]) -> bool:
    return any(e.event in kinds for e in internal_events(world))


def _closure(worlds: Iterable[World], kinds: frozenset[str]) -> tuple[tuple[World, ...], tuple[Transition, ...]]:
    """Every world reachable through internal events of ``kinds``, and the transitions taken."""
    seen: dict[tuple[Any, ...], World] = {world_key(w): w for w in worlds}
    taken: list[Transition] = []
    frontier = list(seen.values())
    while frontier:
        world = frontier.pop()
        for event in internal_events(world):
            if event.event not in kinds:
                continue
            for outcome in possible(world, event):
                taken.append(Transition(world, outcome))
                after = canonical(outcome.world)
                key = world_key(after)
                if key not in seen:
                    if len(seen) >= MAX_WORLDS:
                        raise Inconclusive(f"more than {MAX_WORLDS} model worlds remain possible")
                    seen[key] = after
                    frontier.append(after)
    return tuple(seen.values()), tuple(taken)
