"""ckspec mutants: run every seeded-bug target and print the kill matrix.

Each mutant is the reference target with one realistic bug, named after the rule it breaks;
the default run of ``ckspec check`` must catch every one, and blame the rule it breaks (the
matrix's *named first*: the failure's broken rule, :mod:`ckspec.conformance.diagnosis`, is
the mutant's rule). Exit 0 when all are caught.
"""

from __future__ import annotations

import argparse
import time

from .check_command import DEFAULT_EXAMPLES, DEFAULT_STEPS
from .errors import at_least_one, positive_int
from .output import console, print_json, progress, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mutants", help="run every seeded-bug target and print the kill matrix")
    p.add_argument("--json", action="store_true", help="print the kill matrix as JSON")
    p.add_argument("--list", action="store_true", help="only list the mutants and the rules they break")
    p.add_argument("--examples", type=at_least_one, default=DEFAULT_EXAMPLES,
                   help="examples per mutant (default %(default)s, as ckspec check)")
    p.add_argument("--steps", type=at_least_one, default=DEFAULT_STEPS, help="steps per example (default %(default)s)")
    p.add_argument("--seed", type=positive_int, default=0, help="Hypothesis seed (default %(default)s)")
    p.set_defaults(run=run)


def kill_matrix(examples: int, steps: int, seed: int, update=lambda text: None) -> dict:
    from ckspec.conformance import MUTANTS, load_target
    from ckspec.conformance.engine import CheckOptions, check

    rows = []
    for name, cls in MUTANTS.items():
        update(name)
        started = time.perf_counter()
        result = check(load_target(f"mutant:{name}"),
                       CheckOptions(examples=examples, steps=steps, seed=seed, shrink=False))
        failure = result.failures[0] if result.failures else None
        rows.append({
            "name": name, "rules": [cls.rule], "summary": cls.summary, "killed": failure is not None,
            # named first: the seeded bug's rule is the rule the failure is blamed on
            "named_first": failure is not None and failure.broken == cls.rule,
            "blamed": failure.broken if failure else None,
            "named": failure is not None and cls.rule in (*failure.rules, *failure.path_rules),
            "steps": result.first_failure_steps if failure else result.steps,
            "seconds": round(result.first_failure_seconds if failure else result.seconds, 3),
            "run_seconds": round(time.perf_counter() - started, 3),
            "message": failure.message if failure else None,
        })
    killed = sum(r["killed"] for r in rows)
    named_first = sum(r["named_first"] for r in rows)
    return {"mutants": rows, "killed": killed, "named_first": named_first, "total": len(rows), "examples": examples,
            "steps": steps, "seed": seed}


def run(args: argparse.Namespace) -> int:
    from ckspec.conformance import MUTANTS

    if args.list:
        if args.json:
            print_json([{"name": n, "rules": [c.rule], "summary": c.summary} for n, c in MUTANTS.items()])
        else:
            table("Seeded-bug targets", ["mutant", "rule", "bug"], [[n, c.rule, c.summary] for n, c in MUTANTS.items()])
        return 0
    with progress("mutants", enabled=not args.json) as update:
        matrix = kill_matrix(args.examples, args.steps, args.seed, update)
    if args.json:
        print_json(matrix)
    else:
        rows = [[r["name"], r["rules"][0], "caught" if r["killed"] else "MISSED",
                 "yes" if r["named_first"] else f"no ({r['blamed']})" if r["killed"] else "-", r["steps"],
                 f"{r['seconds']:.3f}"]
                for r in matrix["mutants"]]
        table("Kill matrix (steps and seconds to the first failure)",
              ["mutant", "rule", "caught", "named first", "steps", "seconds"], rows)
        console.print(f"{matrix['killed']}/{matrix['total']} seeded bugs caught, {matrix['named_first']}/"
                      f"{matrix['total']} with the broken rule named first "
                      f"({args.examples} examples of up to {args.steps} steps, seed {args.seed})")
    return 0 if matrix["killed"] == matrix["total"] else 1
