"""External key stores as the neighbours of CloudHSM key stores (XKS-01..06, CREATE-09, RAND-04),
and what the observer accepts of real accounts: the older DescribeCustomKeyStores shape (AMB-38),
identifiers outside the documented patterns (AMB-18), external-store calls outside the model
(XKS-06). The RawSecretAccessKey is a secret like KeyStorePassword: never shown."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ckspec.conformance import recorded
from ckspec.conformance.leaks import find_leak
from ckspec.conformance.observer import check_trace
from ckspec.model import PERMISSIVE, REFERENCE, Call, Driver, create_request, healthy_account, outcomes
from ckspec.model.external import OutsideModel
from ckspec.model.profiles import PROFILES

SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY0123="
KEY_ID = "ABCDEFGHIJKLMNOPQRST"
XKS = dict(CustomKeyStoreType="EXTERNAL_KEY_STORE", XksProxyConnectivity="PUBLIC_ENDPOINT",
           XksProxyUriEndpoint="https://xks.example.com", XksProxyUriPath="/kms/xks/v1",
           XksProxyAuthenticationCredential={"AccessKeyId": KEY_ID, "RawSecretAccessKey": SECRET})
VPC = dict(XKS, XksProxyConnectivity="VPC_ENDPOINT_SERVICE", XksProxyUriEndpoint="https://xks.private.example",
           XksProxyVpcEndpointServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0")
TRACES = Path(__file__).resolve().parents[1] / "examples" / "traces"


def _xks(d: Driver, name: str = "xks-a", **changes) -> str:
    out = d.call("CreateCustomKeyStore", CustomKeyStoreName=name, **{**XKS, **changes})
    assert out.response.ok, out.response
    return out.response.body["CustomKeyStoreId"]


def _entry(d: Driver, **filters) -> dict:
    return d.call("DescribeCustomKeyStores", **filters).response.body["CustomKeyStores"][0]


def test_an_external_store_is_created_listed_and_described_by_id_and_by_name():
    """XKS-01, XKS-04, CS-02: created DISCONNECTED; one list with the CloudHSM stores; its entry has the proxy
    configuration without the secret, no cluster, no trust anchor."""
    d = Driver(healthy_account())
    cloudhsm = d.create_store()
    sid = _xks(d)
    listed = d.call("DescribeCustomKeyStores").response.body["CustomKeyStores"]
    assert [e["CustomKeyStoreId"] for e in listed] == [cloudhsm, sid]
    entry = _entry(d, CustomKeyStoreId=sid)
    assert entry == _entry(d, CustomKeyStoreName="xks-a")
    assert entry["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE" and entry["ConnectionState"] == "DISCONNECTED"
    assert entry["XksProxyConfiguration"] == {"Connectivity": "PUBLIC_ENDPOINT", "AccessKeyId": KEY_ID,
                                              "UriEndpoint": "https://xks.example.com", "UriPath": "/kms/xks/v1"}
    assert "CloudHsmClusterId" not in entry and "TrustAnchorCertificate" not in entry
    assert SECRET not in repr(d.world) and SECRET not in repr(listed)
    assert find_leak("", listed, [SECRET]) is None


def test_vpc_connectivity_needs_its_endpoint_service_and_shows_it():
    """XKS-01, XKS-04: VPC_ENDPOINT_SERVICE needs XksProxyVpcEndpointServiceName, PUBLIC_ENDPOINT refuses it."""
    d = Driver(healthy_account())
    sid = _xks(d, **VPC)
    assert _entry(d, CustomKeyStoreId=sid)["XksProxyConfiguration"]["VpcEndpointServiceName"] == \
        VPC["XksProxyVpcEndpointServiceName"]
    missing = {k: v for k, v in VPC.items() if k != "XksProxyVpcEndpointServiceName"}
    assert d.call("CreateCustomKeyStore", CustomKeyStoreName="b", **missing).response.error == "ValidationError"
    extra = dict(XKS, XksProxyVpcEndpointServiceName=VPC["XksProxyVpcEndpointServiceName"])
    assert d.call("CreateCustomKeyStore", CustomKeyStoreName="c", **extra).response.error == "ValidationError"


@pytest.mark.parametrize("change", [
    {"XksProxyUriPath": "/kms/xks/v"},  # botocore's pattern
    {"XksProxyUriEndpoint": "http://xks.example.com"},
    {"XksProxyAuthenticationCredential": {"AccessKeyId": KEY_ID}},
    {"XksProxyAuthenticationCredential": {"AccessKeyId": KEY_ID, "RawSecretAccessKey": "Tiny0Secret"}},
    {"XksProxyConnectivity": "SOMETIMES"},
    {"KeyStorePassword": "kmsPassw0rd"},  # a CloudHSM parameter
])
def test_create_parameters_are_held_to_botocore_and_xks01(change):
    """XKS-01, AMB-18: malformed external-store requests are ValidationError, without quoting the secret."""
    d = Driver(healthy_account())
    params = {**XKS, **change}
    if "XksProxyAuthenticationCredential" in change and "RawSecretAccessKey" not in change[
            "XksProxyAuthenticationCredential"]:
        params["XksProxyAuthenticationCredential"] = change["XksProxyAuthenticationCredential"]
    out = d.call("CreateCustomKeyStore", CustomKeyStoreName="x", **params)
    assert out.response.error == "ValidationError" and d.world.stores == ()
    assert "Tiny0Secret" not in out.response.message and SECRET not in out.response.message


def test_external_stores_share_the_quota_and_the_names():
    """CREATE-09, Q-01, CREATE-03, UPDATE-06: one quota of 10 and one namespace for both types."""
    d = Driver(healthy_account(quota=2))
    d.create_store(name="hsm")
    _xks(d, name="xks-a")
    assert d.call("CreateCustomKeyStore", CustomKeyStoreName="xks-b",
                  **{**XKS, "XksProxyUriPath": "/b/kms/xks/v1"}).response.error == "LimitExceededException"
    d2 = Driver(healthy_account())
    d2.create_store(name="hsm")
    assert d2.call("CreateCustomKeyStore", CustomKeyStoreName="hsm", **XKS).response.error == \
        "CustomKeyStoreNameInUseException"


def test_endpoint_and_path_are_unique():
    """XKS-02: the same endpoint and path, or the same VPC endpoint service, cannot back two stores."""
    d = Driver(healthy_account())
    _xks(d, name="one")
    assert d.call("CreateCustomKeyStore", CustomKeyStoreName="two", **XKS).response.error == "XksProxyUriInUseException"
    _xks(d, name="vpc", **VPC)
    again = dict(VPC, XksProxyUriPath="/other/kms/xks/v1")
    errors = {o.response.error for o in outcomes(d.world, Call.of("CreateCustomKeyStore", CustomKeyStoreName="v2",
                                                                  **again), PERMISSIVE)}
    assert {"XksProxyUriEndpointInUseException", "XksProxyVpcEndpointServiceInUseException"} <= errors
    assert None not in errors


def test_the_proxy_health_check_may_fail_in_any_documented_way():
    """XKS-03: the proxy is outside the model: every proxy error botocore lists is allowed next to success;
    the reference profile succeeds."""
    d = Driver(healthy_account())
    call = Call.of("CreateCustomKeyStore", CustomKeyStoreName="x", **VPC)
    errors = {o.response.error for o in outcomes(d.world, call, PERMISSIVE)}
    assert errors == {None, "XksProxyUriUnreachableException", "XksProxyInvalidResponseException",
                      "XksProxyIncorrectAuthenticationCredentialException", "XksProxyInvalidConfigurationException",
                      "XksProxyVpcEndpointServiceNotFoundException",
                      "XksProxyVpcEndpointServiceInvalidConfigurationException"}
    assert [o.response.error for o in outcomes(d.world, call, REFERENCE)] == [None]


def test_rename_reconfigure_and_delete():
    """XKS-05, UPDATE-01, DELETE-04: rename and new path or credential; no CloudHSM parameters; deleted."""
    d = Driver(healthy_account())
    sid = _xks(d)
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="renamed",
                  XksProxyUriPath="/new/kms/xks/v1").response.ok
    entry = _entry(d, CustomKeyStoreName="renamed")
    assert entry["XksProxyConfiguration"]["UriPath"] == "/new/kms/xks/v1"
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="kmsPassw0rd").response.error == \
        "ValidationError"
    assert d.call("DeleteCustomKeyStore", CustomKeyStoreId=sid).response.ok
    assert d.call("DescribeCustomKeyStores", CustomKeyStoreId=sid).response.error == "CustomKeyStoreNotFoundException"


def test_connected_external_store_changes_only_name_credential_and_path():
    """XKS-05: while CONNECTED, connectivity and endpoint are refused, name and path are not."""
    d = Driver(healthy_account())
    sid = _xks(d)
    store = d.world.stores[0]
    import attrs

    from ckspec.model.aws_service import ConnectionState
    world = d.world.with_store(attrs.evolve(store, state=ConnectionState.CONNECTED))
    refuse = Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, XksProxyUriEndpoint="https://other.example")
    allow = Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="n",
                    XksProxyUriPath="/n/kms/xks/v1")
    assert [o.response.error for o in outcomes(world, refuse, REFERENCE)] == ["CustomKeyStoreInvalidStateException"]
    assert [o.response.error for o in outcomes(world, allow, REFERENCE)] == [None]
    assert [o.response.error for o in outcomes(world, Call.of("DeleteCustomKeyStore", CustomKeyStoreId=sid),
                                                REFERENCE)] == ["CustomKeyStoreInvalidStateException"]


def test_generate_random_refuses_an_external_store():
    """RAND-04: UnsupportedOperationException, in every profile."""
    d = Driver(healthy_account())
    sid = _xks(d)
    for profile in PROFILES.values():
        found = outcomes(d.world, Call.of("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=8), profile)
        assert [o.response.error for o in found] == ["UnsupportedOperationException"]


@pytest.mark.parametrize("operation", ["ConnectCustomKeyStore", "DisconnectCustomKeyStore"])
def test_the_connection_of_an_external_store_is_outside_the_model(operation):
    """XKS-06: said as such (never a made-up outcome), with the rule ID."""
    d = Driver(healthy_account())
    sid = _xks(d)
    with pytest.raises(OutsideModel, match="XKS-06"):
        outcomes(d.world, Call.of(operation, CustomKeyStoreId=sid))


def test_the_credential_is_redacted_in_a_calls_repr():
    """XKS-01: a request's repr never shows RawSecretAccessKey (like KeyStorePassword)."""
    call = Call.of("CreateCustomKeyStore", CustomKeyStoreName="x", **XKS)
    assert SECRET not in repr(call) and "<redacted>" in repr(call)


def test_a_member_named_for_the_secret_is_a_leak():
    """XKS-04: an answer with a RawSecretAccessKey member gives the secret away, whatever its value."""
    assert "RawSecretAccessKey" in find_leak("", {"XksProxyConfiguration": {"RawSecretAccessKey": "x"}}, ["pw"])


# --- serve ---------------------------------------------------------------------------------------


def test_serve_creates_describes_and_refuses_to_connect_an_external_store():
    """XKS-01, XKS-04, XKS-06 through boto3: created, described by ID, Connect is 501 (not modelled)."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config
    from ckspec.emulator.server import serving

    with serving() as endpoint:
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
        sid = kms.create_custom_key_store(CustomKeyStoreName="xks", **XKS)["CustomKeyStoreId"]
        entry = kms.describe_custom_key_stores(CustomKeyStoreId=sid)["CustomKeyStores"][0]
        assert entry["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE" and SECRET not in repr(entry)
        with pytest.raises(kms.exceptions.UnsupportedOperationException):
            kms.generate_random(CustomKeyStoreId=sid, NumberOfBytes=8)
        with pytest.raises(Exception) as raised:
            kms.connect_custom_key_store(CustomKeyStoreId=sid)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        kms.delete_custom_key_store(CustomKeyStoreId=sid)


# --- recorded traces -----------------------------------------------------------------------------


def _trace(*calls: dict) -> recorded.RecordedTrace:
    return recorded.parse({"format": "ckspec-recorded-trace", "version": 1, "calls": list(calls)})


def _describe(request: dict, *entries: dict) -> dict:
    return {"service": "kms", "operation": "DescribeCustomKeyStores", "request": request,
            "response": {"CustomKeyStores": list(entries), "Truncated": False}}


XKS_ENTRY = {"CustomKeyStoreId": "cks-9876543210fedcba0", "CustomKeyStoreName": "ExampleXks",
             "ConnectionState": "CONNECTED", "CreationDate": "2022-12-02T07:48:55.947000+00:00",
             "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
             "XksProxyConfiguration": {"Connectivity": "PUBLIC_ENDPOINT", "AccessKeyId": KEY_ID,
                                       "UriEndpoint": "https://myproxy.xks.example.com", "UriPath": "/kms/xks/v1"}}


def test_an_external_store_is_described_by_id_and_by_name_in_a_trace():
    """XKS-04, DESC-01: Describe by an external store's ID or name conforms, and so does a later listing."""
    trace = _trace(_describe({"CustomKeyStoreId": XKS_ENTRY["CustomKeyStoreId"]}, XKS_ENTRY),
                   _describe({"CustomKeyStoreName": "ExampleXks"}, XKS_ENTRY),
                   _describe({}, XKS_ENTRY))
    verdict = check_trace(trace)
    assert verdict.conforms, verdict.failure


def test_external_store_calls_in_a_trace_are_noted_as_outside_the_model():
    """XKS-06: Connect of an external store is checked against botocore only and noted; the next listing
    shows it CONNECTED, which conforms; GenerateRandom must refuse it (RAND-04)."""
    disconnected = dict(XKS_ENTRY, ConnectionState="DISCONNECTED")
    sid = XKS_ENTRY["CustomKeyStoreId"]
    calls = [_describe({}, disconnected),
             {"service": "kms", "operation": "ConnectCustomKeyStore", "request": {"CustomKeyStoreId": sid},
              "response": {}},
             _describe({}, XKS_ENTRY)]
    verdict = check_trace(_trace(*calls))
    assert verdict.conforms, verdict.failure
    assert any("outside the observer's model (XKS-06)" in n for n in verdict.notes)
    bad = {"service": "kms", "operation": "GenerateRandom", "request": {"CustomKeyStoreId": sid, "NumberOfBytes": 8},
           "response": {"Plaintext": "AAAAAAAAAAA="}}
    verdict = check_trace(_trace(*calls, bad))
    assert not verdict.conforms and verdict.failure.rules[0] == "RAND-04"


def test_the_older_describe_shape_without_a_type_conforms():
    """AMB-38: an entry without CustomKeyStoreType (published before external key stores) is taken as
    AWS_CLOUDHSM; the model keeps emitting the current shape."""
    data = json.loads((TRACES / "seed-connect-keystore-failed.json").read_text(encoding="utf-8"))
    older = copy.deepcopy(data)
    del older["calls"][0]["response"]["CustomKeyStores"][0]["CustomKeyStoreType"]
    assert check_trace(recorded.parse(older)).conforms
    d = Driver(healthy_account())
    d.create_store()
    assert _entry(d)["CustomKeyStoreType"] == "AWS_CLOUDHSM"


def test_the_docs_example_cluster_id_is_a_note_not_a_failure():
    """AMB-18: cluster-1a23b4cdefg breaks CloudHsmClusterIdType's pattern; the observer notes it, in an answer
    and in a request AWS accepted."""
    data = json.loads((TRACES / "seed-connect-keystore-failed.json").read_text(encoding="utf-8"))
    verdict = check_trace(recorded.parse(data))
    assert verdict.conforms
    assert any("identifier outside the documented pattern (AMB-18)" in n and "cluster-1a23b4cdefg" in n
               for n in verdict.notes)
    create = {"service": "kms", "operation": "CreateCustomKeyStore",
              "request": {"CustomKeyStoreName": "ExampleKeyStore", "CloudHsmClusterId": "cluster-1a23b4cdefg",
                          "TrustAnchorCertificate": "<certificate string appears here>",
                          "KeyStorePassword": {"redacted": "password(1)"}},
              "response": {"CustomKeyStoreId": "cks-1234567890abcdef0"}}
    verdict = check_trace(_trace(create))
    assert verdict.conforms, verdict.failure
    assert any("AMB-18" in n for n in verdict.notes)


def test_the_record_hook_never_writes_the_credential(tmp_path):
    """XKS-01: a recorded CreateCustomKeyStore of an external store holds no RawSecretAccessKey (botocore
    marks it sensitive, like KeyStorePassword), and neither does the recorded answer."""
    from ckspec.conformance.record_hook import ckspec_record_hook as hook
    from ckspec.model.aws_service import kms

    recorder = hook.Recorder(str(tmp_path / "spool"), b"k" * 32)
    params = {"CustomKeyStoreName": "x", **XKS}
    entry = recorder.entry(kms(), "CreateCustomKeyStore", params, "2026-12-03T00:00:00+00:00",
                           ("response", {"CustomKeyStoreId": "cks-1234567890abcdef0"}))
    text = json.dumps(entry)
    assert SECRET not in text
    assert entry["request"]["XksProxyAuthenticationCredential"]["RawSecretAccessKey"] == {"redacted": "sensitive"}


def test_a_cloudhsm_store_takes_no_external_settings():
    """XKS-05, AMB-18: an Update of a CloudHSM store naming XksProxy settings is ValidationError."""
    d = Driver(healthy_account())
    sid = d.create_store()
    before = d.world
    out = d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, XksProxyUriPath="/kms/xks/v1")
    assert out.response.error == "ValidationError" and d.world == before
    d2 = Driver(healthy_account())
    mixed = {**create_request(d2.world, 0, "mixed"), "XksProxyUriPath": "/kms/xks/v1"}
    assert d2.call("CreateCustomKeyStore", **mixed).response.error == "ValidationError"
    assert d2.call("CreateCustomKeyStore", **{k: v for k, v in mixed.items() if k != "XksProxyUriPath"}).response.ok


def test_deleting_an_external_store_in_a_trace_leaves_it_out_of_later_listings():
    """DELETE-04, XKS-06: after a successful Delete of an external store, an unfiltered listing without it
    conforms."""
    sid = XKS_ENTRY["CustomKeyStoreId"]
    disconnected = dict(XKS_ENTRY, ConnectionState="DISCONNECTED")
    calls = [_describe({}, disconnected),
             {"service": "kms", "operation": "DeleteCustomKeyStore", "request": {"CustomKeyStoreId": sid},
              "response": {}},
             _describe({})]
    verdict = check_trace(_trace(*calls))
    assert verdict.conforms, verdict.failure


def test_the_docs_style_access_key_id_outside_its_pattern_is_a_note():
    """AMB-18: an AccessKeyId with digits botocore's XksProxyAuthenticationAccessKeyIdType excludes (as AWS's
    XKS examples show) is noted, and the listing conforms."""
    entry = copy.deepcopy(XKS_ENTRY)
    entry["XksProxyConfiguration"]["AccessKeyId"] = "ABCDE12345670EXAMPLE"
    verdict = check_trace(_trace(_describe({"CustomKeyStoreId": entry["CustomKeyStoreId"]}, entry)))
    assert verdict.conforms, verdict.failure
    assert any("AMB-18" in n and "AccessKeyId" in n for n in verdict.notes)
