"""The seeded-bug targets: each breaks one rule, and the default run catches every one, naming it."""

from __future__ import annotations

import json
import re

import pytest

from ckspec.conformance import MUTANTS, Nonconformance, check, load_target
from ckspec.conformance.engine import CheckOptions
from ckspec.main import main
from ckspec.model.catalog import rule_ids


def test_at_least_fifteen_distinct_realistic_bugs_named_after_catalogued_rules():
    """At least 15 mutants, each named RULE-ID-what-it-does after a rule of the catalog, with a summary."""
    assert len(MUTANTS) >= 15
    rules = [cls.rule for cls in MUTANTS.values()]
    assert len(set(rules)) == len(rules)
    for name, cls in MUTANTS.items():
        assert cls.rule in rule_ids() and name.startswith(cls.rule + "-") and cls.summary


@pytest.mark.parametrize("seed", [0, 1])
def test_the_default_run_kills_every_mutant_and_names_its_rule_first(capsys, seed):
    """`ckspec mutants --json` (the default budget of ckspec check), on two seeds: every seeded bug
    is caught, and the failure is blamed on the rule the bug breaks (named first: the diagnosis,
    not a list of candidates); the kill matrix has the documented fields. Among them: CONNECT-03, CONNECT-06, CS-07, TR-06, DELETE-02, UPDATE-03,
    KS-02, KEY-02, CONNECT-01, CREATE-03, DESC-04, CONNECT-11, TR-01, DISC-02, DELETE-01, UPDATE-04,
    CREATE-06, CEC-05."""
    code = main(["mutants", "--json", "--seed", str(seed)])
    matrix = json.loads(capsys.readouterr().out)
    assert code == 0
    assert matrix["total"] == len(MUTANTS) and matrix["killed"] == matrix["total"]
    assert matrix["named_first"] == matrix["total"], [(r["name"], r["blamed"]) for r in matrix["mutants"]
                                                      if not r["named_first"]]
    for row in matrix["mutants"]:
        assert set(row) >= {"name", "rules", "killed", "named_first", "blamed", "seconds"}
        assert row["killed"] and row["named_first"] and row["blamed"] == MUTANTS[row["name"]].rule, row
        assert row["rules"] == [MUTANTS[row["name"]].rule]
    seconds = sorted(r["seconds"] for r in matrix["mutants"])
    assert seconds[len(seconds) // 2] < 1.0  # median time to the first failure


def test_a_failure_is_shrunk_to_a_runnable_program():
    """DELETE-02: the failure is minimised (no step can be removed), shown as a program that raises
    Nonconformance when run, with the expected outcome set and what was observed."""
    result = check(load_target("mutant:DELETE-02"), CheckOptions(examples=300, steps=100, seed=0))
    failure = result.failures[0]
    assert result.verdict == "non-conformant"
    assert failure.rules[0] == failure.broken == "DELETE-02" and failure.contradicted == ("DELETE-02",)
    assert failure.expected == ("400 CustomKeyStoreHasCMKsException",) and failure.observed == "200 OK"
    operations = [getattr(s, "operation", type(s).__name__) for s in failure.steps]
    # create, connect, settle, create a key, disconnect, settle, delete: nothing else is needed
    assert len(failure.steps) <= 7, operations
    assert operations[-1] == "DeleteCustomKeyStore" and "CreateKey" in operations
    assert re.search(r"^s = Session.open\('mutant:DELETE-02-delete-allowed-with-keys', seed=\d+\)$",
                     failure.program, re.M)
    with pytest.raises(Nonconformance, match="DELETE-02"):
        exec(compile(failure.program, "reproduction.py", "exec"), {})
