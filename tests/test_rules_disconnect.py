"""Behaviour of DisconnectCustomKeyStore and of key states while a store is not CONNECTED (DISC, AMB-04/05/06/12)."""

from __future__ import annotations

import pytest

from ckspec.model import identifiers as ids
from ckspec.model.actions import Internal
from ckspec.model.executor import internal_events, outcomes
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, healthy_account

INVALID_STATE = "CustomKeyStoreInvalidStateException"


def _connected_with_keys(n=2, profile=REFERENCE):
    d = Driver(healthy_account(), profile=profile)
    sid = d.create_store()
    saved, d.profile = d.profile, REFERENCE
    d.connect(sid)
    keys = [d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
            for _ in range(n)]
    d.profile = saved
    return d, sid, keys


def _key_state(d, key):
    return d.call("DescribeKey", KeyId=key).response.body["KeyMetadata"]["KeyState"]




def test_disconnect_unknown_store():
    """DISC-01: an unknown store ID is rejected with CustomKeyStoreNotFoundException; the ID is required."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    d.create_store()
    assert {o.response.error for o in d.possible("DisconnectCustomKeyStore", CustomKeyStoreId=ids.store_id(777))} == {
        "CustomKeyStoreNotFoundException"}
    assert {o.response.error for o in d.possible("DisconnectCustomKeyStore")} == {"ValidationError"}


@pytest.mark.parametrize("state, accepted", [
    ("DISCONNECTED", False), ("DISCONNECTING", False), ("CONNECTED", True), ("CONNECTING", True), ("FAILED", True),
])
def test_disconnect_in_every_state(state, accepted):
    """DISC-02, DISC-03: Disconnect is refused with InvalidState (state unchanged) in DISCONNECTED and
    DISCONNECTING, and accepted with 200 {} in CONNECTED, CONNECTING and FAILED, ending DISCONNECTED."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    d.reach(sid, state)
    outs = d.possible("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    if not accepted:
        assert [(o.response.error, o.world.stores[0].state.value) for o in outs] == [(INVALID_STATE, state)]
        return
    assert all(o.response.ok and o.response.body == {} for o in outs)
    d.profile = REFERENCE
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    d.settle()
    entry = d.describe(sid)
    assert entry["ConnectionState"] == "DISCONNECTED" and "ConnectionErrorCode" not in entry


def test_disconnect_logs_kmsuser_out_and_removes_plumbing():
    """DISC-04, NET-04, KU-05: after Disconnect completes, KMS no longer holds the kmsuser session (a crypto
    officer can set its password again and a person can log in) and its security group and ENIs are gone."""
    d, sid, _ = _connected_with_keys(0)
    cid = d.cluster_serial()
    assert d.world.kms_holds_kmsuser(cid)
    d.disconnect(sid)
    assert not d.world.kms_holds_kmsuser(cid)
    assert not d.world.store(ids.parse_store_id(sid)).network_plumbing
    d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    d.env("kmsuser_logs_in", cid)
    assert d.world.cluster(cid).kmsuser.logged_in


def test_disconnect_makes_keys_unavailable_at_once():
    """DISC-05, KS-02, KS-03, T-01, AMB-12: from the moment Disconnect is accepted (DISCONNECTING) every key
    reads Unavailable (Enabled=false) except a key pending deletion, which keeps PendingDeletion."""
    d, sid, (k1, k2, k3) = _connected_with_keys(3)
    d.call("DisableKey", KeyId=k2)
    d.call("ScheduleKeyDeletion", KeyId=k3, PendingWindowInDays=7)
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert d.store_state(sid) == "DISCONNECTING"
    for key in (k1, k2):
        meta = d.call("DescribeKey", KeyId=key).response.body["KeyMetadata"]
        assert meta["KeyState"] == "Unavailable" and meta["Enabled"] is False
    assert _key_state(d, k3) == "PendingDeletion"
    d.settle()
    assert [_key_state(d, k) for k in (k1, k2, k3)] == ["Unavailable", "Unavailable", "PendingDeletion"]


@pytest.mark.parametrize("state", ["CONNECTING", "DISCONNECTING", "FAILED", "DISCONNECTED"])
def test_keys_unavailable_whenever_not_connected(state):
    """AMB-12, KS-02, KS-06: in CONNECTING, DISCONNECTING, FAILED and DISCONNECTED every key that is not
    pending deletion reads Unavailable, and Encrypt fails with KMSInvalidStateException."""
    d, sid, (key,) = _connected_with_keys(1)
    d.disconnect(sid)
    d.reach(sid, state)
    assert _key_state(d, key) == "Unavailable"
    assert d.call("Encrypt", KeyId=key, Plaintext=b"x").response.error == "KMSInvalidStateException"


def test_management_still_works_while_disconnected():
    """DISC-06, KS-07, KEY-02: while DISCONNECTED the store and its keys can still be managed (rename,
    DescribeKey, Disable/Enable, ScheduleKeyDeletion), but no key can be created and no key used."""
    d, sid, (k1, k2) = _connected_with_keys(2)
    d.disconnect(sid)
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="renamed").response.ok
    assert d.call("DescribeKey", KeyId=k1).response.ok
    assert d.call("DisableKey", KeyId=k1).response.ok
    assert d.call("EnableKey", KeyId=k1).response.ok
    assert d.call("ScheduleKeyDeletion", KeyId=k2).response.ok
    assert d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.error == INVALID_STATE
    for op, params in [("Encrypt", {"Plaintext": b"x"}), ("GenerateDataKey", {"KeySpec": "AES_256"}),
                       ("GenerateDataKeyWithoutPlaintext", {"KeySpec": "AES_256"})]:
        assert d.call(op, KeyId=k1, **params).response.error == "KMSInvalidStateException"


def test_disconnect_cuts_off_all_keys_and_repairs_failed():
    """DISC-07, TR-06: Disconnect cuts off every key of the store in one step, and Disconnect then Connect is
    the way to repair a FAILED store."""
    d, sid, keys = _connected_with_keys(2)
    d.disconnect(sid)
    assert {_key_state(d, k) for k in keys} == {"Unavailable"}
    d.env("network_fault_begins")
    d.connect(sid)
    assert d.describe(sid)["ConnectionState"] == "FAILED"
    d.env("network_fault_ends")
    d.disconnect(sid)
    assert d.connect(sid) == "CONNECTED"
    assert {_key_state(d, k) for k in keys} == {"Enabled"}


def test_disconnecting_always_ends_disconnected():
    """AMB-04, TR-05: DISCONNECTING has exactly one way out, to DISCONNECTED; no failure branch exists."""
    d, sid, _ = _connected_with_keys(0)
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    (event,) = [e for e in internal_events(d.world) if e.event != "ReadsCatchUp"]
    outs = outcomes(d.world, event, PERMISSIVE)
    assert [o.world.stores[0].state.value for o in outs] == ["DISCONNECTED"]
    assert outs[0].world.stores[0].error_code is None


def test_disconnect_of_failed_store_with_or_without_disconnecting():
    """AMB-05, TR-06, CS-07: Disconnect of a FAILED store may pass through DISCONNECTING or go straight to
    DISCONNECTED (reference: through DISCONNECTING); either way the end state is DISCONNECTED without
    ConnectionErrorCode."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    d.reach(sid, "FAILED")
    outs = d.possible("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert {(o.world.stores[0].state.value, o.world.stores[0].error_code, o.alt) for o in outs} == {
        ("DISCONNECTING", None, None), ("DISCONNECTED", None, "AMB-05")}
    ref = outcomes(d.world, outs[0].action, REFERENCE)
    assert [o.world.stores[0].state.value for o in ref] == ["DISCONNECTING"]
    for o in outs:
        d.world = o.world
        d.settle()
        assert d.store_state(sid) == "DISCONNECTED"


def test_disconnect_wins_over_the_pending_attempt():
    """AMB-06, TR-07: Disconnect while CONNECTING drops the attempt even when it would have succeeded: the
    store ends DISCONNECTED and no completion can make it CONNECTED."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    attempt = Internal("ConnectionAttemptCompletes", ids.parse_store_id(sid))
    assert outcomes(d.world, attempt, PERMISSIVE)  # it would complete
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert outcomes(d.world, attempt, PERMISSIVE) == ()
    d.settle()
    assert d.store_state(sid) == "DISCONNECTED"


def test_enabled_may_still_be_read_right_after_disconnect():
    """AMB-12: under PERMISSIVE, DescribeKey right after Disconnect is accepted may still read Enabled."""
    d, sid, (key,) = _connected_with_keys(1, profile=PERMISSIVE)
    d.world = d.possible("DisconnectCustomKeyStore", CustomKeyStoreId=sid)[0].world
    seen = {o.response.body["KeyMetadata"]["KeyState"] for o in d.possible("DescribeKey", KeyId=key)}
    assert seen == {"Enabled", "Unavailable"}
