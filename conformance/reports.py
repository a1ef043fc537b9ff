"""What a run shows: a JSON document, JUnit XML, and a single-file offline HTML report.

All three are built from a :class:`~.engine.RunResult` and contain no password (steps hold
aliases, messages redact request secrets). The HTML report has no script and loads nothing:
the per-rule scorecard (pass / fail / unsupported / not exercised), the state x operation
matrix, each failure with its reproduction, and the connection-state diagram drawn from
the transition table and coloured by what the run exercised and where it failed.
"""

from __future__ import annotations

import html
import math
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from ckspec.model.catalog.sources import cite
from ckspec.model.environment import EVENTS
from ckspec.model.transitions import OPERATIONS

from .engine import Failure, RunResult

STATES = ("ABSENT", "DISCONNECTED", "CONNECTING", "CONNECTED", "DISCONNECTING", "FAILED", "-")


def statement(rule: str) -> str:
    """A catalogued rule's statement ("" for an unknown ID)."""
    return cite(rule)[0]


def source_lines(rule: str) -> list[str]:
    """Where the documentation says what a rule says: one line per source, its URL last."""
    return [f"  documented: {s}" for s in cite(rule)[1]]


def failure_lines(failure: Failure) -> list[str]:
    """A failure as text, in the order a maintainer reads it: the broken rule with its sources
    (public URLs), the differing member (in full), the other rules the answer contradicts, then
    the context (not blamed)."""
    lines = [f"broken rule: {failure.broken}: {statement(failure.broken)}", *source_lines(failure.broken)]
    if failure.detail:
        lines += ["difference: " + failure.detail.splitlines()[0], *failure.detail.splitlines()[1:]]
    also = [r for r in failure.contradicted if r != failure.broken]
    if also:
        lines.append(f"also contradicted: {', '.join(also)}")
    lines.append(f"expected (any of): {' | '.join(failure.expected)}; observed: {failure.observed}")
    if failure.context:
        lines.append(f"context (rules of the transitions that led here, not blamed): {', '.join(failure.context)}")
    return lines


def as_json(result: RunResult, command: str = "") -> dict[str, Any]:
    rules = result.rule_statuses()
    cells = [{"state": s, "operation": op, "outcome": out, "count": n}
             for (s, op, out), n in sorted(result.coverage.cells.items())]
    return {
        "target": result.target,
        "verdict": result.verdict,
        "seed": result.seed,
        "command": command,
        "examples": result.examples,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "steps_per_second": round(result.steps / result.seconds) if result.seconds else None,
        "first_failure": {"steps": result.first_failure_steps, "seconds": result.first_failure_seconds},
        "failures": [f.as_dict() for f in result.failures],
        "rules": [{"id": r["id"], "status": r["status"], "runs": r["runs"]} for r in rules],
        "rule_counts": dict(Counter(r["status"] for r in rules)),
        "unsupported": sorted(op for op in result.unsupported if op not in EVENTS),
        "unsupported_environment": sorted(op for op in result.unsupported if op in EVENTS),
        "unsupported_signatures": dict(sorted(result.unsupported.items())),
        "inconclusive": [{"reason": r, "examples": n} for r, n in Counter(result.inconclusive).most_common()],
        "isolation": result.isolation.as_dict() if result.isolation else None,
        "faked_setup": [{"reason": r, "steps": n} for r, n in Counter(result.faked_setup).most_common()],
        "verdict_reasons": result.verdict_reasons(),
        "stopped_early": result.stopped_early,
        "generation_restarts": result.restarts,
        "transport_faults": {"total": sum(result.transport_faults.values()),
                             "by_kind": dict(sorted(result.transport_faults.items())),
                             "samples": [r.as_dict() for r in result.fault_samples]},
        "abandoned_examples": {"total": sum(result.abandoned.values()), "by_kind": dict(sorted(result.abandoned.items()))},
        "regressions": result.regressions,
        "coverage": {
            "cells": cells,
            "transitions": [{"from": a, "to": b, "by": op, "count": n}
                            for (a, b, op), n in sorted(result.coverage.transitions.items())],
            "sequences": dict(result.coverage.sequences.most_common()),
            "rules_exercised": sum(1 for r in rules if r["runs"]),
            "rules_never_run": [r["id"] for r in rules if not r["runs"] and r["status"] != "not applicable"],
        },
        # a sharded campaign's part: what `ckspec report merge` needs (conformance/campaign.py)
        **({"shard": result.shard.as_dict()} if result.shard is not None else {}),
    }


def isolation_line(result: RunResult) -> str:
    """How the run kept its examples apart, in one line (every report says it)."""
    if result.isolation is None:
        return "unknown (no example ran)"
    return f"{result.isolation.kind}: {result.isolation.how}"


def junit_xml(result: RunResult) -> str:
    """One test case per catalogued rule: failed, passed, or skipped (unsupported, not exercised);
    plus one for the polling budget when examples were inconclusive."""
    rules = result.rule_statuses()
    failures_by_rule: dict[str, list[Any]] = {}
    for f in result.failures:
        for r in (f.broken, *f.contradicted):
            failures_by_rule.setdefault(r, []).append(f)
    suite = ET.Element("testsuite", name=f"ckspec conformance: {result.target}", time=f"{result.seconds:.3f}")
    counts = Counter()
    for r in rules:
        case = ET.SubElement(suite, "testcase", classname=f"ckspec.{r['id'].split('-')[0]}", name=r["id"])
        counts["tests"] += 1
        if r["status"] == "fail":
            counts["failures"] += 1
            first = failures_by_rule[r["id"]][0]
            node = ET.SubElement(case, "failure", message=first.message, type="Nonconformance")
            node.text = "\n".join(failure_lines(first)) + "\n\n" + first.program
        elif r["status"] != "pass":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{r['status']}: {r['statement']}")
    if result.inconclusive:
        case = ET.SubElement(suite, "testcase", classname="ckspec.run", name="asynchronous work completes")
        counts["tests"] += 1
        counts["skipped"] += 1
        ET.SubElement(case, "skipped", message=f"inconclusive in {len(result.inconclusive)} examples: "
                                               f"{result.inconclusive[0]}")
    for name, text in _run_notes(result):
        case = ET.SubElement(suite, "testcase", classname="ckspec.run", name=name)
        counts["tests"] += 1
        counts["skipped"] += 1
        ET.SubElement(case, "skipped", message=text)
    suite.set("tests", str(counts["tests"]))
    suite.set("failures", str(counts["failures"]))
    suite.set("errors", "0")
    suite.set("skipped", str(counts["skipped"]))
    props = ET.Element("properties")
    for name, value in (("target", result.target), ("verdict", result.verdict), ("seed", str(result.seed)),
                        ("examples", str(result.examples)), ("steps", str(result.steps)),
                        ("isolation", isolation_line(result)),
                        ("faked_setup_steps", str(len(result.faked_setup))),
                        ("transport_faults", str(sum(result.transport_faults.values()))),
                        ("abandoned_examples", str(sum(result.abandoned.values())))):
        ET.SubElement(props, "property", name=name, value=value)
    suite.insert(0, props)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _run_notes(result: RunResult) -> list[tuple[str, str]]:
    """What a run says besides its rules: why it is not conformant, and its transport faults."""
    notes = [("verdict", reason) for reason in result.verdict_reasons()]
    if result.stopped_early:
        notes.append(("stopped early", result.stopped_early))
    if result.restarts:
        notes.append(("generation restarts", f"generation started again {result.restarts} time(s) on the next seed: "
                                             f"an example cut short by a transport fault could not be replayed the "
                                             f"same way"))
    if result.transport_faults or result.abandoned:
        notes.append(("transport faults", transport_summary(result)))
    return notes


def transport_summary(result: RunResult) -> str:
    """One line: transport faults by kind, examples abandoned by kind (neither failures nor passes)."""
    faults = ", ".join(f"{k} x{n}" for k, n in sorted(result.transport_faults.items())) or "none"
    abandoned = ", ".join(f"{k} x{n}" for k, n in sorted(result.abandoned.items()))
    return (f"transport faults (not the target's behaviour): {sum(result.transport_faults.values())} ({faults}); "
            f"examples abandoned, outcome unknown: {sum(result.abandoned.values())}"
            + (f" ({abandoned})" if abandoned else ""))


# --- HTML ----------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;
vertical-align:top}th{background:#f4f4f4}pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:12px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.conformant,.pass{background:#2e7d32;color:#fff}.non-conformant,.fail{background:#c62828;color:#fff}
.inconclusive,.unsupported{background:#ef6c00;color:#fff}.not-exercised{background:#9e9e9e;color:#fff}
.not-applicable{background:#e0e0e0}
td.pass,td.fail,td.unsupported,td.not-exercised,td.not-applicable{text-align:center}
.cell{text-align:right;font-variant-numeric:tabular-nums}.small{color:#666;font-size:12px}
"""


def html_report(result: RunResult, command: str = "") -> str:
    e = html.escape
    rules = result.rule_statuses()
    counts = Counter(r["status"] for r in rules)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ckspec conformance: {e(result.target)}</title><style>{_CSS}</style></head><body>",
        f"<h1>ckspec conformance: {e(result.target)} <span class='badge {e(result.verdict)}'>"
        f"{e(result.verdict)}</span></h1>",
        f"<p>{result.examples} examples, {result.steps} steps, {result.seconds:.2f} s, seed {result.seed}. "
        f"Rules: {counts['pass']} pass, {counts['fail']} fail, {counts['unsupported']} unsupported, "
        f"{counts['not exercised']} not exercised, {counts['not applicable']} not applicable.</p>",
    ]
    parts.append(f"<p>Isolation: {e(isolation_line(result))}.</p>")
    if command:
        parts.append(f"<p>Rerun: <code>{e(command)}</code></p>")
    parts.append("<h2>Failures</h2>")
    if not result.failures:
        parts.append("<p>None.</p>")
    for i, f in enumerate(result.failures, 1):
        replay = f"ckspec replay {f.trace_file} --target {result.target}" if f.trace_file else ""
        also = [r for r in f.contradicted if r != f.broken]
        parts += [
            f"<h3>{i}. broken rule {e(f.broken)}{' (saved failure, replayed)' if f.regression else ''}</h3>",
            f"<p>{e(f.message)}</p><table>",
            f"<tr><th>broken rule</th><td>{_rule_links([f.broken])}: {e(statement(f.broken))}</td></tr>",
            f"<tr><th>documented</th><td>{_source_links(f.broken)}</td></tr>",
            f"<tr><th>difference</th><td><pre>{e(f.detail)}</pre></td></tr>",
            f"<tr><th>also contradicted</th><td>{_rule_links(also)}</td></tr>",
            f"<tr><th>expected (any of)</th><td>{e(' | '.join(f.expected))}</td></tr>",
            f"<tr><th>observed</th><td>{e(f.observed)}</td></tr>",
            f"<tr><th>context (not blamed)</th><td>{_rule_links(f.context)}</td></tr>",
            f"<tr><th>rules at this step</th><td>{_rule_links(f.rules)}</td></tr>",
            f"<tr><th>rules along the path</th><td>{_rule_links(f.path_rules)}</td></tr>",
            f"<tr><th>store state</th><td>{e(f.state)}</td></tr></table>",
            f"<p>Reproduction ({len(f.steps)} steps after the starting account), a runnable program:</p>",
            f"<pre>{e(f.program)}</pre>",
        ]
        if replay:
            parts.append(f"<p>Replay: <code>{e(replay)}</code></p>")
    if result.inconclusive:
        parts.append("<h2>Inconclusive examples</h2><ul>")
        parts += [f"<li>{n} x {e(r)}</li>" for r, n in Counter(result.inconclusive).most_common()]
        parts.append("</ul>")
    if result.faked_setup:
        parts.append("<h2>Depends on faked set-up</h2><p class='small'>Answers only a favourable choice of what "
                     "ckspec made up for a target without CloudHSM v2 explains: neither failures nor passes.</p><ul>")
        parts += [f"<li>{n} x {e(r)}</li>" for r, n in Counter(result.faked_setup).most_common()]
        parts.append("</ul>")
    for name, text in _run_notes(result):
        parts.append(f"<h2>{e(name.capitalize())}</h2><p>{e(text)}</p>")
    if result.fault_samples:
        parts.append("<table><tr><th>fault</th><th>call</th><th>raw answer</th></tr>")
        parts += [f"<tr><td>{e(r.kind)}</td><td>{e(r.operation)}</td><td><code>{e(r.raw)}</code></td></tr>"
                  for r in result.fault_samples]
        parts.append("</table>")
    if result.unsupported:
        parts.append("<h2>Unsupported</h2><table><tr><th>operation or control</th><th>answer</th></tr>")
        parts += [f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in sorted(result.unsupported.items())]
        parts.append("</table>")
    parts += ["<h2>Connection states</h2>",
              "<p class='small'>Edges from the transition table: green when the run exercised every operation on "
              "the edge, orange for some, grey for none; a red state is where a failure happened.</p>",
              state_diagram_svg(result)]
    parts += ["<h2>State x operation</h2>", _matrix(result)]
    parts += ["<h2>Rules</h2>", "<table><tr><th>rule</th><th>status</th><th>runs</th><th>statement</th></tr>"]
    for r in rules:
        cls = r["status"].replace(" ", "-")
        parts.append(f"<tr id='{e(r['id'])}'><td>{e(r['id'])}</td><td class='{cls}'>{e(r['status'])}</td>"
                     f"<td class='cell'>{r['runs']}</td><td>{e(str(r['statement']))}</td></tr>")
    parts.append("</table></body></html>\n")
    return "\n".join(parts)


def _source_links(rule: str) -> str:
    """A rule's sources as links to their public pages (a source with no page as text)."""
    e = html.escape
    return "<br>".join(f"<a href='{e(s.url)}'>{e(s.title)}</a> <span class='small'>{e(s.url)}</span>" if s.url
                       else e(s.title) for s in cite(rule)[1])


def _rule_links(rules: Any) -> str:
    return ", ".join(f"<a href='#{html.escape(r)}'>{html.escape(r)}</a>" for r in rules)


def _matrix(result: RunResult) -> str:
    e = html.escape
    by_cell: dict[tuple[str, str], Counter] = {}
    for (state, op, outcome), n in result.coverage.cells.items():
        by_cell.setdefault((state, op), Counter())[outcome] += n
    failed = {(f.state, f.operation) for f in result.failures}
    ops = sorted({op for _, op in by_cell} | {f.operation for f in result.failures if f.operation in OPERATIONS})
    states = [s for s in STATES if any((s, op) in by_cell for op in ops) or any(f.state == s for f in result.failures)]
    rows = ["<table><tr><th>state \\ operation</th>" + "".join(f"<th>{e(o)}</th>" for o in ops) + "</tr>"]
    peak = max((sum(c.values()) for c in by_cell.values()), default=1)
    for s in states:
        row = [f"<tr><th>{e(s)}</th>"]
        for op in ops:
            outcomes = by_cell.get((s, op), Counter())
            total = sum(outcomes.values())
            title = "; ".join(f"{k}: {v}" for k, v in outcomes.most_common())
            if (s, op) in failed:
                style = "background:#ef9a9a"
            elif total:
                shade = int(235 - 120 * math.log1p(total) / math.log1p(peak))
                style = f"background:rgb({shade},{min(255, shade + 25)},{shade})"
            else:
                style = ""
            row.append(f"<td class='cell' style='{style}' title='{e(title)}'>{total or ''}</td>")
        rows.append("".join(row) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


_POS = {"ABSENT": (80, 210), "DISCONNECTED": (280, 210), "CONNECTING": (520, 70), "CONNECTED": (790, 210),
        "DISCONNECTING": (520, 350), "FAILED": (790, 350)}


def _edges() -> dict[tuple[str, str], set[str]]:
    """(from, to) -> the operations and internal events that move a store along it (from the table)."""
    edges: dict[tuple[str, str], set[str]] = {}
    for op in OPERATIONS.values():
        if op.subject not in ("store", "new_store"):
            continue
        for branch in op.branches:
            if branch.target is None:
                continue
            for state in branch.states:
                if state != branch.target and state in _POS and branch.target in _POS:
                    edges.setdefault((state, branch.target), set()).add(op.name)
    return edges


def state_diagram_svg(result: RunResult) -> str:
    """The connection-state diagram as inline SVG, coloured by this run's coverage and failures."""
    e = html.escape
    seen = {(a, b, op) for (a, b, op) in result.coverage.transitions}
    failed_states = {f.state for f in result.failures}
    out = ["<svg xmlns='http://www.w3.org/2000/svg' width='900' height='410' viewBox='0 0 900 410' "
           "font-family='sans-serif' font-size='11'>",
           "<defs>" + "".join(
               f"<marker id='arrow-{c}' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' markerHeight='7' "
               f"orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='{v}'/></marker>"
               for c, v in (("green", "#2e7d32"), ("orange", "#ef6c00"), ("grey", "#9e9e9e"))) + "</defs>"]
    for (a, b), ops in sorted(_edges().items()):
        done = {op for op in ops if (a, b, op) in seen}
        colour = "green" if done == ops else "orange" if done else "grey"
        value = {"green": "#2e7d32", "orange": "#ef6c00", "grey": "#9e9e9e"}[colour]
        (x1, y1), (x2, y2) = _POS[a], _POS[b]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1
        nx, ny = -dy / length * 22, dx / length * 22  # bend to one side so opposite edges do not overlap
        sx, sy = x1 + dx / length * 62, y1 + dy / length * 22
        ex, ey = x2 - dx / length * 62, y2 - dy / length * 22
        cx, cy = (sx + ex) / 2 + nx, (sy + ey) / 2 + ny
        label = ", ".join(sorted(o.replace("CustomKeyStore", "") for o in ops))
        out.append(f"<path d='M{sx:.0f},{sy:.0f} Q{cx:.0f},{cy:.0f} {ex:.0f},{ey:.0f}' fill='none' "
                   f"stroke='{value}' stroke-width='2' marker-end='url(#arrow-{colour})'>"
                   f"<title>{e(a)} -> {e(b)}: {e(', '.join(sorted(ops)))} "
                   f"({len(done)}/{len(ops)} exercised)</title></path>")
        out.append(f"<text x='{cx:.0f}' y='{cy:.0f}' fill='{value}' text-anchor='middle'>{e(label)}</text>")
    for state, (x, y) in _POS.items():
        fill = "#ffcdd2" if state in failed_states else "#e8f5e9" if any(
            state in (a, b) for (a, b, _) in seen) else "#f5f5f5"
        out.append(f"<rect x='{x - 60}' y='{y - 18}' width='120' height='36' rx='8' fill='{fill}' stroke='#555'/>"
                   f"<text x='{x}' y='{y + 4}' text-anchor='middle' font-size='12' font-weight='600'>{e(state)}</text>")
    out.append("</svg>")
    return "\n".join(out)
