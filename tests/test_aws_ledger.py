"""The --target aws safety net: opt-in, configuration errors, the ledger and ckspec cleanup's
bad input. (Runs against ckspec serve, never AWS, are in test_wire_aws.py.)"""

from __future__ import annotations

import json

import pytest

from ckspec.conformance import TargetNameError, load_target
from ckspec.conformance.aws_target import PASSWORD_VARIABLE, AwsConfigurationError, parse_clusters
from ckspec.conformance.ledger import Entry, Ledger, LedgerError
from ckspec.main import main


def test_aws_needs_the_explicit_opt_in(monkeypatch):
    monkeypatch.setenv(PASSWORD_VARIABLE, "Secret123")
    with pytest.raises(TargetNameError, match="costs money"):
        load_target("aws", region="eu-west-1", aws_clusters=("cluster-abc=/nonexistent",))


def test_aws_needs_the_password_clusters_and_region(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_VARIABLE, raising=False)
    with pytest.raises(TargetNameError, match=PASSWORD_VARIABLE):
        load_target("aws", accept_aws_costs=True, region="eu-west-1")
    monkeypatch.setenv(PASSWORD_VARIABLE, "Secret123")
    with pytest.raises(TargetNameError, match="--aws-cluster"):
        load_target("aws", accept_aws_costs=True, region="eu-west-1")
    anchor = tmp_path / "ca.pem"
    anchor.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(TargetNameError, match="--region"):
        load_target("aws", accept_aws_costs=True, aws_clusters=(f"cluster-abc={anchor}",))


@pytest.mark.parametrize("value, why", [("abc", "CLUSTER_ID=TRUST_ANCHOR.pem"), ("cluster-x=", "CLUSTER_ID="),
                                        ("cluster-x=/no/such/file", "cannot read")])
def test_cluster_arguments_are_checked(value, why):
    with pytest.raises(AwsConfigurationError, match=why):
        parse_clusters([value])


def test_a_trust_anchor_must_be_a_certificate(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(AwsConfigurationError, match="not a PEM certificate"):
        parse_clusters([f"cluster-abc={bad}"])


def test_the_ledger_writes_through_and_survives_a_new_process(tmp_path):
    path = tmp_path / "sub" / "ledger.json"
    ledger = Ledger(path)
    store, key = Entry("store", "cks-1", "eu-west-1", "ckspec-1-a"), Entry("key", "k-1", "eu-west-1")
    ledger.add(store)
    ledger.add(key)
    again = Ledger(path)  # what an interrupted run leaves is what the next process reads
    assert {(e.kind, e.id) for e in again} == {("store", "cks-1"), ("key", "k-1")}
    again.mark(key, "pending")
    again.remove(store)
    assert [(e.kind, e.status) for e in Ledger(path)] == [("key", "pending")]
    # no temporary file left; the lock file stays (removing it could let a third writer in)
    assert sorted(p.name for p in path.parent.iterdir()) == ["ledger.json", "ledger.json.lock"]


@pytest.mark.parametrize("text", ["{", "[]", '{"format": "other", "entries": []}',
                                  '{"format": "ckspec-aws-ledger", "entries": [{"kind": "key"}]}'])
def test_a_broken_ledger_is_reported_and_left_alone(tmp_path, text):
    path = tmp_path / "ledger.json"
    path.write_text(text)
    with pytest.raises(LedgerError, match="left as it is"):
        Ledger(path)
    assert path.read_text() == text


def test_cleanup_command_bad_input_and_nothing_to_do(tmp_path, capsys):
    broken = tmp_path / "ledger.json"
    broken.write_text("{")
    assert main(["cleanup", "--ledger", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "left as it is" in err
    assert broken.read_text() == "{"
    assert main(["cleanup", "--ledger", str(tmp_path)]) == 2
    assert main(["cleanup", "--ledger", str(tmp_path / "none.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == []


def test_cleanup_dry_run_lists_without_touching(tmp_path, capsys):
    path = tmp_path / "ledger.json"
    Ledger(path).add(Entry("key", "k-1", "eu-west-1"))
    before = path.read_text()
    assert main(["cleanup", "--ledger", str(path), "--dry-run"]) == 0
    assert "k-1" in capsys.readouterr().out
    assert path.read_text() == before


def test_check_command_refuses_aws_without_opt_in(capsys):
    assert main(["check", "--target", "aws", "--examples", "1"]) == 2
    assert "costs money" in capsys.readouterr().err
