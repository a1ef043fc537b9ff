"""Sharded campaigns: the examples of one run split over machines (``--shard K/N``).

A campaign is named by its target, seed, number of examples, steps per example and polling
settings. Example ``i`` draws its choices from its own pseudo-random generator, seeded by the
``i``-th 64-bit draw of ``random.Random(seed)`` (what the scorecard always did): its identity
depends on the seed and on ``i`` only, never on how many shards there are. Shard ``K/N`` runs
the examples whose index ``i`` satisfies ``i % N == K - 1``, so the N shards of a campaign
run, between them, exactly the examples ``--shard 1/1`` runs on one machine.

``ckspec check --shard`` runs such a campaign instead of Hypothesis's guided search (which
cannot be split: each Hypothesis example is chosen from the ones before it). A campaign runs
every example of its shard, not stopping at the first failure: the failure it reports is the
one of the lowest-numbered failing example, minimised to a 1-minimal step sequence, which is
the failure ``--shard 1/1`` reports. Saved failures are replayed by shard 1 only.

Each shard's report carries a ``shard`` member (:class:`ShardLog`) with what merging needs:
the examples it ran and their steps, its coverage in full, and the order-dependent findings
tagged with their example's index. :mod:`.merge` folds those back into one report.

The merge is exact when the examples are independent of one another. One thing a run learns
is shared between its examples: an operation the target answers as not implemented is not
generated again in later examples. On a target that implements every operation it offers
(the reference, the mutants, ``serve``) that never happens; otherwise the merge says so.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from typing import Any, Callable

import attrs

from .checker import Nonconformance
from .coverage import Coverage
from .engine import CheckOptions, Failure, RunResult, _Abort, _replay_saved, _report, _Run
from .steps import from_json
from .targets import TargetSpec


class ShardError(ValueError):
    """A --shard value that is not K/N with 1 <= K <= N."""


@attrs.frozen
class Shard:
    #: K: which shard, from 1
    index: int
    #: N: how many shards the campaign is split into
    count: int

    def owns(self, example: int) -> bool:
        """Whether example number ``example`` (from 0) is this shard's."""
        return example % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


#: more shards than this is a typo, not a fleet
MAX_SHARDS = 10_000


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N; :class:`ShardError` with a one-line reason otherwise."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if not match:
        raise ShardError(f"expected K/N (shard K of N, e.g. 2/3), got {text[:40]!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise ShardError(f"the number of shards N must be 1 to {MAX_SHARDS}, got {count}")
    if not 1 <= index <= count:
        raise ShardError(f"the shard K must be 1 to N ({count}), got {index}")
    return Shard(index, count)


class RandomDraws:
    """The choices a :class:`~.generator.Draws` offers, from a seeded pseudo-random generator."""

    __slots__ = ("below", "boolean", "integer")

    def __init__(self, rng: random.Random) -> None:
        self.below = lambda n: rng.randrange(n)
        self.boolean = lambda p=0.5: rng.random() < p
        self.integer = lambda lo, hi: rng.randint(lo, hi)


def example_draws(seed: int, examples: int, shard: Shard) -> Any:
    """(index, draws) of this shard's examples, in order: example ``i`` gets the ``i``-th draw
    of the campaign's generator, whatever the shard."""
    rng = random.Random(seed)
    for i in range(examples):
        draws = RandomDraws(random.Random(rng.getrandbits(64)))
        if shard.owns(i):
            yield i, draws


# --- coverage, failures and the shard's log as JSON -------------------------------------------

def coverage_to_json(coverage: Coverage) -> dict[str, Any]:
    return {"cells": [[*k, n] for k, n in sorted(coverage.cells.items())],
            "transitions": [[*k, n] for k, n in sorted(coverage.transitions.items())],
            "rules": dict(sorted(coverage.rules.items())),
            "environment": [[e, applied, n] for (e, applied), n in sorted(coverage.environment.items())],
            "sequences": dict(sorted(coverage.sequences.items()))}


def coverage_from_json(data: dict[str, Any]) -> Coverage:
    return Coverage(cells=Counter({tuple(row[:-1]): row[-1] for row in data["cells"]}),
                    transitions=Counter({tuple(row[:-1]): row[-1] for row in data["transitions"]}),
                    rules=Counter(data["rules"]),
                    environment=Counter({(e, bool(a)): n for e, a, n in data["environment"]}),
                    sequences=Counter(data["sequences"]))


def failure_from_dict(data: dict[str, Any]) -> Failure:
    """A :class:`~.engine.Failure` back from :meth:`~.engine.Failure.as_dict`."""
    return Failure(data["message"], tuple(data["rules"]), tuple(data["path_rules"]), tuple(data["expected"]),
                   data["observed"], data["detail"], tuple(from_json(s) for s in data["steps"]),
                   data["target_seed"], data["program"], trace_file=data["trace_file"],
                   regression=data["regression"], state=data["state"], operation=data["operation"],
                   contradicted=tuple(data["contradicted"]), context=tuple(data["context"]))


@attrs.define
class ShardLog:
    """What a shard of a check campaign ran, for :mod:`.merge` (see the module's docstring)."""

    shard: Shard
    #: what names the campaign: shards of different campaigns are never merged
    campaign: dict[str, Any]
    #: (example index, steps it ran)
    examples: list[tuple[int, int]] = attrs.field(factory=list)
    #: index of the failing example whose failure is reported (lowest of the shard), if any
    failure_example: int | None = None
    #: steps the saved failures' replays ran (shard 1)
    regression_steps: int = 0
    inconclusive: list[tuple[int, str]] = attrs.field(factory=list)
    faked_setup: list[tuple[int, str]] = attrs.field(factory=list)
    fault_samples: list[tuple[int, dict[str, str]]] = attrs.field(factory=list)
    coverage: Coverage = attrs.field(factory=Coverage)

    def as_dict(self) -> dict[str, Any]:
        return {"shard": str(self.shard), "campaign": self.campaign,
                "examples": [list(e) for e in self.examples], "failure_example": self.failure_example,
                "regression_steps": self.regression_steps,
                "inconclusive": [list(e) for e in self.inconclusive],
                "faked_setup": [list(e) for e in self.faked_setup],
                "fault_samples": [[i, s] for i, s in self.fault_samples],
                "coverage": coverage_to_json(self.coverage)}


def campaign_identity(target: str, seed: int, options: Any, command: str) -> dict[str, Any]:
    from .scorecard import versions

    return {"target": target, "seed": seed, "examples": options.examples, "steps": options.steps,
            "poll_budget": options.poll_budget, "poll_interval": options.poll_interval,
            "shrink": getattr(options, "shrink", getattr(options, "minimise", None)),
            "ckspec": versions()["ckspec"], "command": command}


def check_campaign(spec: TargetSpec, options: CheckOptions, shard: Shard, command: str = "",
                   progress: Callable[[RunResult], None] | None = None) -> RunResult:
    """Shard ``shard`` of the campaign ``options`` names (``options.seed`` None: a random seed,
    reported); ``command`` is the campaign's command line (recorded so a merge can name it)."""
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    result = RunResult(spec.name, seed)
    log = ShardLog(shard, campaign_identity(spec.name, seed, options, command))
    result.shard = log
    started = time.perf_counter()
    replay_options = {"poll_budget": options.poll_budget, "poll_interval": options.poll_interval}
    if shard.index == 1:
        _replay_saved(spec, options, result, replay_options)
        log.regression_steps = result.steps
    run = _Run(spec, options, result, progress)
    found: tuple[Nonconformance, int] | None = None
    for i, draws in example_draws(seed, options.examples, shard):
        steps, inconclusive, faked, samples = (result.steps, len(result.inconclusive), len(result.faked_setup),
                                               len(result.fault_samples))
        try:
            run.drawn(draws)
        except _Abort as abort:
            raise abort.error from None
        except Nonconformance:
            if found is None:
                found, log.failure_example = run.last_failure, i
        log.examples.append((i, result.steps - steps))
        log.inconclusive += [(i, r) for r in result.inconclusive[inconclusive:]]
        log.faked_setup += [(i, r) for r in result.faked_setup[faked:]]
        log.fault_samples += [(i, r.as_dict()) for r in result.fault_samples[samples:]]
    if found is not None:
        result.failures.append(_report(spec, options, found, replay_options))
        result.first_failure_steps = first_failure_steps(log.regression_steps, log.examples, log.failure_example)
    log.coverage = result.coverage
    result.seconds = time.perf_counter() - started
    return result


def first_failure_steps(regression_steps: int, examples: list[tuple[int, int]], failing: int | None) -> int | None:
    """Steps run up to and including the failing example (as one machine runs the campaign)."""
    if failing is None:
        return None
    return regression_steps + sum(n for i, n in examples if i <= failing)


@attrs.define
class ScorecardShardLog:
    """What a shard of a scorecard ran, for :mod:`.merge`: per distinct failure (same order as
    :attr:`.scorecard.Scorecard.failures`) the example it was first seen in, the example whose
    steps were kept and their length (the shortest, the first of equals), and the failing step's
    operation; the order-dependent findings with their example's index; the coverage in full."""

    shard: Shard
    campaign: dict[str, Any]
    failures: list[list[Any]] = attrs.field(factory=list)
    inconclusive: list[tuple[int, str]] = attrs.field(factory=list)
    faked_setup: list[tuple[int, str]] = attrs.field(factory=list)
    doubted: list[str] = attrs.field(factory=list)
    #: operations some example called or the target answered as not implemented
    tried: list[str] = attrs.field(factory=list)
    coverage: Coverage = attrs.field(factory=Coverage)
    #: set by a merge: operations no shard called that the unsharded run would have probed
    unprobed: list[str] = attrs.field(factory=list)

    def record(self, index: int, card: Any, marks: tuple[int, int]) -> None:
        """Tag what example ``index`` added to the card's ordered findings."""
        self.inconclusive += [(index, r) for r in card.inconclusive[marks[0]:]]
        self.faked_setup += [(index, r) for r in card.faked_setup[marks[1]:]]

    def as_dict(self) -> dict[str, Any]:
        return {"shard": str(self.shard), "campaign": self.campaign, "failures": self.failures,
                "inconclusive": [list(e) for e in self.inconclusive],
                "faked_setup": [list(e) for e in self.faked_setup], "doubted": self.doubted, "tried": self.tried,
                "coverage": coverage_to_json(self.coverage), "unprobed": self.unprobed}
