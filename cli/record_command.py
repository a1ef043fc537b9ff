"""ckspec record: run a program and record its KMS and CloudHSM v2 calls as a JSON trace.

Exit code: the program's own; 2 when the recording cannot start (no program, no ``--``, an
output that cannot be written).
"""

from __future__ import annotations

import argparse
import sys

from .errors import CliError

DEFAULT_OUTPUT = "ckspec-recorded-trace.json"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record", help="run a program and record its KMS and CloudHSM v2 calls (through botocore) as a trace",
        usage="ckspec record [-h] [-o FILE] -- PROGRAM [ARGS ...]",
        description="Run PROGRAM (a Python script using boto3, python -m pytest, the AWS CLI v1, ...) and record "
                    "every KMS and CloudHSM v2 call its Pythons make through botocore: request, response or error, "
                    "in order, with timestamps. kmsuser passwords are written as aliases, never as values. "
                    "Check the trace with 'ckspec trace check FILE'. The exit code is the program's; 2 if the "
                    "recording cannot start.")
    p.add_argument("-o", "--output", metavar="FILE", default=DEFAULT_OUTPUT,
                   help=f"where to write the trace (default: {DEFAULT_OUTPUT})")
    p.add_argument("program", nargs=argparse.REMAINDER, help="-- then the program and its arguments")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ckspec.conformance.recording import (
        RecordingError,
        exit_status_name,
        record_program,
    )

    argv = list(args.program)
    if not argv or argv[0] != "--":
        raise CliError("put -- before the program to record, e.g. ckspec record -o trace.json -- python app.py")
    argv = argv[1:]
    if not argv:
        raise CliError("no program after --")
    try:
        result = record_program(argv, args.output)
    except RecordingError as exc:
        raise CliError(str(exc)) from None
    ended = "" if result.exit_status == 0 else f"; the program exited with {exit_status_name(result.exit_status)}"
    print(f"ckspec: {result.summary()}{ended}", file=sys.stderr)
    return result.exit_status or 0
