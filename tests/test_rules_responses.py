"""Every response the model can give, checked against botocore: body shapes, per-operation error lists,
error messages (ERR-01, AMB-18), and the secrecy of KeyStorePassword (KU-04, DESC-05)."""

from __future__ import annotations

import functools

import pytest

from ckspec.model import aws_service
from ckspec.model import identifiers as ids
from ckspec.model.actions import Call, Environment
from ckspec.model.catalog import RULE_ID
from ckspec.model.executor import internal_events, outcomes
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, create_request, healthy_account
from ckspec.model.transitions import CALLS

WITHOUT_SUCCESS = {"GenerateDataKeyPair", "EnableKeyRotation", "GetKeyRotationStatus", "GetParametersForImport"}


def _requests(world, sid, key, blob):
    """A battery of requests, valid and not, for every modelled operation."""
    other = ids.store_id(9999)
    missing_key = ids.key_id(9999)
    wrap = {"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}
    yield from [
        Call.of("CreateCustomKeyStore", create_request(world, 0, name="store-a")),
        Call.of("CreateCustomKeyStore", create_request(world, 1, name="store-b")),
        Call.of("CreateCustomKeyStore", {**create_request(world, 1, name="store-c"), "TrustAnchorCertificate": "x"}),
        Call.of("CreateCustomKeyStore", CustomKeyStoreName="x"),
        Call.of("ConnectCustomKeyStore", CustomKeyStoreId=sid),
        Call.of("ConnectCustomKeyStore", CustomKeyStoreId=other),
        Call.of("DisconnectCustomKeyStore", CustomKeyStoreId=sid),
        Call.of("DisconnectCustomKeyStore", CustomKeyStoreId=other),
        Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="renamed"),
        Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="store-b"),
        Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="N3wPassword"),
        Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid,
                CloudHsmClusterId=ids.cluster_id(world.clusters[1].cluster_id)),
        Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=ids.cluster_id(7777)),
        Call.of("UpdateCustomKeyStore", CustomKeyStoreId=other),
        Call.of("DeleteCustomKeyStore", CustomKeyStoreId=sid),
        Call.of("DeleteCustomKeyStore", CustomKeyStoreId=other),
        Call.of("DescribeCustomKeyStores"),
        Call.of("DescribeCustomKeyStores", Limit=1),
        Call.of("DescribeCustomKeyStores", CustomKeyStoreId=sid),
        Call.of("DescribeCustomKeyStores", CustomKeyStoreName="nope"),
        Call.of("DescribeCustomKeyStores", CustomKeyStoreId=sid, CustomKeyStoreName="store-a"),
        Call.of("DescribeCustomKeyStores", Marker="bad"),
        Call.of("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM"),
        Call.of("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM", KeySpec="RSA_2048"),
        Call.of("CreateKey", CustomKeyStoreId=other, Origin="AWS_CLOUDHSM"),
        Call.of("CreateKey"),
        Call.of("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=16),
        Call.of("GenerateRandom", NumberOfBytes=16),
        Call.of("GenerateRandom", CustomKeyStoreId=other, NumberOfBytes=16),
        Call.of("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=0),
    ]
    for kid in (key, missing_key, "arn:aws:kms:eu-west-1:999999999999:key/x"):
        yield from [
            Call.of("DescribeKey", KeyId=kid),
            Call.of("EnableKey", KeyId=kid),
            Call.of("DisableKey", KeyId=kid),
            Call.of("ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=7),
            Call.of("ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=3),
            Call.of("CancelKeyDeletion", KeyId=kid),
            Call.of("Encrypt", KeyId=kid, Plaintext=b"payload"),
            Call.of("GenerateDataKey", KeyId=kid, KeySpec="AES_256"),
            Call.of("GenerateDataKeyWithoutPlaintext", KeyId=kid, NumberOfBytes=64),
            Call.of("GenerateDataKeyPair", KeyId=kid, KeyPairSpec="RSA_2048"),
            Call.of("EnableKeyRotation", KeyId=kid),
            Call.of("GetKeyRotationStatus", KeyId=kid),
            Call.of("GetParametersForImport", KeyId=kid, **wrap),
        ]
    yield Call.of("Decrypt", CiphertextBlob=blob)
    yield Call.of("Decrypt", CiphertextBlob=blob, KeyId=missing_key)
    yield Call.of("Decrypt", CiphertextBlob=b"garbage")


def _situations():
    """Worlds in many situations: every connection state, keys in every state, faults and missing pieces."""
    d = Driver(healthy_account(clusters=2))
    sid = d.create_store()
    yield "disconnected, no key", d.world, sid, ids.key_id(1), b"x"
    d.connect(sid)
    keys = [d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
            for _ in range(3)]
    blob = d.call("Encrypt", KeyId=keys[0], Plaintext=b"payload").response.body["CiphertextBlob"]
    d.call("DisableKey", KeyId=keys[1])
    d.call("ScheduleKeyDeletion", KeyId=keys[2])
    for k in keys:
        yield f"connected, key {k[:8]}", d.world, sid, k, blob
    for fault in ("network_fault_begins", "internal_fault_begins"):
        faulty = Driver(d.world)
        faulty.env(fault)
        yield f"connected, {fault}", faulty.world, sid, keys[0], blob
    no_hsm = Driver(d.world)
    for h in d.world.clusters[0].hsms:
        no_hsm.env("delete_hsm", d.cluster_serial(), h.hsm_id)
    yield "connected, no HSM", no_hsm.world, sid, keys[0], blob
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    yield "disconnecting", d.world, sid, keys[0], blob
    d.settle()
    yield "disconnected with keys", d.world, sid, keys[1], blob
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    yield "connecting", d.world, sid, keys[0], blob
    d.env("network_fault_begins")
    d.settle()
    d.env("network_fault_ends")
    yield "failed", d.world, sid, keys[0], blob
    empty = Driver(healthy_account(clusters=2))
    yield "no store at all", empty.world, ids.store_id(4), ids.key_id(5), b"x"


@functools.cache
def _corpus():
    """Every (operation, outcome) the permissive model gives over the situations and the request battery."""
    found = []
    for _, world, sid, key, blob in _situations():
        for call in _requests(world, sid, key, blob):
            for o in outcomes(world, call, PERMISSIVE):
                found.append((call.operation, o))
    return tuple(found)


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_every_body_fits_the_botocore_output_shape(operation):
    """CONNECT-02, DISC-03, UPDATE-01, DELETE-04, CREATE-02, DESC-05, KEY-07, DK-01, DK-06, RAND-01, CRYPTO-01:
    every successful response body of the operation fits botocore's output shape (check_output finds nothing),
    and every operation with a success branch produced at least one body."""
    bodies = [o.response.body for op, o in _corpus() if op == operation and o.response.ok]
    if operation in WITHOUT_SUCCESS:
        assert bodies == []
        return
    assert bodies, f"no successful {operation} in the corpus"
    for body in bodies:
        assert aws_service.check_output(operation, body) == [], body


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_every_error_is_in_the_operations_list(operation):
    """ERR-01, AMB-18: every error the model gives for an operation is an error shape botocore lists for that
    operation, or the abstract ValidationError; this holds for the whole transition table too."""
    allowed = aws_service.errors_of(operation) | {"ValidationError"}
    errors = {o.response.error for op, o in _corpus() if op == operation and not o.response.ok}
    assert errors, f"no failing {operation} in the corpus"
    assert errors <= allowed, errors - allowed
    assert {c.error for c in CALLS[operation].checks} <= allowed


def test_error_responses_carry_shape_name_and_message():
    """ERR-01, ERR-02: the service speaks JSON 1.1 with target prefix TrentService; an error response carries its
    error shape name, an HTTP status and a non-empty message string in KMS's words; the rule IDs explaining it
    travel next to the message (``Response.rules``), never inside it."""
    meta = aws_service.kms().metadata
    assert meta["protocol"] == "json" and meta["targetPrefix"] == "TrentService" and meta["jsonVersion"] == "1.1"
    shapes = set(aws_service.kms().shape_names)
    for _, o in _corpus():
        r = o.response
        if r.ok:
            assert r.status == 200 and r.message == ""
            continue
        assert r.error in shapes or r.error == "ValidationError"
        assert isinstance(r.message, str) and r.message
        assert r.rules and set(r.rules) <= set(o.rules), (r.rules, o.rules)
        assert not RULE_ID.search(r.message), r.message
        assert r.status in (400, 404, 409, 500, 503)


def test_reference_picks_one_of_the_permissive_outcomes():
    """AMB-07: for every request in every situation the reference profile gives exactly one outcome, and it is
    one of the outcomes the permissive profile allows (same response and next world)."""
    for _, world, sid, key, blob in _situations():
        for call in _requests(world, sid, key, blob):
            (ref,) = outcomes(world, call, REFERENCE)
            options = {(o.response, o.world) for o in outcomes(world, call, PERMISSIVE)}
            assert (ref.response, ref.world) in options, call


# --- secrecy ---------------------------------------------------------------------------------------

SECRETS = ("Cr3atePassXYZ", "Upd4tePassQRS", "sixsix", "T" * 33, "Ch4ngedPassLMN", "sp3cial!char$")


def _secret_scenario():
    d = Driver(healthy_account(clusters=2, password="Cr3atePassXYZ"))
    sid = d.create_store(KeyStorePassword="Cr3atePassXYZ")
    d.create_store(1, name="store-b", KeyStorePassword="sp3cial!char$")
    d.call("CreateCustomKeyStore", **{**create_request(d.world, 1, name="store-x"), "KeyStorePassword": "sixsix"})
    d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="T" * 33)
    d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="Upd4tePassQRS")
    d.env("change_kmsuser_password", d.cluster_serial(), "Ch4ngedPassLMN")
    d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="Ch4ngedPassLMN")
    d.connect(sid)
    d.disconnect(sid)
    d.env("change_kmsuser_password", d.cluster_serial(), "Ch4ngedPassLMN")
    d.env("backup_cluster", d.cluster_serial())
    d.connect(sid)
    return d, sid


def _assert_no_secret(text):
    for secret in SECRETS:
        assert secret not in text, f"a password appears in: {text[:200]}"


def test_passwords_never_printed():
    """KU-04, DESC-05: no repr or str of a Call, an Outcome (responses and error messages included), a World, a
    KeyStore, a cluster backup, an internal event or a Describe body contains a KeyStorePassword value, whether
    accepted, rejected as too short or too long, or set by a crypto officer."""
    d, sid = _secret_scenario()
    for o in d.history:
        _assert_no_secret(repr(o))
        _assert_no_secret(str(o))
        _assert_no_secret(repr(o.action))
        if o.response is not None:
            _assert_no_secret(o.response.message)
            _assert_no_secret(repr(o.response.body))
    _assert_no_secret(repr(d.world))
    _assert_no_secret(str(d.world))
    for store in d.world.stores:
        _assert_no_secret(repr(store))
    for backup in d.world.backups:
        _assert_no_secret(repr(backup))
    for event in internal_events(d.world):
        _assert_no_secret(repr(outcomes(d.world, event, PERMISSIVE)))
    body = d.call("DescribeCustomKeyStores").response.body
    _assert_no_secret(repr(body))
    _assert_no_secret(repr(d.possible("DescribeCustomKeyStores", Limit=1)))
    _assert_no_secret(repr(Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="Upd4tePassQRS")))
    _assert_no_secret(repr(Environment("change_kmsuser_password", (1, "Ch4ngedPassLMN"))))


def test_create_kmsuser_does_not_print_the_password():
    """KU-04: the repr of the environment event that creates kmsuser with a password, and of its Outcome, does
    not contain that password."""
    d = Driver(healthy_account())
    cid = d.cluster_serial()
    d.env("delete_kmsuser", cid)
    out = d.env("create_kmsuser", cid, "Cr3atePassXYZ")
    _assert_no_secret(repr(out.action))
    _assert_no_secret(repr(out))


def test_impossible_environment_event_error_hides_the_password():
    """KU-04: the error for an environment event that cannot happen does not quote its password."""
    from ckspec.model import World
    from ckspec.model.environment import EVENTS

    with pytest.raises(ValueError) as raised:
        EVENTS["create_kmsuser"].apply(World(), 5, "Sup3rSecretPw")
    assert "Sup3rSecretPw" not in str(raised.value)
