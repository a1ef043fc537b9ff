"""The pytest plugin saves and replays failures like `ckspec check`, and its items have stable
node IDs that select one shard (issue 12, section 6). Each run is a pytester run (in process)
in a project of its own with one test of its own."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

MUTANT = "mutant:CREATE-06"
RUN = ("-p", "no:cacheprovider", "--ckspec-examples=200", "--ckspec-steps=40", "--ckspec-shards=2")
#: a short run against the reference (what is tested is which items run, not what they find)
SHORT = ("-p", "no:cacheprovider", "--ckspec-examples=8", "--ckspec-steps=10")


@pytest.fixture
def project(pytester):
    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    return pytester


def _ids(result) -> list[str]:
    return [line.strip() for line in result.stdout.lines if "ckspec[" in line and line.strip().startswith("::")]


def test_a_failing_shard_saves_its_failure_and_the_next_run_replays_it_first(project):
    folder = project.path / ".ckspec" / "failures"
    first = project.runpytest(*RUN, f"--ckspec-target={MUTANT}")
    first.assert_outcomes(passed=1, failed=2)
    saved = sorted(folder.glob("*.json"))
    assert saved and all(json.loads(p.read_text())["target"] == "mutant:CREATE-06-cluster-shared-by-two-stores"
                         for p in saved)
    out = first.stdout.str()
    assert "saved: " + str(saved[0]) in out or "saved: " + str(saved[-1]) in out
    # the failure cites its rule's documentation
    assert "broken rule: CREATE-06" in out and "https://docs.aws.amazon.com/kms/latest/APIReference/" in out

    listed = project.runpytest(*RUN, f"--ckspec-target={MUTANT}", "--collect-only", "-q")
    ids = _ids(listed)
    assert ids == [f"::ckspec[saved-{p.stem}]" for p in saved] + ["::ckspec[shard-1-of-2]", "::ckspec[shard-2-of-2]"]
    assert _ids(project.runpytest(*RUN, f"--ckspec-target={MUTANT}", "--collect-only", "-q")) == ids

    again = project.runpytest(*RUN, f"--ckspec-target={MUTANT}", "-k", "saved")
    again.assert_outcomes(failed=len(saved))
    assert "still fails" in again.stdout.str() and "Session.open(" in again.stdout.str()


def test_a_fixed_saved_failure_passes_and_other_targets_failures_are_not_replayed(project):
    folder = project.path / "failures"
    project.runpytest(*RUN, f"--ckspec-target={MUTANT}", "--ckspec-failures-dir=failures")
    [trace, *_] = sorted(folder.glob("*.json"))
    data = json.loads(trace.read_text())
    data["target"] = "reference"  # as if saved before the bug was fixed: the reference is the fixed mutant
    (folder / "reference-fixed.json").write_text(json.dumps(data))
    fixed = project.runpytest(*SHORT, "--ckspec-shards=2", "--ckspec-target=reference",
                                         "--ckspec-failures-dir=failures", "-v")
    fixed.assert_outcomes(passed=4)
    assert "::ckspec[saved-reference-fixed] PASSED" in fixed.stdout.str()
    assert sum("ckspec[saved-" in line for line in fixed.stdout.lines if "PASSED" in line) == 1


def test_no_save_neither_saves_nor_replays(project):
    result = project.runpytest(*RUN, f"--ckspec-target={MUTANT}", "--ckspec-no-save")
    result.assert_outcomes(passed=1, failed=2)
    assert not (project.path / ".ckspec").exists()


@pytest.mark.parametrize("how", ["-k", "node ID", "node ID with a path"])
def test_one_shard_is_selected_by_its_name(project, how):
    chosen = "ckspec[shard-2-of-4]"
    argv = [*SHORT, "--ckspec-shards=4", "--ckspec-target=reference", "-v"]
    argv += {"-k": ["-k", "shard-2-of-4"], "node ID": [f"::{chosen}"],
             "node ID with a path": [chosen, "test_own.py"]}[how]
    result = project.runpytest(*argv)
    ran = [line.split()[0] for line in result.stdout.lines if line.endswith(("PASSED", "FAILED")) or " PASSED " in line]
    expected = [f"::{chosen}"] + (["test_own.py::test_own"] if how == "node ID with a path" else [])
    assert sorted(ran) == sorted(expected)
    result.assert_outcomes(passed=len(expected))


def test_a_node_id_of_no_item_or_without_a_target_is_a_usage_error(project):
    unknown = project.runpytest(*SHORT, "--ckspec-target=reference", "ckspec[shard-9-of-2]")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    assert "no ckspec item named ckspec[shard-9-of-2]" in unknown.stderr.str()
    alone = project.runpytest("-p", "no:cacheprovider", "ckspec[shard-1-of-2]")
    assert alone.ret == pytest.ExitCode.USAGE_ERROR and "--ckspec-target" in alone.stderr.str()
