"""The rule catalog: ckspec's own machine-readable list of the specification's rules.

``rules.toml`` (beside this file) holds one entry per rule and ambiguity of the shared
specification, with a one-line statement and its sources, and marks the few rules the
model deliberately does not encode (with the reason). Whether a rule is *encoded* is not
written down by hand: it is derived from the model's source, which cites rule IDs next to
the code that encodes them, and whether it is *exercised* from the tests that cite it.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

import attrs

RULE_ID = re.compile(r"\b(?:CS|TR|CONNECT|CEC|DISC|KU|CREATE|UPDATE|DELETE|DESC|KEY|KS|CRYPTO|DK|RAND|CL|NET|Q|T|ERR|XKS|AMB)-\d{2}\b")

_HERE = Path(__file__).resolve().parent
MODEL_DIR = _HERE.parent
#: the repository root when ckspec runs from a source checkout (tests/ only exists there)
REPO_DIR = MODEL_DIR.parent


@attrs.frozen
class Rule:
    id: str
    group: str
    kind: str
    statement: str
    sources: tuple[str, ...]
    not_applicable_reason: str | None = None
    recommendation: str | None = None
    #: set on rules ckspec added after the shared specification (which issue added them)
    added: str | None = None


@attrs.frozen
class RuleStatus:
    rule: Rule
    status: str  # "encoded", "not_applicable" or "unclassified"
    code: tuple[str, ...]
    tests: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"id": self.rule.id, "kind": self.rule.kind, "status": self.status,
                                "statement": self.rule.statement}
        if self.rule.not_applicable_reason:
            d["reason"] = self.rule.not_applicable_reason
        from .sources import source

        d["sources"] = [source(k).as_dict() for k in self.rule.sources]
        d["code"] = list(self.code)
        d["tests"] = list(self.tests)
        return d


@cache
def rules() -> tuple[Rule, ...]:
    with open(_HERE / "rules.toml", "rb") as f:
        data = tomllib.load(f)
    return tuple(
        Rule(
            id=r["id"], group=r["group"], kind=r["kind"], statement=r["statement"], sources=tuple(r["sources"]),
            not_applicable_reason=r.get("reason") if r.get("status") == "not_applicable" else None,
            recommendation=r.get("recommendation"), added=r.get("added"),
        )
        for r in data["rule"]
    )


def rule_ids() -> frozenset[str]:
    return frozenset(r.id for r in rules())


def citations(folder: Path, exclude: tuple[Path, ...] = ()) -> dict[str, set[str]]:
    """Rule ID -> the files (relative to the repository) under ``folder`` that cite it."""
    found: dict[str, set[str]] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*.py")):
        if any(path.is_relative_to(e) for e in exclude):
            continue
        text = path.read_text(encoding="utf-8")
        for rule_id in set(RULE_ID.findall(text)):
            found.setdefault(rule_id, set()).add(str(path.relative_to(REPO_DIR)))
    return found


def cited_lines(folder: Path, rule_id: str, exclude: tuple[Path, ...] = ()) -> dict[str, tuple[int, ...]]:
    """File (relative to the repository) -> the line numbers under ``folder`` that cite ``rule_id``."""
    pattern = re.compile(rf"\b{re.escape(rule_id)}\b")
    found: dict[str, tuple[int, ...]] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*.py")):
        if any(path.is_relative_to(e) for e in exclude):
            continue
        lines = tuple(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                      if pattern.search(line))
        if lines:
            found[str(path.relative_to(REPO_DIR))] = lines
    return found


def where_encoded(rule_id: str) -> dict[str, dict[str, tuple[int, ...]]]:
    """Where one rule is cited, line by line: ``{"code": {file: lines}, "tests": {file: lines}}``."""
    return {"code": cited_lines(MODEL_DIR, rule_id, exclude=(_HERE,)),
            "tests": cited_lines(REPO_DIR / "tests", rule_id)}


def model_citations() -> dict[str, set[str]]:
    """Where the model's code cites each rule (the catalog package itself excluded)."""
    return citations(MODEL_DIR, exclude=(_HERE,))


def test_citations() -> dict[str, set[str]]:
    return citations(REPO_DIR / "tests")


def classify() -> list[RuleStatus]:
    code = model_citations()
    tests = test_citations()
    out = []
    for rule in rules():
        if rule.not_applicable_reason:
            status = "not_applicable"
        elif rule.id in code:
            status = "encoded"
        else:
            status = "unclassified"
        out.append(RuleStatus(rule, status, tuple(sorted(code.get(rule.id, ()))), tuple(sorted(tests.get(rule.id, ())))))
    return out


def summary(statuses: list[RuleStatus] | None = None) -> dict[str, object]:
    statuses = classify() if statuses is None else statuses
    count = lambda s, kind=None: sum(1 for r in statuses if r.status == s and (kind is None or r.rule.kind == kind))
    rules_only = [r for r in statuses if r.rule.kind == "rule"]
    return {
        "total": len(statuses),
        "encoded": count("encoded"),
        "not_applicable": count("not_applicable"),
        "unclassified": count("unclassified"),
        "rules": [r.as_dict() for r in statuses],
        "documented_rules": len(rules_only),
        "documented_rules_encoded": count("encoded", "rule"),
        "ambiguities": len(statuses) - len(rules_only),
        "ambiguities_encoded": count("encoded", "ambiguity"),
        "tests_available": (REPO_DIR / "tests").is_dir(),
        "encoded_without_tests": [r.rule.id for r in statuses if r.status == "encoded" and not r.tests],
    }
