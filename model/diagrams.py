"""State diagrams generated from the model: never drawn by hand.

* :func:`connection_states`: one key store's ConnectionState diagram, one edge per Branch of
  every store operation in :data:`transitions.OPERATIONS`, and per state a note listing the
  errors (Check rows) a call can get there.
* :func:`connection_summary`: the same diagram at a glance, for the README: the five states,
  one edge per operation or internal event that changes the state (the twelve failing
  connection attempts are one edge, "attempt fails (ConnectionErrorCode)"), no guards.
* :func:`key_states`: a KMS key's own states, from the key operations, CreateKey and
  KeyDeletionCompletes, with the visible-state rule (KS-02, KS-03) computed from
  :func:`responses.visible_key_state`.
* :func:`recovery`: per ConnectionErrorCode, the failure path (grey) and the recovery path
  (bold) that :mod:`recovery` finds by search.

Each diagram is a small graph value, rendered as DOT (:func:`to_dot`), Mermaid
(:func:`to_mermaid`) and SVG (:func:`to_svg`, through graphviz's ``dot``). The output is
deterministic: table order, sorted sets, no timestamps, no paths.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs

from . import recovery as rec
from .aws_service import CLOUDHSM_ERROR_CODES, ConnectionState
from .responses import visible_key_state
from .transitions import OPERATIONS, Branch, Operation
from .world import ABSENT, Key, KeyStore, World

DOT_MISSING = "graphviz 'dot' not found: wrote DOT and Mermaid only; install it with: apt-get install graphviz"
STORE_STATES = (ABSENT, "DISCONNECTED", "CONNECTING", "CONNECTED", "DISCONNECTING", "FAILED")
KEY_STATES = ("Enabled", "Disabled", "PendingDeletion")
NO_KEY, DELETED = "NoKey", "Deleted"
NOTES_TITLE = "errors a call can get in this state (Check rows)"


@attrs.frozen
class Node:
    id: str
    label: str
    #: "state", "start" (no key store / no key), "end" (deleted, recovered) or "failed"
    kind: str = "state"


@attrs.frozen
class Edge:
    source: str
    target: str
    label: str
    #: "solid", "dashed" (internal event), "grey" (failure path) or "bold" (recovery path)
    style: str = "solid"


@attrs.frozen
class Diagram:
    name: str
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    #: (state id, text): the errors (Check rows) a call can get in that state
    notes: tuple[tuple[str, str], ...] = ()
    #: a linear chain (recovery) is drawn as a Mermaid flowchart, the others as state diagrams
    chain: bool = False
    #: graphviz's rankdir for a state diagram: "LR" (wide, detailed) or "TB" (narrow, the summary)
    direction: str = "LR"
    #: the font size (pt) of edge labels: small in the detailed diagrams, larger in the summary,
    #: which is read at README width (800 px)
    edge_font: int = 8


# --- labels ------------------------------------------------------------------------------------


def _rules(rules: tuple[str, ...], first: int = 2) -> str:
    return ", ".join(rules[:first]) + (" …" if len(rules) > first else "")


def _wrap(text: str, width: int = 46) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def branch_label(op: Operation, branch: Branch) -> str:
    """``op: branch``, then [guard], / effects, ConnectionErrorCode, rule IDs and (AMB-nn alt)."""
    lines = [op.name if branch.name == op.name else f"{op.name}: {branch.name}"]
    if branch.when.text() != "always":
        lines += _wrap(f"[{branch.when.text()}]")
    if branch.effects:
        lines += _wrap("/ " + ", ".join(branch.effects))
    if branch.error_code and branch.error_code not in branch.name:
        lines.append(f"ConnectionErrorCode {branch.error_code}")
    lines.append(_rules(branch.rules) + (f" ({branch.alt} alt)" if branch.alt else ""))
    return "\n".join(lines)


def _state(value: object) -> str:
    return getattr(value, "value", value)


def state_errors(ops: list[Operation], state: str) -> list[tuple[Operation, list[str]]]:
    """Per operation, the errors its Check rows give in ``state`` (``Error (AMB-nn alt)``), sorted."""
    found = []
    for op in ops:
        errors = sorted({c.error.removesuffix("Exception") + (f" ({c.alt} alt)" if c.alt else "")
                         for c in op.checks if state in c.states})
        if errors:
            found.append((op, errors))
    return found


def _error_note(ops: list[Operation], state: str) -> str:
    """One line per operation: ``Op → Error, Error`` for the Check rows that apply in ``state``."""
    lines = []
    for op, errors in state_errors(ops, state):
        lines += _wrap(f"{op.name} → {', '.join(errors)}", 64)
    return "\n".join(lines)


# --- the connection-state diagram --------------------------------------------------------------


def store_operations() -> list[Operation]:
    """The operations whose rows speak about a key store's ConnectionState."""
    return [op for op in OPERATIONS.values() if op.subject in ("store", "new_store")]


def store_edges() -> list[tuple[Operation, Branch, str, str]]:
    """(operation, branch, from, to) for every Branch and each state it applies in."""
    found = []
    for op in store_operations():
        for branch in op.branches:
            for state in sorted(branch.states, key=STORE_STATES.index):
                found.append((op, branch, state, state if branch.target is None else _state(branch.target)))
    return found


def connection_states() -> Diagram:
    nodes = tuple(Node(s, "no key store" if s == ABSENT else s, "start" if s == ABSENT else "state")
                  for s in STORE_STATES)
    edges = tuple(Edge(src, dst, branch_label(op, br), "dashed" if op.kind == "internal" else "solid")
                  for op, br, src, dst in store_edges())
    notes = tuple((s, note) for s in STORE_STATES if (note := _error_note(store_operations(), s)))
    title = ("Custom key store ConnectionState (generated from model/transitions.py; "
             "dashed: internal event; alt: documented alternative)")
    return Diagram("connection-states", title, nodes, edges, notes)


def _summary_label(group: list[tuple[Operation, Branch]]) -> str:
    """One short label for the branches of one operation between two states."""
    op, branch = group[0]
    alts = sorted({b.alt for _, b in group if b.alt})
    if op.kind == "internal":
        codes = {b.error_code for _, b in group if b.error_code}
        text = branch.name.split(":")[0] + (" (ConnectionErrorCode)" if codes else "")
    else:
        text = op.name
    only_alt = all(b.alt for _, b in group)
    return text + (f"\n({', '.join(alts)} alt)" if alts and only_alt else "")


def connection_summary() -> Diagram:
    """The connection states at a glance: the edges of :func:`connection_states` that change
    the state, one per (operation, from, to), with the operation's name for a call and the
    event's wording for an internal event; self-loops (answers that leave the state as it is)
    are left to the detailed diagram."""
    groups: dict[tuple[str, str, str], list[tuple[Operation, Branch]]] = {}
    for op, branch, src, dst in store_edges():
        if src != dst:
            groups.setdefault((op.name, src, dst), []).append((op, branch))
    nodes = tuple(Node(s, "no key store" if s == ABSENT else s, "start" if s == ABSENT else "state")
                  for s in STORE_STATES)
    edges = tuple(Edge(src, dst, _summary_label(group), "dashed" if group[0][0].kind == "internal" else "solid")
                  for (_, src, dst), group in groups.items())
    title = "Custom key store ConnectionState at a glance (dashed: internal event)"
    return Diagram("connection-summary", title, nodes, edges, direction="TB", edge_font=10)


# --- the key-state diagram ---------------------------------------------------------------------


def _key_target(branch: Branch, state: str) -> str:
    if branch.target is None:
        return state
    return DELETED if branch.target == ABSENT else _state(branch.target)


def _key_creation_edges() -> list[Edge]:
    """CreateKey's branches that create a key: from "no key" to a new key's state."""
    new_state = attrs.fields(Key).state.default
    return [Edge(NO_KEY, new_state, branch_label(op, br) + "\nwhen the store is " + ", ".join(sorted(br.states)))
            for op in OPERATIONS.values() for br in op.branches if "create_key" in br.effects]


def _key_edges() -> list[Edge]:
    edges = _key_creation_edges()
    for op in (op for op in OPERATIONS.values() if op.subject == "key"):
        style = "dashed" if op.kind == "internal" else "solid"
        for br in op.branches:
            edges += [Edge(s, _key_target(br, s), branch_label(op, br), style) for s in KEY_STATES if s in br.states]
    return edges


def visible_state(key_state: str) -> str:
    """What DescribeKey shows for a key in ``key_state``, by the store's state: computed by
    :func:`responses.visible_key_state` (KS-02, KS-03)."""
    shown: dict[str, list[str]] = {}
    for store_state in STORE_STATES[1:]:
        store = KeyStore(1, "store-a", 1, "anchor", "password", state=ConnectionState(store_state))
        world = World(stores=(store,), keys=(Key(2, 1, state=key_state),))
        shown.setdefault(visible_key_state(world, world.keys[0]), []).append(store_state)
    other = {v: s for v, s in shown.items() if v != key_state}
    if not other:
        return f"shown as {key_state} in every store state"
    return "\n".join(f"shown as {v} while the store is\n{', '.join(s)}" for v, s in other.items())


def key_states() -> Diagram:
    nodes = (Node(NO_KEY, "no key", "start"), *(Node(s, f"{s}\n{visible_state(s)}") for s in KEY_STATES),
             Node(DELETED, "deleted", "end"))
    key_ops = [op for op in OPERATIONS.values() if op.subject == "key"]
    notes = tuple((s, note) for s in KEY_STATES if (note := _error_note(key_ops, s)))
    title = ("KMS key in a CloudHSM key store: its own KeyState, and what DescribeKey shows (KS-02, KS-03) "
             "(generated from model/transitions.py)")
    return Diagram("key-states", title, nodes, tuple(_key_edges()), notes)


# --- recovery diagrams -------------------------------------------------------------------------


def _step_node(index: int, step: rec.Step | None) -> Node:
    if step is None:
        return Node("s0", "DISCONNECTED\n(connected once)", "start")
    label = step.state + (f"\n{step.error_code}" if step.error_code else "")
    kind = {"CONNECTED": "end", "FAILED": "failed"}.get(step.state, "state")
    return Node(f"s{index}", label, kind)


def _step_label(step: rec.Step) -> str:
    lines = _wrap(step.action, 60)
    if step.response != "-":
        lines.append(step.response)
    return "\n".join(lines + [_rules(step.rules)])


def recovery(code: str) -> Diagram:
    failure, repair = rec.failure_path(code), rec.recovery_path(code)
    steps = failure + repair
    nodes = (_step_node(0, None), *(_step_node(i + 1, s) for i, s in enumerate(steps)))
    edges = tuple(Edge(f"s{i}", f"s{i + 1}", _step_label(s), "grey" if i < len(failure) else "bold")
                  for i, s in enumerate(steps))
    title = f"{code}: failure (grey, {len(failure)} steps) and recovery (bold, {len(repair)} steps), found by search"
    return Diagram(recovery_name(code), title, nodes, edges, chain=True)


def recovery_name(code: str) -> str:
    return "recovery-" + code.lower().replace("_", "-")


# --- DOT ---------------------------------------------------------------------------------------

_DOT_NODE = {"state": "", "start": ", shape=oval", "end": ", peripheries=2", "failed": ", color=firebrick, penwidth=2"}
_DOT_EDGE = {"solid": "", "dashed": ", style=dashed", "grey": ", color=grey55, fontcolor=grey45",
             "bold": ", penwidth=2.5"}


def dot_string(text: str, left: bool = False) -> str:
    """A DOT double-quoted string; ``left`` justifies every line to the left (notes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\l") + "\\l" if left else escaped.replace("\n", "\\n")
    return f'"{escaped}"'


def drawn_edges(diagram: Diagram) -> list[Edge]:
    """The edges as drawn: a state's self-loops merge into one loop whose label keeps each
    branch's block (graphviz and Mermaid overlap the labels of nested loops). Internal events
    in a merged loop are marked "(internal event)"; the loop is dashed only if all are."""
    loops: dict[str, list[Edge]] = {}
    for e in diagram.edges:
        if e.source == e.target:
            loops.setdefault(e.source, []).append(e)
    merged = []
    for node, edges in loops.items():
        dashed = all(e.style == "dashed" for e in edges)
        labels = [e.label if dashed or e.style != "dashed" else _internal_label(e) for e in edges]
        merged.append(Edge(node, node, "\n\n".join(labels), "dashed" if dashed else edges[0].style))
    return [e for e in diagram.edges if e.source != e.target] + merged


def _internal_label(edge: Edge) -> str:
    return "(internal event) " + edge.label


def to_dot(diagram: Diagram) -> str:
    lines = [
        f"digraph {dot_string(diagram.name)} {{",
        f"  graph [label={dot_string(diagram.title)}, labelloc=t, fontname=Helvetica, fontsize=13, "
        f"rankdir={'TB' if diagram.chain else diagram.direction}, nodesep=0.35, ranksep=0.5];",
        "  node [fontname=Helvetica, fontsize=11, shape=box, style=rounded];",
        f"  edge [fontname=Helvetica, fontsize={diagram.edge_font}];",
    ]
    lines += [f"  {dot_string(n.id)} [label={dot_string(n.label)}{_DOT_NODE[n.kind]}];" for n in diagram.nodes]
    lines += _dot_notes(diagram)
    lines += [f"  {dot_string(e.source)} -> {dot_string(e.target)} [label={dot_string(e.label)}"
              f"{_DOT_EDGE[e.style]}{_ports(diagram, e)}];" for e in drawn_edges(diagram)]
    return "\n".join(lines + ["}"]) + "\n"


def _dot_notes(diagram: Diagram) -> list[str]:
    """The notes as one table (a row per state), in a column of its own after every state."""
    if not diagram.notes:
        return []
    names = {n.id: n.label.split("\n")[0] for n in diagram.nodes}
    rows = "".join(f'<tr><td align="left" valign="top"><b>{html.escape(names[node])}</b></td>'
                   f'<td align="left" balign="left">{"<br/>".join(map(html.escape, text.split(chr(10))))}</td></tr>'
                   for node, text in diagram.notes)
    table = (f'<table border="0" cellborder="1" cellspacing="0" cellpadding="3" bgcolor="lightyellow">'
             f'<tr><td colspan="2"><b>{NOTES_TITLE}</b></td></tr>{rows}</table>')
    after_all = [f"  {dot_string(n.id)} -> \"errors\" [style=invis];" for n in diagram.nodes]
    return [f'  "errors" [shape=plain, fontsize=8, label=<{table}>];', *after_all]


def _ports(diagram: Diagram, edge: Edge) -> str:
    """Left-to-right state diagrams: a forward edge (in node order) leaves a state on its right
    and enters the next on its left; a self-loop sits above its state."""
    if diagram.chain or diagram.direction != "LR":
        return ""
    if edge.source == edge.target:
        return ", tailport=n, headport=n"
    order = [n.id for n in diagram.nodes]
    return ", tailport=e, headport=w" if order.index(edge.source) < order.index(edge.target) else ""


def to_svg(dot_text: str) -> bytes | None:
    """The SVG rendering by graphviz's ``dot``, or None when ``dot`` is not installed."""
    binary = shutil.which("dot")
    if binary is None:
        return None
    return subprocess.run([binary, "-Tsvg"], input=dot_text.encode(), capture_output=True, check=True).stdout


# --- Mermaid -----------------------------------------------------------------------------------

#: Characters Mermaid could read as syntax, written as its #code; entities.
_MERMAID_ESCAPES = {c: f"#{ord(c)};" for c in '#"<>:;|`%&\\'}


def mermaid_text(text: str) -> str:
    """``text`` safe inside a Mermaid label: syntax characters as entities, newlines as <br>."""
    return "<br>".join("".join(_MERMAID_ESCAPES.get(c, c) for c in line) for line in text.split("\n"))


def to_mermaid(diagram: Diagram) -> str:
    header = ["---", f"title: {json.dumps(diagram.title)}", "---"]  # a YAML double-quoted string
    body = _mermaid_chain(diagram) if diagram.chain else _mermaid_states(diagram)
    return "\n".join(header + body) + "\n"


def _mermaid_states(diagram: Diagram) -> list[str]:
    lines = ["stateDiagram-v2"]
    lines += [f'    state "{mermaid_text(n.label)}" as {n.id}' for n in diagram.nodes]
    lines += [f"    {e.source} --> {e.target} : {mermaid_text(_mermaid_edge_label(e))}" for e in drawn_edges(diagram)]
    lines += [f"    note right of {target} : {mermaid_text(NOTES_TITLE + chr(10) + text)}"
              for target, text in diagram.notes]
    return lines


def _mermaid_edge_label(edge: Edge) -> str:
    """Mermaid state diagrams have no dashed transitions: internal events say so in words."""
    return _internal_label(edge) if edge.style == "dashed" else edge.label


def _mermaid_chain(diagram: Diagram) -> list[str]:
    lines = ["flowchart TB"]
    lines += [f'    {n.id}["{mermaid_text(n.label)}"]' for n in diagram.nodes]
    lines += [f'    {e.source} -->|"{mermaid_text(e.label)}"| {e.target}' for e in diagram.edges]
    for style, css in (("grey", "stroke:grey,color:grey"), ("bold", "stroke-width:3px")):
        indexes = [str(i) for i, e in enumerate(diagram.edges) if e.style == style]
        if indexes:
            lines.append(f"    linkStyle {','.join(indexes)} {css}")
    return lines


# --- writing everything ------------------------------------------------------------------------


def all_diagrams() -> list[Diagram]:
    return [connection_summary(), connection_states(), key_states(), *(recovery(code) for code in CLOUDHSM_ERROR_CODES)]


def write_all(out_dir: Path | str) -> list[Path]:
    """Write every diagram as .dot, .mmd and .svg, plus recovery.md and connection-errors.md;
    return the files written.
    Without graphviz's ``dot`` the SVGs are skipped and one warning line goes to stderr."""
    out = Path(out_dir)
    written: list[Path] = []
    svg_missing = False
    for diagram in all_diagrams():
        dot_text = to_dot(diagram)
        written.append(_write(out / f"{diagram.name}.dot", dot_text))
        written.append(_write(out / f"{diagram.name}.mmd", to_mermaid(diagram)))
        svg = to_svg(dot_text)
        svg_missing = svg_missing or svg is None
        if svg is not None:
            written.append(_write(out / f"{diagram.name}.svg", svg))
    written.append(_write(out / "recovery.md", recovery_markdown()))
    written.append(_write(out / "connection-errors.md", connection_errors_markdown()))
    if svg_missing:
        print(DOT_MISSING, file=sys.stderr)
    return written


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


# --- the Markdown page -------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(steps: tuple[rec.Step, ...]) -> list[str]:
    lines = ["| # | action | kind | response | store state | rules |", "| --- | --- | --- | --- | --- | --- |"]
    for i, s in enumerate(steps, 1):
        state = s.state + (f" ({s.error_code})" if s.error_code else "")
        lines.append(f"| {i} | `{_md_cell(s.action)}` | {s.kind} | {s.response} | {state} | {', '.join(s.rules)} |")
    return lines


def recovery_markdown() -> str:
    lines = [
        "# Failure and recovery paths per ConnectionErrorCode",
        "",
        "Generated by `ckspec diagrams` from `model/recovery.py`: breadth-first searches over the",
        "executable model, not hand-written recipes. The store starts DISCONNECTED after one successful",
        "connection (so KMS holds a kmsuser password only it knows, CONNECT-11). The failure path is a",
        "shortest way to FAILED with the code among the failures the store can recover from; the recovery",
        "path is a shortest way back to CONNECTED with no new fault, no deletion and no documented",
        "alternative outcome. See spec sections 1.2 and 2.4.",
        "",
    ]
    for code in CLOUDHSM_ERROR_CODES:
        failure, repair = rec.failure_path(code), rec.recovery_path(code)
        lines += [f"## {code}", "", f"Failure ({len(failure)} steps):", "", *_md_table(failure), "",
                  f"Recovery ({len(repair)} steps):", "", *_md_table(repair), "",
                  "```mermaid", to_mermaid(recovery(code)).rstrip("\n"), "```", ""]
    return "\n".join(lines)


def connection_errors_markdown() -> str:
    """The per-state error notes of :func:`connection_states` as Markdown tables, one per state:
    each operation with the errors its Check rows give there, and the rules behind them."""
    lines = [
        "# Errors a call can get, per connection state",
        "",
        "Generated by `ckspec diagrams` from the Check rows of `model/transitions.py`: the same notes as",
        "the detailed diagram, [connection-states.svg](connection-states.svg), as tables. An error is",
        "listed in a state when some Check row of the operation applies there; whether it is given",
        "depends on the row's guard (see the detailed diagram and `ckspec rules ID`). *alt* marks a",
        "documented alternative outcome (an AMB-nn ambiguity). The diagram at a glance is",
        "[connection-summary.svg](connection-summary.svg).",
        "",
    ]
    ops = store_operations()
    for state in STORE_STATES:
        rows = state_errors(ops, state)
        if not rows:
            continue
        title = "no key store yet" if state == ABSENT else state
        lines += [f"## {title}", "", "| operation | errors | rules |", "| --- | --- | --- |"]
        for op, errors in rows:
            rules = sorted({r for c in op.checks if state in c.states for r in c.rules})
            lines.append(f"| {op.name} | {_md_cell(', '.join(errors))} | {', '.join(rules)} |")
        lines.append("")
    return "\n".join(lines)
