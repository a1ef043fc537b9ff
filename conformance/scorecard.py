"""The scorecard: every rule of the catalog judged over many examples, not only the first failure.

``ckspec check`` stops at the first nonconformance and shrinks it; a scorecard keeps going.
It runs ``examples`` generated examples against fresh targets; an example that fails ends
there (after a failure the target's world can no longer be tracked) and the next one starts,
while the rules observed before the failure still count. Each rule then gets one verdict:

* **pass**: exercised, and never contradicted: no failure's diagnosis says the target's answer
  contradicts it;
* **fail**: a nonconformance contradicts it (:func:`contradicted`: the rule it is blamed on,
  named first, and any other rule the diagnosis found the answer contradicts, such as ERR-02
  for a wrong HTTP status, even when the failure was first blamed elsewhere). One minimal
  reproduction is kept per distinct failure, failures being the same when their rules,
  operation and observed outcome are;
* **unsupported**: every way to reach it needs an operation or environment control the target
  answers as not implemented, or does not offer (for example any rule about a connected store,
  on a target without ConnectCustomKeyStore);
* **not applicable**: the catalog says why the model does not encode it;
* **not reached**: none of the above (a longer run may reach it).

A target may say which environment controls it only pretended to perform (a ``faked``
attribute mapping each control to the times it was faked, as the moto targets do for the
HSMs moto cannot create): the rules those controls cite are not counted as exercised by them.

Examples are drawn from a seeded pseudo-random generator (not Hypothesis), so a scorecard is
repeatable: the same seed, target and budget give the same examples.
"""

from __future__ import annotations

import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import metadata
from typing import Any

import attrs
from ckspec.model.catalog import rules as catalog_rules
from ckspec.model.environment import EVENTS
from ckspec.model.transitions import CALLS, OPERATIONS

from .campaign import RandomDraws
from .checker import Inconclusive, Nonconformance
from .coverage import Coverage
from .engine import Failure, close_session, failure_from, generated_example, minimise, replay
from .generator import RULES, Memory, Rule
from .isolation import Isolation, isolation_of
from .session import Session, program
from .steps import Step
from .targets import TargetSpec
from .transport import NotImplementedEvidence, TransportFault

STATUSES = ("pass", "fail", "unsupported", "not reached", "not applicable")

#: what must be available before an internal event can happen at all
_INTERNAL_NEEDS = {
    "ConnectionAttemptCompletes": frozenset({"CreateCustomKeyStore", "ConnectCustomKeyStore"}),
    "DisconnectCompletes": frozenset({"CreateCustomKeyStore", "DisconnectCustomKeyStore"}),
    "ReadsCatchUp": frozenset({"CreateCustomKeyStore"}),
    "KeyDeletionCompletes": frozenset({"CreateCustomKeyStore", "CreateKey", "ScheduleKeyDeletion"}),
}
#: what must have happened before an environment control can apply
_EVENT_NEEDS = {
    "restore_backup": frozenset({"backup_cluster"}), "free_subnet": frozenset({"exhaust_subnet"}),
    "repair_security_group": frozenset({"break_security_group"}), "sessions_freed": frozenset({"sessions_exhausted"}),
    "kmsuser_logs_out": frozenset({"kmsuser_logs_in"}), "network_fault_ends": frozenset({"network_fault_begins"}),
    "internal_fault_ends": frozenset({"internal_fault_begins"}),
}
#: facts that only a fault makes false, and the control that begins the fault
_FAULTS = {"kms_ok": "internal_fault_begins", "network_ok": "network_fault_begins",
           "sessions_free": "sessions_exhausted"}
#: what must exist before a row about a present subject can apply
_SUBJECT_NEEDS = {"store": frozenset({"CreateCustomKeyStore"}),
                  "key": frozenset({"CreateCustomKeyStore", "CreateKey"})}


@attrs.frozen
class ScorecardOptions:
    examples: int = 100
    steps: int = 40
    seed: int = 0
    poll_budget: int = 30
    poll_interval: float = 1.0
    #: shrink each distinct failure to a 1-minimal step sequence (replays; off: as first seen)
    minimise: bool = True


@attrs.frozen
class RuleVerdict:
    id: str
    status: str
    #: how many observations exercised the rule
    runs: int
    statement: str
    #: index into :attr:`Scorecard.failures` of the first failure that names the rule
    failure: int | None = None


@attrs.define
class Scorecard:
    """What a scorecard run found."""

    target: str
    options: ScorecardOptions
    #: package -> version, for the page (ckspec, Python, and the target's own packages)
    versions: dict[str, str]
    examples: int = 0
    steps: int = 0
    seconds: float = 0.0
    coverage: Coverage = attrs.field(factory=Coverage)
    #: operation or environment control -> the "not implemented" signature the target gave
    unsupported: dict[str, str] = attrs.field(factory=dict)
    #: operations and controls the target's capabilities leave out (never generated)
    not_offered: tuple[str, ...] = ()
    #: the KMS operations the target's capabilities offer
    offered: frozenset[str] = frozenset()
    #: one-step examples run after the budget, for operations no example called
    probes: int = 0
    #: one per distinct failure, minimised, in the order first seen
    failures: list[Failure] = attrs.field(factory=list)
    #: how many examples ended with each failure (same order as ``failures``)
    occurrences: list[int] = attrs.field(factory=list)
    #: environment control -> times the target faked it (see the module's docstring)
    faked: Counter = attrs.field(factory=Counter)
    inconclusive: list[str] = attrs.field(factory=list)
    #: answers only a favourable choice of the faked set-up explains (:mod:`.faked`)
    faked_setup: list[str] = attrs.field(factory=list)
    #: how the examples were kept apart (:mod:`.isolation`)
    isolation: Isolation | None = None
    #: rules an inconclusive example could not see kept (a disconnect that never ended on a real
    #: clock, AMB-04): not counted as passed, whatever other examples exercised
    doubted: set[str] = attrs.field(factory=set)
    #: kind -> transport faults met; kind of the fault that ended it -> examples abandoned
    transport_faults: Counter = attrs.field(factory=Counter)
    abandoned: Counter = attrs.field(factory=Counter)
    evidence: NotImplementedEvidence = attrs.field(factory=NotImplementedEvidence)
    #: a sharded campaign's part (:class:`ScorecardShardLog`), for `ckspec report merge`; None unsharded
    shard: Any = None

    def rules(self) -> list[RuleVerdict]:
        """One verdict per catalogued rule, in catalog order."""
        first_failure: dict[str, int] = {}
        for i, f in enumerate(self.failures):
            for rule in contradicted(f):
                first_failure.setdefault(rule, i)
        unavailable = set(self.unsupported) | set(self.not_offered)
        needs = rule_needs()
        out = []
        for rule in catalog_rules():
            runs = self.coverage.rules.get(rule.id, 0)
            ways = needs.get(rule.id, ())
            if rule.id in first_failure:
                status = "fail"
            elif runs and rule.id not in self.doubted:
                status = "pass"
            elif ways and all(way & unavailable for way in ways):
                status = "unsupported"
            elif rule.not_applicable_reason:
                status = "not applicable"
            else:
                status = "not reached"
            out.append(RuleVerdict(rule.id, status, runs, rule.statement, first_failure.get(rule.id)))
        return out

    def counts(self) -> dict[str, int]:
        found = Counter(r.status for r in self.rules())
        return {status: found.get(status, 0) for status in STATUSES}

    def as_json(self, command: str = "") -> dict[str, Any]:
        return {
            "target": self.target, "command": command, "versions": self.versions, "seed": self.options.seed,
            "examples": self.examples, "probes": self.probes, "steps": self.steps, "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "rules": [{"id": r.id, "status": r.status, "runs": r.runs, "failure": r.failure} for r in self.rules()],
            "failures": [dict(f.as_dict(), examples=n) for f, n in zip(self.failures, self.occurrences)],
            "unsupported": dict(sorted(self.unsupported.items())),
            "not_offered": list(self.not_offered),
            "faked": dict(sorted(self.faked.items())),
            "inconclusive": dict(Counter(self.inconclusive).most_common()),
            "faked_setup": dict(Counter(self.faked_setup).most_common()),
            "isolation": self.isolation.as_dict() if self.isolation else None,
            "transport_faults": dict(sorted(self.transport_faults.items())),
            "abandoned": dict(sorted(self.abandoned.items())),
            **({"shard": self.shard.as_dict()} if self.shard is not None else {}),
        }


def blamed(failure: Failure) -> str:
    """The rule a failure is blamed on: the broken rule its diagnosis names first
    (:mod:`.diagnosis`). The rest of the contradicted row's rules, and the rules along the path
    (context), are listed with the failure but not counted (a Describe mismatch cites every rule
    about listing stores, and would otherwise fail dozens of rules for one bug)."""
    return failure.rules[0] if failure.rules else "ERR-01"


def contradicted(failure: Failure) -> tuple[str, ...]:
    """Every rule a failure contradicts, the blamed one first: each reads *fail*."""
    return tuple(dict.fromkeys((blamed(failure), *failure.contradicted)))


def rule_needs() -> dict[str, tuple[frozenset[str], ...]]:
    """Rule ID -> the ways to reach it, each the set of KMS operations and environment controls
    it needs: the operation of a table row citing the rule, plus what creates the row's subject
    when the row applies only to one that exists (a store, a key), or the environment control
    citing it."""
    found: dict[str, set[frozenset[str]]] = {}
    for op in OPERATIONS.values():
        base = frozenset({op.name}) if op.kind == "call" else _INTERNAL_NEEDS.get(op.name, frozenset())
        for row in op.rows:
            way = base | frozenset(begins for fact, begins in _FAULTS.items() if _needs_false(row.when, fact))
            if "ABSENT" not in row.states:
                way = way | _SUBJECT_NEEDS.get(op.subject, frozenset())
            for rule in row.rules:
                found.setdefault(rule, set()).add(way)
    for name, event in EVENTS.items():
        for rule in event.rules:
            found.setdefault(rule, set()).add(frozenset({name}) | _EVENT_NEEDS.get(name, frozenset()))
    return {rule: tuple(sorted(ways, key=sorted)) for rule, ways in found.items()}


def _needs_false(guard: Any, name: str) -> bool:
    """Whether ``guard`` is false whenever the fact ``name`` is true, whatever the others are
    (three-valued: None is "unknown")."""
    def conj(parts: list[bool | None]) -> bool | None:
        return False if False in parts else None if None in parts else True

    def disj(parts: list[bool | None]) -> bool | None:
        return True if True in parts else None if None in parts else False

    value = guard.fold(lambda fact: True if fact == name else None, lambda x: None if x is None else not x,
                       conj, disj)
    return value is False


def versions(packages: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of ckspec, Python and ``packages`` (``not installed`` when absent)."""
    found = {"ckspec": _version("ckspec"), "python": platform.python_version()}
    for name in packages:
        found[name] = _version(name)
    return found


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


_Key = tuple[tuple[str, ...], str, str]


def _key(exc: Nonconformance) -> _Key:
    return exc.failure.rules, _operation(getattr(exc, "steps", ())), exc.failure.observed


def _operation(steps: tuple[Step, ...]) -> str:
    """The failing step's operation or control ("setup": the starting account failed)."""
    if not steps:
        return "setup"
    last = steps[-1]
    return getattr(last, "operation", None) or getattr(last, "event", None) or type(last).__name__


def scorecard(spec: TargetSpec, options: ScorecardOptions = ScorecardOptions(),
              progress: Callable[[Scorecard], None] | None = None, shard: Any = None,
              command: str = "") -> Scorecard:
    """Run ``options.examples`` examples against ``spec`` and judge every rule of the catalog.

    With ``shard`` (a :class:`.campaign.Shard`), only that shard's examples run (example ``i``
    is the same whatever the number of shards, :mod:`.campaign`), and the card carries the log
    :mod:`.merge` folds back into the whole campaign's card; the one-step probes of operations
    no example called need every shard's coverage, so only an unsharded run (or ``1/1``) makes
    them. ``command`` is the unsharded command line, recorded in the log.

    Raises :class:`~.adapter.TargetUnreachable` or :class:`~.adapter.AdapterError` when the
    target cannot be driven at all (those end the run)."""
    card = Scorecard(spec.name, options, versions(getattr(spec, "packages", ())))
    started = time.perf_counter()
    rng = random.Random(options.seed)
    found = _Found(progress, card)
    log = None
    if shard is not None:
        from .campaign import ScorecardShardLog, campaign_identity

        log = card.shard = ScorecardShardLog(shard, campaign_identity(spec.name, options.seed, options, command))

    probe = spec.make(0)
    try:
        card.offered = frozenset(probe.capabilities.operations)
        offered = probe.capabilities.operations | probe.capabilities.environment
        card.not_offered = tuple(sorted((set(CALLS) | set(EVENTS)) - offered))
    finally:
        probe.close()
    for index in range(options.examples):
        draws = RandomDraws(random.Random(rng.getrandbits(64)))
        if shard is not None and not shard.owns(index):
            continue  # another shard's example (drawn all the same: the next one's seed follows it)
        card.examples += 1
        target_seed = draws.integer(0, 2**31 - 1)
        marks = len(card.inconclusive), len(card.faked_setup)
        found.note(_example(spec, options, target_seed, card,
                            lambda session, d=draws: generated_example(session, d, options.steps)), target_seed, index)
        if log is not None:
            log.record(index, card, marks)
    if shard is None or shard.count == 1:
        probe_untried(spec, options, card, rng, found)
    for key, (steps, target_seed, exc) in found.found.items():
        card.failures.append(_reproduction(spec, options, key, steps, target_seed, exc))
        card.occurrences.append(found.seen[key])
        if log is not None:
            log.failures.append([*found.where[key], key[1]])
    if log is not None:
        log.coverage, log.doubted = card.coverage, sorted(card.doubted)
        log.tried = sorted(tried_operations(card))
    card.seconds = time.perf_counter() - started
    return card


class _Found:
    """The distinct failures of a scorecard, as the examples end: for each, the shortest steps
    seen (the first of equals), the target seed they ran with and the exception; how many
    examples ended with it; and [example first seen in, example of the kept steps, their
    length] (what a merge of shards needs, :mod:`.merge`)."""

    def __init__(self, progress: Callable[[Scorecard], None] | None, card: Scorecard) -> None:
        self.found: dict[_Key, tuple[tuple[Step, ...], int, Nonconformance]] = {}
        self.seen: Counter = Counter()
        self.where: dict[_Key, list[int]] = {}
        self.progress, self.card = progress, card

    def note(self, failure: Nonconformance | None, target_seed: int, index: int) -> None:
        if failure is not None:
            key = _key(failure)
            self.seen[key] += 1
            steps = tuple(getattr(failure, "steps", ()))
            if key not in self.found or len(steps) < len(self.found[key][0]):
                self.found[key] = (steps, target_seed, failure)
                self.where[key] = [self.where.get(key, [index])[0], index, len(steps)]
        if self.progress is not None:
            self.progress(self.card)


def probe_untried(spec: TargetSpec, options: ScorecardOptions, card: Scorecard, rng: random.Random,
                  found: _Found) -> None:
    """The one-step probes of :func:`_untried`, after the examples (``rng`` as they left it);
    probe ``j`` counts as example number ``options.examples + j``."""
    for target_seed, drive in _untried(card, rng):
        card.probes += 1
        index = options.examples + card.probes - 1
        marks = len(card.inconclusive), len(card.faked_setup)
        found.note(_example(spec, options, target_seed, card, drive), target_seed, index)
        if card.shard is not None:
            card.shard.record(index, card, marks)


def probe_merged(spec: TargetSpec, card: Scorecard) -> None:
    """Make, on a card merged from shards, the probes the unsharded run makes: the generator
    stands where the campaign's examples left it, the coverage is every shard's. A failure a
    probe finds joins the card's as it would have in one run (counted; its steps kept when
    shorter, minimised again)."""
    options, log = card.options, card.shard
    started = time.perf_counter()
    rng = random.Random(options.seed)
    for _ in range(options.examples):
        rng.getrandbits(64)
    found = _Found(None, card)
    probe_untried(spec, options, card, rng, found)
    known = {(tuple(f.rules), meta[3], f.observed): i for i, (f, meta) in enumerate(zip(card.failures, log.failures))}
    for key, (steps, target_seed, exc) in found.found.items():
        seen, kept, length = found.where[key]
        if key in known:
            i = known[key]
            card.occurrences[i] += found.seen[key]
            if length < log.failures[i][2]:
                card.failures[i] = _reproduction(spec, options, key, steps, target_seed, exc)
                log.failures[i][1:3] = [kept, length]
        else:
            card.failures.append(_reproduction(spec, options, key, steps, target_seed, exc))
            card.occurrences.append(found.seen[key])
            log.failures.append([seen, kept, length, key[1]])
    log.tried, log.unprobed, log.doubted = sorted(tried_operations(card)), [], sorted(card.doubted)
    card.seconds += time.perf_counter() - started


def probe_operations() -> frozenset[str]:
    """The operations a one-step probe (:func:`_untried`) can call: those of the generator
    rules that can be drawn in the starting account."""
    return frozenset(op for rule in RULES if _probe_rule(rule) for op in rule.operations)


def _probe_rule(rule: Rule) -> bool:
    # rules that need a store or a key name one that does not exist when there is none; the
    # others (a connected store, pending work) cannot be drawn in the starting account
    return not (rule.events or rule.time_travel or rule.needs not in ("", "store", "key"))


def tried_operations(card: Scorecard) -> set[str]:
    """Operations some example called, or the target answered as not implemented."""
    return {op for (_, op, _) in card.coverage.cells} | set(card.unsupported)


def _untried(card: Scorecard, rng: random.Random) -> Iterator[tuple[int, Callable[[Session], None]]]:
    """For each KMS operation the target offers that no example called (on a target without
    stores, ConnectCustomKeyStore is never generated), a one-step example that calls it: a step
    of a generator rule that calls it, drawn in the starting account (so about a store or key
    that does not exist: CONNECT-01, KS-09, ...). The scorecard then knows whether the target
    implements it."""
    hopeless: set[str] = set()
    for rule in RULES:
        if not _probe_rule(rule):
            continue
        while True:
            tried = tried_operations(card) | hopeless
            wanted = (rule.operations & card.offered) - tried
            if not wanted:
                break
            draws = RandomDraws(random.Random(rng.getrandbits(64)))

            def drive(session: Session, rule: Rule = rule, draws: RandomDraws = draws,
                      wanted: frozenset[str] = frozenset(wanted)) -> None:
                for _ in range(64):  # a rule's draw picks among its operations: draw until one is wanted
                    step = rule.draw(draws, session.world, Memory(), session)
                    step = step[0] if isinstance(step, tuple) else step
                    if getattr(step, "operation", None) in wanted:
                        hopeless.add(step.operation)  # tried now, whatever the answer
                        session.run(step)
                        return
                hopeless.update(wanted)  # this rule never calls them from the starting account

            yield draws.integer(0, 2**31 - 1), drive


def _example(spec: TargetSpec, options: ScorecardOptions, target_seed: int, card: Scorecard,
             drive: Callable[[Session], None]) -> Nonconformance | None:
    """One example on a fresh target, driven by ``drive`` after the starting account; the
    nonconformance that ended it, if any."""
    try:
        target = spec.make(target_seed)
    except TransportFault as fault:  # its reset or probe was spoiled: the example never began
        card.transport_faults.update(r.kind for r in getattr(fault, "records", None) or [fault.record])
        card.abandoned[fault.kind] += 1
        return None
    card.isolation = isolation_of(target)
    session = Session(target, poll_budget=options.poll_budget, poll_interval=options.poll_interval,
                      unsupported=card.unsupported, evidence=card.evidence)
    try:
        session.setup()
        drive(session)
    except Nonconformance as exc:
        return exc
    except TransportFault as fault:  # outcome unknown: abandoned, neither pass nor fail
        card.abandoned[fault.kind] += 1
    except Inconclusive as exc:
        card.inconclusive.append(str(exc))
        card.doubted.update(getattr(exc, "rules", ()))
    finally:
        close_session(session)
        card.transport_faults.update(record.kind for record in getattr(target, "faults", ()))
        card.steps += session.steps_run
        card.faked_setup.extend(session.faked_setup)
        _discount_fakes(session.coverage, getattr(target, "faked", None), card.faked)
        card.coverage.merge(session.coverage)
    return None


def _discount_fakes(coverage: Coverage, faked: Any, total: Counter) -> None:
    """Take out of ``coverage`` the rule counts of environment controls the target faked."""
    if not isinstance(faked, Mapping):
        return
    for event, times in faked.items():
        if event not in EVENTS or not isinstance(times, int):
            continue
        total[event] += times
        for rule in EVENTS[event].rules:
            left = coverage.rules.get(rule, 0) - times
            if left > 0:
                coverage.rules[rule] = left
            else:
                coverage.rules.pop(rule, None)


def _reproduction(spec: TargetSpec, options: ScorecardOptions, key: _Key, steps: tuple[Step, ...],
                  target_seed: int, exc: Nonconformance) -> Failure:
    """The failure, with the shortest step sequence that still fails the same way."""
    if options.minimise:
        steps, smaller = shrink(spec, steps, target_seed, lambda e: _key(e) == key,
                                poll_budget=options.poll_budget, poll_interval=options.poll_interval)
        exc = smaller or exc
        steps = tuple(getattr(exc, "steps", steps))
    failure = failure_from(exc, steps, target_seed, program(spec.name, steps, exc.failure.message, target_seed))
    return attrs.evolve(failure, operation=_operation(steps))


def shrink(spec: TargetSpec, steps: Iterable[Step], seed: int, same: Callable[[Nonconformance], bool],
           **options: Any) -> tuple[tuple[Step, ...], Nonconformance | None]:
    """A 1-minimal step sequence that fails like ``steps`` do: chunks of halving size are
    removed first (few replays for long sequences), then single steps (:func:`.engine.minimise`)."""
    current, last = tuple(steps), None
    size = len(current) // 2
    while size > 1:
        i = 0
        while i < len(current) - 1:  # never the failing step itself
            candidate = current[:i] + current[i + size:]
            result = replay(spec, candidate, seed, **options)
            if result.verdict == "non-conformant" and same(result.error):
                last = result.error
                current = tuple(getattr(last, "steps", candidate))
            else:
                i += size
        size //= 2
    current, smaller = minimise(spec, current, seed, same, **options)
    return current, smaller or last
