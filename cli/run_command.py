"""ckspec run: the main job on the embedded default.

Explore the default scopes, generate the diagrams, and prove the model's properties with
Z3 (a conformance run against the bundled reference joins it with the conformance engine).
Exits 0 only when every part succeeded: the exploration found what the model promises (all
five connection states, all ten error codes, no dead ends) and every property came out as
expected (proved, or the expected counterexample found).
"""

from __future__ import annotations

import argparse
import time

from . import explore_command, prove_command
from .errors import writable_dir
from .output import console, print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the main job: explore the default scopes, generate the diagrams, prove")
    p.add_argument("--out", default="diagrams", help="folder for the diagrams (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    explore_command.add_scope_arguments(p)
    prove_command.add_proof_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = writable_dir(args.out)
    results = explore_command.run_explorations(args, quiet=args.json)
    exploration = explore_command.combined(results, time.perf_counter() - started)
    if not args.json:
        explore_command.show(results, exploration)
    from ckspec.model import (
        diagrams,  # imported here: graphviz is only needed for this step
    )

    written = diagrams.write_all(out)
    warning = None if any(p.suffix == ".svg" for p in written) else diagrams.DOT_MISSING
    proofs, traces = prove_command.run_proofs(args)
    if not args.json:
        prove_command.show(proofs, traces)
    problems = []
    if not proofs.ok:
        problems.append("proofs: " + ", ".join([f"{r.property.id} {r.result}" for r in proofs.results
                                                if not r.as_expected] + [f"{w} unreachable" for w in proofs.vacuous]))
    if not exploration["complete"]:
        problems.append("the exploration hit its state limit")
    missing = exploration["missing_connection_states"] + exploration["missing_error_codes"]
    if missing:
        problems.append("not reached: " + ", ".join(missing))
    if exploration["dead_ends"]:
        problems.append(f"{exploration['dead_ends']} dead ends")
    summary = {
        "exploration": exploration,
        "diagrams": {"folder": str(out), "files": len(written), "warning": warning},
        "proofs": {**proofs.as_dict(), "traces": [str(p) for p in traces]},
        "problems": problems,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if args.json:
        print_json(summary)
    else:
        console.print(f"diagrams: {len(written)} files in {out}" + (f" ({warning})" if warning else ""))
        for p in problems:
            console.print(f"[red]problem[/red]: {p}")
        console.print(f"done in {summary['seconds']:.1f} s: " + ("OK" if not problems else "FAILED"))
    return 0 if not problems else 1
