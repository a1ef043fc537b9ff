"""The regression gate cannot be poisoned: saved failure traces are written atomically, and one
that cannot be read is skipped with a one-line warning naming it, while the others still
replay (issue 14). --failures-dir must be a folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ckspec.conformance import traces
from ckspec.main import main

MUTANT = "mutant:CREATE-06"
CHECK = ["check", "--seed", "1", "--examples", "3", "--steps", "5"]
POISONS = {
    "truncated": '{"format": "ckspec-trace/1", "seed": 0, "steps": [{"call": "Creat',
    "empty": "",
    "binary": b"\x00\x9f\xff\xfe PK\x03\x04",
    "array": "[]",
    "other format": '{"format": "something-else", "steps": []}',
    "failure not an object": '{"format": "ckspec-trace/1", "steps": [], "failure": "boom"}',
    "steps not a list": '{"format": "ckspec-trace/1", "steps": {"call": "CreateKey"}}',
    "seed a boolean": '{"format": "ckspec-trace/1", "steps": [], "seed": true}',
    "bad step": '{"format": "ckspec-trace/1", "steps": [{"call": "LaunchRockets"}]}',
    "deep": "[" * 6000 + "]" * 6000,
    "long integer": '{"format": "ckspec-trace/1", "steps": [], "seed": ' + "9" * 5000 + "}",
    "lone surrogate": '{"format": "ckspec-trace/1", "steps": [], "target": "\\udc00"}',
}


def _poison(folder: Path, content: str | bytes, name: str = "poisoned.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("ckspec: warning:")]


@pytest.fixture(scope="module")
def saved_failure(tmp_path_factory) -> Path:
    """A real saved failure of the CREATE-06 mutant (what a failing check leaves behind)."""
    folder = tmp_path_factory.mktemp("saved")
    assert main(["check", "--target", MUTANT, "--seed", "1", "--no-shrink", "--examples", "50", "--steps", "20",
                 "--failures-dir", str(folder)]) == 1
    [path] = folder.glob("*.json")
    return path


@pytest.mark.parametrize("kind", sorted(POISONS))
def test_an_unreadable_saved_trace_is_skipped_with_a_warning(tmp_path, capsys, kind):
    folder = tmp_path / "failures"
    poisoned = _poison(folder, POISONS[kind])
    before = poisoned.read_bytes()
    code = main([*CHECK, "--failures-dir", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err  # as if the file were absent: the reference conforms
    [warning] = _warnings(err)
    assert str(poisoned) in warning and "Traceback" not in out + err
    assert "internal error" not in err and "saved failures replayed first" not in out
    assert poisoned.read_bytes() == before  # left for the user to look at


def test_a_fifo_or_folder_among_saved_traces_is_skipped_without_blocking(tmp_path, capsys):
    folder = tmp_path / "failures"
    folder.mkdir()
    os.mkfifo(folder / "pipe.json")
    (folder / "folder.json").mkdir()
    assert main([*CHECK, "--failures-dir", str(folder)]) == 0
    warnings = _warnings(capsys.readouterr().err)
    assert len(warnings) == 2
    assert "FIFO" in warnings[1] and "pipe.json" in warnings[1] and "folder" in warnings[0]


def test_the_readable_saved_traces_still_replay_beside_a_poisoned_one(tmp_path, capsys, saved_failure):
    folder = tmp_path / "failures"
    folder.mkdir()
    shutil.copy(saved_failure, folder / saved_failure.name)
    _poison(folder, POISONS["truncated"], name="aaa-first.json")
    code = main(["check", "--target", MUTANT, "--seed", "1", "--no-shrink", "--examples", "1", "--steps", "5",
                 "--failures-dir", str(folder)])
    out, err = capsys.readouterr()
    assert code == 1  # the regression gate still holds
    assert "saved failures replayed first: 1, failing again: 1" in out
    assert len(_warnings(err)) == 1 and "aaa-first.json" in err


def test_saving_a_trace_is_atomic(tmp_path, saved_failure, monkeypatch):
    """A check killed while it saves leaves the old file whole and no temporary file behind."""
    folder = tmp_path / "failures"
    folder.mkdir()
    data = json.loads(saved_failure.read_text())
    trace = traces.load_trace(saved_failure)
    failure = _Failure(trace.steps, trace.seed, data["failure"])
    path = traces.save_trace(folder, MUTANT, failure)
    first = path.read_bytes()
    assert traces.load_trace(path).steps == trace.steps

    def killed(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(traces.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        traces.save_trace(folder, MUTANT, _Failure(trace.steps, trace.seed, {**data["failure"], "message": "new"}))
    assert path.read_bytes() == first
    assert [p.name for p in folder.iterdir()] == [path.name]


class _Failure:
    """What save_trace reads from an engine Failure."""

    def __init__(self, steps, seed, failure):
        self.steps, self.target_seed, self.program = steps, seed, "# program\n"
        self.message, self.rules = failure["message"], failure["rules"]
        self.expected, self.observed = failure["expected"], failure["observed"]


@pytest.mark.parametrize("make, why", [
    (lambda p: p.write_text("x"), "exists and is not a folder"),
    (lambda p: os.mkfifo(p), "exists and is not a folder"),
])
def test_failures_dir_must_be_a_folder(tmp_path, capsys, make, why):
    target = tmp_path / "failures"
    make(target)
    for path in (target, target / "sub"):
        assert main([*CHECK, "--failures-dir", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ckspec: error: --failures-dir") and why in err and err.count("\n") == 1
    assert main([*CHECK, "--failures-dir", str(target), "--no-save"]) == 0  # not used: not checked


def test_a_failures_dir_that_does_not_exist_yet_is_fine(tmp_path):
    assert main([*CHECK, "--failures-dir", str(tmp_path / "new" / "failures")]) == 0
