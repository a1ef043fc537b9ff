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
from .errors import CliError, at_least_one, positive_int
from .output import console, print_json, progress, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mutants", help="run every seeded-bug target and print the kill matrix",
                       description="Run each seeded bug of the catalogue (ckspec check --target mutant:NAME) and, "
                                   "for the table edits, the proofs on the edited table (ckspec prove --mutation "
                                   "NAME); then each conformant variant, which must not be flagged. Exit 0 when "
                                   "every bug is caught and no variant is flagged, 1 otherwise, 2 for a usage error.")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="only these seeded bugs or variants (default: the whole catalogue and every variant)")
    p.add_argument("--json", action="store_true", help="print the kill matrix as JSON")
    p.add_argument("--list", action="store_true", help="only list the mutants and the rules they break")
    p.add_argument("--no-proofs", action="store_true", help="skip the proofs of the table edits (faster)")
    p.add_argument("--examples", type=at_least_one, default=DEFAULT_EXAMPLES,
                   help="examples per mutant (default %(default)s, as ckspec check)")
    p.add_argument("--steps", type=at_least_one, default=DEFAULT_STEPS, help="steps per example (default %(default)s)")
    p.add_argument("--seed", type=positive_int, default=0, help="Hypothesis seed (default %(default)s)")
    p.set_defaults(run=run)


def kill_matrix(examples: int, steps: int, seed: int, update=lambda text: None, names: list[str] | None = None,
                proofs: bool = True) -> dict:
    from ckspec.conformance import MUTANTS, load_target
    from ckspec.conformance.engine import CheckOptions, check
    from ckspec.conformance.mutants import VARIANTS

    options = CheckOptions(examples=examples, steps=steps, seed=seed, shrink=False)
    rows = []
    for name, cls in MUTANTS.items():
        if names and name not in names:
            continue
        update(name)
        started = time.perf_counter()
        result = check(load_target(f"mutant:{name}"), options)
        failure = result.failures[0] if result.failures else None
        rows.append({
            "name": name, "rules": [cls.rule], "group": cls.group, "summary": cls.summary,
            "kind": "table edit" if cls.edit is not None else "wrapper", "killed": failure is not None,
            # named first: the seeded bug's rule is the rule the failure is blamed on
            "named_first": failure is not None and failure.broken == cls.rule,
            "blamed": failure.broken if failure else None,
            "named": failure is not None and cls.rule in (*failure.rules, *failure.path_rules),
            "proofs": _proved_broken(cls.edit) if proofs and cls.edit is not None else None,
            "steps": result.first_failure_steps if failure else result.steps,
            "seconds": round(result.first_failure_seconds if failure else result.seconds, 3),
            "run_seconds": round(time.perf_counter() - started, 3),
            "message": failure.message if failure else None,
        })
    variants = []
    for name, variant in VARIANTS.items():
        if names and name not in names:
            continue
        update(name)
        result = check(load_target(f"variant:{name}"), options)
        variants.append({"name": name, "summary": variant.summary, "flagged": bool(result.failures),
                         "message": result.failures[0].message if result.failures else None})
    killed = sum(r["killed"] for r in rows)
    named_first = sum(r["named_first"] for r in rows)
    return {"mutants": rows, "killed": killed, "named_first": named_first, "total": len(rows),
            "variants": variants, "false_alarms": sum(v["flagged"] for v in variants),
            "examples": examples, "steps": steps, "seed": seed}


def _proved_broken(edit) -> bool:
    """Whether the proofs find a property broken on the edited table (only the property the edit
    names, when it names one)."""
    from ckspec.model.proof import prove

    report = prove(operations=edit.apply(), only=[edit.breaks] if edit.breaks else None)
    return not report.ok


def run(args: argparse.Namespace) -> int:
    from ckspec.conformance import MUTANTS
    from ckspec.conformance.mutants import VARIANTS

    unknown = [n for n in args.names if n not in MUTANTS and n not in VARIANTS]
    if unknown:
        raise CliError(f"no seeded bug or variant named {', '.join(unknown)}; 'ckspec mutants --list' shows them")
    if args.list:
        if args.json:
            print_json([{"name": n, "rules": [c.rule], "group": c.group, "summary": c.summary,
                         "kind": "table edit" if c.edit is not None else "wrapper"} for n, c in MUTANTS.items()]
                       + [{"name": n, "variant": True, "summary": v.summary} for n, v in VARIANTS.items()])
        else:
            table("Seeded-bug targets", ["mutant", "rule", "group", "kind", "bug"],
                  [[n, c.rule, c.group, "table edit" if c.edit is not None else "wrapper", c.summary]
                   for n, c in MUTANTS.items()])
            table("Conformant variants (variant:NAME)", ["variant", "documented alternative"],
                  [[n, v.summary] for n, v in VARIANTS.items()])
        return 0
    with progress("mutants", enabled=not args.json) as update:
        matrix = kill_matrix(args.examples, args.steps, args.seed, update, args.names, proofs=not args.no_proofs)
    if args.json:
        print_json(matrix)
    else:
        proofs = {None: "-", True: "caught", False: "MISSED"}
        rows = [[r["name"], r["rules"][0], "caught" if r["killed"] else "MISSED",
                 "yes" if r["named_first"] else f"no ({r['blamed']})" if r["killed"] else "-",
                 proofs[r["proofs"]] if r["kind"] == "table edit" else "n/a (wrapper)", r["steps"],
                 f"{r['seconds']:.3f}"]
                for r in matrix["mutants"]]
        table("Kill matrix (conformance: steps and seconds to the first failure; proofs: on the edited table)",
              ["mutant", "rule", "conformance", "named first", "proofs", "steps", "seconds"], rows)
        if matrix["variants"]:
            table("Conformant variants (must not be flagged)", ["variant", "verdict"],
                  [[v["name"], "FLAGGED: " + v["message"] if v["flagged"] else "conformant"]
                   for v in matrix["variants"]])
        console.print(f"{matrix['killed']}/{matrix['total']} seeded bugs caught, {matrix['named_first']}/"
                      f"{matrix['total']} with the broken rule named first, {matrix['false_alarms']} false alarms "
                      f"on {len(matrix['variants'])} variants "
                      f"({args.examples} examples of up to {args.steps} steps, seed {args.seed})")
    return 0 if matrix["killed"] == matrix["total"] and not matrix["false_alarms"] else 1
