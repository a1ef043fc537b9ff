"""ckspec failures: the saved failures folder (``ckspec check --failures-dir``, default
``.ckspec/failures``).

``ckspec failures list`` shows each saved failure (target, broken rule, when saved, steps), with
``--check`` also whether it still fails when replayed on its target. ``ckspec failures prune``
replays each one on its target and removes those that pass (``--dry-run``: only says which);
a failure that still fails, is inconclusive or cannot be replayed is always kept.

Exit codes: 0 done, 2 usage error (the folder does not exist or is not a folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .check_command import add_wire_arguments, target_spec
from .errors import CliError
from .output import console, print_json

DEFAULT_DIR = ".ckspec/failures"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("failures", help="list the saved failures, or prune those that no longer fail",
                       description="The failures ckspec check saved (and replays first). Exit codes: 0 done, "
                                   "2 usage error.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))
    listed = actions.add_parser("list", help="each saved failure: target, broken rule, when saved, steps")
    listed.add_argument("--check", action="store_true",
                        help="also replay each one on its target and say whether it still fails")
    pruned = actions.add_parser("prune", help="replay each saved failure on its target; remove those that pass")
    pruned.add_argument("--dry-run", action="store_true", help="say which would be removed, remove nothing")
    for q in (listed, pruned):
        q.add_argument("--failures-dir", default=DEFAULT_DIR, metavar="DIR",
                       help="the saved failures folder (default %(default)s)")
        q.add_argument("--target", metavar="T", help="only the failures saved for this target")
        q.add_argument("--json", action="store_true", help="print as JSON")
        add_wire_arguments(q)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ckspec.conformance.saved_failures import listing, prune, replay_saved, targets

    folder = _folder(args.failures_dir)
    failures, unreadable = listing(folder, _target_name(args.target))
    options = {"poll_budget": args.poll_budget, "poll_interval": args.poll_interval}
    replayed = None
    if args.action == "prune" or args.check:
        with targets(lambda name: target_spec(_with_target(args, name))) as spec_for:
            if args.action == "prune":
                replayed = prune(failures, spec_for, dry_run=args.dry_run, **options)
            else:
                replayed = [replay_saved(f, spec_for, **options) for f in failures]
    rows = [r.as_dict() for r in replayed] if replayed is not None else [f.as_dict() for f in failures]
    if args.json:
        print_json({"folder": str(folder), "action": args.action, "dry_run": getattr(args, "dry_run", False),
                    "failures": rows, "unreadable": [{"file": str(u.path), "reason": u.reason} for u in unreadable]})
        return 0
    _show(args, folder, rows, unreadable)
    return 0


def _folder(path: str) -> Path:
    folder = Path(path)
    if not folder.exists():
        raise CliError(f"--failures-dir {path!r} does not exist (ckspec check saves failures there)")
    if not folder.is_dir():
        raise CliError(f"--failures-dir {path!r} is not a folder")
    return folder


def _target_name(name: str | None) -> str | None:
    """--target as the failures record it (a mutant's prefix as its full name)."""
    from ckspec.conformance import TargetNameError, load_target

    if name is None:
        return None
    try:
        return load_target(name).name
    except TargetNameError:
        return name


def _with_target(args: argparse.Namespace, name: str) -> argparse.Namespace:
    """``args`` with ``--target`` set to the target a failure was saved for (to open it)."""
    return argparse.Namespace(**dict(vars(args), target=name))


def _show(args: argparse.Namespace, folder: Path, rows: list[dict], unreadable: list) -> None:
    """One line per saved failure (whole: a file name is never cut), then what was done."""
    console.print(f"saved failures in {folder}: {len(rows)}", highlight=False)
    for r in rows:
        status = f": {r['status']}" + (f" ({r['why']})" if r["why"] else "") if "status" in r else ""
        removed = (" [would remove]" if args.dry_run else " [removed]") if r.get("removed") else ""
        console.print(f"  {r['rule']} on {r['target']}, saved {r['saved']}, {r['steps']} steps{status}{removed}: "
                      f"{r['file']}", markup=False, highlight=False, soft_wrap=True)
    for u in unreadable:
        console.print(f"  unreadable (kept): {u.reason}", markup=False, highlight=False, soft_wrap=True)
    if args.action == "prune":
        removed = sum(1 for r in rows if r["removed"])
        console.print(f"{'would remove' if args.dry_run else 'removed'} {removed} fixed failure(s); kept "
                      f"{len(rows) - removed + len(unreadable)} (still failing, inconclusive, not replayed or "
                      f"unreadable)", highlight=False)
    elif "status" not in (rows[0] if rows else {}):
        console.print("`ckspec failures list --check` replays each one on its target", highlight=False)
