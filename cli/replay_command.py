"""ckspec replay: rerun a saved failure trace against a target.

Exit codes: 0 the steps pass, 1 they fail, 2 usage error (a bad file or target), 3 target
unreachable, 4 inconclusive.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .check_command import EXIT, add_target_arguments, against_target, target_spec
from .errors import CliError
from .file_limits import add_max_file_size
from .output import console, print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="rerun a saved failure trace (JSON) against a target",
                       description="Rerun the steps of a trace saved by ckspec check. Exit codes: 0 the steps "
                                   "pass, 1 they fail, 2 usage error, 3 target unreachable, 4 inconclusive.")
    p.add_argument("file", help="a trace saved by ckspec check")
    add_target_arguments(p)
    add_max_file_size(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return against_target(args, _replay)


def _replay(args: argparse.Namespace) -> int:
    from ckspec.conformance.engine import replay
    from ckspec.conformance.session import program
    from ckspec.conformance.traces import TraceError, load_trace

    try:
        trace = load_trace(Path(args.file), max_bytes=args.max_file_size)
    except TraceError as exc:
        raise CliError(str(exc)) from None
    with target_spec(args) as spec:
        result = replay(spec, trace.steps, trace.seed, poll_budget=args.poll_budget, poll_interval=args.poll_interval)
    error = result.error
    summary = {"file": args.file, "target": spec.name, "verdict": result.verdict, "steps": len(trace.steps),
               "recorded_failure": trace.failure.get("message"),
               "failure": None if error is None else {"message": str(error),
                                                      "rules": list(getattr(error, "failure", None).rules)
                                                      if hasattr(error, "failure") else []}}
    if args.json:
        print_json(summary)
    else:
        console.print(f"replayed {len(trace.steps)} steps of {args.file} against {spec.name}: {result.verdict}")
        if error is not None:
            console.print(str(error), markup=False, highlight=False)
        if result.verdict == "non-conformant":
            steps = getattr(error, "steps", trace.steps)
            sys.stdout.write(program(spec.name, steps, str(error), trace.seed))
    return EXIT[result.verdict]
