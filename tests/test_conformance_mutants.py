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


@pytest.mark.parametrize("seed", [0, 1])
def test_the_default_run_kills_every_mutant_and_names_its_rule_first(capsys, seed):
    """`ckspec mutants --json` (the default budget of ckspec check), on two seeds: every seeded bug
    is caught; at least 90% are blamed on the rule the bug breaks (named first: the diagnosis, not
    a list of candidates), among them every one of the first 18 (CONNECT-03, CONNECT-06, CS-07,
    TR-06, DELETE-02, UPDATE-03, KS-02, KEY-02, CONNECT-01, CREATE-03, DESC-04, TR-01, DISC-02,
    DELETE-01, UPDATE-04, CREATE-06, CEC-05); no conformant variant is flagged; the kill matrix has
    the documented fields (issue 10 §2, §3)."""
    code = main(["mutants", "--json", "--no-proofs", "--seed", str(seed)])
    matrix = json.loads(capsys.readouterr().out)
    assert code == 0
    assert matrix["total"] == len(MUTANTS) and matrix["killed"] == matrix["total"]
    misnamed = [(r["name"], r["blamed"]) for r in matrix["mutants"] if not r["named_first"]]
    assert matrix["named_first"] >= 0.9 * matrix["total"], misnamed
    first_eighteen = {"CONNECT-03-connect-accepted-on-failed", "CS-07-error-code-missing-in-failed",
                      "TR-06-error-code-kept-after-disconnect", "DELETE-02-delete-allowed-with-keys",
                      "UPDATE-03-password-update-while-connected", "KS-02-keys-enabled-after-disconnect",
                      "KEY-02-create-key-in-disconnected-store", "CONNECT-01-wrong-error-for-missing-store",
                      "CREATE-03-store-name-not-unique", "DESC-04-pagination-drops-an-entry",
                      "TR-01-connect-completes-synchronously", "DISC-02-disconnect-accepted-when-disconnected",
                      "DELETE-01-delete-while-connected-wrong-error", "UPDATE-04-update-without-state-check",
                      "CREATE-06-cluster-shared-by-two-stores", "CEC-05-wrong-password-reported-as-internal-error"}
    assert not first_eighteen & {name for name, _ in misnamed}, misnamed
    assert matrix["false_alarms"] == 0 and len(matrix["variants"]) == len(VARIANTS) >= 6
    for row in matrix["mutants"]:
        assert set(row) >= {"name", "rules", "group", "kind", "killed", "named_first", "blamed", "seconds"}
        assert row["rules"] == [MUTANTS[row["name"]].rule] and row["proofs"] is None
    seconds = sorted(r["seconds"] for r in matrix["mutants"])
    assert seconds[len(seconds) // 2] < 1.0  # median time to the first failure


def test_the_kill_matrix_says_whether_the_proofs_caught_a_table_edit(capsys):
    """`ckspec mutants NAME...`: a table edit is proved on its edited table (caught: its property
    has a counterexample); a wrapper is not a table edit, and the proofs cannot see it."""
    code = main(["mutants", "--json", "--examples", "100", "CONNECT-03-connect-accepted-on-failed",
                 "TR-01-connect-completes-synchronously", "short-pages"])
    matrix = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = {r["name"]: r for r in matrix["mutants"]}
    assert rows["CONNECT-03-connect-accepted-on-failed"]["proofs"] is True
    assert rows["CONNECT-03-connect-accepted-on-failed"]["kind"] == "table edit"
    assert rows["TR-01-connect-completes-synchronously"]["proofs"] is None
    assert [v["name"] for v in matrix["variants"]] == ["short-pages"] and matrix["false_alarms"] == 0


def test_an_unknown_name_for_the_kill_matrix_is_a_usage_error(capsys):
    assert main(["mutants", "NO-SUCH-BUG"]) == 2
    assert "NO-SUCH-BUG" in capsys.readouterr().err


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
