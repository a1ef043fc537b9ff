"""ckspec rules: the rule catalog, how each rule is classified, and where it is documented.

``ckspec rules`` lists the catalog; ``ckspec rules ID [ID ...]`` shows each rule whole: its
statement, its group, its documentation sources as public URLs, whether the model encodes it
(or why not, or for an ambiguity the recommended behaviour), and the files and line numbers of
the model code and of the tests that cite it. An unknown ID is a one-line error (exit 2) that
suggests the closest catalogued ID.
"""

from __future__ import annotations

import argparse
import difflib
import re

from ckspec.model.catalog import RULE_ID, RuleStatus, classify, summary, where_encoded
from ckspec.model.catalog.sources import source

from .errors import CliError
from .output import console, print_json, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rules", help="list the rule catalog, or show rules by ID with their documentation sources")
    p.add_argument("ids", nargs="*", metavar="ID", help="rule IDs to show whole (e.g. CONNECT-06 AMB-17)")
    p.add_argument("--json", action="store_true", help="print as JSON (sources with their URLs)")
    p.add_argument("--status", choices=("encoded", "not_applicable", "unclassified"),
                   help="list only rules with this status")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.ids:
        return _show(args.ids, args.json)
    s = summary()
    if args.status:
        s["rules"] = [r for r in s["rules"] if r["status"] == args.status]
    if args.json:
        print_json(s)
        return 0
    rows = [[r["id"], r["status"], r.get("reason") or r["statement"]] for r in s["rules"]]
    table("Rule catalog", ["id", "status", "statement (or reason)"], rows)
    share = s["documented_rules_encoded"] / s["documented_rules"]
    console.print(f"{s['total']} entries: {s['encoded']} encoded, {s['not_applicable']} not applicable, "
                  f"{s['unclassified']} unclassified; documented rules encoded: {s['documented_rules_encoded']}/"
                  f"{s['documented_rules']} ({share:.0%}); ambiguities encoded: {s['ambiguities_encoded']}/"
                  f"{s['ambiguities']}; `ckspec rules ID` shows one rule with its sources")
    return 0


def _show(ids: list[str], as_json: bool) -> int:
    by_id = {s.rule.id: s for s in classify()}
    wanted = [i.upper() for i in ids]
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise CliError(f"no such rule in the catalog: {', '.join(unknown)}{_suggestion(unknown, sorted(by_id))}")
    chosen = [by_id[i] for i in wanted]
    if as_json:
        print_json({"rules": [dict(s.as_dict(), **_lines(s.rule.id)) for s in chosen]})
        return 0
    for status in chosen:
        _print_rule(status)
    return 0


def _suggestion(unknown: list[str], known: list[str]) -> str:
    """"; did you mean CONNECT-06?" for the first unknown ID that is close to one (a missing dash,
    a digit off), else how an ID looks."""
    for wrong in unknown:
        dashed = re.sub(r"^([A-Z]+)-?(\d)", r"\1-\2", wrong)
        close = [dashed] if dashed in known else difflib.get_close_matches(dashed, known, n=3, cutoff=0.6)
        if close:
            return f"; did you mean {' or '.join(close)}?"
    if all(RULE_ID.fullmatch(i) for i in unknown):
        return " (`ckspec rules` lists them)"
    return " (a rule ID looks like CONNECT-06 or AMB-17)"


def _lines(rule_id: str) -> dict[str, list[dict[str, object]]]:
    """The files and line numbers of the model code and of the tests that cite the rule."""
    found = where_encoded(rule_id)
    return {f"{part}_lines": [{"file": f, "lines": list(n)} for f, n in sorted(files.items())]
            for part, files in found.items()}


def _print_rule(status: RuleStatus) -> None:
    rule = status.rule
    console.print(f"[bold]{rule.id}[/bold] ({rule.kind}, {status.status})", highlight=False)
    console.print(f"  {rule.statement}", highlight=False, soft_wrap=True)
    console.print(f"  group: {rule.group}" + (f"; added by {rule.added}" if rule.added else ""), highlight=False)
    if rule.not_applicable_reason:
        console.print(f"  not encoded: {rule.not_applicable_reason}", highlight=False, soft_wrap=True)
    if rule.recommendation:
        console.print(f"  recommended model behaviour: {rule.recommendation}", highlight=False, soft_wrap=True)
    console.print("  sources:")
    for key in rule.sources:
        console.print(f"    {key}: {source(key)}", highlight=False, soft_wrap=True, markup=False)
    found = where_encoded(rule.id)
    for part, title in (("code", "code that encodes it"), ("tests", "tests that cite it")):
        files = found[part]
        console.print(f"  {title}:" + ("" if files else " -"), highlight=False)
        for file, lines in sorted(files.items()):
            console.print(f"    {file}:{','.join(map(str, lines))}", highlight=False, soft_wrap=True, markup=False)
