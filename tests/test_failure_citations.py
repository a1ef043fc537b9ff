"""Every failure cites the documentation (issue 12, section 3): the console, the HTML report, the
JUnit XML, the JSON report and the scorecard (JSON, console and Markdown page) each show the blamed
rule's one-line statement and its sources as public URLs. The failure is seeded: a mutant that
accepts ConnectCustomKeyStore on a FAILED store (CONNECT-03)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ckspec.main import main
from ckspec.model.catalog import rules

MUTANT = "mutant:CONNECT-03-connect-accepted-on-failed"
RULE = "CONNECT-03"
STATEMENT = next(r.statement for r in rules() if r.id == RULE)
#: the URLs CONNECT-03's sources expand to (rules.toml: the error shape and the guide's page)
URLS = ("https://docs.aws.amazon.com/kms/latest/APIReference/API_ConnectCustomKeyStore.html"
        "#API_ConnectCustomKeyStore_Errors",
        "https://docs.aws.amazon.com/kms/latest/developerguide/connect-keystore.html")


def test_the_seeded_rule_has_the_sources_this_file_expects():
    assert next(r.sources for r in rules() if r.id == RULE) == (
        "SHAPE:CustomKeyStoreInvalidStateException", "DG:connect-keystore")


def test_check_console_and_reports_cite_statement_and_sources(tmp_path, capsys):
    outputs = {name: tmp_path / f"report.{name}" for name in ("junit", "html", "json")}
    argv = ["check", "--target", MUTANT, "--examples", "60", "--steps", "40", "--seed", "1", "--no-save"]
    for name, path in outputs.items():
        argv += [f"--{name}", str(path)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert f"broken rule: {RULE}: {STATEMENT}" in out
    for url in URLS:
        assert f"<{url}>" in out  # whole: the console's wrapping never cuts a URL

    document = json.loads(outputs["json"].read_text())
    citation = document["failures"][0]["citation"]
    assert citation["rule"] == RULE and citation["statement"] == STATEMENT
    assert [s["url"] for s in citation["sources"]] == list(URLS)
    assert [s["key"] for s in citation["sources"]] == ["SHAPE:CustomKeyStoreInvalidStateException",
                                                       "DG:connect-keystore"]

    suite = ET.fromstring(outputs["junit"].read_text())
    failed = suite.find(f"testcase[@name='{RULE}']/failure")
    assert failed is not None and STATEMENT in failed.text
    assert all(url in failed.text for url in URLS)

    page = outputs["html"].read_text()
    assert "<th>documented</th>" in page
    for url in URLS:
        assert f"<a href='{url}'>" in page


def test_scorecard_json_console_and_page_cite_statement_and_sources(tmp_path, capsys):
    page = tmp_path / "card.md"
    argv = ["scorecard", "--target", MUTANT, "--examples", "60", "--steps", "40", "--seed", "1"]
    assert main([*argv, "--markdown", str(page)]) == 1
    out = capsys.readouterr().out
    assert f"{RULE}: {STATEMENT}" in out and all(f"<{url}>" in out for url in URLS)
    text = page.read_text()
    assert f"- broken rule: {RULE}: {STATEMENT}" in text
    assert all(f"]({url})" in text for url in URLS)

    assert main([*argv, "--json"]) == 1
    card = json.loads(capsys.readouterr().out)["scorecards"][0]
    blamed = next(f for f in card["failures"] if f["broken"] == RULE)
    assert blamed["citation"]["statement"] == STATEMENT
    assert [s["url"] for s in blamed["citation"]["sources"]] == list(URLS)
