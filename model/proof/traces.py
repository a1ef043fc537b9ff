"""Counterexample traces: read off a solver model, printed, saved as ITF, drawn as DOT.

ITF is the Informal Trace Format of Apalache (a JSON object with ``#meta``, ``vars`` and
``states``); each state here has four variables, ``account``, ``stores``, ``clusters`` and
``keys`` (records; an absent store, cluster or key shows only that it is absent), and its
``#meta`` names the action that led to it with its rule IDs. Passwords never appear: only
whether kmsuser's password is the one KMS holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import z3

from ..profiles import PERMISSIVE
from .readers import READERS, Request, View
from .relation import Encoding
from .state import FIELD, State, meaningful

_HIDDEN = {"password", "user_password", "secrets"}  # secrets stay secret, even as numbers


@attrs.frozen
class TraceStep:
    action: str
    rules: tuple[str, ...]
    state: dict[str, Any]


@attrs.frozen
class Trace:
    property: str
    steps: tuple[TraceStep, ...]
    note: str = ""

    def text(self) -> str:
        lines = [f"counterexample to {self.property} ({len(self.steps) - 1} steps){': ' + self.note if self.note else ''}"]
        previous: dict[str, Any] = {}
        for n, step in enumerate(self.steps):
            head = "initial state" if n == 0 else f"step {n}: {step.action}"
            if step.rules:
                head += f"  [{', '.join(step.rules[:6])}{', ...' if len(step.rules) > 6 else ''}]"
            lines.append(head)
            for line in _describe(step.state, previous if n else None):
                lines.append("    " + line)
            previous = step.state
        return "\n".join(lines)

    def itf(self) -> dict[str, Any]:
        return {
            "#meta": {"format": "ITF", "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
                      "source": "ckspec prove", "description": f"counterexample to {self.property}",
                      "note": self.note},
            "vars": ["account", "stores", "clusters", "keys"],
            "states": [{"#meta": {"index": n, "action": s.action, "rules": list(s.rules)}, **_records(s.state)}
                       for n, s in enumerate(self.steps)],
        }

    def dot(self) -> str:
        out = ["digraph counterexample {", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica", fontsize=10];',
               f'  label="{_esc("counterexample to " + self.property)}"; labelloc=t;']
        for n, step in enumerate(self.steps):
            out.append(f'  s{n} [label="{_esc(_summary(step.state))}"];')
            if n:
                out.append(f'  s{n - 1} -> s{n} [label="{_esc(step.action)}", fontsize=9];')
        out.append("}")
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {"property": self.property, "note": self.note,
                "steps": [{"action": s.action, "rules": list(s.rules), "state": _records(s.state)} for s in self.steps]}


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def read_state(model: z3.ModelRef, s: State) -> dict[str, Any]:
    """The meaningful variables of ``s`` in ``model`` (passwords as 'matches kmsuser' only)."""
    out: dict[str, Any] = {}
    for name, term in s.terms.items():
        if not z3.is_true(model.eval(meaningful(s, name), model_completion=True)):
            continue
        if name.split(".")[0] in _HIDDEN:
            continue
        out[name] = _value(model.eval(term, model_completion=True))
    for i in range(s.scope.stores):
        if out.get(f"st.{i}") not in (None, "ABSENT"):
            view = View(s, Request("trace"), PERMISSIVE, "store", i)
            matches = model.eval(READERS["password_matches"](view), model_completion=True)
            out[f"password_matches.{i}"] = z3.is_true(matches)
    return out


def _value(v: z3.ExprRef) -> Any:
    if z3.is_true(v):
        return True
    if z3.is_false(v):
        return False
    if z3.is_int_value(v):
        return v.as_long()
    return str(v)


def _records(state: dict[str, Any]) -> dict[str, Any]:
    records: dict[str, Any] = {"account": {}, "stores": {}, "clusters": {}, "keys": {}}
    for name, value in state.items():
        field, *index = name.split(".")
        owner = FIELD[field].owner if field in FIELD else "store"
        if owner == "account":
            records["account"][field] = value
        elif owner == "store":
            records["stores"].setdefault(index[0], {})[field] = value
        elif owner == "cluster":
            records["clusters"].setdefault(index[0], {})[field] = value
        elif owner == "key":
            records["keys"].setdefault(index[0], {})[field] = value
        else:
            records["keys"].setdefault(index[0], {}).setdefault("material_in_clusters", [])
            if value:
                records["keys"][index[0]]["material_in_clusters"].append(int(index[1]))
    return records


def _summary(state: dict[str, Any]) -> str:
    rec = _records(state)
    lines = []
    for i, st in sorted(rec["stores"].items()):
        if st.get("st") != "ABSENT":
            code = f" {st['code']}" if st.get("code") not in (None, "NONE") else ""
            lines.append(f"store {i}: {st.get('st')}{code} (cluster {st.get('cluster')})")
    for c, cl in sorted(rec["clusters"].items()):
        if cl.get("exists"):
            flags = [f for f in ("active", "hsm_ge1", "hsm_2az", "user") if cl.get(f)]
            if cl.get("user") and cl.get("user_all") is False:
                flags.append("(kmsuser missing on an HSM, KU-14)")
            lines.append(f"cluster {c}: {' '.join(flags) or 'not ready'}")
        else:
            lines.append(f"cluster {c}: none")
    for k, key in sorted(rec["keys"].items()):
        if key.get("ks") != "ABSENT":
            lines.append(f"key {k}: {key.get('ks')} in store {key.get('key_store')}")
    return "\n".join(lines) or "(empty account)"


def _environment_label(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The environment change in words: what became true or false of which cluster."""
    said = []
    for name in sorted(before.keys() | after.keys()):
        field, *index = name.split(".")
        if field not in FIELD or FIELD[field].owner not in ("cluster", "account", "material"):
            continue
        old, new = before.get(name), after.get(name)
        if old == new or (field != "exists" and (old is None or new is None)):
            continue
        where = f"cluster {index[-1]} " if index else ""
        if field == "material":
            said.append(f"backing key of key {index[0]} {'appears' if new else 'deleted'} in cluster {index[1]}")
        elif field == "exists":
            said.append(f"cluster {index[0]} {'created' if new else 'deleted'}")
        else:
            said.append(f"{where}{field} {'becomes true' if new else 'becomes false'}" if isinstance(new, bool)
                        else f"{where}{field} {old} -> {new}")
    return "; ".join(said) or "nothing the rules read changes"


def _describe(state: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    if previous is None:
        return _summary(state).splitlines()
    changed = sorted(n for n in state.keys() | previous.keys() if state.get(n) != previous.get(n))
    return [f"{n}: {previous.get(n, '-')} -> {state.get(n, '-')}" for n in changed] or ["(nothing observable changes)"]


def from_model(model: z3.ModelRef, enc: Encoding, states: list[State], acts: list[z3.ArithRef],
               property_id: str, note: str = "") -> Trace:
    steps = [TraceStep("initial state", (), read_state(model, states[0]))]
    for n, act in enumerate(acts):
        action = enc.action(model.eval(act, model_completion=True).as_long())
        state = read_state(model, states[n + 1])
        label = action.label
        if action.kind == "environment":
            label = "environment: " + _environment_label(steps[-1].state, state)
        steps.append(TraceStep(label, action.rules, state))
    return Trace(property_id, _readable(steps), note)


#: integer-valued fields whose numbers mean only "same or different": shown as short labels
_LABELLED = {"name": "name", "anchor": "lineage", "lineage": "lineage"}


def _readable(steps: list[TraceStep]) -> tuple[TraceStep, ...]:
    """Names and lineages as 'name-1', 'lineage-2', ... in order of appearance (the solver's
    numbers are arbitrary; only equality matters)."""
    labels: dict[tuple[str, Any], str] = {}
    counts: dict[str, int] = {}

    def label(kind: str, value: Any) -> str:
        if (kind, value) not in labels:
            counts[kind] = counts.get(kind, 0) + 1
            labels[(kind, value)] = f"{kind}-{counts[kind]}"
        return labels[(kind, value)]

    out = []
    for step in steps:
        state = {name: (label(_LABELLED[name.split(".")[0]], v) if name.split(".")[0] in _LABELLED else v)
                 for name, v in step.state.items()}
        out.append(attrs.evolve(step, state=state))
    return tuple(out)


def write(trace: Trace, folder, stem: str) -> list:
    """Write ``stem.itf.json`` and ``stem.dot`` (and ``stem.svg`` when graphviz's dot exists)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    itf = folder / f"{stem}.itf.json"
    itf.write_text(json.dumps(trace.itf(), indent=2) + "\n")
    dot = folder / f"{stem}.dot"
    dot.write_text(trace.dot())
    written = [itf, dot]
    if shutil.which("dot"):
        svg = folder / f"{stem}.svg"
        subprocess.run(["dot", "-Tsvg", "-o", str(svg), str(dot)], check=True, timeout=60)
        written.append(svg)
    return written
