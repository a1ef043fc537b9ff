"""ckspec check, replay and mutants on the command line: exit codes, bad input, user adapters,
and the pytest plugin (with pytest-xdist)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ckspec.main import main

pytest_plugins = ["pytester"]
REPO = Path(__file__).resolve().parents[1]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [
    ["check", "--target", "nonsense"],
    ["check", "--target", "mutant:NO-SUCH-RULE"],
    ["check", "--target", "mutant:C"],  # ambiguous prefix
    ["check", "--target", "no_such_module_ckspec:Target"],
    ["check", "--target", "tests/no-such-file.py:Target"],
    ["check", "--target", "ckspec.conformance:NoSuchClass"],
    ["check", "--target", "ckspec.model:World"],  # a class, but not an adapter
    ["check", "--examples", "0"],
    ["check", "--examples", "many"],
    ["check", "--steps", "-3"],
    ["check", "--seed", "x"],
    ["check", "--poll-interval", "-1"],
    ["check", "--poll-budget", "0"],
    ["check", "--json", "/proc/ckspec-no/report.json"],
    ["check", "--html", "/nonexistent-folder-ckspec/r.html"],
    ["replay", "/nonexistent-ckspec-trace.json", "--target", "reference"],
    ["replay", "README.md", "--target", "reference"],
    ["replay"],
    ["mutants", "--steps", "0"],
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    """Bad targets, flags, values, output files and traces: one line on stderr, exit 2, no traceback."""
    code, out, err = _run(capsys, *argv)
    assert code == 2, (code, err)
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("ckspec: error:")


@pytest.mark.parametrize("step, why", [
    ({"environment": "explode"}, "unknown environment control"),
    ({"call": "LaunchRockets", "params": {}}, "does not cover the operation"),
    ({"environment": "create_hsm", "args": [1, "us-east-1a"]}, "must be a str"),
    ({"environment": "create_cluster", "args": []}, "takes 1 arguments"),
    ({"wait": "soon"}, "positive number"),
    ({"paginate": 1.5}, "whole number"),
    ({"call": "CreateKey", "params": {"Plaintext": {"$secret": 1}}}, "unknown encoded value"),
    ("DescribeCustomKeyStores", "must be an object"),
])
def test_a_trace_with_a_bad_step_is_a_usage_error(tmp_path, capsys, step, why):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "ckspec-trace/1", "seed": 0, "steps": [step]}))
    code, _, err = _run(capsys, "replay", str(bad), "--target", "reference")
    assert code == 2 and why in err and len(err.strip().splitlines()) == 1, err


def test_exit_codes_conformant_nonconformant_inconclusive_unreachable(tmp_path, capsys):
    """0 conformant, 1 non-conformant, 4 inconclusive (CONNECT-09: polling out of budget), 3 unreachable."""
    assert _run(capsys, "check", "--examples", "20", "--seed", "1", "--no-save")[0] == 0
    assert _run(capsys, "check", "--target", "mutant:CREATE-06", "--seed", "1", "--no-save", "--no-shrink")[0] == 1
    adapters = tmp_path / "adapters.py"
    adapters.write_text(textwrap.dedent("""
        from ckspec.conformance import ReferenceTarget

        class Stuck(ReferenceTarget):
            def complete(self, world, event):
                return world if event.event == "ConnectionAttemptCompletes" else super().complete(world, event)

        class Down:
            def __init__(self):
                raise ConnectionError("connection refused: http://127.0.0.1:1")
    """))
    code, out, err = _run(capsys, "check", "--target", f"{adapters}:Stuck", "--examples", "40", "--seed", "2",
                          "--poll-budget", "2", "--no-save", "--json", "-")
    assert code == 4 and json.loads(out)["verdict"] == "inconclusive"
    code, out, err = _run(capsys, "check", "--target", f"{adapters}:Down")
    assert code == 3 and "unreachable" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_json_to_standard_output_has_the_documented_fields(capsys):
    code, out, _ = _run(capsys, "check", "--examples", "10", "--seed", "4", "--no-save", "--json", "-")
    doc = json.loads(out)
    assert code == 0
    assert {"target", "verdict", "steps", "seconds", "failures", "rules", "unsupported"} <= set(doc)
    assert doc["verdict"] == "conformant" and doc["failures"] == []


def test_a_user_adapter_class_runs_and_is_held_to_the_model(capsys, monkeypatch):
    """The documented example adapter (examples/toy_kms.py), named module:Class from the repository root:
    a two-state emulator whose Connect completes at once is non-conformant, with rule IDs."""
    monkeypatch.chdir(REPO)
    code, out, _ = _run(capsys, "check", "--target", "examples.toy_kms:ToyKms", "--examples", "50", "--seed", "0",
                        "--no-save", "--json", "-")
    doc = json.loads(out)
    assert code == 1 and doc["verdict"] == "non-conformant"
    assert doc["failures"][0]["rules"]


def test_the_mutant_list(capsys):
    code, out, _ = _run(capsys, "mutants", "--list", "--json")
    names = [m["name"] for m in json.loads(out)]
    assert code == 0 and "CONNECT-03-connect-accepted-on-failed" in names


def test_pytest_plugin_runs_the_suite_in_a_projects_test_run(pytester):
    """`pytest --ckspec-target=...` adds shard items: they pass against the reference and fail, with the
    reproduction, against a seeded bug (CREATE-06); `-n 2` (pytest-xdist) spreads them over workers."""
    pytester.makepyfile(test_nothing="def test_own():\n    assert True\n")
    ok = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ckspec-target=reference",
                                       "--ckspec-examples=20", "--ckspec-shards=2")
    ok.assert_outcomes(passed=3)
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--ckspec-target=mutant:CREATE-06",
                                        "--ckspec-examples=200", "--ckspec-shards=2")
    bad.assert_outcomes(passed=1, failed=2)
    assert "CREATE-06" in bad.stdout.str() and "Session.open(" in bad.stdout.str()
    assert not (pytester.path / ".hypothesis").exists()
    wrong = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ckspec-target=mutant:NOPE")
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR and "--ckspec-target" in wrong.stderr.str()


def test_an_adapter_that_breaks_the_interface_is_a_usage_error(tmp_path, capsys):
    """An adapter whose call returns a dict instead of a Reply: one line, exit 2, at once."""
    adapter = tmp_path / "broken.py"
    adapter.write_text(textwrap.dedent("""
        from ckspec.conformance import ReferenceTarget

        class Broken(ReferenceTarget):
            def call(self, operation, params):
                return {"oops": operation}
    """))
    code, out, err = _run(capsys, "check", "--target", f"{adapter}:Broken", "--no-save")
    assert code == 2 and "not a ckspec.conformance.Reply" in err and len(err.strip().splitlines()) == 1
