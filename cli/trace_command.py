"""ckspec trace: work with recorded traces (``ckspec record``). ``ckspec trace check FILE``
checks one against the model as an observer; the calls to each endpoint are checked as one
account of their own (a test run whose tests each start their own ``ckspec serve``).

Exit codes of ``trace check``: 0 the trace conforms, 1 it does not, 2 bad input (a missing
file, not a regular file, over --max-file-size, not JSON or nested too deeply, another format
or version, a malformed call), 4 inconclusive (too many model worlds explain it).
"""

from __future__ import annotations

import argparse

from .errors import CliError
from .exit_codes import FAILED, INCONCLUSIVE, OK
from .file_limits import add_max_file_size
from .output import console, print_json

EXIT = {"conforms": OK, "does not conform": FAILED, "inconclusive": INCONCLUSIVE}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trace", help="work with recorded traces: 'ckspec trace check FILE'",
                       description="Work with traces recorded by 'ckspec record'.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    check = actions.add_parser(
        "check", help="check a recorded trace against the model, as an observer",
        description="Check a recorded trace against the model as an observer: the account may hold stores, keys "
                    "and clusters before the first call, the environment (clusters, HSMs, kmsuser, subnets, faults) "
                    "changes unseen at any time, and asynchronous work completes whenever. The calls to each endpoint "
                    "are checked as one account of their own. Reports that the trace "
                    "conforms, or the first call no model world explains, with the rule IDs it breaks. Exit codes: "
                    "0 conforms, 1 does not, 2 bad input, 4 inconclusive.")
    check.add_argument("file", help="a trace written by ckspec record")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    add_max_file_size(check)
    check.set_defaults(run=run_check)
    p.set_defaults(run=_no_action, parser=p)


def _no_action(args: argparse.Namespace) -> int:
    raise CliError("say what to do with the trace: ckspec trace check FILE")


def run_check(args: argparse.Namespace) -> int:
    from ckspec.conformance import recorded
    from ckspec.conformance.observer import Inconclusive, check_trace

    try:
        trace = recorded.load(args.file, max_bytes=args.max_file_size)
    except recorded.RecordedTraceError as exc:
        raise CliError(str(exc)) from None
    try:
        verdict = check_trace(trace)
    except Inconclusive as exc:
        return _report(args, {"file": args.file, "verdict": "inconclusive", "calls": len(trace.calls),
                              "reason": str(exc)})
    summary = {"file": args.file, "verdict": "conforms" if verdict.conforms else "does not conform",
               "calls": verdict.calls, "checked": verdict.checked, "skipped": verdict.skipped,
               "failure": verdict.failure.as_dict() if verdict.failure else None, "notes": list(verdict.notes),
               # each endpoint the calls went to is an account of its own (null: not recorded)
               "endpoints": list(verdict.endpoints)}
    return _report(args, summary)


def _report(args: argparse.Namespace, summary: dict) -> int:
    if args.json:
        print_json(summary)
        return EXIT[summary["verdict"]]
    verdict = summary["verdict"]
    if verdict == "inconclusive":
        console.print(f"{args.file}: inconclusive: {summary['reason']}", markup=False)
    elif verdict == "conforms":
        accounts = len(summary["endpoints"])
        apart = f"; {accounts} endpoints, each checked as an account of its own" if accounts > 1 else ""
        console.print(f"{args.file}: conforms ({summary['calls']} calls: {summary['checked']} checked against the "
                      f"model, {summary['skipped']} outside it{apart})", markup=False)
    else:
        f = summary["failure"]
        lines = [f"{args.file}: does not conform",
                 f"  {f['message']}",
                 f"  call:     {f['index']} ({f['service']} {f['operation']}{', ' + f['time'] if f['time'] else ''})",
                 f"  rules:    {', '.join(f['rules'])}",
                 f"  allowed:  {' | '.join(f['expected'])}",
                 f"  observed: {f['observed']}" + (f" [{f['detail']}]" if f["detail"] else "")]
        console.print("\n".join(lines), markup=False, highlight=False)
    for note in summary.get("notes", ()):  # AMB-18, XKS-06: noticed, not failed
        console.print(f"  note: {note}", markup=False, highlight=False)
    return EXIT[verdict]
