"""ckspec prove: prove the model's properties with Z3, or find their counterexamples.

Exit 0 when every expected-true property is proved and every expected-false one has a
counterexample; 1 otherwise (a property unknown or unexpectedly violated or proved).
"""

from __future__ import annotations

import argparse

from ckspec.model.profiles import PROFILES

from .errors import CliError, positive_int, writable_dir
from .output import console, print_json, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prove", help="prove the model's properties with Z3 (or show counterexamples)",
                       description=__doc__.splitlines()[0])
    add_proof_arguments(p, aliases=True)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--property", action="append", metavar="ID", help="prove only this property (repeatable)")
    p.add_argument("--mutation", metavar="NAME",
                   help="prove a deliberately broken copy of the table instead (see --list-mutations)")
    p.add_argument("--list-mutations", action="store_true", help="list the mutations and the property each breaks")
    p.set_defaults(run=run)


def add_proof_arguments(p: argparse.ArgumentParser, aliases: bool = False) -> None:
    """The proof flags (``--stores`` and friends too when ``aliases``: not in ``run``, where the
    exploration's scope flags have those names)."""
    g = p.add_argument_group("proofs")
    for thing, doc in (("stores", "key store"), ("clusters", "cluster"), ("keys", "KMS key")):
        names = (f"--{thing}", f"--proof-{thing}") if aliases else (f"--proof-{thing}",)
        g.add_argument(*names, dest=f"proof_{thing}", type=positive_int, default=2, metavar="N",
                       help=f"{doc} slots of the symbolic scope, 1 to 8 (%(default)s)")
    g.add_argument("--proof-profile", choices=sorted(PROFILES), default="permissive",
                   help="which outcomes the table allows (default %(default)s: all documented ones, so the "
                        "proofs cover every profile's choices)")
    g.add_argument("--bmc-depth", type=positive_int, default=8, metavar="N",
                   help="steps searched for counterexamples (%(default)s)")
    g.add_argument("--trace-dir", metavar="DIR", help="write each counterexample as ITF JSON, DOT and SVG here")


def run_proofs(args: argparse.Namespace, only=None, operations=None):
    from ckspec.model.proof import (  # z3 is imported only when proving
        SymbolicScope,
        prove,
    )

    try:
        scope = SymbolicScope(args.proof_stores, args.proof_clusters, args.proof_keys)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    folder = writable_dir(args.trace_dir) if args.trace_dir else None
    report = prove(scope, PROFILES[args.proof_profile], operations=operations, only=only, depth=args.bmc_depth)
    written = []
    if folder is not None:
        from ckspec.model.proof.traces import write

        for result in report.results:
            if result.counterexample is not None:
                written += write(result.counterexample, folder, result.property.id)
    return report, written


def run(args: argparse.Namespace) -> int:
    from ckspec.model.proof import MUTATION, PROPERTY, mutated

    if args.list_mutations:
        table("mutations (the table edits of the seeded-bug catalogue; the same names as --target mutant:NAME)",
              ["name", "breaks", "what it does"], [[m.name, m.breaks or "-", m.doc] for m in MUTATION.values()])
        return 0
    only = None
    if args.property:
        unknown = [p for p in args.property if p not in PROPERTY]
        if unknown:
            raise CliError(f"unknown property {', '.join(unknown)}; known: {', '.join(PROPERTY)}")
        only = args.property
    operations = None
    if args.mutation:
        if args.mutation not in MUTATION:
            from ckspec.conformance.mutants import MUTANTS

            if args.mutation in MUTANTS:
                raise CliError(f"{args.mutation} is a response or scheduler wrapper, not a table edit: the proofs "
                               f"cannot see it (ckspec check --target mutant:{args.mutation} can)")
            raise CliError(f"unknown mutation {args.mutation!r}; 'ckspec prove --list-mutations' shows the "
                           f"{len(MUTATION)} names")
        operations = mutated(args.mutation)
    report, written = run_proofs(args, only, operations)
    if args.json:
        data = report.as_dict()
        data["mutation"] = args.mutation
        data["traces"] = [str(p) for p in written]
        print_json(data)
    else:
        show(report, written, args.mutation)
    return 0 if report.ok else 1


def show(report, written, mutation: str | None = None) -> None:
    title = f"proofs over {report.scope.describe()}, profile {report.profile}"
    if mutation:
        title += f", MUTATED table ({mutation})"
    rows = []
    for r in report.results:
        mark = "ok" if r.as_expected else "UNEXPECTED"
        rows.append([r.property.id, r.property.expected, f"{r.result} ({mark})", f"{r.seconds:.3f}",
                     ", ".join(r.property.rules[:5]) + (" ..." if len(r.property.rules) > 5 else "")])
    table(title, ["property", "expected", "result", "seconds", "rules"], rows)
    lemmas = ", ".join(f"{i}{'' if ok else ' (NOT inductive)'}" for i, _, ok in report.lemmas)
    console.print(f"supporting lemmas: {lemmas}")
    if report.reachable:
        reached = [w for w, n in report.reachable if n is not None]
        deepest = max((n for _, n in report.reachable if n is not None), default=0)
        console.print(f"not vacuous: {len(reached)}/{len(report.reachable)} connection states, error codes and key "
                      f"states reachable (within {deepest} steps)"
                      + (f"; NOT reached: {', '.join(report.vacuous)}" if report.vacuous else ""), markup=False)
    for r in report.results:
        if r.counterexample is not None:
            console.print()
            console.print(r.counterexample.text(), markup=False)
        elif r.result == "unknown":
            console.print(f"{r.property.id}: unknown: {r.how}", markup=False)
    if written:
        console.print(f"counterexample traces: {len(written)} files, e.g. {written[0]}")
    verdict = "OK" if report.ok else "FAILED"
    console.print(f"{sum(r.result == 'proved' for r in report.results)} proved, "
                  f"{sum(r.result == 'violated' for r in report.results)} violated, "
                  f"{sum(r.result == 'unknown' for r in report.results)} unknown in {report.seconds:.2f} s: {verdict}")
