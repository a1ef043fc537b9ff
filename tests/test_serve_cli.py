"""ckspec serve on the command line: bad flags, the first line, stopping (SIGTERM, Ctrl-C,
idle timeout), and the AWS CLI pointed at it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from ckspec.emulator import serving
from ckspec.main import main

#: long enough for a start on a slow, shared machine; a hang would outlast it
PATIENCE = 60


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("argv", [
    ["--port", "70000"], ["--port", "-1"], ["--port", "http"],
    ["--clock", "fast"], ["--choices", "best"], ["--seed", "-3"], ["--seed", "x"],
    ["--connect-delay", "-1"], ["--connect-delay", "nan"], ["--lag", "soon"], ["--lag", "inf"],
    ["--idle-timeout", "0"], ["--read-timeout", "-2"], ["--max-body", "10"], ["--region", "Mars"],
    ["--request-deadline", "0"], ["--request-deadline", "inf"], ["--keep-alive-timeout", "-1"],
    ["--max-connections", "0"], ["--max-connections", "many"], ["--max-connections", "1000000"],
    ["--host", "0.0.0.0"], ["--host", "::"], ["--host", "no-such-host.invalid"], ["--frobnicate"],
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    code = main(["serve", "--port", "0", *argv])
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error:")
    assert "Traceback" not in out + err and "listening" not in out


def test_a_taken_port_is_a_usage_error(capsys, taken_port):
    assert main(["serve", "--port", str(taken_port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ckspec: error: cannot listen on 127.0.0.1 port {taken_port}") and len(err.splitlines()) == 1


def test_a_network_address_needs_the_explicit_flag(capsys, monkeypatch):
    """--expose-unauthenticated-control lets a non-loopback address through, with a warning.
    (Tests listen on loopback only: here 127.0.0.1 is taken for a network address.)"""
    monkeypatch.setattr("ckspec.emulator.server.is_loopback", lambda host: False)
    assert main(["serve", "--port", "0", "--idle-timeout", "0.2", "--quiet"]) == 2
    assert "--expose-unauthenticated-control" in capsys.readouterr().err
    assert main(["serve", "--port", "0", "--expose-unauthenticated-control", "--idle-timeout", "0.2", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ckspec serve: listening on http://127.0.0.1:")
    assert "without authentication" in err


def test_the_idle_timeout_stops_it(capsys):
    assert main(["serve", "--port", "0", "--idle-timeout", "0.2", "--clock", "manual"]) == 0
    out, err = capsys.readouterr()
    first = out.splitlines()[0]
    assert first.startswith("ckspec serve: listening on http://127.0.0.1:") and int(first.rsplit(":", 1)[1]) > 0
    assert "stopped (no request for 0.2 s)" in err


def _start(*flags: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "ckspec", "serve", "--port", "0", "--idle-timeout",
                                str(PATIENCE), *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    first = process.stdout.readline()
    assert first.startswith("ckspec serve: listening on http://127.0.0.1:"), (first, process.poll())
    return process, first.strip().rsplit(" ", 1)[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(PATIENCE)
    for stream in (process.stdout, process.stderr):
        stream.close()


@pytest.mark.parametrize("sent, code, reason", [(signal.SIGTERM, 0, "SIGTERM"), (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_stop_it_cleanly(sent, code, reason):
    process, url = _start("--clock", "manual")
    try:
        kms = boto3.client("kms", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t",
                           aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}))
        assert kms.describe_custom_key_stores()["CustomKeyStores"] == []
        process.send_signal(sent)
        assert process.wait(PATIENCE) == code
        err = process.stderr.read()
        assert "ckspec serve: TrentService.DescribeCustomKeyStores 200" in err
        assert f"ckspec serve: stopped ({reason})" in err and "Traceback" not in err
    finally:
        _stop(process)


def _aws_cli(url: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "eu-west-1",
           "AWS_CONFIG_FILE": str(home / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
           "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""}
    return subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", url, "--output", "json", *args],
                          env=env, capture_output=True, text=True, timeout=PATIENCE, check=False)


def test_the_aws_cli_works_against_it(tmp_path):
    with serving(clock="manual") as url:
        hsm = boto3.client("cloudhsmv2", endpoint_url=url, region_name="eu-west-1", aws_access_key_id="t",
                           aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}))
        cluster = hsm.create_cluster(SubnetIds=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                                     HsmType="hsm1.medium")["Cluster"]["ClusterId"]
        listed = _aws_cli(url, tmp_path, "cloudhsmv2", "describe-clusters")
        assert listed.returncode == 0, listed.stderr
        assert [c["ClusterId"] for c in json.loads(listed.stdout)["Clusters"]] == [cluster]
        stores = _aws_cli(url, tmp_path, "kms", "describe-custom-key-stores")
        assert stores.returncode == 0, stores.stderr
        assert json.loads(stores.stdout) == {"CustomKeyStores": []}
        missing = _aws_cli(url, tmp_path, "kms", "connect-custom-key-store", "--custom-key-store-id",
                           "cks-1234567890abcdef0")
        assert missing.returncode != 0 and "CustomKeyStoreNotFoundException" in missing.stderr
