"""ckspec record: run a program and record its KMS and CloudHSM v2 calls as a JSON trace.

Exit code: the program's own; 128 + N when ckspec got signal N (SIGINT 130, SIGTERM 143,
SIGHUP 129), which it passed on to the program (killed if still running ``--grace`` seconds
later, 5 by default) before writing the trace; 2 when the recording cannot start (no program,
no ``--``, an output that cannot be written or that another ``ckspec record`` is writing).
"""

from __future__ import annotations

import argparse
import sys

from .errors import CliError

DEFAULT_OUTPUT = "ckspec-recorded-trace.json"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record", help="run a program and record its KMS and CloudHSM v2 calls (through botocore) as a trace",
        usage="ckspec record [-h] [-o FILE] [--grace SECONDS] -- PROGRAM [ARGS ...]",
        description="Run PROGRAM (a Python script using boto3, python -m pytest, the AWS CLI v1, ...) and record "
                    "every KMS and CloudHSM v2 call its Pythons make through botocore: request, response or error, "
                    "in order, with timestamps. kmsuser passwords are written as aliases, never as values. "
                    "Check the trace with 'ckspec trace check FILE'. SIGINT, SIGTERM and SIGHUP are passed on "
                    "to the program (killed if still running --grace seconds later), and the trace is written "
                    "with the calls completed. The exit code is the program's; 128+N after signal N (130, 143, 129); 2 if the "
                    "recording cannot start (also when another ckspec record is writing FILE).")
    p.add_argument("-o", "--output", metavar="FILE", default=DEFAULT_OUTPUT,
                   help=f"where to write the trace (default: {DEFAULT_OUTPUT})")
    p.add_argument("--grace", metavar="SECONDS", type=_seconds, default=5.0,
                   help="after a signal, how long the program has to end before it is killed (default: 5)")
    p.add_argument("program", nargs=argparse.REMAINDER, help="-- then the program and its arguments")
    p.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected a number of seconds from 0 to 3600, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from ckspec.conformance.recording import RecordingError, record_program

    argv = list(args.program)
    if not argv or argv[0] != "--":
        raise CliError("put -- before the program to record, e.g. ckspec record -o trace.json -- python app.py")
    argv = argv[1:]
    if not argv:
        raise CliError("no program after --")
    try:
        result = record_program(argv, args.output, args.grace)
    except RecordingError as exc:
        raise CliError(str(exc)) from None
    print(f"ckspec: {result.summary()}{result.ending()}", file=sys.stderr)
    return result.exit_code
