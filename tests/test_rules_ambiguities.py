"""Ambiguities not covered next to their rules: precedence among several violations (AMB-07) and parameter
validation outside the documented error lists (AMB-18, AMB-36)."""

from __future__ import annotations

import pytest

from ckspec.model import identifiers as ids
from ckspec.model.actions import Internal
from ckspec.model.executor import outcomes
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, create_request, healthy_account


def _errors(outs):
    return {o.response.error for o in outs}


def test_several_failure_causes_at_connect_time():
    """AMB-07, CEC-02, CEC-10: a cluster with no HSM and no kmsuser makes the attempt fail with either code; the
    reference takes the earlier connection step (INSUFFICIENT_CLOUDHSM_HSMS)."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    for h in d.world.cluster(cid).hsms:
        d.env("delete_hsm", cid, h.hsm_id)
    d.env("delete_kmsuser", cid)
    event = Internal("ConnectionAttemptCompletes", ids.parse_store_id(sid))
    assert {o.world.stores[0].error_code for o in outcomes(d.world, event, PERMISSIVE)} == {
        "INSUFFICIENT_CLOUDHSM_HSMS", "USER_NOT_FOUND"}
    assert [o.world.stores[0].error_code for o in outcomes(d.world, event, REFERENCE)] == [
        "INSUFFICIENT_CLOUDHSM_HSMS"]


def test_conventional_order_of_checks():
    """AMB-07, CREATE-01, CREATE-03: with several synchronous violations the permissive set holds each error;
    the reference follows parameter validation, then not-found, then state, then preconditions."""
    d = Driver(healthy_account(clusters=2), profile=PERMISSIVE)
    d.create_store(0, name="taken")
    params = {**create_request(d.world, 1, name="taken"), "TrustAnchorCertificate": "wrong"}
    assert _errors(d.possible("CreateCustomKeyStore", **params)) == {
        "CustomKeyStoreNameInUseException", "IncorrectTrustAnchorException"}
    # Describe: a bad marker (validation) beats a filter matching nothing (not found)
    outs = d.possible("DescribeCustomKeyStores", CustomKeyStoreName="nope", Marker="bad")
    assert _errors(outs) == {"InvalidMarkerException", "CustomKeyStoreNotFoundException"}
    assert _errors(outcomes(d.world, outs[0].action, REFERENCE)) == {"InvalidMarkerException"}


def _world():
    d = Driver(healthy_account())
    sid = d.create_store()
    d.connect(sid)
    key = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
    d.profile = PERMISSIVE
    return d, sid, key


BAD_REQUESTS = [
    ("CreateCustomKeyStore", "password 6 chars", {"KeyStorePassword": "a" * 6}),
    ("CreateCustomKeyStore", "password 33 chars", {"KeyStorePassword": "a" * 33}),
    ("CreateCustomKeyStore", "bad cluster pattern", {"CloudHsmClusterId": "cluster-0189"}),
    ("CreateCustomKeyStore", "unknown parameter", {"Colour": "blue"}),
    ("UpdateCustomKeyStore", "password 6 chars", {"KeyStorePassword": "a" * 6}),
    ("UpdateCustomKeyStore", "password 33 chars", {"KeyStorePassword": "a" * 33}),
    ("UpdateCustomKeyStore", "bad cluster pattern", {"CloudHsmClusterId": "cluster-XYZ"}),
    ("UpdateCustomKeyStore", "unknown parameter", {"Colour": "blue"}),
    ("DescribeCustomKeyStores", "Limit 0", {"Limit": 0}),
    ("DescribeCustomKeyStores", "Limit 1001", {"Limit": 1001}),
    ("GenerateRandom", "NumberOfBytes 0", {"NumberOfBytes": 0}),
    ("GenerateRandom", "NumberOfBytes 1025", {"NumberOfBytes": 1025}),
    ("ScheduleKeyDeletion", "PendingWindowInDays 6", {"PendingWindowInDays": 6}),
    ("ScheduleKeyDeletion", "PendingWindowInDays 31", {"PendingWindowInDays": 31}),
    ("ConnectCustomKeyStore", "unknown parameter", {"Force": True}),
    ("Encrypt", "wrong type", {"Plaintext": "not bytes"}),
]


def _base(d, sid, key, operation):
    return {
        "CreateCustomKeyStore": {**create_request(d.world, name="other")},
        "UpdateCustomKeyStore": {"CustomKeyStoreId": sid},
        "DescribeCustomKeyStores": {},
        "GenerateRandom": {"CustomKeyStoreId": sid, "NumberOfBytes": 8},
        "ScheduleKeyDeletion": {"KeyId": key},
        "ConnectCustomKeyStore": {"CustomKeyStoreId": sid},
        "Encrypt": {"KeyId": key, "Plaintext": b"x"},
    }[operation]


@pytest.mark.parametrize("operation, what, change", BAD_REQUESTS, ids=[f"{o}-{w}" for o, w, _ in BAD_REQUESTS])
def test_parameter_validation(operation, what, change):
    """AMB-18, AMB-36: a request that breaks its parameter constraints (password length, cluster ID pattern,
    Limit, NumberOfBytes, the 7-30 day waiting period, unknown names, wrong types) has the single abstract
    outcome ValidationError, whatever the state, and changes nothing."""
    d, sid, key = _world()
    outs = d.possible(operation, **{**_base(d, sid, key, operation), **change})
    assert _errors(outs) == {"ValidationError"}
    assert all(o.world == d.world for o in outs)
    assert all(o.response.status == 400 for o in outs)


@pytest.mark.parametrize("operation", ["CreateCustomKeyStore", "UpdateCustomKeyStore", "DescribeCustomKeyStores",
                                       "GenerateRandom", "ScheduleKeyDeletion", "ConnectCustomKeyStore", "Encrypt"])
def test_valid_base_requests_are_accepted(operation):
    """AMB-18: the same requests without the broken parameter are not ValidationError (the boundary is the
    parameter, not the operation)."""
    d, sid, key = _world()
    assert "ValidationError" not in _errors(d.possible(operation, **_base(d, sid, key, operation)))
