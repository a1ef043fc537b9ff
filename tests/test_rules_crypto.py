"""Cryptographic use of CloudHSM-store keys and GenerateRandom (CRYPTO, RAND, ERR-02, AMB-13/21/23/31/33)."""

from __future__ import annotations

import pytest

from ckspec.model import identifiers as ids
from ckspec.model.aws_service import http_status
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, healthy_account

KMS_INVALID_STATE = "KMSInvalidStateException"


def _errors(outs):
    return {o.response.error for o in outs}


def _connected_key(**account):
    d = Driver(healthy_account(**account))
    sid = d.create_store()
    d.connect(sid)
    key = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
    return d, sid, key


def _delete_all_hsms(d):
    c = d.world.clusters[0]
    for h in c.hsms:
        d.env("delete_hsm", c.cluster_id, h.hsm_id)


CRYPTO_CALLS = [
    ("Encrypt", {"Plaintext": b"secret data"}),
    ("GenerateDataKey", {"KeySpec": "AES_256"}),
    ("GenerateDataKey", {"NumberOfBytes": 16}),
    ("GenerateDataKeyWithoutPlaintext", {"KeySpec": "AES_128"}),
]


@pytest.mark.parametrize("operation, params", CRYPTO_CALLS)
def test_crypto_works_on_enabled_key_in_connected_store(operation, params):
    """CRYPTO-01, AMB-23, CRYPTO-06: with the key Enabled, the store CONNECTED, an active HSM and the material
    in the cluster, Encrypt, GenerateDataKey and GenerateDataKeyWithoutPlaintext succeed (the guide lists them
    as supported)."""
    d, sid, key = _connected_key()
    d.profile = PERMISSIVE
    outs = d.possible(operation, KeyId=key, **params)
    assert _errors(outs) == {None}
    body = outs[0].response.body
    assert body["KeyId"] == ids.key_arn(ids.parse_key_id(key)) and body["CiphertextBlob"]
    assert ("Plaintext" in body) is (operation == "GenerateDataKey")


def test_encrypt_decrypt_round_trip():
    """CRYPTO-01: Decrypt of a ciphertext made by Encrypt returns the plaintext with the key's ARN; a ciphertext
    not made by the service is InvalidCiphertextException, and naming another key IncorrectKeyException."""
    d, sid, key = _connected_key()
    other = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
    blob = d.call("Encrypt", KeyId=key, Plaintext=b"hello").response.body["CiphertextBlob"]
    body = d.call("Decrypt", CiphertextBlob=blob).response.body
    assert body["Plaintext"] == b"hello" and body["KeyId"] == ids.key_arn(ids.parse_key_id(key))
    assert d.call("Decrypt", CiphertextBlob=b"not a ciphertext").response.error == "InvalidCiphertextException"
    assert d.call("Decrypt", CiphertextBlob=blob, KeyId=other).response.error == "IncorrectKeyException"


def test_disabled_key():
    """CRYPTO-01: a Disabled key in a CONNECTED store fails crypto with DisabledException."""
    d, sid, key = _connected_key()
    d.call("DisableKey", KeyId=key)
    d.profile = PERMISSIVE
    assert _errors(d.possible("Encrypt", KeyId=key, Plaintext=b"x")) == {"DisabledException"}


def test_pending_deletion_key():
    """KS-06, CRYPTO-01: a key pending deletion cannot be used: KMSInvalidStateException."""
    d, sid, key = _connected_key()
    d.call("ScheduleKeyDeletion", KeyId=key)
    d.profile = PERMISSIVE
    assert _errors(d.possible("Encrypt", KeyId=key, Plaintext=b"x")) == {KMS_INVALID_STATE}


@pytest.mark.parametrize("what", ["all HSMs deleted", "cluster deleted"])
def test_lost_hsms_or_cluster_fail_crypto_not_the_store(what):
    """CRYPTO-02, AMB-31, TR-08, CS-04, AMB-13: removing every HSM, or deleting the cluster, while CONNECTED makes
    crypto fail with KMSInvalidStateException; the store stays CONNECTED and the key reads Enabled (with the
    cluster, and so the backing key, gone, AMB-13 also admits Unavailable)."""
    d, sid, key = _connected_key()
    _delete_all_hsms(d)
    if what == "cluster deleted":
        d.env("delete_cluster", d.cluster_serial())
    d.profile = PERMISSIVE
    assert _errors(d.possible("Encrypt", KeyId=key, Plaintext=b"x")) == {KMS_INVALID_STATE}
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"
    shown = {o.response.body["KeyMetadata"]["KeyState"] for o in d.possible("DescribeKey", KeyId=key)}
    assert shown == ({"Enabled"} if what == "all HSMs deleted" else {"Enabled", "Unavailable"})
    d.profile = REFERENCE
    assert d.call("DescribeKey", KeyId=key).response.body["KeyMetadata"]["KeyState"] == "Enabled"


def test_material_missing_from_restored_cluster():
    """CRYPTO-01, CL-05: after the store moves to a cluster restored from a backup taken before the key existed,
    the key's material is not in the cluster and crypto fails with KMSInvalidStateException."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.connect(sid)
    d.env("backup_cluster", cid)
    key = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
    d.disconnect(sid)
    d.env("restore_backup", d.world.backups[0].backup_id)
    new = d.world.clusters[-1].cluster_id
    d.env("create_hsm", new, "us-east-1a")
    d.env("create_hsm", new, "us-east-1b")
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=ids.cluster_id(new)).response.ok
    assert d.connect(sid) == "CONNECTED"
    assert ids.parse_key_id(key) not in d.world.cluster(new).key_material
    assert d.call("Encrypt", KeyId=key, Plaintext=b"x").response.error == KMS_INVALID_STATE


@pytest.mark.parametrize("fault", ["network_fault_begins", "break_security_group"])
def test_cannot_communicate_with_cluster(fault):
    """CRYPTO-03, AMB-21: a network fault or a firewall rule between KMS and the cluster makes crypto fail with
    KMSInvalidStateException and a communication message; the store stays CONNECTED."""
    d, sid, key = _connected_key()
    d.env(fault, *(() if fault == "network_fault_begins" else (d.cluster_serial(),)))
    out = d.call("Encrypt", KeyId=key, Plaintext=b"x")
    assert out.response.error == KMS_INVALID_STATE
    assert "communicate" in out.response.message
    assert d.store_state(sid) == "CONNECTED"


def test_data_key_pairs_unsupported():
    """CRYPTO-06, AMB-23: GenerateDataKeyPair is not supported for custom key store keys:
    UnsupportedOperationException."""
    d, sid, key = _connected_key()
    d.profile = PERMISSIVE
    assert _errors(d.possible("GenerateDataKeyPair", KeyId=key, KeyPairSpec="RSA_2048")) == {
        "UnsupportedOperationException"}


# --- GenerateRandom ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 32, 1024])
def test_generate_random_in_the_cluster(n):
    """RAND-01: GenerateRandom with a CONNECTED store's ID returns NumberOfBytes bytes; NumberOfBytes is
    required and 0 or 1025 is a ValidationError."""
    d, sid, _ = _connected_key()
    d.profile = PERMISSIVE
    outs = d.possible("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=n)
    assert [len(o.response.body["Plaintext"]) for o in outs] == [n]
    assert _errors(d.possible("GenerateRandom", CustomKeyStoreId=sid)) == {"ValidationError"}
    for bad in (0, 1025):
        assert _errors(d.possible("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=bad)) == {"ValidationError"}


@pytest.mark.parametrize("state", ["DISCONNECTED", "CONNECTING", "DISCONNECTING", "FAILED"])
def test_generate_random_needs_connected(state):
    """RAND-02: GenerateRandom with the ID of a store that is not CONNECTED fails with
    CustomKeyStoreInvalidStateException."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.reach(sid, state)
    d.profile = PERMISSIVE
    assert _errors(d.possible("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=8)) == {
        "CustomKeyStoreInvalidStateException"}


def test_generate_random_unknown_store():
    """RAND-03: GenerateRandom naming an unknown store fails with CustomKeyStoreNotFoundException."""
    d, _, _ = _connected_key()
    d.profile = PERMISSIVE
    assert _errors(d.possible("GenerateRandom", CustomKeyStoreId=ids.store_id(808), NumberOfBytes=8)) == {
        "CustomKeyStoreNotFoundException"}


def test_generate_random_with_unhealthy_cluster():
    """AMB-33: GenerateRandom while CONNECTED but with zero active HSMs answers KMSInternalException or
    DependencyTimeoutException (never KMSInvalidStateException); the reference answers KMSInternalException."""
    d, sid, _ = _connected_key()
    _delete_all_hsms(d)
    d.profile = PERMISSIVE
    outs = d.possible("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=8)
    assert {(o.response.error, o.alt) for o in outs} == {("KMSInternalException", None),
                                                         ("DependencyTimeoutException", "AMB-33")}
    d.profile = REFERENCE
    assert d.call("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=8).response.error == "KMSInternalException"


# --- HTTP statuses --------------------------------------------------------------------------------


def test_http_statuses():
    """ERR-02, AMB-21: custom key store errors are 400; NotFoundException 404; KMSInvalidStateException and
    DisabledException 409; KMSInternalException and KeyUnavailableException 500; DependencyTimeoutException 503.
    Responses carry these statuses; success is 200."""
    expected = {
        "CustomKeyStoreInvalidStateException": 400, "CustomKeyStoreNotFoundException": 400,
        "CloudHsmClusterInvalidConfigurationException": 400, "IncorrectTrustAnchorException": 400,
        "InvalidMarkerException": 400, "LimitExceededException": 400, "UnsupportedOperationException": 400,
        "InvalidArnException": 400, "NotFoundException": 404, "KMSInvalidStateException": 409,
        "DisabledException": 409, "KMSInternalException": 500, "KeyUnavailableException": 500,
        "DependencyTimeoutException": 503,
    }
    assert {e: http_status(e) for e in expected} == expected
    d, sid, key = _connected_key()
    assert d.call("Encrypt", KeyId=key, Plaintext=b"x").response.status == 200
    d.call("DisableKey", KeyId=key)
    assert d.call("Encrypt", KeyId=key, Plaintext=b"x").response.status == 409
    assert d.call("DescribeKey", KeyId=ids.key_id(5555)).response.status == 404
    assert d.call("ConnectCustomKeyStore", CustomKeyStoreId=ids.store_id(5555)).response.status == 400


def test_create_key_with_broken_security_group():
    """NET-05: CreateKey in a CONNECTED store whose cluster lost its 2223-2225 rules may answer
    CloudHsmClusterInvalidConfigurationException."""
    d, sid, _ = _connected_key()
    d.env("break_security_group", d.cluster_serial())
    d.profile = PERMISSIVE
    outs = d.possible("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    assert "CloudHsmClusterInvalidConfigurationException" in _errors(outs)


def test_crypto_fails_with_internal_error_when_pkcs11_sessions_are_exhausted():
    """CRYPTO-04: with no free PKCS #11 session in the cluster, a crypto call fails with KMSInternalException
    (retry with backoff); once sessions are free again it succeeds, and the store stays CONNECTED throughout."""
    from ckspec.model import Driver, healthy_account

    d = Driver(healthy_account())
    store = d.create_store()
    d.connect(store)
    key = d.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
    d.env("sessions_exhausted", d.cluster_serial())
    failed = d.call("Encrypt", KeyId=key, Plaintext=b"data")
    assert failed.response.error == "KMSInternalException"
    assert "CRYPTO-04" in failed.rules
    assert d.store_state(store) == "CONNECTED"
    d.env("sessions_freed", d.cluster_serial())
    assert d.call("Encrypt", KeyId=key, Plaintext=b"data").response.ok
