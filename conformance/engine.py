"""The conformance run: saved failures first, then Hypothesis-generated examples.

:func:`check` replays the saved failure traces (the regression gate), then lets Hypothesis
generate examples: each one a fresh target, the starting account, and up to ``steps``
steps drawn from the rules this example enables (swarm testing). The first failure is
shrunk by Hypothesis and then to a 1-minimal step sequence (no single step can be removed
and still fail the same way), saved as a JSON trace and shown as a runnable program.
Nothing is written to the working directory except, when asked, the saved failures.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import attrs
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from .adapter import AdapterError, TargetUnreachable
from .checker import Inconclusive, Nonconformance
from .coverage import Coverage, rule_statuses
from .generator import Draws, Memory, available_rules, draw_step, swarm
from .isolation import Isolation, isolation_of
from .session import Session, program
from .steps import Step
from .targets import TargetSpec
from .traces import load_trace, save_trace
from .transport import ATTEMPTS, FaultRecord, NotImplementedEvidence, TransportFault, redact

#: the core lifecycle: a run in which one of them is unsupported tested no key store at all
CORE_OPERATIONS = ("CreateCustomKeyStore", "ConnectCustomKeyStore", "DisconnectCustomKeyStore",
                   "DescribeCustomKeyStores", "DeleteCustomKeyStore")
#: how many times generation starts again after an example a transport fault made unrepeatable
RESTARTS = 5
#: transport faults whose raw answers a report keeps
FAULT_SAMPLES = 20


@attrs.frozen
class CheckOptions:
    examples: int = 100
    steps: int = 50
    #: Hypothesis's seed; None: a random one (reported, so any run can be repeated)
    seed: int | None = None
    poll_budget: int = 30
    poll_interval: float = 1.0
    shrink: bool = True
    #: where failures are saved and replayed from first (None: neither)
    failures_dir: Path | None = None


@attrs.frozen
class Failure:
    """One nonconformance, minimised."""

    message: str
    rules: tuple[str, ...]
    path_rules: tuple[str, ...]
    expected: tuple[str, ...]
    observed: str
    detail: str
    steps: tuple[Step, ...]
    target_seed: int
    program: str
    trace_file: str | None = None
    regression: bool = False
    #: the connection state of the store the failing call was about ("-" if unknown or none)
    state: str = "-"
    #: the failing step's operation or environment control
    operation: str = ""
    #: the rules the answer contradicts, the broken one (``rules[0]``) first (see :mod:`.diagnosis`)
    contradicted: tuple[str, ...] = ()
    #: the rules of the transitions that led to the failing step: named, not blamed
    context: tuple[str, ...] = ()

    @property
    def broken(self) -> str:
        """The rule the failure is blamed on, named first."""
        return self.rules[0] if self.rules else "ERR-01"

    def as_dict(self) -> dict[str, Any]:
        from .steps import to_json

        return {"message": self.message, "rules": list(self.rules), "path_rules": list(self.path_rules),
                "expected": list(self.expected), "observed": self.observed, "detail": self.detail,
                "steps": [to_json(s) for s in self.steps], "target_seed": self.target_seed,
                "program": self.program, "trace_file": self.trace_file, "regression": self.regression,
                "state": self.state, "operation": self.operation, "broken": self.broken,
                "contradicted": list(self.contradicted or self.rules[:1]), "context": list(self.context),
                "citation": self.citation()}

    def citation(self) -> dict[str, Any]:
        """The broken rule's one-line statement and its documentation sources (key, title, URL)."""
        from ckspec.model.catalog.sources import cite

        text, sources = cite(self.broken)
        return {"rule": self.broken, "statement": text, "sources": [s.as_dict() for s in sources]}


@attrs.define
class RunResult:
    target: str
    seed: int
    examples: int = 0
    steps: int = 0
    seconds: float = 0.0
    failures: list[Failure] = attrs.field(factory=list)
    inconclusive: list[str] = attrs.field(factory=list)
    coverage: Coverage = attrs.field(factory=Coverage)
    unsupported: dict[str, str] = attrs.field(factory=dict)
    regressions: list[dict[str, str]] = attrs.field(factory=list)
    first_failure_steps: int | None = None
    first_failure_seconds: float | None = None
    #: how examples were kept apart (:class:`.isolation.Isolation`), known once one was made
    isolation: Isolation | None = None
    #: answers only the set-up ckspec faked explains (:mod:`.faked`): neither failures nor passes
    faked_setup: list[str] = attrs.field(factory=list)
    #: kind -> transport faults met (retried calls included); a few of them with the raw answer
    transport_faults: Counter[str] = attrs.field(factory=Counter)
    fault_samples: list[FaultRecord] = attrs.field(factory=list)
    #: kind of the fault that ended it -> examples abandoned (their outcome unknown)
    abandoned: Counter[str] = attrs.field(factory=Counter)
    evidence: NotImplementedEvidence = attrs.field(factory=NotImplementedEvidence)
    #: why generation ended before the budget, when it did (Hypothesis found an example it could
    #: not replay the same way, after a transport fault cut one short)
    stopped_early: str | None = None
    #: how many times generation started again on the next seed (see :func:`_hypothesis`)
    restarts: int = 0
    #: a sharded campaign's part (:class:`.campaign.ShardLog`): what merging shards needs; None
    #: for a run guided by Hypothesis
    shard: Any = None

    @property
    def verdict(self) -> str:
        """From the examples that completed: abandoned examples neither pass nor fail, but a run
        in which none completed, or the core lifecycle is unsupported, is inconclusive."""
        if self.failures:
            return "non-conformant"
        if self.inconclusive or self.verdict_reasons():
            return "inconclusive"
        return "conformant"

    def core_unsupported(self) -> list[str]:
        return [op for op in CORE_OPERATIONS if op in self.unsupported]

    def verdict_reasons(self) -> list[str]:
        """Why the run cannot be called conformant, beyond its inconclusive examples."""
        reasons = []
        core = self.core_unsupported()
        if core:
            reasons.append(f"core lifecycle operations unsupported ({', '.join(core)}): no custom key store was "
                           f"tested")
        if self.examples and sum(self.abandoned.values()) >= self.examples:
            reasons.append(f"every example ({self.examples}) was abandoned after a transport fault")
        elif self.examples and not self.steps:
            reasons.append(f"no step ran in {self.examples} example(s): only the starting account was built, nothing "
                           f"was tested (raise --examples)")
        elif self.examples and not any(op == "CreateCustomKeyStore" for _, op, _ in self.coverage.cells):
            reasons.append(f"no CreateCustomKeyStore was tried in {self.examples} example(s): no custom key store "
                           f"was tested (raise --examples)")
        return reasons

    def rule_statuses(self) -> list[dict[str, object]]:
        # a rule fails when a failure contradicts it, not merely because the failing row cites it
        failed = {r for f in self.failures for r in (f.broken, *f.contradicted)}
        return rule_statuses(self.coverage, failed, self.unsupported)


@attrs.define
class ReplayResult:
    verdict: str  # "conformant" (the steps pass), "non-conformant" or "inconclusive"
    error: Exception | None
    session: Session


def replay(spec: TargetSpec, steps: Sequence[Step], seed: int = 0, *, poll_budget: int = 30,
           poll_interval: float = 1.0, coverage: Coverage | None = None) -> ReplayResult:
    """Run ``steps`` after the starting account on a fresh target and say how it went."""
    session = Session(spec.make(seed), poll_budget=poll_budget, poll_interval=poll_interval, coverage=coverage)
    try:
        session.setup()
        for step in steps:
            session.run(step)
    except Nonconformance as exc:
        return ReplayResult("non-conformant", exc, session)
    except (Inconclusive, TransportFault) as exc:
        return ReplayResult("inconclusive", exc, session)
    finally:
        close_session(session)
    return ReplayResult("conformant", None, session)


def close_session(session: Session) -> None:
    """Close the session's target; a transport fault while it cleans up costs only the clean-up."""
    try:
        session.close()
    except TransportFault:
        pass


def minimise(spec: TargetSpec, steps: Sequence[Step], seed: int, same: Callable[[Nonconformance], bool],
             **options: Any) -> tuple[tuple[Step, ...], Nonconformance | None]:
    """Remove steps one at a time while the failure stays the same (a 1-minimal sequence)."""
    current = tuple(steps)
    last = None
    changed = True
    while changed:
        changed = False
        for i in range(len(current) - 1, -1, -1):
            candidate = current[:i] + current[i + 1:]
            result = replay(spec, candidate, seed, **options)
            if result.verdict == "non-conformant" and same(result.error):
                current, last, changed = candidate, result.error, True
    return current, last


def generated_example(session: Session, data: Any, steps: int, redo: "_Redo | None" = None) -> None:
    """Draw and run up to ``steps`` steps on a session whose starting account is set up: the
    rules this example enables (swarm testing), then one step at a time from the worlds the
    model still allows. ``data`` is a :class:`~.generator.Draws`. Raises what the session raises.
    With ``redo``, steps run through it (a transport fault redoes the example so far)."""
    if redo is not None:
        session = redo.session
    memory = Memory()
    rules = swarm(data, available_rules(session.capabilities, session.unsupported))
    # like Hypothesis's stateful testing: a "go on?" choice before each step, which shrinks
    # to "stop", and most examples run to the step limit
    go_on = 1 - 1 / (2 * steps)
    for _ in range(steps):
        if not data.boolean(go_on):
            break
        memory.note(session.world)
        step = draw_step(data, rules, session, memory)
        if redo is None:
            session.run(step)
        else:
            session = redo.run(step)


class _Redo:
    """An example's session, redone from scratch when a step's answer is spoiled: its outcome is
    unknown, so a fresh target (reset, or a new prefix) gets the starting account and the steps
    so far again, and then the step; at most :data:`ATTEMPTS` times, then the fault ends the
    example. Redone, a deterministic target shows Hypothesis the same example as without the
    fault (an example cut short would make Hypothesis's replays inconsistent)."""

    def __init__(self, run: "_Run", session: Session, seed: int) -> None:
        self.owner, self.session, self.seed = run, session, seed

    def run(self, step: Step) -> Session:
        """Run ``step`` on the current session (redone as needed); the session it ran on."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                self.session.run(step)
                return self.session
            except TransportFault as fault:
                if attempt == ATTEMPTS:
                    raise
                self._redo(fault)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _redo(self, fault: TransportFault) -> None:
        trail = tuple(self.session.trail[:-1])
        self.owner.retire(self.session)
        for _ in range(ATTEMPTS):
            session, error = self.owner._set_up(self.seed)
            if session is None:
                raise fault
            self.session = session
            if error is not None:
                raise error
            try:
                for step in trail:
                    session.run(step)
                return
            except TransportFault as again:
                fault = again
                self.owner.retire(session)
        raise fault


class _Abort(BaseException):
    """Carries an error that must end the run at once (a broken adapter, an unreachable target)
    through Hypothesis, which would otherwise shrink it like a failure."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Run:
    """The state of one check: what the examples found, shared across Hypothesis's calls."""

    def __init__(self, spec: TargetSpec, options: CheckOptions, result: RunResult,
                 progress: Callable[[RunResult], None] | None) -> None:
        self.spec, self.options, self.result, self.progress = spec, options, result, progress
        self.started = time.perf_counter()
        self.last_failure: tuple[Nonconformance, int] | None = None
        #: sessions closed after a transport fault, their faults counted (this example's)
        self._retired: list[Session] = []

    def example(self, data: Any) -> None:
        self.drawn(Draws(data))

    def drawn(self, data: Any) -> None:
        """One example from ``data`` (a :class:`~.generator.Draws`, or the seeded pseudo-random
        draws of a sharded campaign, :mod:`.campaign`); raises the nonconformance that ended it."""
        result = self.result
        seed = data.integer(0, 2**31 - 1)
        session, error = self._set_up(seed)
        if session is None:  # every attempt at the starting account was spoiled
            result.examples += 1
            result.abandoned[error.kind] += 1
            if self.progress is not None:
                self.progress(result)
            return
        abandoned: TransportFault | None = None
        redo = _Redo(self, session, seed)
        try:
            if error is not None:
                raise error
            generated_example(session, data, self.options.steps, redo)
        except TransportFault as fault:  # outcome unknown, even when redone: abandoned, never a failure
            abandoned = fault
        except Inconclusive as exc:
            result.inconclusive.append(str(exc))
        except (AdapterError, TargetUnreachable) as exc:
            raise _Abort(exc) from None
        except Nonconformance as exc:
            self.last_failure = (exc, seed)
            if result.first_failure_steps is None:
                result.first_failure_steps = result.steps + redo.session.steps_run
                result.first_failure_seconds = time.perf_counter() - self.started
            raise
        finally:
            session = redo.session
            if session in self._retired:  # its redo never got a new one going
                result.abandoned[abandoned.kind if abandoned else "transport fault"] += 1
            else:
                close_session(session)
                self._faulted(getattr(session.target, "faults", ()), session.secret_values(), abandoned)
            self._retired.clear()
            result.steps += session.steps_run
            result.examples += 1
            result.coverage.merge(session.coverage)
            result.faked_setup.extend(session.faked_setup)
            if self.progress is not None:
                self.progress(result)


    def _set_up(self, seed: int) -> tuple[Session | None, Exception | None]:
        """A session on a fresh target with the starting account built: a transport fault before
        any generated step costs nothing but a fresh start (reset or new prefix), at most
        :data:`ATTEMPTS` times. Returns the session and what its set-up raised (re-raised by the
        caller), or ``(None, the last fault)``."""
        fault: TransportFault | None = None
        for _ in range(ATTEMPTS):
            try:
                target = self.spec.make(seed)
            except TargetUnreachable as exc:
                raise _Abort(exc) from None
            except TransportFault as spoiled:  # its reset or probe was spoiled
                fault = spoiled
                self._faulted(getattr(spoiled, "records", None) or [spoiled.record], (), None)
                continue
            self.result.isolation = isolation_of(target)
            session = Session(target, poll_budget=self.options.poll_budget,
                              poll_interval=self.options.poll_interval, unsupported=self.result.unsupported,
                              evidence=self.result.evidence)
            try:
                session.setup()
            except TransportFault as spoiled:
                fault = spoiled
                self.retire(session)
                continue
            except Exception as exc:  # noqa: BLE001 - the caller raises it where it handles it
                return session, exc
            return session, None
        return None, fault

    def retire(self, session: Session) -> None:
        """Close a session given up after a transport fault, counting its faults (not its coverage:
        its steps are redone)."""
        if session in self._retired:
            return
        self._retired.append(session)
        close_session(session)
        self._faulted(getattr(session.target, "faults", ()), session.secret_values(), None)

    def _faulted(self, records: Any, secrets: Sequence[str], abandoned: TransportFault | None) -> None:
        """Count an example's transport faults (and whether one ended it), keeping a few raw answers."""
        result = self.result
        for record in records:
            result.transport_faults[record.kind] += 1
            if len(result.fault_samples) < FAULT_SAMPLES:
                result.fault_samples.append(attrs.evolve(record, raw=redact(record.raw, secrets)))
        if abandoned is not None:
            result.abandoned[abandoned.kind] += 1


def check(spec: TargetSpec, options: CheckOptions = CheckOptions(),
          progress: Callable[[RunResult], None] | None = None) -> RunResult:
    """Hold the target to the model: saved failures first, then generated examples."""
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    result = RunResult(spec.name, seed)
    started = time.perf_counter()
    replay_options = {"poll_budget": options.poll_budget, "poll_interval": options.poll_interval}
    _replay_saved(spec, options, result, replay_options)
    if not result.failures:
        run = _Run(spec, options, result, progress)
        _hypothesis(run, options, seed)
        if run.last_failure is not None:
            result.failures.append(_report(spec, options, run.last_failure, replay_options))
    result.seconds = time.perf_counter() - started
    return result


@contextlib.contextmanager
def _private_hypothesis_home() -> Iterator[None]:
    """Hypothesis caches what it learns about the code under test in ``.hypothesis/`` of the
    working directory; the engine keeps that out of the user's folder (unless they chose a
    place with HYPOTHESIS_STORAGE_DIRECTORY)."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    from hypothesis import configuration

    before = configuration.storage_directory(intent_to_write=False).home_directory
    home = Path(tempfile.gettempdir()) / f"ckspec-hypothesis-{os.getuid() if hasattr(os, 'getuid') else 0}"
    configuration.set_hypothesis_home_dir(home)
    try:
        yield
    finally:
        configuration.set_hypothesis_home_dir(before)


def _hypothesis(run: _Run, options: CheckOptions, seed: int) -> None:
    """Generate the examples. An example cut short by a transport fault draws less than it did
    before, and Hypothesis cannot replay it the same way: generation then starts again on the
    next seed for the examples left, at most :data:`RESTARTS` times (what completed stands)."""
    for restart in range(RESTARTS + 1):
        left = options.examples - run.result.examples
        if left <= 0:
            return
        run.result.restarts = restart
        if not _generate(run, options, seed + restart, left):
            return
    run.result.stopped_early = (f"generation stopped after {run.result.examples} of {options.examples} examples: "
                                f"after {RESTARTS} restarts, examples cut short by transport faults still could not "
                                f"be replayed the same way")


def _generate(run: _Run, options: CheckOptions, seed: int, examples: int) -> bool:
    """Up to ``examples`` examples from ``seed``; True when Hypothesis gave up on an example
    that a transport fault made unrepeatable (and no failure was found)."""
    phases = (Phase.generate, Phase.shrink) if options.shrink else (Phase.generate,)

    @settings(max_examples=examples, database=None, deadline=None, phases=phases, derandomize=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False,
              report_multiple_bugs=False)
    @given(st.data())
    def conformance(data: Any) -> None:
        run.example(data)

    try:
        with _private_hypothesis_home():
            hypothesis_seed(seed)(conformance)()
    except _Abort as abort:
        raise abort.error from None
    except Nonconformance:
        pass
    except Exception as exc:  # Hypothesis's Flaky and friends: the last failure seen is still reported
        if run.last_failure is None:
            if not (_flaky(exc) and (run.result.abandoned or run.result.transport_faults)):
                raise
            return True
    return False


def _flaky(exc: BaseException) -> bool:
    from hypothesis.errors import Flaky

    return isinstance(exc, Flaky) or type(exc).__name__.startswith("Flaky")


def _report(spec: TargetSpec, options: CheckOptions, found: tuple[Nonconformance, int],
            replay_options: dict[str, Any]) -> Failure:
    exc, target_seed = found
    steps = tuple(getattr(exc, "steps", ()))
    if options.shrink:
        first_rule, observed = exc.failure.rules[:1], exc.failure.observed
        steps, smaller = minimise(spec, steps, target_seed,
                                  lambda e: e.failure.rules[:1] == first_rule and e.failure.observed == observed,
                                  **replay_options)
        exc = smaller or exc
        steps = tuple(getattr(exc, "steps", steps))
    failure = failure_from(exc, steps, target_seed, program(spec.name, steps, exc.failure.message, target_seed))
    if options.failures_dir is not None:
        path = save_trace(options.failures_dir, spec.name, failure)
        failure = attrs.evolve(failure, trace_file=str(path))
    return failure


def _replay_saved(spec: TargetSpec, options: CheckOptions, result: RunResult, replay_options: dict[str, Any]) -> None:
    """Replay the saved failure traces first (the regression gate). One that cannot be read (a
    half-written, empty or foreign file, a FIFO, one over the size cap) is skipped with a
    one-line warning on stderr naming it: it must not stop every later check."""
    import sys

    from .traces import TraceError

    folder = options.failures_dir
    if folder is None or not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        try:
            trace = load_trace(path)
        except TraceError as exc:
            print(f"ckspec: warning: skipped a saved trace that cannot be read: {exc}", file=sys.stderr)
            continue
        outcome = replay(spec, trace.steps, trace.seed, coverage=result.coverage, **replay_options)
        result.steps += outcome.session.steps_run
        result.regressions.append({"file": str(path), "verdict": outcome.verdict})
        if outcome.verdict == "non-conformant":
            exc = outcome.error
            steps = tuple(getattr(exc, "steps", trace.steps))
            failure = failure_from(exc, steps, trace.seed, program(spec.name, steps, exc.failure.message, trace.seed))
            result.failures.append(attrs.evolve(failure, trace_file=str(path), regression=True))


def failure_from(exc: Nonconformance, steps: tuple[Step, ...], seed: int, text: str) -> Failure:
    """The report of a nonconformance: its rules, expected and observed outcomes, and the steps
    (with the program ``text``) that reproduce it on a target made with ``seed``."""
    last = steps[-1] if steps else None
    operation = getattr(last, "operation", None) or getattr(last, "event", None) or type(last).__name__
    return Failure(exc.failure.message, exc.failure.rules, tuple(getattr(exc, "path_rules", ())),
                   exc.failure.expected, exc.failure.observed, exc.failure.detail, steps, seed, text,
                   state=getattr(exc, "state", "-"), operation=operation,
                   contradicted=tuple(getattr(exc.failure, "contradicted", exc.failure.rules[:1])),
                   context=tuple(getattr(exc.failure, "context", ())))
