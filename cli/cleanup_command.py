"""ckspec cleanup: remove what runs against a real AWS account left behind (the ledger).

Keys are scheduled for deletion (7 days, the shortest wait AWS allows) and custom key
stores are disconnected and deleted once their keys are gone, so cleanup may need running
again a week later; the ledger keeps what remains. Exit 0 when everything listed is gone or
on its way out, 1 when something could not be removed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .errors import CliError
from .file_limits import add_max_file_size
from .output import console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cleanup", help="remove the AWS resources a --target aws run left behind (its ledger)",
                       description=__doc__.splitlines()[0])
    p.add_argument("--ledger", default=".ckspec/aws-ledger.json", metavar="FILE",
                   help="the ledger of created resources (default %(default)s)")
    p.add_argument("--profile", help="AWS credentials profile (default: the usual AWS credential chain)")
    add_max_file_size(p)
    p.add_argument("--dry-run", action="store_true", help="only list what the ledger holds")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ckspec.conformance.aws_target import ENDPOINT_VARIABLE, clean
    from ckspec.conformance.ledger import Ledger, LedgerError

    try:
        ledger = Ledger(Path(args.ledger), max_bytes=args.max_file_size)
    except LedgerError as exc:
        raise CliError(str(exc)) from None
    if not len(ledger):
        _say(args, [], f"nothing to clean up: the ledger {args.ledger} lists nothing")
        return 0
    if args.dry_run:
        _say(args, [(e, "listed") for e in ledger], f"{len(ledger)} resources listed in {args.ledger}")
        return 0
    import botocore.exceptions

    from ckspec.conformance.targets import TargetNameError
    from ckspec.conformance.wire import kms_client

    done = []
    endpoint = os.environ.get(ENDPOINT_VARIABLE) or None
    for region in sorted({e.region for e in ledger}):
        try:
            kms = kms_client(endpoint, region, args.profile)
        except TargetNameError as exc:  # an unknown profile
            raise CliError(str(exc)) from None
        try:
            done += clean(ledger, kms, only=[e for e in ledger if e.region == region])
        except botocore.exceptions.NoCredentialsError:
            raise CliError("no AWS credentials found (use --profile, or the usual AWS environment variables)") from None
    failed = [d for d in done if d[1].startswith("kept:") and "run ckspec cleanup again" not in d[1]]
    _say(args, done, f"{len(ledger)} resources remain in {args.ledger}" if len(ledger) else "everything is gone")
    return 1 if failed else 0


def _say(args: argparse.Namespace, done: list, summary: str) -> None:
    if args.json:
        print(json.dumps({"entries": [{**e.as_json(), "outcome": o} for e, o in done], "summary": summary}))
        return
    for entry, outcome in done:
        console.print(f"{entry.kind:5} {entry.id}  {entry.region}  {outcome}", markup=False, highlight=False,
                      soft_wrap=True)
    console.print(summary, markup=False, highlight=False)
