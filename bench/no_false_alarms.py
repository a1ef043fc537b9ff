"""Benchmark: no false alarms. Long runs against the reference target with random asynchronous
delays, eventual-consistency lag and random documented choices must report zero failures
(and, with the default polling budget, no inconclusive example either).

Targets: ``reference:random`` (random delays and choices, lagging reads, a clock the engine
controls) and ``reference:free`` (the same with a free-running clock: work may complete
between any two calls, so the checker keeps every world in which it did or did not).

Run: .venv/bin/python bench/no_false_alarms.py [--examples 10000] [--steps 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys

from ckspec.conformance import load_target
from ckspec.conformance.engine import CheckOptions, check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="+", default=["reference:random", "reference:free"])
    args = parser.parse_args()
    print("| target | examples | steps | seconds | failures | inconclusive | rules exercised |")
    print("|---|---|---|---|---|---|---|")
    bad = 0
    for name in args.targets:
        result = check(load_target(name), CheckOptions(examples=args.examples, steps=args.steps, seed=args.seed))
        exercised = sum(1 for r in result.rule_statuses() if r["runs"])
        print(f"| {name} | {result.examples:,} | {result.steps:,} | {result.seconds:.1f} | {len(result.failures)} | "
              f"{len(result.inconclusive)} | {exercised} |", flush=True)
        for f in result.failures:
            print(f.message, "\n", f.program, file=sys.stderr)
        bad += len(result.failures) + len(result.inconclusive)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
