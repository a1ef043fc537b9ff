"""What a run exercised: (connection state, operation, outcome) cells, store transitions and rules.

A cell's connection state is the state, in the world that explained the observation, of the
store the call is about (``ABSENT`` for a store that does not exist, ``-`` for calls about
the whole account). A rule is *exercised* when an outcome that cites it explained an
observation. Rules the run never exercised are listed so that a run can warn about them
(Hypothesis issue #213 asks the same of stateful rules).
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import attrs

from ckspec.model import Call, World
from ckspec.model import identifiers as ids
from ckspec.model.catalog import rules as catalog_rules
from ckspec.model.transitions import CALLS, OPERATIONS


@attrs.define
class Coverage:
    cells: Counter = attrs.field(factory=Counter)
    transitions: Counter = attrs.field(factory=Counter)
    rules: Counter = attrs.field(factory=Counter)
    environment: Counter = attrs.field(factory=Counter)
    #: notable sequences reached: "paged" (a listing followed NextMarker), ...
    sequences: Counter = attrs.field(factory=Counter)

    def record_call(self, call: Call, before: Iterable[World], after: Iterable[World], outcome: str,
                    rules: Iterable[str]) -> None:
        states = {subject_state(w, call) for w in before}
        for state in states:
            self.cells[(state, call.operation, outcome)] += 1
        for b, a in zip(before, after):
            if call.operation == "CreateCustomKeyStore":
                if outcome.startswith("200") and len(a.stores) > len(b.stores):
                    self.transitions[("ABSENT", "DISCONNECTED", call.operation)] += 1
                continue
            edge = (subject_state(b, call), subject_state(a, call), call.operation)
            if edge[0] != edge[1]:
                self.transitions[edge] += 1
        for rule in set(rules):
            self.rules[rule] += 1

    def record_internal(self, event: str, before: str, after: str, rules: Iterable[str]) -> None:
        if before != after:
            self.transitions[(before, after, event)] += 1
        for rule in set(rules):
            self.rules[rule] += 1

    def record_environment(self, event: str, applied: bool, rules: Iterable[str]) -> None:
        self.environment[(event, applied)] += 1
        if applied:
            for rule in set(rules):
                self.rules[rule] += 1

    def merge(self, other: "Coverage") -> None:
        self.cells.update(other.cells)
        self.transitions.update(other.transitions)
        self.rules.update(other.rules)
        self.environment.update(other.environment)
        self.sequences.update(other.sequences)


def subject_state(world: World, call: Call) -> str:
    """The connection state of the store ``call`` is about, in ``world``."""
    params = call.kwargs
    op = CALLS.get(call.operation)
    if op is not None and op.subject == "key":
        key = world.key(ids.parse_key_id(params.get("KeyId")))
        store = world.store(key.store_id) if key else None
        return store.state.value if store else "ABSENT"
    if "CustomKeyStoreId" in params and call.operation != "DescribeCustomKeyStores":
        store = world.store(ids.parse_store_id(params["CustomKeyStoreId"]))
        return store.state.value if store else "ABSENT"
    return "-"


#: Encoded rules no run against a target can exercise, with the reason (the documented exceptions
#: to "a default run exercises every encoded rule"): the checker holds targets to the permissive
#: profile, and these rules are cited only by a check that profile never makes.
LEGACY_ONLY: dict[str, str] = {
    "AMB-14": "the refusal to rename a CONNECTED CloudHSM store is made by the legacy profile and, as a "
              "documented alternative (AWS CLI example, AWS sample), allowed by the permissive one; the "
              "reference target renames, as the current API does, so a run against it never sees the refusal",
    "AMB-35": "the same legacy-profile check (older SDK text: every Update needs DISCONNECTED); kept for "
              "replaying old recordings, never made against a target",
}
_EXTERNAL = ("the generator creates no external key store (a live target would need a reachable XKS proxy); "
             "tests/test_external_key_stores.py holds the model, ckspec serve and trace check to it")
#: rules cited only by the external-key-store rows (model/external.py), which no generated program reaches
EXTERNAL_ONLY: dict[str, str] = {r: _EXTERNAL for r in ("XKS-01", "XKS-02", "XKS-03", "XKS-04", "XKS-05", "XKS-06",
                                                         "RAND-04")}
UNEXERCISABLE: dict[str, str] = {**LEGACY_ONLY, **EXTERNAL_ONLY}


def rule_operations() -> dict[str, frozenset[str]]:
    """Rule ID -> the KMS operations whose table rows cite it."""
    found: dict[str, set[str]] = {}
    for op in OPERATIONS.values():
        for row in op.rows:
            for rule in row.rules:
                found.setdefault(rule, set()).add(op.name)
    return {r: frozenset(ops) for r, ops in found.items()}


def rule_statuses(coverage: Coverage, failed: Iterable[str], unsupported: Iterable[str]) -> list[dict[str, object]]:
    """Every catalogued rule with its status in this run: ``fail`` (cited by a failure), ``pass``
    (exercised, never failed), ``unsupported`` (only in operations the target lacks), ``not
    applicable`` (the catalog says why the model does not encode it) or ``not exercised``."""
    failed, unsupported = set(failed), set(unsupported)
    by_rule = rule_operations()
    out = []
    for rule in catalog_rules():
        if rule.id in failed:
            status = "fail"
        elif coverage.rules.get(rule.id):
            status = "pass"
        elif by_rule.get(rule.id) and by_rule[rule.id] <= unsupported:
            status = "unsupported"
        elif rule.not_applicable_reason:
            status = "not applicable"
        else:
            status = "not exercised"
        out.append({"id": rule.id, "status": status, "runs": coverage.rules.get(rule.id, 0),
                    "statement": rule.statement})
    return out
