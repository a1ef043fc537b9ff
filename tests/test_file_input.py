"""Files read back (replay, trace check, cleanup --ledger): regular files only, a size cap,
bounded nesting, one line naming the file on anything else, exit 2, never a hang (issue 14)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ckspec.file_limits import DEFAULT_MAX_FILE_SIZE, file_size
from ckspec.conformance import jsonfile
from ckspec.conformance.jsonfile import JsonFileError, read_bytes, read_json
from ckspec.main import main

#: each command that reads a file, as argv with FILE where the path goes
COMMANDS = {
    "replay": ["replay", "FILE", "--target", "reference"],
    "trace check": ["trace", "check", "FILE"],
    "cleanup": ["cleanup", "--ledger", "FILE", "--dry-run"],
}
HANG_LIMIT = 30  # seconds: a regression that blocks fails here instead of hanging the suite


def _argv(command: str, path: Path | str, *extra: str) -> list[str]:
    return [str(path) if a == "FILE" else a for a in COMMANDS[command]] + list(extra)


def _one_line_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert err.startswith("ckspec: error:") and err.count("\n") == 1, err
    assert "Traceback" not in out + err and "internal error" not in err
    return err


def _in_a_subprocess(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ckspec", *argv], capture_output=True, text=True,
                          timeout=HANG_LIMIT, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_fifo_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    done = _in_a_subprocess(_argv(command, fifo))  # no writer: a blocking open would never return
    assert done.returncode == 2, done.stderr
    assert "FIFO" in done.stderr and str(fifo) in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_dev_zero_is_refused_not_read(command):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    done = _in_a_subprocess(_argv(command, "/dev/zero"))  # an endless file
    assert done.returncode == 2, done.stderr
    assert "character device" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_folder_is_refused(tmp_path, capsys, command):
    assert "a folder" in _one_line_error(capsys, _argv(command, tmp_path))


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("text", ["[" * 6000 + "]" * 6000,  # RecursionError in the parser
                                  '{"format": "ckspec-trace/1", "steps": [], "x": ' + "[" * 500 + "]" * 500 + "}"])
def test_deep_json_is_refused(tmp_path, capsys, command, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    assert f"nested deeper than {jsonfile.MAX_DEPTH} levels" in _one_line_error(capsys, _argv(command, path))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_file_over_the_cap_is_refused(tmp_path, capsys, command):
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"format": "x", "padding": "." * 5000}))
    err = _one_line_error(capsys, _argv(command, path, "--max-file-size", "4K"))
    assert "size cap of 4,096 bytes" in err and str(path) in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_default_cap_holds_without_reading_the_file(tmp_path, capsys, command):
    path = tmp_path / "sparse.json"
    with open(path, "wb") as f:
        f.truncate(DEFAULT_MAX_FILE_SIZE + 1)  # sparse: costs no disk
    assert f"size cap of {DEFAULT_MAX_FILE_SIZE:,} bytes" in _one_line_error(capsys, _argv(command, path))


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("content, why", [(b'{\n  "format":\n  "\xff"}', "not UTF-8 text (byte 17, line 3)"),
                                          (b'{\n\n  "format": }', "not JSON (Expecting value at line 3, column 13)"),
                                          (b"", "not JSON (Expecting value at line 1, column 1)")])
def test_bad_bytes_name_the_file_and_line(tmp_path, capsys, command, content, why):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    err = _one_line_error(capsys, _argv(command, path))
    assert why in err and str(path) in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_integer_too_long_to_convert(tmp_path, capsys, command):
    path = tmp_path / "long.json"
    path.write_text('{"format": "ckspec-trace/1", "steps": [], "seed": ' + "7" * 5000 + "}")
    assert "Exceeds the limit (4300 digits)" in _one_line_error(capsys, _argv(command, path))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_lone_surrogate_is_refused(tmp_path, capsys, command):
    """JSON's escapes allow "\\ud800", which no UTF-8 text holds and printing it fails."""
    path = tmp_path / "surrogate.json"
    path.write_text('{"format": "ckspec-trace/1",\n "steps": [], "failure": {"message": "\\uD800 x"}}')
    assert "a lone surrogate \\ud800 (line 2)" in _one_line_error(capsys, _argv(command, path))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_missing_file(tmp_path, capsys, command):
    path = tmp_path / "none.json"
    if command == "cleanup":  # no ledger: nothing to clean up
        assert main(_argv(command, path)) == 0
        return
    assert "no such file" in _one_line_error(capsys, _argv(command, path))


def test_a_file_that_grows_past_the_cap_while_read(tmp_path):
    """/proc files say size 0 and have content: the cap holds on what is read, not on stat."""
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("no /proc here")
    with pytest.raises(JsonFileError, match="grew past the size cap of 64 bytes"):
        read_bytes(status, max_bytes=64)


def test_read_json_reads_what_it_should(tmp_path):
    path = tmp_path / "ok.json"
    document = {"a": [1, {"b": "ü"}], "deep": json.loads("[" * 150 + "]" * 150)}
    path.write_text(json.dumps(document), encoding="utf-8")
    assert read_json(path) == document
    assert read_json(tmp_path / "none.json", missing=None) is None
    path.write_text(json.dumps({"face": "\U0001F600"}))  # written as a surrogate pair: one character
    assert read_json(path) == {"face": "\U0001F600"}
    assert jsonfile.depth(document) == 151 and jsonfile.depth(3) == 0


def test_the_cli_default_is_the_readers_default():
    assert DEFAULT_MAX_FILE_SIZE == jsonfile.DEFAULT_MAX_BYTES


@pytest.mark.parametrize("text, size", [("100", 100), ("4K", 4096), ("64M", 64 << 20), ("1g", 1 << 30),
                                        ("2MiB", 2 << 20), ("8KB", 8192)])
def test_max_file_size_values(text, size):
    assert file_size(text) == size


@pytest.mark.parametrize("text", ["0", "-1", "M", "", "1.5M", "ten"])
def test_bad_max_file_size_values(text, capsys):
    with pytest.raises(argparse.ArgumentTypeError):
        file_size(text)
    _one_line_error(capsys, ["trace", "check", "x.json", "--max-file-size", text])


def test_a_fifo_swapped_in_after_the_stat_is_refused_without_blocking(tmp_path, monkeypatch):
    """The check is made again on the opened descriptor, and the open does not wait for a writer."""
    import stat
    import threading
    import time

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: os.stat_result((stat.S_IFREG | 0o644,) + tuple(real_stat(p))[1:])
                        if str(p) == str(fifo) else real_stat(p, *a, **k))
    # a regression (a blocking open) is released by a writer after a few seconds, and fails below
    rescue = threading.Timer(5, lambda: os.close(os.open(fifo, os.O_WRONLY)))
    rescue.daemon = True
    rescue.start()
    started = time.monotonic()
    try:
        with pytest.raises(JsonFileError, match="FIFO"):
            read_json(fifo)
    finally:
        rescue.cancel()
    assert time.monotonic() - started < 2
