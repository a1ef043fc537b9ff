"""Reports and traces: JSON fields, JUnit XML, the offline HTML report, replay and the regression
gate; and no kmsuser password anywhere (DESC-05, KU-04)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from ckspec.conformance import check, load_target, reports
from ckspec.conformance import session as session_module
from ckspec.conformance.engine import CheckOptions
from ckspec.conformance.traces import load_trace
from ckspec.main import main
from ckspec.model.catalog import rule_ids

SECRET = "0123456789abcdef"


@pytest.fixture
def known_passwords(monkeypatch):
    """Sessions draw their kmsuser passwords from secrets.token_hex; make them recognisable."""
    monkeypatch.setattr(session_module, "_PASSWORDS", {})
    monkeypatch.setattr(session_module.secrets, "token_hex", lambda n: SECRET)
    return "P" + SECRET


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("failures")
    result = check(load_target("mutant:UPDATE-03-password-update-while-connected"), CheckOptions(examples=300, steps=100, seed=0, failures_dir=folder))
    return result, folder


def test_json_report_has_the_documented_fields(failing_run):
    """target, verdict, steps, seconds, failures (with rules), rules ({id, status}), unsupported."""
    result, _ = failing_run
    doc = json.loads(json.dumps(reports.as_json(result), default=str))
    assert doc["target"] == "mutant:UPDATE-03-password-update-while-connected"
    assert doc["verdict"] == "non-conformant"
    assert doc["steps"] > 0 and doc["seconds"] > 0
    assert doc["failures"] and "UPDATE-03" in doc["failures"][0]["rules"]
    assert {r["id"] for r in doc["rules"]} == rule_ids()
    assert {r["status"] for r in doc["rules"]} <= {"pass", "fail", "unsupported", "not exercised", "not applicable"}
    assert next(r for r in doc["rules"] if r["id"] == "AMB-29")["status"] == "not applicable"
    assert next(r for r in doc["rules"] if r["id"] == "UPDATE-03")["status"] == "fail"
    assert doc["unsupported"] == []
    assert doc["coverage"]["cells"] and doc["coverage"]["rules_never_run"]


def test_junit_report_has_one_case_per_rule(failing_run):
    result, _ = failing_run
    suite = ET.fromstring(reports.junit_xml(result))
    cases = suite.findall("testcase")
    assert len(cases) == len(rule_ids()) == int(suite.get("tests"))
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert "UPDATE-03" in failed and int(suite.get("failures")) == len(failed)
    assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)


def test_html_report_is_one_offline_file(failing_run):
    """Scorecard, state x operation matrix, the failure with its reproduction, the state diagram; no
    script, nothing loaded from elsewhere."""
    result, _ = failing_run
    page = reports.html_report(result, "ckspec check --target mutant:UPDATE-03-password-update-while-connected")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "</html>" in page
    assert "<script" not in page and "src=" not in page and "<link" not in page and 'href="http' not in page
    # the only links out are the failures' documentation sources, which a reader follows (nothing is loaded)
    outside = re.findall(r"<a href='(http[^']*)'", page)
    assert outside and all(u.startswith(("https://docs.aws.amazon.com/", "https://github.com/")) for u in outside)
    assert page.count("href='http") == len(outside)
    assert "id='UPDATE-03'" in page and "State x operation" in page and "Session.open(" in page
    assert ">CONNECTED<" in page and "ConnectCustomKeyStore" in page


def test_a_saved_failure_replays_and_gates_the_next_run(failing_run, capsys):
    """The failure is saved as a JSON trace; `ckspec replay` reruns it (1 against the mutant, 0 against
    the reference); the next check replays it first and stops there."""
    result, folder = failing_run
    path = result.failures[0].trace_file
    trace = load_trace(path)
    assert trace.steps == result.failures[0].steps
    assert main(["replay", path, "--target", "mutant:UPDATE-03-password-update-while-connected"]) == 1
    assert main(["replay", path, "--target", "reference"]) == 0
    capsys.readouterr()
    again = check(load_target("mutant:UPDATE-03-password-update-while-connected"), CheckOptions(examples=5, steps=5, seed=1, failures_dir=folder))
    assert again.regressions and again.regressions[0]["verdict"] == "non-conformant"
    assert again.failures[0].regression and again.examples == 0
    clean = check(load_target("reference"), CheckOptions(examples=5, steps=5, seed=1, failures_dir=folder))
    assert clean.verdict == "conformant" and clean.regressions[0]["verdict"] == "conformant"


def test_no_password_in_any_report_trace_or_output(known_passwords, tmp_path, capsys):
    """KU-04, DESC-05: the kmsuser password appears in no report, trace, program, message or output."""
    code = main(["check", "--target", "mutant:UPDATE-03-password-update-while-connected", "--seed", "0", "--failures-dir", str(tmp_path / "f"),
                 "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"),
                 "--html", str(tmp_path / "r.html")])
    out, err = capsys.readouterr()
    assert code == 1
    texts = [out, err] + [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert len(texts) == 6
    assert session_module._PASSWORDS[(0, None)] == known_passwords  # the run did use the recognisable value
    assert all(known_passwords not in t and SECRET not in t for t in texts)
    assert "password(" in out and "KeyStorePassword='<redacted>'" in out
