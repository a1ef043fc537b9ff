"""ckspec rules: the rule catalog and how each rule is classified."""

from __future__ import annotations

import argparse

from ckspec.model.catalog import summary

from .output import console, print_json, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rules", help="list the rule catalog: encoded, not applicable, unclassified")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    p.add_argument("--status", choices=("encoded", "not_applicable", "unclassified"),
                   help="list only rules with this status")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
                  f"{s['ambiguities']}")
    return 0
