"""ckspec run: the main job on the embedded default.

Explore the default scopes, generate the diagrams, prove the model's properties with Z3,
and run a short conformance check against the reference target (the engine holding the
model, behind its adapter, to the model: a smoke test of the whole conformance path), both
in-process and over the AWS wire protocol (``ckspec serve`` on 127.0.0.1, a free port,
stopped when the check ends; reached through boto3).
Exits 0 only when every part succeeded: the exploration found what the model promises (all
five connection states, all ten error codes, no dead ends), every property came out as
expected (proved, or the expected counterexample found) and the reference is conformant.
"""

from __future__ import annotations

import argparse
import time

from . import explore_command, prove_command
from .errors import writable_dir
from .output import console, print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the main job: explore, generate the diagrams, prove, check the reference target")
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
    from ckspec.model import diagrams  # imported here: graphviz is only needed for this step

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
    conformance = _conformance_smoke_run()
    if conformance["verdict"] != "conformant":
        problems.append(f"the reference target is {conformance['verdict']} ({conformance['failure']})")
    wire = _conformance_smoke_run(over_the_wire=True)
    if wire["verdict"] != "conformant":
        problems.append(f"ckspec serve over the wire is {wire['verdict']} ({wire['failure']})")
    summary = {
        "exploration": exploration,
        "conformance": conformance,
        "wire_conformance": wire,
        "diagrams": {"folder": str(out), "files": len(written), "warning": warning},
        "proofs": {**proofs.as_dict(), "traces": [str(p) for p in traces]},
        "problems": problems,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if args.json:
        print_json(summary)
    else:
        console.print(f"diagrams: {len(written)} files in {out}" + (f" ({warning})" if warning else ""))
        console.print(f"conformance: reference target {conformance['verdict']} ({conformance['examples']} examples, "
                      f"{conformance['steps']} steps, {conformance['seconds']:.1f} s; ckspec check for the full run)")
        console.print(f"conformance over the wire: ckspec serve (boto3, loopback) {wire['verdict']} "
                      f"({wire['examples']} examples, {wire['steps']} steps, {wire['seconds']:.1f} s)")
        for p in problems:
            console.print(f"[red]problem[/red]: {p}")
        console.print(f"done in {summary['seconds']:.1f} s: " + ("OK" if not problems else "FAILED"))
    return 0 if not problems else 1


#: A short run: the full one is `ckspec check` (300 examples of up to 100 steps).
SMOKE_EXAMPLES, SMOKE_STEPS, SMOKE_SEED = 60, 50, 0
#: over the wire, each call costs about a millisecond: fewer examples
WIRE_EXAMPLES = 20


def _conformance_smoke_run(over_the_wire: bool = False) -> dict[str, object]:
    from ckspec.conformance import load_target
    from ckspec.conformance.engine import CheckOptions, check

    # "serve": ckspec serve on 127.0.0.1 and a free port, stopped when the run ends
    name, examples = ("serve", WIRE_EXAMPLES) if over_the_wire else ("reference", SMOKE_EXAMPLES)
    with load_target(name) as spec:
        result = check(spec, CheckOptions(examples=examples, steps=SMOKE_STEPS, seed=SMOKE_SEED))
    return {"target": result.target, "verdict": result.verdict, "examples": result.examples, "steps": result.steps,
            "seconds": round(result.seconds, 3),
            "failure": result.failures[0].message if result.failures else None}
