"""Benchmark: checking recorded traces as an observer. Random walks of the conformance engine's
generator on the reference target (recommended and random documented choices, random delays)
are recorded at the KMS API, without the environment events, and checked by ``ckspec trace
check``'s observer: every one must conform. Then each seeded-bug target is walked the same
way and the observer's kill matrix is printed (bugs only the environment can reveal, such as
a connect that ignores the cluster's HSMs, are invisible to an observer by design).

Run: .venv/bin/python bench/recorded_traces.py [--examples 200] [--steps 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import time

from ckspec.conformance import recorded
from ckspec.conformance.mutants import MUTANTS
from ckspec.conformance.observer import check_trace
from ckspec.conformance.recording import recorded_walk
from ckspec.conformance.reference import ReferenceTarget


class _Draws:
    """The generator's choices from a seeded random source (no shrinking needed here)."""

    def __init__(self, rng: random.Random) -> None:
        self.below = lambda n: rng.randrange(n)
        self.boolean = lambda p=0.5: rng.random() < p
        self.integer = lambda lo, hi: rng.randint(lo, hi)


def walk(target, rng: random.Random, steps: int) -> recorded.RecordedTrace:
    return recorded_walk(target, _Draws(rng), steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print("| target | traces | calls | checked | seconds checking | ms per call | not conforming |")
    print("|---|---|---|---|---|---|---|")
    bad = 0
    for choices in ("reference", "random"):
        calls = checked = failures = 0
        spent = 0.0
        for _ in range(args.examples):
            trace = walk(ReferenceTarget(rng.randrange(2**31), choices=choices, delays="random"), rng, args.steps)
            started = time.perf_counter()
            verdict = check_trace(trace)
            spent += time.perf_counter() - started
            calls, checked = calls + verdict.calls, checked + verdict.checked
            if not verdict.conforms:
                failures += 1
                print(verdict.failure.message)
        bad += failures
        print(f"| reference ({choices} choices) | {args.examples} | {calls:,} | {checked:,} | {spent:.1f} | "
              f"{1000 * spent / max(calls, 1):.2f} | {failures} |", flush=True)
    print("\n| seeded bug | caught by the observer | first failure |")
    print("|---|---|---|")
    for name, mutant in MUTANTS.items():
        caught = ""
        for _ in range(max(1, args.examples // 4)):
            verdict = check_trace(walk(mutant(rng.randrange(2**31)), rng, args.steps))
            if not verdict.conforms:
                caught = ", ".join(verdict.failure.rules[:3])
                break
        print(f"| {name} | {'yes' if caught else 'no'} | {caught} |", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
