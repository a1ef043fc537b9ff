"""Behaviour of DeleteCustomKeyStore (DELETE, DK-08, AMB-07)."""

from __future__ import annotations

import pytest

from ckspec.model import identifiers as ids
from ckspec.model.actions import Internal
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, create_request, healthy_account

INVALID_STATE = "CustomKeyStoreInvalidStateException"
HAS_CMKS = "CustomKeyStoreHasCMKsException"


def _errors(outs):
    return {o.response.error for o in outs}




@pytest.mark.parametrize("state", ["CONNECTED", "CONNECTING", "DISCONNECTING", "FAILED"])
def test_delete_needs_disconnected(state):
    """DELETE-01: Delete of a store that is not DISCONNECTED is refused with InvalidState and the store remains."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    d.reach(sid, state)
    outs = d.possible("DeleteCustomKeyStore", CustomKeyStoreId=sid)
    assert _errors(outs) == {INVALID_STATE}
    assert all(o.world == d.world for o in outs)


def test_delete_needs_no_keys_pending_deletion_included():
    """DELETE-02, DK-08: a store that holds KMS keys, even keys pending deletion, cannot be deleted
    (CustomKeyStoreHasCMKsException); once the waiting period ends and the key is gone, it can."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.connect(sid)
    key = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
    d.disconnect(sid)
    assert d.call("DeleteCustomKeyStore", CustomKeyStoreId=sid).response.error == HAS_CMKS
    d.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)
    assert d.call("DeleteCustomKeyStore", CustomKeyStoreId=sid).response.error == HAS_CMKS
    d.internal(Internal("KeyDeletionCompletes", ids.parse_key_id(key)))
    assert d.call("DeleteCustomKeyStore", CustomKeyStoreId=sid).response.ok


def test_delete_unknown_store():
    """DELETE-03: an unknown ID is rejected with CustomKeyStoreNotFoundException."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    assert _errors(d.possible("DeleteCustomKeyStore", CustomKeyStoreId=ids.store_id(31))) == {
        "CustomKeyStoreNotFoundException"}


def test_delete_removes_only_kms_metadata():
    """DELETE-04: Delete answers 200 {} and removes only the store; the cluster, its HSMs, kmsuser and key
    material stay as they were."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cluster_before = d.world.clusters[0]
    out = d.call("DeleteCustomKeyStore", CustomKeyStoreId=sid)
    assert out.response.ok and out.response.body == {}
    assert d.world.stores == ()
    assert d.world.clusters == (cluster_before,)


def test_after_delete_cluster_and_quota_are_free():
    """DELETE-05: after deletion the same cluster can back a new store, the old ID is unknown to Describe, and
    the store no longer counts against the quota."""
    d = Driver(healthy_account(quota=1))
    sid = d.create_store(name="old")
    d.call("DeleteCustomKeyStore", CustomKeyStoreId=sid)
    assert d.call("DescribeCustomKeyStores", CustomKeyStoreId=sid).response.error == "CustomKeyStoreNotFoundException"
    out = d.call("CreateCustomKeyStore", **create_request(d.world, name="new"))
    assert out.response.ok and out.response.body["CustomKeyStoreId"] != sid


def test_documented_order_for_getting_rid_of_a_store():
    """DELETE-06, DK-05, DK-04: schedule deletion of every key, let the waiting period end while the store is
    connected (so the backing keys are removed from the cluster), disconnect, then delete."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.connect(sid)
    keys = [d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
            for _ in range(2)]
    for key in keys:
        assert d.call("ScheduleKeyDeletion", KeyId=key).response.ok
    for key in keys:
        out = d.internal(Internal("KeyDeletionCompletes", ids.parse_key_id(key)))
        assert "backing key deleted" in out.label
    assert d.world.clusters[0].key_material == frozenset()
    d.disconnect(sid)
    assert d.call("DeleteCustomKeyStore", CustomKeyStoreId=sid).response.ok


def test_several_violations_allow_each_error():
    """AMB-07, DELETE-01, DELETE-02: Delete on a CONNECTED store that holds keys may answer InvalidState or
    HasCMKs; the reference takes the state error."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.connect(sid)
    d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    d.profile = PERMISSIVE
    assert _errors(d.possible("DeleteCustomKeyStore", CustomKeyStoreId=sid)) == {INVALID_STATE, HAS_CMKS}
    d.profile = REFERENCE
    assert d.call("DeleteCustomKeyStore", CustomKeyStoreId=sid).response.error == INVALID_STATE
