"""Checking recorded traces against the model as an observer (``ckspec trace check``).

The account may hold stores before the first call, the environment changes unseen, and
asynchronous work completes whenever: a trace conforms when some model world explains every
call. The reference target must always conform; the documentation's own examples too; edited
variants and seeded bugs must not, with the rule IDs they break.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ckspec.conformance import recorded
from ckspec.conformance.checker import Nonconformance
from ckspec.conformance.generator import (
    Draws,
)
from ckspec.conformance.mutants import MUTANTS
from ckspec.conformance.observer import FREE_FACTS, SHOWN_FACTS, check_trace
from ckspec.conformance.recording import RecordingTarget, recorded_walk
from ckspec.conformance.reference import ReferenceTarget
from ckspec.conformance.session import Session, password
from ckspec.main import main
from ckspec.model.facts import FACTS
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

TRACES = Path(__file__).resolve().parents[1] / "examples" / "traces"
CONNECTED = TRACES / "seed-connect-keystore-connected.json"
FAILED = TRACES / "seed-connect-keystore-failed.json"
STORE = "cks-1234567890abcdef0"


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _check(data: dict):
    return check_trace(recorded.parse(data))


def _call(operation: str, request: dict, response: dict | None = None, error: str | None = None) -> dict:
    call = {"service": "kms", "operation": operation, "request": request}
    if error is not None:
        call["error"] = {"code": error, "message": "", "status": 500 if error == "KMSInternalException" else 400}
    else:
        call["response"] = response if response is not None else {}
    return call


def _describe(entry_changes: dict, drop: tuple[str, ...] = ()) -> dict:
    entry = copy.deepcopy(_load(FAILED)["calls"][0])
    store = entry["response"]["CustomKeyStores"][0]
    store.update(entry_changes)
    for name in drop:
        store.pop(name, None)
    return entry


def _key_metadata(state: str) -> dict:
    return {"KeyMetadata": {
        "AWSAccountId": "111122223333", "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "Arn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "CreationDate": "2026-01-01T00:00:00+00:00", "Enabled": state == "Enabled", "Description": "",
        "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": state, "Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": STORE,
        "CloudHsmClusterId": "cluster-1a23b4cdefg", "KeyManager": "CUSTOMER", "CustomerMasterKeySpec":
            "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT", "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False}}


# --- the documentation's examples ------------------------------------------------------------------


@pytest.mark.parametrize("path", [CONNECTED, FAILED], ids=lambda p: p.stem)
def test_the_seed_pages_describe_examples_conform(path):
    """CS-04, CS-06, CEC-01, CONNECT-02, DESC-05: the connect page's two DescribeCustomKeyStores
    examples (a CONNECTED store; a FAILED one with CLUSTER_NOT_FOUND), as recorded traces."""
    verdict = check_trace(recorded.load(path))
    assert verdict.conforms, verdict.failure
    assert verdict.checked == verdict.calls


def _failed_then(*calls: dict) -> dict:
    data = _load(FAILED)
    data["calls"] += list(calls)
    return data


def _connected_listing(code: str) -> dict:
    return _describe({"ConnectionState": "CONNECTED", "CustomKeyStoreName": "ExampleCloudHSMKeyStore",
                      "ConnectionErrorCode": code})


VARIANTS = {
    # CS-07: ConnectionErrorCode exactly when FAILED
    "failed-without-code": ({"calls": [_describe({}, drop=("ConnectionErrorCode",))]}, "CS-07"),
    "connected-with-code": ({"calls": [_connected_listing("CLUSTER_NOT_FOUND")]}, "CS-07"),
    "disconnected-with-code": ({"calls": [_describe({"ConnectionState": "DISCONNECTED"})]}, "CS-07"),
    # CEC-00: an external key store's code on a CloudHSM key store
    "xks-code": ({"calls": [_describe({"ConnectionErrorCode": "XKS_PROXY_TIMED_OUT"})]}, "CEC-00"),
    # CONNECT-03, CONNECT-04: a FAILED store must be disconnected before it connects again
    "connect-accepted-on-failed": (_failed_then(_call("ConnectCustomKeyStore", {"CustomKeyStoreId": STORE})),
                                   "CONNECT-03"),
    # TR-02 (CS-03): DISCONNECTED to CONNECTED needs a Connect in between
    "connected-without-connect": (_failed_then(
        _call("DisconnectCustomKeyStore", {"CustomKeyStoreId": STORE}),
        _describe({"ConnectionState": "DISCONNECTED"}, drop=("ConnectionErrorCode",)),
        _describe({"ConnectionState": "DISCONNECTED"}, drop=("ConnectionErrorCode",)),
        _describe({"ConnectionState": "CONNECTED"}, drop=("ConnectionErrorCode",))), "TR-02"),
    # KEY-02: no key in a store just seen DISCONNECTED
    "key-in-disconnected-store": (_failed_then(
        _call("DisconnectCustomKeyStore", {"CustomKeyStoreId": STORE}),
        _describe({"ConnectionState": "DISCONNECTED"}, drop=("ConnectionErrorCode",)),
        _describe({"ConnectionState": "DISCONNECTED"}, drop=("ConnectionErrorCode",)),
        _call("CreateKey", {"CustomKeyStoreId": STORE, "Origin": "AWS_CLOUDHSM"}, _key_metadata("Enabled"))),
        "KEY-02"),
    # DELETE-02: a store whose keys the trace has seen cannot be deleted
    "delete-with-keys": (_failed_then(
        _call("DisconnectCustomKeyStore", {"CustomKeyStoreId": STORE}),
        _describe({"ConnectionState": "DISCONNECTED"}, drop=("ConnectionErrorCode",)),
        _call("DescribeKey", {"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}, _key_metadata("Unavailable")),
        _call("DeleteCustomKeyStore", {"CustomKeyStoreId": STORE})), "DELETE-02"),
    # botocore's enum: not a ConnectionState
    "unknown-state": ({"calls": [_describe({"ConnectionState": "HALF_CONNECTED"}, drop=("ConnectionErrorCode",))]},
                      "CS-01"),
    # CONNECT-08 / ERR-01: Connect has no CloudHsmClusterNotFoundException
    "error-connect-cannot-return": ({"calls": [_call("ConnectCustomKeyStore", {"CustomKeyStoreId": STORE},
                                                     error="CloudHsmClusterNotFoundException")]}, "ERR-01"),
    # KS-11: Enabled is true exactly when KeyState is Enabled
    "enabled-but-unavailable": ({"calls": [_call("DescribeKey", {"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"},
                                                 dict(_key_metadata("Unavailable"), KeyMetadata=dict(
                                                     _key_metadata("Unavailable")["KeyMetadata"], Enabled=True)))]},
                                "KS-11"),
}
for _data, _ in VARIANTS.values():
    _data.setdefault("format", "ckspec-recorded-trace")
    _data.setdefault("version", 1)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_edited_variants_of_the_seed_examples_do_not_conform(name):
    data, rule = VARIANTS[name]
    verdict = _check(data)
    assert not verdict.conforms, name
    assert rule in verdict.failure.rules, verdict.failure.message
    assert verdict.failure.index == len(data["calls"]) - 1, verdict.failure.message


def test_what_the_observer_cannot_see_is_free():
    """CS-03, TR-08, AMB-08, CONNECT-06, CEC-05: unseen environment changes explain a Connect that
    fails at once, an attempt that ends FAILED after the store had connected before, and a store
    that exists before the first call; a listing that omits Truncated (as the CLI prints it) is fine."""
    data = _load(CONNECTED)
    data["calls"] += [
        _call("DisconnectCustomKeyStore", {"CustomKeyStoreId": STORE}),
        _call("ConnectCustomKeyStore", {"CustomKeyStoreId": STORE}, error="CustomKeyStoreInvalidStateException"),
        _describe({"ConnectionState": "DISCONNECTED", "CustomKeyStoreName": "ExampleCloudHSMKeyStore"},
                  drop=("ConnectionErrorCode",)),
        _call("ConnectCustomKeyStore", {"CustomKeyStoreId": STORE}, error="CloudHsmClusterInvalidConfigurationException"),
        _call("ConnectCustomKeyStore", {"CustomKeyStoreId": STORE}),
        _describe({"ConnectionState": "FAILED", "ConnectionErrorCode": "INVALID_CREDENTIALS",
                   "CustomKeyStoreName": "ExampleCloudHSMKeyStore"}),
        _call("UpdateCustomKeyStore", {"CustomKeyStoreId": STORE, "KeyStorePassword": {"redacted": "password(1)"}},
              error="CustomKeyStoreInvalidStateException"),
    ]
    verdict = _check(data)
    assert verdict.conforms, verdict.failure


def test_an_idempotent_create_needs_the_same_password():
    """CREATE-10, AMB-16: the same name, cluster, anchor and password alias may return the same store;
    another password alias may not."""
    create = {"CustomKeyStoreName": "s", "CloudHsmClusterId": "cluster-234567abcdefg",
              "TrustAnchorCertificate": "<certificate>", "KeyStorePassword": {"redacted": "password(1)"}}
    same = [_call("CreateCustomKeyStore", create, {"CustomKeyStoreId": STORE})] * 2
    assert _check({"format": "ckspec-recorded-trace", "version": 1, "calls": same}).conforms
    other = dict(create, KeyStorePassword={"redacted": "password(2)"})
    changed = same[:1] + [_call("CreateCustomKeyStore", other, {"CustomKeyStoreId": STORE})]
    verdict = _check({"format": "ckspec-recorded-trace", "version": 1, "calls": changed})
    assert not verdict.conforms and "CREATE-10" not in verdict.failure.rules[:1]


def test_every_fact_is_either_free_or_shown():
    """The observer decides, for every fact the table's guards read, whether a trace can see it."""
    assert FREE_FACTS | SHOWN_FACTS == set(FACTS)
    assert not FREE_FACTS & SHOWN_FACTS


# --- the reference target conforms; seeded bugs are caught ---------------------------------------------


def _walk(data, target, steps: int = 25) -> recorded.RecordedTrace:
    """A recorded random walk that stops early now and then (5% a step)."""
    draws = Draws(data)
    return recorded_walk(target, draws, steps, go_on=lambda: draws.boolean(0.95))


@pytest.mark.parametrize("choices", ["reference", "random"])
def test_the_reference_target_always_conforms(choices):
    """Whatever the reference target (the model itself) does, with its recommended or random
    documented choices and random delays, an observer finds it conformant."""

    checked = []

    @settings(max_examples=25, database=None, deadline=None, suppress_health_check=list(HealthCheck),
              phases=(Phase.generate, Phase.shrink))
    @given(st.data(), st.integers(0, 2**16))
    def walk(data, seed):
        trace = _walk(data, ReferenceTarget(seed, choices=choices, delays="random"))
        verdict = check_trace(trace)
        assert verdict.conforms, verdict.failure.message
        checked.append(verdict.checked)

    walk()
    assert sum(checked) >= 100, checked  # the walks are not trivially short


def _scripted(mutant: str, script) -> tuple[recorded.RecordedTrace, tuple[str, ...]]:
    recording = RecordingTarget(MUTANTS[mutant](0))
    session = Session(recording)
    session.setup()
    try:
        script(session)
    except Nonconformance:
        pass  # the engine's checker sees the bug too; the recording has the calls up to it
    return recording.trace(), session.secret_values()


def _new_store(s: Session, connect: bool = False) -> str:
    cluster = s.world.clusters[0]
    s.call("CreateCustomKeyStore", CustomKeyStoreName="store-a", CloudHsmClusterId="cluster-aaaaaaaaaab",
           TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password(0))
    store = "cks-0000000000000000a"
    if connect:
        s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
        s.settle()
    return store


def _failed(s: Session) -> str:
    store = _new_store(s)
    s.env("network_fault_begins")
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    s.settle()
    s.env("network_fault_ends")
    return store


SCRIPTS = {
    "CONNECT-03-connect-accepted-on-failed": lambda s: s.call("ConnectCustomKeyStore", CustomKeyStoreId=_failed(s)),
    "CS-07-error-code-missing-in-failed": lambda s: s.call("DescribeCustomKeyStores",
                                                           CustomKeyStoreId=_failed(s)),
    "TR-06-error-code-kept-after-disconnect": lambda s: (
        s.call("DisconnectCustomKeyStore", CustomKeyStoreId=_failed(s)), s.settle()),
    "DISC-02-disconnect-accepted-when-disconnected": lambda s: s.call("DisconnectCustomKeyStore",
                                                                      CustomKeyStoreId=_new_store(s)),
    "KEY-02-create-key-in-disconnected-store": lambda s: s.call("CreateKey", CustomKeyStoreId=_new_store(s),
                                                                Origin="AWS_CLOUDHSM"),
    "DELETE-02-delete-allowed-with-keys": lambda s: (
        s.call("CreateKey", CustomKeyStoreId=_new_store(s, connect=True), Origin="AWS_CLOUDHSM"),
        s.call("DisconnectCustomKeyStore", CustomKeyStoreId="cks-0000000000000000a"), s.settle(),
        s.call("DeleteCustomKeyStore", CustomKeyStoreId="cks-0000000000000000a")),
    "UPDATE-03-password-update-while-connected": lambda s: s.call(
        "UpdateCustomKeyStore", CustomKeyStoreId=_new_store(s, connect=True), KeyStorePassword=password(1)),
}


@pytest.mark.parametrize("mutant", sorted(SCRIPTS))
def test_seeded_bugs_are_caught_in_recorded_traces(mutant):
    """Each seeded bug, recorded from a short scenario, breaks the rule it is named after."""
    trace, secrets = _scripted(mutant, SCRIPTS[mutant])
    verdict = check_trace(trace)
    assert not verdict.conforms, mutant
    # KU-04: neither the trace nor the report holds a kmsuser password the session used
    assert secrets and not any(p in json.dumps(trace.as_json()) + repr(verdict) for p in secrets)
    rule = MUTANTS[mutant].rule
    assert rule in verdict.failure.rules or (rule == "TR-06" and "CS-07" in verdict.failure.rules), \
        verdict.failure.message


# --- the command ---------------------------------------------------------------------------------------


def test_trace_check_reports_conformance_and_the_first_failure(tmp_path, capsys):
    assert main(["trace", "check", str(FAILED)]) == 0
    assert "conforms" in capsys.readouterr().out
    path = tmp_path / "bad.json"
    data, _ = VARIANTS["connect-accepted-on-failed"]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["trace", "check", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "does not conform"
    assert report["failure"]["index"] == 1 and report["failure"]["rules"][0] == "CONNECT-03"
    assert "CustomKeyStoreInvalidStateException" in " ".join(report["failure"]["expected"])
    assert main(["trace", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "does not conform" in out and "CONNECT-03" in out and "allowed:" in out


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"),
    ("not json", "not JSON"),
    (json.dumps({"format": "ckspec-trace/1", "steps": []}), "not a recorded trace"),
    (json.dumps({"format": "ckspec-recorded-trace", "version": 2, "calls": []}), "version 2 is not supported"),
    (json.dumps({"format": "ckspec-recorded-trace", "version": 1, "calls": [7]}), "call 0: expected an object"),
    (json.dumps({"format": "ckspec-recorded-trace", "version": 1,
                 "calls": [{"service": "kms", "operation": "Nope", "request": {}, "response": {}}]}),
     "kms has no operation 'Nope'"),
    (json.dumps({"format": "ckspec-recorded-trace", "version": 1,
                 "calls": [{"service": "s3", "operation": "ListBuckets", "request": {}, "response": {}}]}),
     "service must be one of"),
    (json.dumps({"format": "ckspec-recorded-trace", "version": 1,
                 "calls": [{"service": "kms", "operation": "Encrypt", "request": {"KeyId": "k", "Plaintext": "%%"},
                            "response": {}}]}), "not base64"),
    (json.dumps({"format": "ckspec-recorded-trace", "version": 1,
                 "calls": [{"service": "kms", "operation": "ConnectCustomKeyStore", "request": {},
                            "response": {}, "error": {"code": "X"}}]}), "exactly one of"),
    (json.dumps({"format": "ckspec-recorded-trace", "version": 1,
                 "calls": [{"service": "kms", "operation": "ConnectCustomKeyStore", "request": {},
                            "error": {"code": 5}}]}), "error must be"),
])
def test_trace_check_bad_input_is_one_line_and_exit_2(content, message, tmp_path, capsys):
    path = tmp_path / "trace.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["trace", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_trace_without_an_action_is_a_usage_error(capsys):
    assert main(["trace"]) == 2
    assert "trace check FILE" in capsys.readouterr().err
