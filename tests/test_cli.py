"""The ckspec command line: output contracts and bad input."""

from __future__ import annotations

import json

import pytest

from ckspec.main import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["explore", "--nope"],
    ["explore", "--stores", "x"],
    ["explore", "--stores", "-1"],
    ["explore", "--zones", "9"],
    ["explore", "--stores", "0"],
    ["explore", "--profile", "strict"],
    ["rules", "--status", "maybe"],
    ["run", "--out", "/proc/ckspec-cannot-write-here"],
    ["diagrams", "--out", "/proc/ckspec-cannot-write-here"],
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    """Bad flags, values and output folders: one line on stderr, exit code 2, no traceback."""
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("ckspec: error:")


def test_explore_json_has_the_documented_fields(capsys):
    """The --json report has states, transitions, connection_states, error_codes, dead_ends and seconds."""
    code, out, _ = _run(capsys, "explore", "--stores", "1", "--clusters", "1", "--keys", "0", "--env-steps", "1",
                        "--json")
    assert code == 0
    report = json.loads(out)
    for field in ("states", "transitions", "connection_states", "error_codes", "dead_ends", "seconds"):
        assert field in report
    assert report["states"] > 0 and report["dead_ends"] == 0
    assert report["scopes"][0]["scope"]["stores"] == 1


def test_rules_json_has_the_documented_fields(capsys):
    """TR-01: `ckspec rules --json` has the counts and one entry per rule with its status."""
    code, out, _ = _run(capsys, "rules", "--json")
    assert code == 0
    data = json.loads(out)
    from ckspec.model.catalog import rules

    assert data["total"] == len(rules()) >= 197  # the specification's 197, and rules added since
    assert data["encoded"] + data["not_applicable"] + data["unclassified"] == data["total"]
    entry = next(r for r in data["rules"] if r["id"] == "TR-01")
    assert entry["status"] == "encoded"
    assert any(r.get("reason") for r in data["rules"] if r["status"] == "not_applicable")


def test_no_password_in_explore_output(capsys):
    """KU-04: exploration output never shows a kmsuser password."""
    code, out, err = _run(capsys, "explore", "--stores", "1", "--clusters", "1", "--keys", "0", "--env-steps", "1")
    assert "kmsPassw0rd" not in out + err and "n3wPassw0rd" not in out + err


def test_run_writes_diagrams_and_reports(capsys, tmp_path):
    """The main job explores and writes the diagrams; its JSON summary says what it did."""
    code, out, err = _run(capsys, "run", "--out", str(tmp_path), "--json", "--stores", "1", "--clusters", "1",
                          "--keys", "0", "--env-steps", "3")
    report = json.loads(out)
    assert code == 0, report["problems"]
    assert report["exploration"]["dead_ends"] == 0
    assert len(report["exploration"]["error_codes"]) == 10
    assert (tmp_path / "connection-states.dot").exists() and (tmp_path / "recovery.md").exists()
    assert report["diagrams"]["files"] >= 25
    # the bundled reference conforms in-process and over the wire (ckspec serve on the loopback)
    assert report["conformance"]["verdict"] == report["wire_conformance"]["verdict"] == "conformant"
    assert report["wire_conformance"]["target"] == "serve"
    assert report["wire_conformance"]["steps"] > 0


def test_run_fails_when_the_scope_cannot_reach_every_code(capsys, tmp_path):
    """The main job exits 1 (not 0) when the exploration misses an error code."""
    code, out, _ = _run(capsys, "run", "--out", str(tmp_path), "--json", "--stores", "1", "--clusters", "1",
                        "--keys", "0", "--env-steps", "0")
    assert code == 1
    assert any("not reached" in p for p in json.loads(out)["problems"])
