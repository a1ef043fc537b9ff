"""ckspec report merge: the JSON reports of a campaign's shards combined into one report.

``ckspec check --shard K/N --json FILE`` and ``ckspec scorecard --shard K/N --json`` each run
one shard of a campaign (ckspec.conformance.campaign); ``ckspec report merge`` folds the N
reports back into the campaign's verdict, scorecard, HTML, JUnit or Markdown page, exactly as
the whole campaign run on one machine gives them. Reports of different campaigns, a missing or
a repeated shard are refused (one line, exit 2). Exit codes, for check reports: 0 conformant,
1 non-conformant, 4 inconclusive; for scorecards: 0 no rule fails, 1 some rule fails; 2 usage
error (bad reports included).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import Any

from .check_command import EXIT, _output_file, add_wire_arguments, wire_options, write_reports
from .errors import CliError
from .output import console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="work on JSON reports: merge the shards of a campaign",
                       description="Work on the JSON reports ckspec writes.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    merge = actions.add_parser("merge", help="combine the JSON reports of a campaign's shards into one",
                               description="Combine the JSON reports of the N shards of one campaign (ckspec check "
                                           "--shard K/N --json FILE, or ckspec scorecard --shard K/N --json) into "
                                           "the whole campaign's report. Exit codes: 0 conformant (no rule fails), "
                                           "1 non-conformant (some rule fails), 2 usage error (unreadable reports, "
                                           "different campaigns, a missing or repeated shard), 4 inconclusive.")
    merge.add_argument("reports", nargs="+", metavar="REPORT.json", help="the shards' JSON reports, in any order")
    merge.add_argument("-o", "--output", metavar="FILE", help="write the merged JSON report ('-' for standard output)")
    merge.add_argument("--html", metavar="FILE", help="write the merged single-file HTML report (check reports)")
    merge.add_argument("--junit", metavar="FILE", help="write the merged JUnit XML report (check reports)")
    merge.add_argument("--markdown", metavar="FILE", help="write the merged scorecard page (scorecards)")
    merge.add_argument("--no-probe", action="store_true",
                       help="scorecards: do not make the one-step probes of operations no shard called (the "
                            "unsharded scorecard makes them against the target, and so does the merge by default; "
                            "without them the merge is the union of the shards only)")
    add_wire_arguments(merge)
    merge.set_defaults(run=run)
    p.set_defaults(run=lambda args: _no_action(p))


def _no_action(parser: argparse.ArgumentParser) -> int:
    raise CliError("ckspec report needs an action: merge (see 'ckspec report --help')")


def run(args: argparse.Namespace) -> int:
    from ckspec.conformance.merge import MergeError, kind_of, load_reports, merge_check, merge_scorecards

    try:
        reports = load_reports(args.reports)
        kinds = {kind_of(path, doc) for path, doc in reports}
        if len(kinds) > 1:
            raise MergeError("check reports and scorecards cannot be merged together")
        kind = kinds.pop()
        if kind == "scorecard" and (args.html or args.junit):
            raise CliError("--html and --junit are written from check reports; a scorecard's page is --markdown")
        if kind == "check" and args.markdown:
            raise CliError("--markdown is written from scorecards; a check report has --html and --junit")
        outputs = {"json": _output_file(args.output), "html": _output_file(args.html),
                   "junit": _output_file(args.junit), "markdown": _output_file(args.markdown)}
        if kind == "check":
            return _check(merge_check(reports), outputs, args.output == "-")
        cards = merge_scorecards(reports)
        if not args.no_probe:
            _probe(cards, args)
        return _scorecards(cards, outputs, args.output == "-")
    except MergeError as exc:
        raise CliError(str(exc)) from None


def _probe(cards: list[Any], args: argparse.Namespace) -> None:
    """The probes the unsharded scorecard makes after its examples, against each target
    (named as the shards named it; the wire options as given to the merge)."""
    from ckspec.conformance import TargetNameError, TargetUnreachable, load_target
    from ckspec.conformance.scorecard import probe_merged

    for card in cards:
        if not card.shard.unprobed:
            continue
        try:
            with load_target(card.target, **wire_options(args)) as spec:
                probe_merged(spec, card)
        except TargetNameError as exc:
            raise CliError(f"cannot make the probes against {card.target}: {exc} (or merge with --no-probe)") from None
        except TargetUnreachable as exc:
            raise CliError(f"cannot make the probes: target unreachable: {exc} (or merge with --no-probe)") from None


def _check(result: Any, outputs: dict[str, Any], to_stdout: bool) -> int:
    command = result.shard.campaign.get("command", "")
    write_reports(result, command, outputs, to_stdout)
    if not to_stdout:
        colour = {"conformant": "green", "non-conformant": "red", "inconclusive": "yellow"}[result.verdict]
        console.print(f"target {result.target}: [{colour}]{result.verdict}[/{colour}] after {result.examples} "
                      f"examples, {result.steps} steps (seed {result.seed}, merged from shards)")
        for failure in result.failures:
            console.print(f"[red]FAILURE[/red] {failure.broken}: {failure.message}", highlight=False)
        for reason in result.verdict_reasons():
            console.print(f"[yellow]inconclusive[/yellow]: {reason}", highlight=False)
        console.print(f"rerun on one machine: {command}", highlight=False)
    return EXIT[result.verdict]


def _scorecards(cards: list[Any], outputs: dict[str, Any], to_stdout: bool) -> int:
    from ckspec.conformance.scorecard_page import markdown, write_page

    command = cards[0].shard.campaign.get("command", "")
    date = datetime.datetime.now(datetime.UTC).date().isoformat()
    if outputs["markdown"] is not None:
        write_page(outputs["markdown"], markdown(cards, command, date))
    document = json.dumps({"command": command, "date": date, "scorecards": [c.as_json(command) for c in cards]},
                          indent=2, default=str)
    if outputs["json"] is not None:
        outputs["json"].write_text(document + "\n", encoding="utf-8")
    if to_stdout:
        sys.stdout.write(document + "\n")
    else:
        for card in cards:
            counts = card.counts()
            console.print(f"{card.target}: {card.examples} examples, {card.steps} steps: "
                          + ", ".join(f"{n} {status}" for status, n in counts.items()), highlight=False)
            if card.shard.unprobed:
                console.print(f"[yellow]note[/yellow]: {card.target}: no shard called "
                              f"{', '.join(card.shard.unprobed)} and --no-probe left them unprobed: the unsharded "
                              f"scorecard ({command}) probes them", highlight=False)
        console.print(f"rerun on one machine: {command}", highlight=False)
    return 1 if any(c.counts()["fail"] for c in cards) else 0
