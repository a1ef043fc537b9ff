"""The ``ckspec`` command: one subcommand per job, each in its own module.

Usage errors (unknown flags, bad values, an unwritable output folder) print one line on
stderr and exit 2; no traceback reaches the user. A bug in ckspec itself exits 70, apart from
3 (target unreachable); :mod:`ckspec.exit_codes` lists every code.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from importlib import metadata

from . import (check_command, cleanup_command, diagrams_command, explore_command, failures_command, mutants_command,
               prove_command, record_command, replay_command, report_command, rules_command, run_command,
               scorecard_command, serve_command, trace_command)
from . import exit_codes
from .errors import CliError

COMMANDS = (run_command, explore_command, prove_command, diagrams_command, rules_command, check_command,
            replay_command, mutants_command, scorecard_command, report_command, serve_command, record_command,
            trace_command, cleanup_command, failures_command)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2; a value of thousands of characters is not echoed
        message = re.sub(r"(\S{80})\S+", lambda m: f"{m.group(1)}... ({len(m.group(0))} characters)",
                         " ".join(message.split()))
        raise CliError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ckspec", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"ckspec {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _version() -> str:
    try:
        return metadata.version("ckspec")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version print and exit 0
            return int(exc.code or 0)
        if not getattr(args, "command", None):
            parser.print_help()
            return exit_codes.USAGE
        return int(args.run(args) or 0)
    except CliError as exc:
        print(f"ckspec: error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except KeyboardInterrupt:
        print("ckspec: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        return exit_codes.FAILED
    except OSError as exc:  # a file that cannot be written, a full disk
        print(f"ckspec: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return exit_codes.USAGE
    except Exception as exc:  # a bug in ckspec: one line, the traceback only on request
        if os.environ.get("CKSPEC_DEBUG"):
            raise
        print(f"ckspec: internal error (a bug in ckspec): {type(exc).__name__}: {exc} (set CKSPEC_DEBUG=1 for the "
              f"traceback)", file=sys.stderr)
        return exit_codes.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
