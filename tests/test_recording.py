"""Recording a real boto3 program's KMS and CloudHSM v2 calls (``ckspec record``, ``recording()``).

The programs talk to a tiny fake KMS endpoint on 127.0.0.1 that this module starts and stops;
the kmsuser password is a secret (KU-04, DESC-05) and must appear in no file, spool, output or
exception.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber
from ckspec.conformance import recorded
from ckspec.conformance.observer import check_trace
from ckspec.conformance.record_hook import ckspec_record_hook as hook
from ckspec.conformance.recording import (
    BOOTSTRAP_DIR,
    RecordingError,
    record_program,
    recording,
)
from ckspec.main import main
from stub_endpoint import JsonHandler, loopback_server

SECRET = "Sekr1tKmsUserPassw0rd"
OTHER_SECRET = "An0therPassw0rd99"

_ANSWERS = {
    "DescribeCustomKeyStores": (200, {"CustomKeyStores": [{
        "CustomKeyStoreId": "cks-1234567890abcdef0", "CustomKeyStoreName": "ExampleKeyStore",
        "CloudHsmClusterId": "cluster-234567abcdefg", "CustomKeyStoreType": "AWS_CLOUDHSM",
        "TrustAnchorCertificate": "<certificate>", "CreationDate": 1499288695.918, "ConnectionState": "DISCONNECTED"}],
        "Truncated": False}),
    "ConnectCustomKeyStore": (400, {"__type": "CustomKeyStoreInvalidStateException", "message": "it is FAILED"}),
    "GenerateRandom": (200, {"Plaintext": "AAECAw=="}),
}


class _FakeKms(JsonHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        if operation == "CreateCustomKeyStore":
            # a careless service that echoes the password in its message: the recording must not keep it
            status, body = 400, {"__type": "CloudHsmClusterNotFoundException",
                                 "message": f"no cluster for password {request.get('KeyStorePassword')}"}
        else:
            status, body = _ANSWERS.get(operation, (400, {"__type": "UnsupportedOperationException", "message": "?"}))
        self.answer(status, body)


@pytest.fixture
def endpoint():
    """A fake KMS endpoint on a free loopback port, stopped when the test ends (even if it fails)."""
    with loopback_server(_FakeKms) as url:
        yield url


PROGRAM = """
import os, sys, boto3
from botocore.config import Config
kms = boto3.client("kms", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test",
                   aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
sts = kms.describe_custom_key_stores()
print("state", sts["CustomKeyStores"][0]["ConnectionState"])
for password in (sys.argv[2], sys.argv[2], sys.argv[3]):
    try:
        kms.create_custom_key_store(CustomKeyStoreName="a", CloudHsmClusterId="cluster-234567abcdefg",
                                    TrustAnchorCertificate="<certificate>", KeyStorePassword=password)
    except kms.exceptions.CloudHsmClusterNotFoundException:
        print("not found")
try:
    kms.connect_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0")
except kms.exceptions.CustomKeyStoreInvalidStateException:
    pass
kms.generate_random(NumberOfBytes=4)
# the recording hook must not need ckspec in the program's interpreter (another venv may lack it)
print("ckspec imported:", any(m == "ckspec" or m.startswith("ckspec.") for m in sys.modules))
sys.stdout.flush()
if sys.argv[4] == "kill":
    os.kill(os.getpid(), 9)
sys.exit(int(sys.argv[4]))
"""


def _record(tmp_path: Path, endpoint: str, ending: str, *extra: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM, encoding="utf-8")
    out = tmp_path / "trace.json"
    return subprocess.run(
        [sys.executable, "-m", "ckspec.main", "record", "-o", str(out), *extra, "--", sys.executable, str(script),
         endpoint, SECRET, OTHER_SECRET, ending],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "TMPDIR": str(tmp_path)})


def test_record_writes_every_kms_call_in_order_and_passes_the_exit_code_through(tmp_path, endpoint):
    """KU-04, DESC-05: the recording has the calls, answers, errors and statuses; passwords are aliases."""
    done = _record(tmp_path, endpoint, "3")
    assert done.returncode == 3, done.stderr
    assert "state DISCONNECTED" in done.stdout and "ckspec imported: False" in done.stdout
    assert done.stderr.count("\n") == 1 and "recorded 6 calls (6 kms)" in done.stderr
    trace = recorded.load(tmp_path / "trace.json")
    assert [c.operation for c in trace.calls] == [
        "DescribeCustomKeyStores", "CreateCustomKeyStore", "CreateCustomKeyStore", "CreateCustomKeyStore",
        "ConnectCustomKeyStore", "GenerateRandom"]
    describe, first, again, other, connect, random = trace.calls
    assert describe.response["CustomKeyStores"][0]["CreationDate"] == "2017-07-05T21:04:55.918000+00:00"
    assert connect.error == recorded.RecordedError("CustomKeyStoreInvalidStateException", "it is FAILED", 400)
    assert random.response == {"Plaintext": {"redacted": "sensitive", "length": 4}}
    assert first.request["KeyStorePassword"] == again.request["KeyStorePassword"] == {"redacted": "password(1)"}
    assert other.request["KeyStorePassword"] == {"redacted": "password(2)"}
    assert first.error.message == "no cluster for password [redacted password(1)]"
    assert all(c.time <= c.end for c in trace.calls)
    assert [c.time for c in trace.calls] == sorted(c.time for c in trace.calls)
    text = (tmp_path / "trace.json").read_text(encoding="utf-8")
    assert trace.program[2:] == (endpoint, "[redacted password(1)]", "[redacted password(2)]", "3")
    for secret in (SECRET, OTHER_SECRET):
        assert secret not in text and secret not in done.stderr
    assert not list(tmp_path.glob("ckspec-record-*")), "the spool folder is removed"


def test_a_killed_program_loses_none_of_the_calls_it_made(tmp_path, endpoint):
    """The spool gets one line per call as it returns: a program killed by a signal keeps its calls."""
    done = _record(tmp_path, endpoint, "kill")
    assert done.returncode == 128 + 9
    assert "SIGKILL" in done.stderr
    assert len(recorded.load(tmp_path / "trace.json").calls) == 6


def test_the_spool_never_holds_a_password(tmp_path, endpoint):
    """What the bootstrap writes while the program runs (before the trace is assembled) has digests only."""
    script = tmp_path / "program.py"
    script.write_text(PROGRAM, encoding="utf-8")
    spool = tmp_path / "spool.jsonl"
    env = {**os.environ, "PYTHONPATH": str(BOOTSTRAP_DIR), hook.SPOOL_VARIABLE: str(spool),
           hook.KEY_VARIABLE: os.urandom(32).hex()}
    done = subprocess.run([sys.executable, str(script), endpoint, SECRET, OTHER_SECRET, "0"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = spool.read_text(encoding="ascii").splitlines()
    assert len(lines) == 6
    assert SECRET not in spool.read_text(encoding="ascii") and OTHER_SECRET not in spool.read_text(encoding="ascii")
    digests = [json.loads(line)["request"].get("KeyStorePassword") for line in lines[1:4]]
    assert digests[0] == digests[1] != digests[2]


@pytest.mark.parametrize("argv, message", [
    (["record", "-o", "t.json", "python3", "x.py"], "put -- before the program"),
    (["record", "-o", "t.json", "--"], "no program after --"),
    (["record", "-o", "t.json", "--", "no-such-program-ckspec"], "not found"),
    (["record", "-o", "missing-folder/t.json", "--", "python3", "-c", "pass"], "does not exist"),
    (["record", "-o", ".", "--", "python3", "-c", "pass"], "is a folder"),
])
def test_record_usage_errors_are_one_line_and_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_record_refuses_an_output_it_cannot_write(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(RecordingError, match="permission denied"):
            record_program(["python3", "-c", "pass"], folder / "t.json")
    finally:
        folder.chmod(0o700)


def _stubbed_kms():
    kms = boto3.client("kms", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(retries={"max_attempts": 1}))
    return kms, Stubber(kms)


def test_recording_in_process_with_a_stubbed_client(tmp_path):
    """recording() records this process; calls before and after the block are not recorded; an
    error and the password's alias are kept, the password is not."""
    kms, stub = _stubbed_kms()
    create = {"CustomKeyStoreName": "a", "CloudHsmClusterId": "cluster-234567abcdefg",
              "TrustAnchorCertificate": "<certificate>", "KeyStorePassword": SECRET}
    stub.add_response("describe_custom_key_stores", {"CustomKeyStores": [], "Truncated": False})
    stub.add_response("create_custom_key_store", {"CustomKeyStoreId": "cks-1234567890abcdef0"}, create)
    stub.add_client_error("update_custom_key_store", "CustomKeyStoreInvalidStateException", "not now", 400)
    stub.add_response("describe_custom_key_stores", {"CustomKeyStores": [], "Truncated": False})
    with stub:
        kms.describe_custom_key_stores()  # before: not recorded
        with recording(tmp_path / "trace.json") as rec:
            kms.create_custom_key_store(**create)
            with pytest.raises(ClientError):
                kms.update_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0", KeyStorePassword=SECRET)
        kms.describe_custom_key_stores()  # after: not recorded
    assert [c.operation for c in rec.trace.calls] == ["CreateCustomKeyStore", "UpdateCustomKeyStore"]
    create_call, update_call = rec.trace.calls
    assert create_call.response == {"CustomKeyStoreId": "cks-1234567890abcdef0"}
    assert update_call.error.code == "CustomKeyStoreInvalidStateException"
    assert create_call.request["KeyStorePassword"] == update_call.request["KeyStorePassword"] \
        == {"redacted": "password(1)"}
    assert SECRET not in (tmp_path / "trace.json").read_text(encoding="utf-8")
    assert recorded.load(tmp_path / "trace.json") == rec.trace


def test_recording_writes_the_trace_when_the_block_raises(tmp_path):
    kms, stub = _stubbed_kms()
    stub.add_response("describe_custom_key_stores", {"CustomKeyStores": [], "Truncated": False})
    with stub, pytest.raises(RuntimeError), recording(tmp_path / "trace.json"):
        kms.describe_custom_key_stores()
        raise RuntimeError("the program failed")
    assert len(recorded.load(tmp_path / "trace.json").calls) == 1


def test_other_services_are_not_recorded(tmp_path):
    sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    stub = Stubber(sts)
    stub.add_response("get_caller_identity", {"Account": "111122223333"})
    with stub, recording(tmp_path / "trace.json") as rec:
        sts.get_caller_identity()
    assert rec.trace.calls == ()


def test_a_password_in_a_botocore_exception_message_is_redacted(tmp_path):
    """botocore's own validation quotes a value of the wrong type: the recorded message must not."""
    kms, _ = _stubbed_kms()
    with recording(tmp_path / "trace.json") as rec, pytest.raises(ParamValidationError):
        kms.update_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0", KeyStorePassword=SECRET,
                                    NewCustomKeyStoreName=["not", "a", "string", SECRET])
    (call,) = rec.trace.calls
    assert call.exception.type == "ParamValidationError"
    assert SECRET not in (tmp_path / "trace.json").read_text(encoding="utf-8")


def test_the_hook_needs_nothing_but_the_standard_library():
    """The bootstrap runs in programs whose interpreter may not have ckspec (or attrs) installed."""
    for path in BOOTSTRAP_DIR.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import ckspec" not in text.replace("import ckspec_record_hook", "") and "from ckspec" not in text
        assert "import attrs" not in text


def test_cloudhsmv2_calls_are_recorded_and_checked_against_botocore(tmp_path):
    """CloudHSM v2 calls are recorded too; the observer holds them to botocore's shapes and enums (CL-01)."""
    hsm = boto3.client("cloudhsmv2", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    stub = Stubber(hsm)
    stub.add_response("describe_clusters", {"Clusters": [{"ClusterId": "cluster-234567abcdefg", "State": "ACTIVE"}]})
    with stub, recording(tmp_path / "trace.json") as rec:
        hsm.describe_clusters()
    (call,) = rec.trace.calls
    assert (call.service, call.operation) == ("cloudhsmv2", "DescribeClusters")
    assert check_trace(rec.trace).conforms
    data = rec.trace.as_json()
    data["calls"][0]["response"]["Clusters"][0]["State"] = "WOBBLY"
    verdict = check_trace(recorded.parse(data))
    assert not verdict.conforms and "ClusterState" in verdict.failure.detail
