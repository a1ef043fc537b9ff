"""Recorded traces carry the endpoint of each call: `ckspec record -- python -m pytest` over
tests that each start their own ckspec serve (two accounts that hand out the same
identifiers) is checked account by account and conforms, while the same calls taken as one
account, or a genuinely wrong answer in one account, do not conform."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from ckspec.conformance import recorded
from ckspec.conformance.observer import check_trace
from ckspec.conformance.record_hook.ckspec_record_hook import endpoint_address
from ckspec.main import main

APPLICATION_TESTS = textwrap.dedent('''
    import time
    import boto3
    from ckspec.testing import emulated_aws

    def _until(kms, store, states):
        for _ in range(500):
            shown = kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]
            if shown["ConnectionState"] in states:
                return shown
            time.sleep(0.01)
        raise AssertionError(shown)

    def _scenario():
        with emulated_aws() as kit:
            account = kit.ready_account(password="SamePassw0rd")
            kms = boto3.client("kms")
            store = kms.create_custom_key_store(**account.create_request("orders"))["CustomKeyStoreId"]
            kit.log_in_kmsuser(account.cluster_id)
            kms.connect_custom_key_store(CustomKeyStoreId=store)
            assert _until(kms, store, {"FAILED"})["ConnectionErrorCode"] == "USER_LOGGED_IN"
            return store

    def test_first():
        assert _scenario().startswith("cks-")

    def test_second():  # a fresh serve: the same store name, the same identifiers
        assert _scenario().startswith("cks-")
''')


def _record(tmp_path):
    tests, trace = tmp_path / "test_app.py", tmp_path / "trace.json"
    tests.write_text(APPLICATION_TESTS)
    done = subprocess.run([sys.executable, "-m", "ckspec.main", "record", "-o", str(trace), "--", sys.executable,
                           "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir",
                           str(tmp_path), str(tests)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return trace, json.loads(trace.read_text())


def test_tests_that_each_start_their_own_serve_are_checked_account_by_account(tmp_path, capsys):
    trace, data = _record(tmp_path)
    endpoints = [c.get("endpoint") for c in data["calls"]]
    assert all(e and e.startswith("http://127.0.0.1:") for e in endpoints)
    assert len(set(endpoints)) == 2
    assert "SamePassw0rd" not in trace.read_text() and "testing" not in json.dumps(endpoints)
    capsys.readouterr()
    assert main(["trace", "check", str(trace), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["verdict"] == "conforms" and sorted(summary["endpoints"]) == sorted(set(endpoints))
    assert main(["trace", "check", str(trace)]) == 0
    assert "2 endpoints, each checked as an account of its own" in capsys.readouterr().out

    # the same calls as one account (a trace without endpoints, as before): two stores named
    # "orders" with one ID, which no single account explains
    for call in data["calls"]:
        call.pop("endpoint")
    merged = tmp_path / "merged.json"
    merged.write_text(json.dumps(data))
    assert main(["trace", "check", str(merged)]) == 1


def test_a_wrong_answer_in_one_account_still_fails(tmp_path, capsys):
    trace, data = _record(tmp_path)
    second = data["calls"][-1]["endpoint"]
    wrong = next(i for i, c in enumerate(data["calls"]) if c["endpoint"] == second
                 and c["operation"] == "DescribeCustomKeyStores" and c.get("response", {}).get("CustomKeyStores"))
    data["calls"][wrong]["response"]["CustomKeyStores"][0]["CloudHsmClusterId"] = "cluster-aaaaaaaaaaz"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    verdict = check_trace(recorded.load(broken))
    assert not verdict.conforms and verdict.failure.index == wrong
    assert f"to {second}" in verdict.failure.message
    capsys.readouterr()
    assert main(["trace", "check", str(broken)]) == 1


def test_the_endpoint_never_holds_credentials():
    assert endpoint_address("https://AKIA:secret@kms.us-east-1.amazonaws.com/?X-Amz-Security-Token=t#f") == \
        "https://kms.us-east-1.amazonaws.com"
    assert endpoint_address("http://[::1]:9400/") == "http://[::1]:9400"
    assert endpoint_address(None) is None and endpoint_address("not a url") is None


def test_a_trace_with_an_endpoint_reads_back_and_one_with_credentials_in_it_is_refused():
    call = {"service": "kms", "operation": "DescribeCustomKeyStores", "endpoint": "http://127.0.0.1:9400",
            "request": {}, "response": {"CustomKeyStores": [], "Truncated": False}}
    trace = recorded.parse({"format": recorded.FORMAT, "version": 1, "calls": [call]})
    assert trace.calls[0].endpoint == "http://127.0.0.1:9400" and trace.as_json()["calls"][0] == call
    old = recorded.parse({"format": recorded.FORMAT, "version": 1, "calls": [dict(call, endpoint=None)]})
    assert old.calls[0].endpoint is None and check_trace(old).endpoints == (None,)
    import pytest

    with pytest.raises(recorded.RecordedTraceError, match="endpoint must not hold a user name or password"):
        recorded.parse({"format": recorded.FORMAT, "version": 1,
                        "calls": [dict(call, endpoint="https://user:pw@kms.example")]})
