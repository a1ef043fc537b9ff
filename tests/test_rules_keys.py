"""KMS keys in a CloudHSM key store: creation, key states and deletion (KEY, KS, DK, AMB-19/20/32/36)."""

from __future__ import annotations

import pytest

from ckspec.model import identifiers as ids
from ckspec.model.actions import Internal
from ckspec.model.aws_service import KeyState
from ckspec.model.executor import NotEnabled, outcomes
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, healthy_account

INVALID_STATE = "CustomKeyStoreInvalidStateException"
KMS_INVALID_STATE = "KMSInvalidStateException"


def _errors(outs):
    return {o.response.error for o in outs}


def _connected(profile=REFERENCE, **account):
    d = Driver(healthy_account(**account), profile=REFERENCE)
    sid = d.create_store()
    d.connect(sid)
    d.profile = profile
    return d, sid


def _new_key(d, sid):
    out = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    assert out.response.ok, out.response
    return out.response.body["KeyMetadata"]["KeyId"]


def _meta(d, key):
    return d.call("DescribeKey", KeyId=key).response.body["KeyMetadata"]


# --- CreateKey ----------------------------------------------------------------------------------------


def test_create_key_in_a_cloudhsm_store():
    """KEY-01, KEY-07, KS-11: CustomKeyStoreId with Origin=AWS_CLOUDHSM (KeySpec SYMMETRIC_DEFAULT and KeyUsage
    ENCRYPT_DECRYPT by default or given explicitly) returns KeyMetadata: Enabled, Origin AWS_CLOUDHSM, with the
    store and cluster IDs."""
    d, sid = _connected()
    for extra in ({}, {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}):
        out = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM", **extra)
        meta = out.response.body["KeyMetadata"]
        assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
        assert meta["Origin"] == "AWS_CLOUDHSM"
        assert meta["CustomKeyStoreId"] == sid
        assert meta["CloudHsmClusterId"] == ids.cluster_id(d.cluster_serial())
        assert meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["KeyUsage"] == "ENCRYPT_DECRYPT"
        assert meta["MultiRegion"] is False


def test_create_key_outside_custom_key_stores_is_out_of_scope():
    """KEY-01: an ordinary KMS CreateKey (no CustomKeyStoreId, Origin AWS_KMS) is outside the model and answered
    with ValidationError."""
    d, sid = _connected(profile=PERMISSIVE)
    assert _errors(d.possible("CreateKey")) == {"ValidationError"}


@pytest.mark.parametrize("state", ["DISCONNECTED", "CONNECTING", "DISCONNECTING", "FAILED"])
def test_create_key_needs_connected(state):
    """KEY-02, CS-08: CreateKey in a store that is not CONNECTED answers CustomKeyStoreInvalidStateException
    and creates nothing."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.reach(sid, state)
    d.profile = PERMISSIVE
    outs = d.possible("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    assert _errors(outs) == {INVALID_STATE}
    assert all(o.world.keys == () for o in outs)


def test_create_key_needs_two_active_hsms_in_two_zones():
    """KEY-03, CL-03, TR-08: with one active HSM left the store stays CONNECTED but CreateKey answers
    CloudHsmClusterInvalidConfigurationException; two HSMs in one AZ are not enough either."""
    d, sid = _connected(profile=PERMISSIVE)
    c = d.world.clusters[0]
    d.env("delete_hsm", c.cluster_id, c.hsms[1].hsm_id)
    assert d.store_state(sid) == "CONNECTED"
    assert _errors(d.possible("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")) == {
        "CloudHsmClusterInvalidConfigurationException"}
    d.env("create_hsm", c.cluster_id, "us-east-1a")
    assert _errors(d.possible("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")) == {
        "CloudHsmClusterInvalidConfigurationException"}
    d.env("create_hsm", c.cluster_id, "us-east-1b")
    assert _errors(d.possible("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")) == {None}


def test_create_key_unknown_store():
    """KEY-04: CreateKey naming an unknown store answers CustomKeyStoreNotFoundException (never a key)."""
    d, sid = _connected(profile=PERMISSIVE)
    outs = d.possible("CreateKey", CustomKeyStoreId=ids.store_id(4321), Origin="AWS_CLOUDHSM")
    assert _errors(outs) == {"CustomKeyStoreNotFoundException"}


FORBIDDEN = [
    {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
    {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    {"MultiRegion": True},
    {"KeyUsage": "SIGN_VERIFY"},
]


@pytest.mark.parametrize("extra", FORBIDDEN, ids=lambda e: "-".join(f"{k}={v}" for k, v in e.items()))
def test_forbidden_key_types_in_connected_store(extra):
    """KEY-05, AMB-19: asymmetric, HMAC, multi-Region or non-ENCRYPT_DECRYPT keys cannot live in a custom key
    store; the documented set is {UnsupportedOperationException, ValidationError}, the reference
    UnsupportedOperationException; no key is created."""
    d, sid = _connected(profile=PERMISSIVE)
    outs = d.possible("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM", **extra)
    assert _errors(outs) == {"UnsupportedOperationException", "ValidationError"}
    assert all(o.world.keys == () for o in outs)
    d.profile = REFERENCE
    assert d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM", **extra).response.error == \
        "UnsupportedOperationException"


@pytest.mark.parametrize("params", [{"Origin": "AWS_CLOUDHSM"}, {"Origin": "EXTERNAL"}, {"Origin": "AWS_KMS"}],
                         ids=["cloudhsm-without-store", "store-with-external", "store-with-aws-kms"])
def test_origin_and_store_must_go_together(params):
    """AMB-19, KEY-01: CustomKeyStoreId without Origin=AWS_CLOUDHSM, or Origin=AWS_CLOUDHSM without a store, is
    answered from {UnsupportedOperationException, ValidationError} (reference: UnsupportedOperationException)."""
    d, sid = _connected(profile=PERMISSIVE)
    if params["Origin"] != "AWS_CLOUDHSM":
        params = {**params, "CustomKeyStoreId": sid}
    assert _errors(d.possible("CreateKey", **params)) == {"UnsupportedOperationException", "ValidationError"}
    d.profile = REFERENCE
    assert d.call("CreateKey", **params).response.error == "UnsupportedOperationException"


def test_forbidden_key_type_in_disconnected_store():
    """AMB-19: for a store that is not connected the documented set also admits
    CustomKeyStoreInvalidStateException."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    outs = d.possible("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM", MultiRegion=True)
    assert _errors(outs) == {"UnsupportedOperationException", "ValidationError", INVALID_STATE}
    ref = outcomes(d.world, outs[0].action, REFERENCE)
    assert _errors(ref) == {"UnsupportedOperationException"}


def test_create_key_makes_backing_key_in_cluster():
    """KEY-06: creating a key also creates its backing AES key in the store's cluster."""
    d, sid = _connected()
    key = _new_key(d, sid)
    assert ids.parse_key_id(key) in d.world.clusters[0].key_material


# --- key states ----------------------------------------------------------------------------------


def test_unavailable_only_for_custom_key_store_keys():
    """KS-01, KS-02: Unavailable appears only for keys that carry a CustomKeyStoreId, and only while their
    store is not CONNECTED."""
    d, sid = _connected()
    key = _new_key(d, sid)
    assert _meta(d, key)["KeyState"] == "Enabled"
    d.disconnect(sid)
    meta = _meta(d, key)
    assert meta["KeyState"] == "Unavailable" and meta["CustomKeyStoreId"] == sid
    assert meta["Enabled"] is False


def test_pending_deletion_survives_disconnect():
    """KS-03, DK-03: a key scheduled for deletion reads PendingDeletion through the whole waiting period, even
    while its store is DISCONNECTED, and its deletion can be cancelled without reconnecting."""
    d, sid = _connected()
    key = _new_key(d, sid)
    d.disconnect(sid)
    assert _meta(d, key)["KeyState"] == "Unavailable"
    assert d.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7).response.ok
    assert _meta(d, key)["KeyState"] == "PendingDeletion"
    assert d.call("CancelKeyDeletion", KeyId=key).response.ok


def test_reconnect_restores_previous_states():
    """KS-04, AMB-32: when the store reconnects each key returns to its own state (Enabled or Disabled), at the
    moment the store becomes CONNECTED, not when Connect is accepted; PendingDeletion stays."""
    d, sid = _connected()
    k1, k2, k3 = (_new_key(d, sid) for _ in range(3))
    d.call("DisableKey", KeyId=k2)
    d.call("ScheduleKeyDeletion", KeyId=k3)
    d.disconnect(sid)
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    assert [_meta(d, k)["KeyState"] for k in (k1, k2, k3)] == ["Unavailable", "Unavailable", "PendingDeletion"]
    d.settle()
    assert [_meta(d, k)["KeyState"] for k in (k1, k2, k3)] == ["Enabled", "Disabled", "PendingDeletion"]


def test_enable_disable_while_unavailable():
    """KS-05, DISC-06: EnableKey/DisableKey on an Unavailable key answer 200, the key still reads Unavailable,
    and the requested state shows after reconnecting."""
    d, sid = _connected()
    k1, k2 = _new_key(d, sid), _new_key(d, sid)
    d.call("DisableKey", KeyId=k2)
    d.disconnect(sid)
    assert d.call("DisableKey", KeyId=k1).response.ok
    assert d.call("EnableKey", KeyId=k2).response.ok
    assert {_meta(d, k)["KeyState"] for k in (k1, k2)} == {"Unavailable"}
    d.connect(sid)
    assert [_meta(d, k)["KeyState"] for k in (k1, k2)] == ["Disabled", "Enabled"]


@pytest.mark.parametrize("operation, params", [
    ("Encrypt", {"Plaintext": b"data"}),
    ("GenerateDataKey", {"KeySpec": "AES_256"}),
    ("GenerateDataKeyWithoutPlaintext", {"NumberOfBytes": 32}),
])
def test_crypto_on_unavailable_key_fails(operation, params):
    """KS-06, DISC-05: crypto operations on an Unavailable key (Enabled or Disabled underneath) fail with
    KMSInvalidStateException."""
    d, sid = _connected(profile=PERMISSIVE)
    k1, k2 = _new_key(d, sid), _new_key(d, sid)
    d.call("DisableKey", KeyId=k2)
    d.profile = REFERENCE
    d.disconnect(sid)
    d.profile = PERMISSIVE
    for key in (k1, k2):
        assert _errors(d.possible(operation, KeyId=key, **params)) == {KMS_INVALID_STATE}


def test_decrypt_with_unavailable_key_fails():
    """KS-06: Decrypt of a ciphertext whose key is Unavailable fails with
    KMSInvalidStateException."""
    d, sid = _connected()
    key = _new_key(d, sid)
    blob = d.call("Encrypt", KeyId=key, Plaintext=b"data").response.body["CiphertextBlob"]
    d.disconnect(sid)
    d.profile = PERMISSIVE
    assert _errors(d.possible("Decrypt", CiphertextBlob=blob)) == {KMS_INVALID_STATE}


def test_management_on_unavailable_key():
    """KS-07, KS-12: DescribeKey and ScheduleKeyDeletion work on an Unavailable key."""
    d, sid = _connected()
    key = _new_key(d, sid)
    d.disconnect(sid)
    assert d.call("DescribeKey", KeyId=key).response.ok
    out = d.call("ScheduleKeyDeletion", KeyId=key)
    assert out.response.ok and out.response.body["KeyState"] == "PendingDeletion"


def test_cancel_deletion_of_unavailable_key_fails():
    """KS-08, DK-06: CancelKeyDeletion on an Unavailable key (not pending deletion) fails with
    KMSInvalidStateException."""
    d, sid = _connected()
    key = _new_key(d, sid)
    d.disconnect(sid)
    d.profile = PERMISSIVE
    assert _errors(d.possible("CancelKeyDeletion", KeyId=key)) == {KMS_INVALID_STATE}


@pytest.mark.parametrize("operation, params", [
    ("EnableKeyRotation", {}), ("GetKeyRotationStatus", {}),
    ("GetParametersForImport", {"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
])
@pytest.mark.parametrize("connected", [True, False])
def test_rotation_and_import_unsupported(operation, params, connected):
    """KS-09: rotation and import operations are unsupported for custom key store keys whatever their state:
    UnsupportedOperationException."""
    d, sid = _connected()
    key = _new_key(d, sid)
    if not connected:
        d.disconnect(sid)
    d.profile = PERMISSIVE
    assert _errors(d.possible(operation, KeyId=key, **params)) == {"UnsupportedOperationException"}


def test_enabled_flag_matches_key_state():
    """KS-11, KS-12: KeyMetadata.Enabled is true exactly when KeyState is Enabled, in every key state, and
    DescribeKey answers in every state."""
    d, sid = _connected()
    k1, k2, k3 = (_new_key(d, sid) for _ in range(3))
    d.call("DisableKey", KeyId=k2)
    d.call("ScheduleKeyDeletion", KeyId=k3)
    metas = [_meta(d, k) for k in (k1, k2, k3)]
    d.disconnect(sid)
    metas.append(_meta(d, k1))
    assert {m["KeyState"] for m in metas} == {"Enabled", "Disabled", "PendingDeletion", "Unavailable"}
    for m in metas:
        assert m["KeyState"] in {s.value for s in KeyState}
        assert m["Enabled"] is (m["KeyState"] == "Enabled")


def test_describe_key_not_found_and_bad_arn():
    """KS-12: DescribeKey of an unknown key answers NotFoundException, and a malformed key ARN
    InvalidArnException."""
    d, sid = _connected(profile=PERMISSIVE)
    assert _errors(d.possible("DescribeKey", KeyId=ids.key_id(999))) == {"NotFoundException"}
    assert _errors(d.possible("DescribeKey", KeyId="arn:aws:kms:eu-west-1:999999999999:key/x")) == {
        "InvalidArnException"}


def test_deleted_backing_key_leaves_key_state_open():
    """AMB-13, KS-10, KU-10, CRYPTO-01: when the backing key is deleted in the cluster (by kmsuser, the only
    user who can) and the store reconnects, DescribeKey may read Enabled or Unavailable (reference: Enabled),
    the store stays CONNECTED, and crypto fails with KMSInvalidStateException."""
    d, sid = _connected()
    key = _new_key(d, sid)
    cid = d.cluster_serial()
    serial = ids.parse_key_id(key)
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "Aud1tPassword")
    with pytest.raises(NotEnabled):  # nobody logged in as kmsuser: the material cannot be deleted
        d.env("delete_key_material", cid, serial)
    d.env("kmsuser_logs_in", cid)
    d.env("delete_key_material", cid, serial)
    d.env("kmsuser_logs_out", cid)
    d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="Aud1tPassword")
    assert d.connect(sid) == "CONNECTED"
    d.profile = PERMISSIVE
    outs = d.possible("DescribeKey", KeyId=key)
    assert {(o.response.body["KeyMetadata"]["KeyState"], o.alt) for o in outs} == {
        ("Enabled", None), ("Unavailable", "AMB-13")}
    assert _errors(d.possible("Encrypt", KeyId=key, Plaintext=b"x")) == {KMS_INVALID_STATE}
    d.profile = REFERENCE
    assert _meta(d, key)["KeyState"] == "Enabled"
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"


# --- key deletion --------------------------------------------------------------------------------


def test_schedule_key_deletion():
    """DK-01: ScheduleKeyDeletion works on Enabled, Disabled and Unavailable keys; the waiting period defaults
    to 30 days (7-30 allowed); the key goes PendingDeletion; the response has KeyId, DeletionDate, KeyState and
    PendingWindowInDays."""
    d, sid = _connected()
    k1, k2, k3 = (_new_key(d, sid) for _ in range(3))
    d.call("DisableKey", KeyId=k2)
    assert "DeletionDate" not in _meta(d, k1)
    b1 = d.call("ScheduleKeyDeletion", KeyId=k1).response.body
    b2 = d.call("ScheduleKeyDeletion", KeyId=k2, PendingWindowInDays=7).response.body
    d.disconnect(sid)
    b3 = d.call("ScheduleKeyDeletion", KeyId=k3, PendingWindowInDays=30).response.body
    for body, days in ((b1, 30), (b2, 7), (b3, 30)):
        assert set(body) == {"KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"}
        assert body["KeyState"] == "PendingDeletion" and body["PendingWindowInDays"] == days
    assert {_meta(d, k)["KeyState"] for k in (k1, k2, k3)} == {"PendingDeletion"}
    meta = _meta(d, k2)
    assert meta["PendingDeletionWindowInDays"] == 7 and "DeletionDate" in meta


@pytest.mark.parametrize("days, ok", [(6, False), (7, True), (30, True), (31, False), (365, False)])
def test_waiting_period_range(days, ok):
    """AMB-36, DK-01, AMB-18: the waiting period is 7-30 days; 6, 31 or 365 (allowed by the shape) are a
    ValidationError and the key is unchanged."""
    d, sid = _connected(profile=PERMISSIVE)
    key = _new_key(d, sid)
    outs = d.possible("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=days)
    if ok:
        assert _errors(outs) == {None}
    else:
        assert _errors(outs) == {"ValidationError"}
        assert all(o.world == d.world for o in outs)


def test_schedule_twice_fails():
    """DK-02: scheduling deletion of a key already pending deletion fails with KMSInvalidStateException."""
    d, sid = _connected()
    key = _new_key(d, sid)
    d.call("ScheduleKeyDeletion", KeyId=key)
    d.profile = PERMISSIVE
    assert _errors(d.possible("ScheduleKeyDeletion", KeyId=key)) == {KMS_INVALID_STATE}


def test_end_of_waiting_period_best_effort():
    """DK-04, DK-05, DK-07: at the end of the waiting period the KMS key is deleted for good; the backing key is
    deleted when the store is connected and reachable, and orphaned otherwise; backups keep their material."""
    d, sid = _connected()
    cid = d.cluster_serial()
    k1, k2 = _new_key(d, sid), _new_key(d, sid)
    d.env("backup_cluster", cid)
    for k in (k1, k2):
        d.call("ScheduleKeyDeletion", KeyId=k)
    s1, s2 = ids.parse_key_id(k1), ids.parse_key_id(k2)
    out = d.internal(Internal("KeyDeletionCompletes", s1))
    assert "backing key deleted" in out.label
    assert s1 not in d.world.cluster(cid).key_material
    d.disconnect(sid)
    out = d.internal(Internal("KeyDeletionCompletes", s2))
    assert "orphaned" in out.label
    assert s2 in d.world.cluster(cid).key_material
    assert {s1, s2} <= d.world.backups[0].key_material
    d.profile = PERMISSIVE
    for k in (k1, k2):
        assert _errors(d.possible("DescribeKey", KeyId=k)) == {"NotFoundException"}
        assert _errors(d.possible("CancelKeyDeletion", KeyId=k)) == {"NotFoundException"}


def test_end_of_waiting_period_unreachable_cluster_orphans():
    """DK-04: with the store connected but the cluster unreachable (network fault) the backing key is orphaned."""
    d, sid = _connected()
    key = _new_key(d, sid)
    d.call("ScheduleKeyDeletion", KeyId=key)
    d.env("network_fault_begins")
    out = d.internal(Internal("KeyDeletionCompletes", ids.parse_key_id(key)))
    assert "orphaned" in out.label and ids.parse_key_id(key) in d.world.clusters[0].key_material


def test_cancel_deletion():
    """DK-06, AMB-20, KS-03: CancelKeyDeletion works only on a key pending deletion (Enabled/Disabled keys fail
    with KMSInvalidStateException); in a disconnected store the cancelled key is Disabled inside but reads
    Unavailable until the store reconnects, then Disabled."""
    d, sid = _connected()
    key = _new_key(d, sid)
    d.profile = PERMISSIVE
    assert _errors(d.possible("CancelKeyDeletion", KeyId=key)) == {KMS_INVALID_STATE}
    d.profile = REFERENCE
    d.call("ScheduleKeyDeletion", KeyId=key)
    d.disconnect(sid)
    out = d.call("CancelKeyDeletion", KeyId=key)
    assert out.response.ok and out.response.body == {"KeyId": ids.key_arn(ids.parse_key_id(key))}
    assert _meta(d, key)["KeyState"] in {"Disabled", "Unavailable"}
    assert _meta(d, key)["KeyState"] == "Unavailable"
    assert d.world.key(ids.parse_key_id(key)).state == "Disabled"
    d.connect(sid)
    assert _meta(d, key)["KeyState"] == "Disabled"


def test_cancel_deletion_while_connected():
    """DK-06: cancelling deletion in a connected store leaves the key Disabled."""
    d, sid = _connected()
    key = _new_key(d, sid)
    d.call("ScheduleKeyDeletion", KeyId=key)
    assert d.call("CancelKeyDeletion", KeyId=key).response.ok
    assert _meta(d, key)["KeyState"] == "Disabled"
