"""`ckspec failures list|prune` (issue 12, section 6): the saved failures folder is listed, and
pruning removes only the failures that pass when replayed on their own target; a failure that
still fails, cannot be replayed or cannot be read is never removed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ckspec.conformance import load_target, saved_failures
from ckspec.main import main

MUTANT = "mutant:CREATE-06-cluster-shared-by-two-stores"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A real failure of the CREATE-06 mutant, saved by ckspec check."""
    folder = tmp_path_factory.mktemp("saved")
    assert main(["check", "--target", MUTANT, "--seed", "1", "--examples", "50", "--steps", "20",
                 "--failures-dir", str(folder)]) == 1
    [path] = folder.glob("*.json")
    return path


def _folder(tmp_path: Path, saved: Path, *, fixed: bool = False, target: str | None = None) -> tuple[Path, Path]:
    """A failures folder holding the saved failure; ``fixed``: as if saved for the same target
    before its bug was fixed (the reference is the mutant without its seeded bug)."""
    folder = tmp_path / "failures"
    folder.mkdir(exist_ok=True)
    data = json.loads(saved.read_text())
    if fixed or target:
        data["target"] = target or "reference"
    path = folder / (f"{data['target'].replace(':', '-')}-" + saved.name.rsplit("-", 1)[1])
    path.write_text(json.dumps(data))
    return folder, path


def test_a_saved_trace_records_when_it_was_saved(saved):
    assert json.loads(saved.read_text())["saved"].endswith("+00:00")


def test_list_shows_target_rule_saved_and_steps(tmp_path, saved, capsys):
    folder, path = _folder(tmp_path, saved)
    data = json.loads(path.read_text())
    del data["saved"]  # a trace saved before traces said when: the file's time
    path.write_text(json.dumps(data))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    assert main(["failures", "list", "--failures-dir", str(folder), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["failures"]
    assert row["target"] == MUTANT and row["rule"] == "CREATE-06" and row["steps"] == len(data["steps"])
    assert row["saved"] == "2023-11-14T22:13:20+00:00" and "status" not in row
    assert main(["failures", "list", "--failures-dir", str(folder), "--check"]) == 0
    out = capsys.readouterr().out
    assert f"CREATE-06 on {MUTANT}, saved 2023-11-14T22:13:20+00:00" in out
    assert "still fails (broken rule CREATE-06)" in out and str(path) in out


def test_prune_removes_only_fixed_failures_and_dry_run_removes_none(tmp_path, saved, capsys):
    folder, failing = _folder(tmp_path, saved)
    _, fixed = _folder(tmp_path, saved, fixed=True)
    _, unknown = _folder(tmp_path, saved, target="mutant:NO-SUCH-MUTANT")
    unreadable = folder / "half-written.json"
    unreadable.write_text('{"format": "ckspec-trace/1", "steps": [')
    before = sorted(folder.iterdir())

    assert main(["failures", "prune", "--failures-dir", str(folder), "--dry-run", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert sorted(folder.iterdir()) == before
    status = {Path(r["file"]).name: (r["status"], r["removed"]) for r in document["failures"]}
    assert status == {failing.name: ("still fails", False), fixed.name: ("fixed", True),
                      unknown.name: ("not replayed", False)}
    assert [Path(u["file"]).name for u in document["unreadable"]] == [unreadable.name]

    assert main(["failures", "prune", "--failures-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "removed 1 fixed failure(s); kept 3" in out
    assert sorted(folder.iterdir()) == sorted(set(before) - {fixed})


def test_prune_only_the_failures_of_one_target(tmp_path, saved, capsys):
    folder, failing = _folder(tmp_path, saved)
    _, fixed = _folder(tmp_path, saved, fixed=True)
    assert main(["failures", "prune", "--failures-dir", str(folder), "--target", "mutant:CREATE-06"]) == 0
    assert "removed 0 fixed failure(s); kept 1" in capsys.readouterr().out
    assert fixed.exists() and failing.exists()


def test_a_file_saved_again_while_it_was_replayed_is_kept(tmp_path, saved):
    folder, fixed = _folder(tmp_path, saved, fixed=True)
    [failure], _ = saved_failures.listing(folder)

    def spec_for(name):  # a concurrent check saves the same failure again meanwhile
        fixed.write_text(fixed.read_text().replace('"saved": "', '"saved": "again '))
        return load_target(name)

    [done] = saved_failures.prune([failure], spec_for)
    assert done.status == "fixed" and not done.removed and "changed" in done.why
    assert fixed.exists()


@pytest.mark.parametrize("make", ["missing", "file"])
def test_a_bad_folder_is_one_line_exit_2(tmp_path, capsys, make):
    path = tmp_path / "failures"
    if make == "file":
        path.write_text("not a folder")
    for action in ("list", "prune"):
        assert main(["failures", action, "--failures-dir", str(path)]) == 2
        out, err = capsys.readouterr()
        assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error: --failures-dir")
        assert "Traceback" not in out + err


def test_an_empty_folder_lists_nothing(tmp_path, capsys):
    assert main(["failures", "list", "--failures-dir", str(tmp_path)]) == 0
    assert f"saved failures in {tmp_path}: 0" in capsys.readouterr().out
