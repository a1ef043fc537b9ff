"""The seeded-bug targets: each breaks one rule, and the default run catches every one, naming it."""

from __future__ import annotations

import json
import re

import pytest

from ckspec.conformance import MUTANTS, Nonconformance, check, load_target
from ckspec.conformance.engine import CheckOptions
from ckspec.conformance.mutants import VARIANTS
from ckspec.main import main
from ckspec.model.catalog import rule_ids


def test_at_least_45_realistic_bugs_named_after_catalogued_rules_over_every_group():
    """At least 45 seeded bugs, each named RULE-ID-what-it-does after a rule of the catalog, with a
    summary, spread over every group of the catalog; most are table edits (issue 10 §3)."""
    assert len(MUTANTS) >= 45
    for name, cls in MUTANTS.items():
        assert cls.rule in rule_ids() and name.startswith(cls.rule + "-") and cls.summary and cls.group
    groups = {cls.group for cls in MUTANTS.values()}
    assert groups >= {"state machine", "error codes", "Describe", "Create", "Update", "Delete", "keys",
                      "deletion windows", "quota", "secrets", "asynchrony"}
    edits = [cls for cls in MUTANTS.values() if cls.edit is not None]
    assert len(edits) > len(MUTANTS) / 2


def test_table_edits_and_proof_mutations_are_one_catalogue():
    """`ckspec prove --mutation X` and `--target mutant:X` take the same names."""
    from ckspec.model.proof import MUTATION

    for name, cls in MUTANTS.items():
        if cls.edit is not None:
            assert MUTATION[name] is cls.edit
    assert set(MUTATION) <= set(MUTANTS)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_no_conformant_variant_is_ever_flagged(name):
    """The documented alternatives a target may take (issue 10 §3): never a failure."""
    result = check(load_target(f"variant:{name}"), CheckOptions(examples=60, steps=60, seed=1, shrink=False))
    assert result.failures == [], result.failures[0].message


def test_the_default_run_kills_every_mutant_and_names_its_rule(capsys):
    """`ckspec mutants --json` (the default budget of ckspec check): every seeded bug is caught, the
    failure names the broken rule (at the failing step or along the path to it), and the kill matrix
    has the documented fields. Among them: CONNECT-03, CONNECT-06, CS-07, TR-06, DELETE-02, UPDATE-03,
    KS-02, KEY-02, CONNECT-01, CREATE-03, DESC-04, CONNECT-11, TR-01, DISC-02, DELETE-01, UPDATE-04,
    CREATE-06, CEC-05."""
    code = main(["mutants", "--json"])
    matrix = json.loads(capsys.readouterr().out)
    assert code == 0
    assert matrix["total"] == len(MUTANTS) and matrix["killed"] == matrix["total"]
    for row in matrix["mutants"]:
        assert set(row) >= {"name", "rules", "killed", "seconds"}
        assert row["killed"] and row["named"], row
        assert row["rules"] == [MUTANTS[row["name"]].rule]
    seconds = sorted(r["seconds"] for r in matrix["mutants"])
    assert seconds[len(seconds) // 2] < 1.0  # median time to the first failure


def test_a_failure_is_shrunk_to_a_runnable_program():
    """DELETE-02: the failure is minimised (no step can be removed), shown as a program that raises
    Nonconformance when run, with the expected outcome set and what was observed."""
    result = check(load_target("mutant:DELETE-02"), CheckOptions(examples=300, steps=100, seed=0))
    failure = result.failures[0]
    assert result.verdict == "non-conformant"
    assert "DELETE-02" in failure.rules
    assert failure.expected == ("400 CustomKeyStoreHasCMKsException",) and failure.observed == "200 OK"
    operations = [getattr(s, "operation", type(s).__name__) for s in failure.steps]
    # create, connect, settle, create a key, disconnect, settle, delete: nothing else is needed
    assert len(failure.steps) <= 7, operations
    assert operations[-1] == "DeleteCustomKeyStore" and "CreateKey" in operations
    assert re.search(r"^s = Session.open\('mutant:DELETE-02-delete-allowed-with-keys', seed=\d+\)$",
                     failure.program, re.M)
    with pytest.raises(Nonconformance, match="DELETE-02"):
        exec(compile(failure.program, "reproduction.py", "exec"), {})
