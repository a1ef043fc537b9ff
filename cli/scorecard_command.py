"""ckspec scorecard: every rule of the catalog judged against a target, over many examples.

Unlike ``check``, a scorecard does not stop at the first failure: each rule gets pass, fail,
unsupported, not reached or not applicable, and each distinct failure one minimal
reproduction. Exit codes: 0 no rule fails, 1 some rule fails, 2 usage error, 3 target
unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import shlex
import sys

from .check_command import (_output_file, _probe, add_shard_argument, add_wire_arguments, against_target,
                            check_shard_count, wire_options)
from .errors import CliError, at_least_one, positive_int
from .output import console, progress, table

DEFAULT_EXAMPLES, DEFAULT_STEPS = 100, 40


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scorecard", help="judge every catalogued rule against a target (pass, fail, unsupported, "
                                         "not reached), one minimal reproduction per distinct failure",
                       description="Run many generated examples against each target without stopping at the first "
                                   "failure and judge every rule of the catalog. Exit codes: 0 no rule fails, 1 some "
                                   "rule fails, 2 usage error, 3 target unreachable.")
    p.add_argument("--target", action="append", metavar="T",
                   help="reference, reference:random, reference:free, mutant:NAME, serve, serve:random, moto, moto-server, "
                        "http://HOST:PORT or module.path:ClassName; repeat to put several targets on one page "
                        "(default reference)")
    p.add_argument("--examples", type=at_least_one, default=DEFAULT_EXAMPLES,
                   help="examples per target (default %(default)s)")
    p.add_argument("--steps", type=at_least_one, default=DEFAULT_STEPS,
                   help="at most this many steps per example (default %(default)s)")
    p.add_argument("--seed", type=positive_int, default=0,
                   help="seed of the examples: the same seed, targets and budget give the same examples "
                        "(default %(default)s)")
    p.add_argument("--markdown", metavar="FILE",
                   help="write the scorecard as a Markdown page (a hand-written part after the page's marker line "
                        "is kept)")
    p.add_argument("--json", action="store_true", help="print the scorecards as JSON")
    add_wire_arguments(p)
    p.add_argument("--no-minimise", action="store_true", help="keep each failure as first seen (no replays)")
    add_shard_argument(p, "run only shard K of N of the examples (each example is the same whatever N); "
                          "`ckspec report merge` combines the shards' --json output into the whole scorecard")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    args.target = args.target or ["reference"]
    return against_target(args, _scorecard)


def command_line(args: argparse.Namespace, shard: bool = True) -> str:
    """The command that reproduces this scorecard (for the page and the console); without
    ``shard``, the whole campaign's command (what its merged shards reproduce)."""
    parts = ["ckspec", "scorecard", *(f"--target {shlex.quote(t)}" for t in args.target),
             f"--examples {args.examples}", f"--steps {args.steps}", f"--seed {args.seed}"]
    if args.markdown and shard:
        parts.append(f"--markdown {shlex.quote(args.markdown)}")
    if shard and getattr(args, "shard", None) is not None:
        parts.append(f"--shard {args.shard}")
    return " ".join(parts)


def _scorecard(args: argparse.Namespace) -> int:
    from ckspec.conformance import TargetNameError, load_target
    from ckspec.conformance.scorecard import ScorecardOptions, scorecard
    from ckspec.conformance.scorecard_page import markdown, write_page

    check_shard_count(args)
    if len(set(args.target)) != len(args.target):
        raise CliError(f"--target names a target twice: {' '.join(args.target)}")
    page = _output_file(args.markdown)
    options = ScorecardOptions(examples=args.examples, steps=args.steps, seed=args.seed,
                               poll_budget=args.poll_budget, poll_interval=args.poll_interval,
                               minimise=not args.no_minimise)
    cards = []
    with contextlib.ExitStack() as stack:
        specs = []
        endpoints = [name for name in args.target if name.startswith(("http://", "https://"))]
        if args.reset_url and len(endpoints) != 1:
            raise CliError(f"--reset-url names the reset route of one endpoint target; {len(endpoints)} given")
        for name in args.target:
            wire = wire_options(args)
            if name not in endpoints:
                wire["reset_url"] = None  # the reset route is the endpoint's
            try:
                spec = stack.enter_context(load_target(name, **wire))
            except TargetNameError as exc:
                raise CliError(str(exc)) from None
            _probe(spec)  # unreachable (exit 3) before any work
            specs.append(spec)
        for spec in specs:
            with progress(f"scorecard {spec.name}", enabled=not args.json) as update:
                cards.append(scorecard(spec, options, lambda c: update(f"example {c.examples}/{args.examples}"),
                                       shard=args.shard, command=command_line(args, shard=False)))
    command = command_line(args)
    date = datetime.datetime.now(datetime.UTC).date().isoformat()
    if page is not None:
        write_page(page, markdown(cards, command, date))
    if args.json:
        json.dump({"command": command, "date": date, "scorecards": [c.as_json(command) for c in cards]},
                  sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        _show(cards, command, args.markdown)
    return 1 if any(c.counts()["fail"] for c in cards) else 0


def _show(cards: list, command: str, page: str | None) -> None:
    from ckspec.conformance.reports import source_lines, statement
    from ckspec.conformance.scorecard import STATUSES, blamed

    table("Scorecard (rules per status)", ["target", "examples", "steps", "seconds", *STATUSES],
          [[c.target, c.examples, c.steps, f"{c.seconds:.1f}", *(c.counts()[s] for s in STATUSES)] for c in cards])
    for card in cards:
        for failure, times in zip(card.failures, card.occurrences):
            console.print(f"[red]FAIL[/red] {card.target} {blamed(failure)}: {failure.message} "
                          f"({times} of {card.examples} examples; reproduction in {len(failure.steps)} steps)",
                          highlight=False)
            console.print(f"  {blamed(failure)}: {statement(blamed(failure))}", highlight=False, soft_wrap=True)
            for line in source_lines(blamed(failure)):
                console.print(line, highlight=False, soft_wrap=True, markup=False)
        if card.unsupported:
            console.print(f"{card.target}: not implemented: " + ", ".join(sorted(card.unsupported)), highlight=False)
        if card.transport_faults or card.abandoned:
            console.print(f"{card.target}: transport faults: "
                          + (", ".join(f"{k} x{v}" for k, v in sorted(card.transport_faults.items())) or "none")
                          + f"; examples abandoned: {sum(card.abandoned.values())}"
                          + (" (" + ", ".join(f"{k} x{v}" for k, v in sorted(card.abandoned.items())) + ")"
                             if card.abandoned else ""), highlight=False)
    if page:
        console.print(f"page: {page}")
    console.print(f"rerun: {command}")
