"""The rule catalog and its classification (``ckspec rules``)."""

from __future__ import annotations

import re
from pathlib import Path

from ckspec.model import catalog

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "aws-cks-rules.md"
#: rules ckspec catalogued after the shared specification was written (issue 11: external key stores
#: as neighbours, XKS-01..06; DescribeCustomKeyStores output of before external key stores, AMB-38)
def test_catalog_has_every_rule_once():
    """The catalog holds the specification's 160 rules and 37 ambiguities, and the rules ckspec added
    since (marked with the issue that added them), each once, with a statement and sources."""
    rules = catalog.rules()
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    specified = [r for r in rules if r.added is None]
    assert len(specified) == 197
    assert sum(r.kind == "rule" for r in specified) == 160
    assert sum(r.kind == "ambiguity" for r in specified) == 37
    for r in rules:
        assert r.statement and "\n" not in r.statement
        assert r.sources
        if r.kind == "ambiguity":
            assert r.recommendation


def test_catalog_matches_the_shared_specification_when_present():
    """The IDs are exactly the specification's and ckspec's later additions, when the shared
    specification is beside the repository."""
    if not SPEC.exists():
        return
    spec_ids = set(re.findall(r"^- \*\*([A-Z]+-\d+)", SPEC.read_text(encoding="utf-8"), re.M))
    assert spec_ids == {r.id for r in catalog.rules() if r.added is None}


def test_added_rules_extend_their_group():
    """A rule added after the specification takes the next number of its group, never an old one."""
    by_group: dict[str, list[int]] = {}
    for r in catalog.rules():
        by_group.setdefault(r.group, []).append(int(r.id.rsplit("-", 1)[1]))
    for r in catalog.rules():
        if r.added is not None:
            number = int(r.id.rsplit("-", 1)[1])
            assert r.id.startswith(r.group + "-")
            assert number == max((n for n in by_group[r.group] if n < number), default=0) + 1, r.id


def test_code_cites_only_catalogued_rules():
    """Every rule ID cited in the model's code and in the tests is in the catalog."""
    known = catalog.rule_ids()
    assert set(catalog.model_citations()) <= known, set(catalog.model_citations()) - known
    assert set(catalog.test_citations()) <= known, set(catalog.test_citations()) - known


def test_every_rule_is_classified_and_most_are_encoded():
    """At least 90% of the 166 documented rules are encoded; none is unclassified; every ambiguity but the
    out-of-scope AMB-29 is encoded."""
    s = catalog.summary()
    assert s["unclassified"] == 0
    assert s["documented_rules_encoded"] / s["documented_rules"] >= 0.90
    not_encoded_ambiguities = [r["id"] for r in s["rules"] if r["kind"] == "ambiguity" and r["status"] != "encoded"]
    assert not_encoded_ambiguities == ["AMB-29"]


def test_not_applicable_rules_have_reasons_and_no_code():
    """A rule marked not applicable says why, and the model does not claim to encode it."""
    code = catalog.model_citations()
    for status in catalog.classify():
        if status.status == "not_applicable":
            assert status.rule.not_applicable_reason
            assert status.rule.id not in code, status.rule.id


def test_every_encoded_rule_is_exercised_by_a_test():
    """A rule the model encodes is cited by at least one test."""
    assert catalog.summary()["encoded_without_tests"] == []
