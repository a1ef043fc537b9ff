"""ckspec record when things go wrong around it: a signal to ckspec (a CI timeout's SIGTERM, a
closed terminal's SIGHUP, SIGINT), two recordings to one output. Nothing recorded is lost,
nothing is left running or lying around, and no password reaches any output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ckspec.conformance import recorded
from ckspec.emulator import serving

PASSWORD = "SignalledKmsuser7"

#: a boto3 program against ckspec serve: some calls, its pid, then a long sleep (or a SIGTERM it ignores)
PROGRAM = textwrap.dedent('''
    import os, signal, sys, time, boto3
    from botocore.config import Config
    kms = boto3.client("kms", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    for _ in range(int(sys.argv[1])):
        kms.describe_custom_key_stores()
    try:
        kms.create_custom_key_store(CustomKeyStoreName="s", CloudHsmClusterId="cluster-234567abcdefg",
                                    TrustAnchorCertificate="x", KeyStorePassword=os.environ["KMSUSER_PASSWORD"])
    except kms.exceptions.CloudHsmClusterNotFoundException:
        pass
    if sys.argv[2] == "stubborn":
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
    print("pid", os.getpid(), flush=True)
    time.sleep(60)
''')


def _start(tmp_path: Path, endpoint: str, *extra: str, calls: int = 3, mode: str = "plain",
           output: Path | None = None) -> subprocess.Popen[str]:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM, encoding="utf-8")
    env = {**os.environ, "ENDPOINT": endpoint, "KMSUSER_PASSWORD": PASSWORD, "TMPDIR": str(tmp_path)}
    # a session of its own: no controlling terminal, so a SIGINT to ckspec is one only ckspec got
    return subprocess.Popen(
        [sys.executable, "-m", "ckspec.main", "record", "-o", str(output or tmp_path / "trace.json"), *extra,
         "--", sys.executable, str(script), str(calls), mode],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _program_pid(record: subprocess.Popen[str]) -> int:
    assert record.stdout is not None
    line = record.stdout.readline()  # the program has made its calls once it prints its pid
    assert line.startswith("pid "), (line, record.stderr.read() if record.poll() is not None else "")
    return int(line.split()[1])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def endpoint():
    with serving(clock="manual") as url:
        yield url


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_record_is_passed_on_and_the_trace_is_written(tmp_path, endpoint, sig):
    record = _start(tmp_path, endpoint)
    program = _program_pid(record)
    record.send_signal(sig)
    out, err = record.communicate(timeout=30)
    assert record.returncode == 128 + sig, err
    assert _gone(program), "the program was ended"
    trace = recorded.load(tmp_path / "trace.json")
    assert [c.operation for c in trace.calls] == ["DescribeCustomKeyStores"] * 3 + ["CreateCustomKeyStore"]
    last = err.splitlines()[-1]  # before it, the program's own words (a KeyboardInterrupt's traceback)
    assert last.startswith("ckspec: recorded 4 calls (4 kms) to ") and f"interrupted by {sig.name}" in last, err
    assert last.endswith(f"passed on to the program, which exited with {128 + sig} ({sig.name})")
    assert not list(tmp_path.glob("ckspec-record-*")), "the spool folder is removed"
    assert not (tmp_path / "trace.json.lock").exists()
    assert PASSWORD not in err + out + (tmp_path / "trace.json").read_text(encoding="utf-8")


def test_a_program_that_ignores_the_signal_is_killed_after_the_grace_period(tmp_path, endpoint):
    record = _start(tmp_path, endpoint, "--grace", "0.5", mode="stubborn")
    program = _program_pid(record)
    started = time.monotonic()
    record.send_signal(signal.SIGTERM)
    _, err = record.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert record.returncode == 143, err
    assert _gone(program)
    assert "had not ended 0.5 s later and was killed" in err, err
    assert len(recorded.load(tmp_path / "trace.json").calls) == 4
    assert not list(tmp_path.glob("ckspec-record-*"))


def test_the_trace_so_far_is_written_as_soon_as_the_signal_is_passed_on(tmp_path, endpoint):
    """Should ckspec itself be killed while the program takes its time to end, the calls are on disk."""
    record = _start(tmp_path, endpoint, "--grace", "30", mode="stubborn")
    program = _program_pid(record)
    record.send_signal(signal.SIGTERM)
    trace = tmp_path / "trace.json"
    deadline = time.monotonic() + 10
    while not trace.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert len(recorded.load(trace).calls) == 4
        assert record.poll() is None, "still waiting for the program"
    finally:
        record.kill()
        os.kill(program, signal.SIGKILL)  # it holds ckspec's output pipes open
        record.communicate(timeout=30)


def test_a_second_recording_to_a_busy_output_is_refused(tmp_path, endpoint):
    """Two recordings to one output: the second one is refused at once (exit 2, one line naming
    the first one's pid); the first one's trace keeps all its calls."""
    output = tmp_path / "same.json"
    first = _start(tmp_path, endpoint, calls=5, output=output)
    _program_pid(first)
    second = _start(tmp_path, endpoint, calls=2, output=output)
    out, err = second.communicate(timeout=30)
    assert second.returncode == 2, err
    assert err.count("\n") == 1, err
    assert f"output {str(output)!r} is being written by another ckspec record (pid {first.pid})" in err
    assert "Traceback" not in err and out == ""
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=30)
    assert len(recorded.load(output).calls) == 6
    assert not (tmp_path / "same.json.lock").exists()


def test_concurrent_recordings_to_one_output_lose_no_call_silently(tmp_path, endpoint):
    """Three started together, to one output, whose programs all wait for a go: one records, the
    other two are refused (exit 2) before their program starts; nobody exits 0 having lost calls."""
    output, go = tmp_path / "same.json", tmp_path / "go"
    script = tmp_path / "waits.py"
    script.write_text(PROGRAM.replace("time.sleep(60)", textwrap.dedent(f"""
        deadline = time.time() + 20
        while not os.path.exists({str(go)!r}) and time.time() < deadline:
            time.sleep(0.05)""")), encoding="utf-8")
    env = {**os.environ, "ENDPOINT": endpoint, "KMSUSER_PASSWORD": PASSWORD, "TMPDIR": str(tmp_path)}
    runs = {n: subprocess.Popen([sys.executable, "-m", "ckspec.main", "record", "-o", str(output), "--",
                                 sys.executable, str(script), str(n), "plain"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n in (2, 3, 4)}
    try:
        refused = {}
        deadline = time.monotonic() + 30
        while len(refused) < 2 and time.monotonic() < deadline:
            refused.update({n: r.communicate()[1] for n, r in runs.items() if n not in refused and r.poll() is not None})
            time.sleep(0.05)
    finally:
        go.touch()
        ends = {n: (r.wait(timeout=60), r.communicate()[1] if n not in refused else refused[n]) for n, r in runs.items()}
    assert sorted(code for code, _ in ends.values()) == [0, 2, 2], ends
    assert all("is being written by another ckspec record (pid " in ends[n][1] for n in refused)
    (winner,) = [n for n, (code, _) in ends.items() if code == 0]
    assert len(json.loads(output.read_text(encoding="utf-8"))["calls"]) == winner + 1


def test_the_documented_grace_period_is_the_default(tmp_path):
    from ckspec.main import build_parser
    from ckspec.conformance.supervision import GRACE_SECONDS

    args = build_parser().parse_args(["record", "--", "true"])
    assert args.grace == GRACE_SECONDS
