"""Benchmark: the conformance engine's speed, side by side with Hypothesis's ceiling, and how
fast each seeded bug is caught.

* Ceiling: a trivial two-rule Hypothesis state machine (RuleBasedStateMachine, a counter
  and a list), N examples of up to M steps: the most steps per second any
  Hypothesis-driven engine reaches on this machine.
* Conformance: ``ckspec check --target reference`` with the same N and M (the model behind
  the adapter, its scheduler and lag, the checker, coverage), in the same process, right
  after. Steps are the generated steps; the 18 set-up controls each example replays to
  build its starting account are counted separately.
* Mutants: for each seeded bug, steps and seconds to the first failure with the default
  budget (``ckspec mutants``).

Run: .venv/bin/python bench/conformance_speed.py [--examples N] [--steps M] [--seed S]
"""

from __future__ import annotations

import argparse
import statistics
import time

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ckspec.conformance import load_target
from ckspec.conformance.engine import CheckOptions, check
from ckspec.conformance.session import setup_steps


class Trivial(RuleBasedStateMachine):
    """Two rules and an invariant: the least work a stateful Hypothesis step can do."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.items: list[int] = []

    @rule(n=st.integers(0, 10))
    def add(self, n: int) -> None:
        self.count += n

    @rule()
    def push(self) -> None:
        self.items.append(self.count)

    @invariant()
    def non_negative(self) -> None:
        assert self.count >= 0


def ceiling(examples: int, steps: int) -> tuple[int, float]:
    counter = {"steps": 0}

    class Counted(Trivial):
        def add(self, n: int) -> None:  # type: ignore[override]
            counter["steps"] += 1
            super().add(n)

        def push(self) -> None:  # type: ignore[override]
            counter["steps"] += 1
            super().push()

    Counted.add = rule(n=st.integers(0, 10))(Counted.add)  # type: ignore[method-assign]
    Counted.push = rule()(Counted.push)  # type: ignore[method-assign]
    started = time.perf_counter()
    run_state_machine_as_test(Counted, settings=settings(
        max_examples=examples, stateful_step_count=steps, database=None, deadline=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    return counter["steps"], time.perf_counter() - started


def conformance(examples: int, steps: int, seed: int, target: str = "reference") -> tuple[int, int, float]:
    result = check(load_target(target), CheckOptions(examples=examples, steps=steps, seed=seed))
    assert result.verdict == "conformant", [f.message for f in result.failures] + result.inconclusive[:1]
    return result.steps, result.examples, result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-mutants", action="store_true")
    args = parser.parse_args()

    trivial_steps, trivial_seconds = ceiling(args.examples, args.steps)
    steps, examples, seconds = conformance(args.examples, args.steps, args.seed)
    setup = len(setup_steps())
    ceiling_rate, rate = trivial_steps / trivial_seconds, steps / seconds
    print("| measure | steps | seconds | steps/s |\n|---|---|---|---|")
    print(f"| trivial two-rule Hypothesis state machine ({args.examples} x {args.steps}) | {trivial_steps:,} | "
          f"{trivial_seconds:.2f} | {ceiling_rate:,.0f} |")
    print(f"| conformance, reference target ({examples} examples, up to {args.steps} steps) | {steps:,} | "
          f"{seconds:.2f} | {rate:,.0f} ({rate / ceiling_rate:.0%} of the ceiling) |")
    print(f"| the same, counting each example's {setup} set-up controls | {steps + setup * examples:,} | "
          f"{seconds:.2f} | {(steps + setup * examples) / seconds:,.0f} |")
    if args.no_mutants:
        return
    from ckspec.mutants_command import kill_matrix

    matrix = kill_matrix(300, 100, args.seed)
    print("\n| mutant | caught | steps to first failure | seconds to first failure |\n|---|---|---|---|")
    for row in matrix["mutants"]:
        print(f"| {row['name']} | {'yes' if row['killed'] else 'NO'} | {row['steps']:,} | {row['seconds']:.3f} |")
    secs = [r["seconds"] for r in matrix["mutants"]]
    print(f"\n{matrix['killed']}/{matrix['total']} caught; seconds to the first failure: median "
          f"{statistics.median(secs):.3f}, max {max(secs):.3f}")


if __name__ == "__main__":
    main()
