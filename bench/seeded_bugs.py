"""Benchmark: the seeded-bug catalogue at the default budget of ``ckspec check``.

For every seeded bug (``mutant:NAME``) on each seed: caught or not, the rule the failure is
blamed on (named first when it is the bug's rule), the time and steps to the first failing
example; for every conformant variant (``variant:NAME``): any failure is a false alarm.

Run: .venv/bin/python bench/seeded_bugs.py [--seeds 0 1] [--jobs 2] [--examples 300] [--steps 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from multiprocessing import Pool


def _one(job: tuple[str, int, int, int]) -> dict:
    from ckspec.conformance import load_target
    from ckspec.conformance.engine import CheckOptions, check
    from ckspec.conformance.mutants import MUTANTS

    target, seed, examples, steps = job
    started = time.perf_counter()
    result = check(load_target(target), CheckOptions(examples=examples, steps=steps, seed=seed, shrink=False))
    failure = result.failures[0] if result.failures else None
    name = target.split(":", 1)[1]
    return {"target": target, "seed": seed, "rule": MUTANTS[name].rule if name in MUTANTS else None,
            "caught": failure is not None,
            "blamed": (getattr(failure, "broken", None) or failure.rules[0]) if failure else None,
            "first_seconds": result.first_failure_seconds, "first_steps": result.first_failure_steps,
            "seconds": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    from ckspec.conformance.mutants import MUTANTS, VARIANTS

    jobs = [(f"mutant:{n}", s, args.examples, args.steps) for n in MUTANTS for s in args.seeds]
    jobs += [(f"variant:{n}", s, args.examples, args.steps) for n in VARIANTS for s in args.seeds]
    with Pool(args.jobs) as pool:
        rows = list(pool.imap(_one, jobs))
    bugs = [r for r in rows if r["rule"] is not None]
    variants = [r for r in rows if r["rule"] is None]
    print("| seeded bug | seed | caught | blamed first | seconds to first failure |")
    print("|---|---|---|---|---|")
    for r in bugs:
        blamed = "-" if not r["caught"] else r["blamed"] + ("" if r["blamed"] == r["rule"] else " (not its rule)")
        first = f"{r['first_seconds']:.3f}" if r["caught"] else "-"
        print(f"| {r['target'][7:]} | {r['seed']} | {'yes' if r['caught'] else 'MISSED'} | {blamed} | {first} |")
    caught = [r for r in bugs if r["caught"]]
    named = [r for r in caught if r["blamed"] == r["rule"]]
    median = statistics.median(r["first_seconds"] for r in caught) if caught else float("nan")
    alarms = [r for r in variants if r["caught"]]
    print()
    print(f"seeded bugs: {len(set(r['target'] for r in bugs))}, runs: {len(bugs)} ({len(args.seeds)} seeds); "
          f"caught {len(caught)}/{len(bugs)} ({100 * len(caught) / len(bugs):.0f}%); broken rule named first "
          f"{len(named)}/{len(bugs)} ({100 * len(named) / len(bugs):.0f}%); median time to the first failure "
          f"{median:.3f} s")
    print(f"conformant variants: {len(set(r['target'] for r in variants))}, runs: {len(variants)}; false alarms: "
          f"{len(alarms)}" + "".join(f"\n  FALSE ALARM {r['target']} seed {r['seed']}: {r['blamed']}" for r in alarms))
    return 0 if len(caught) == len(bugs) and not alarms else 1


if __name__ == "__main__":
    sys.exit(main())
