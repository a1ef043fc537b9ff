"""ckspec serve's cryptography behaves like KMS's where an application can observe it: the
encryption context is bound to the ciphertext, ciphertexts differ on every call and reveal
nothing of the plaintext, data keys and random bytes come from the operating system unless a
seed is given, and dates are the wall clock's under the real clock (CRYPTO-01, RAND-01, DK-01)."""

from __future__ import annotations

import datetime as _dt

import pytest
from ckspec.emulator import EmulatorServer, ServeOptions
from serve_accounts import client, connected_store, control, env, error, hsm_key

MANUAL = ServeOptions(clock="manual", connect_delay=2.0, lag=0.0)


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(MANUAL, idle_timeout=120) as running:
        yield running


@pytest.fixture()
def kms(server):
    control(server, "/reset", {})
    return client(server)


@pytest.fixture()
def keys(server, kms):
    """An ordinary key and a key in a CONNECTED CloudHSM key store."""
    store = connected_store(server, kms)
    return {"ordinary": kms.create_key()["KeyMetadata"]["KeyId"], "in store": hsm_key(server, kms, store)}


@pytest.mark.parametrize("kind", ["ordinary", "in store"])
def test_the_encryption_context_is_bound_to_the_ciphertext(kms, keys, kind):
    key = keys[kind]
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret", EncryptionContext={"a": "1", "b": "2"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"b": "2", "a": "1"})["Plaintext"] == b"secret"
    for other in ({}, {"a": "1"}, {"a": "1", "b": "3"}, {"a": "1", "b": "2", "c": "3"}):
        assert error(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext=other))[0] == \
            "InvalidCiphertextException", other
    plain = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]
    assert error(lambda: kms.decrypt(CiphertextBlob=plain, EncryptionContext={"a": "1"}))[0] == \
        "InvalidCiphertextException"


@pytest.mark.parametrize("kind", ["ordinary", "in store"])
def test_ciphertexts_differ_every_time_and_reveal_nothing(kms, keys, kind):
    plaintext = bytes(range(200)) * 4
    blobs = [kms.encrypt(KeyId=keys[kind], Plaintext=plaintext)["CiphertextBlob"] for _ in range(5)]
    assert len(set(blobs)) == 5
    for blob in blobs:
        assert not any(plaintext[i:i + 6] in blob for i in range(0, len(plaintext) - 6, 3))
    tampered = bytearray(blobs[0])
    tampered[-1] ^= 1
    assert error(lambda: kms.decrypt(CiphertextBlob=bytes(tampered)))[0] == "InvalidCiphertextException"
    assert error(lambda: kms.decrypt(CiphertextBlob=b"\x01cks" + b"x" * 80))[0] in (
        "InvalidCiphertextException", "NotFoundException")


def test_decrypt_names_the_key_and_refuses_another(kms, keys):
    blob = kms.encrypt(KeyId=keys["in store"], Plaintext=b"x")["CiphertextBlob"]
    answer = kms.decrypt(CiphertextBlob=blob)
    assert answer["KeyId"].endswith(keys["in store"]) and answer["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert error(lambda: kms.decrypt(CiphertextBlob=blob, KeyId=keys["ordinary"]))[0] == "IncorrectKeyException"


def test_a_key_in_a_store_obeys_the_model_before_any_crypto(server, kms, keys):
    """CRYPTO-01, CRYPTO-03: Disabled, then unreachable: the model's errors, in AWS's words."""
    key = keys["in store"]
    arn = f"arn:aws:kms:us-east-1:111122223333:key/{key}"
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key)
    assert error(lambda: kms.decrypt(CiphertextBlob=blob))[:2] == ("DisabledException", f"{arn} is disabled.")
    kms.enable_key(KeyId=key)
    env(server, "network_fault_begins")
    code, message, headers = error(lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_128"))
    assert (code, message) == ("KMSInvalidStateException", "KMS cannot communicate with your CloudHSM cluster.")
    assert "CRYPTO-03" in headers["x-ckspec-rules"]
    env(server, "network_fault_ends")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_data_keys_and_random_bytes_are_random(kms, keys):
    made = [kms.generate_data_key(KeyId=keys["in store"], KeySpec="AES_256") for _ in range(3)]
    secrets = {m["Plaintext"] for m in made}
    assert len(secrets) == 3 and bytes(32) not in secrets
    for m in made:
        assert kms.decrypt(CiphertextBlob=m["CiphertextBlob"])["Plaintext"] == m["Plaintext"]
    randoms = {kms.generate_random(NumberOfBytes=32)["Plaintext"] for _ in range(3)}
    assert len(randoms) == 3 and bytes(32) not in randoms


def _random_bytes(**options) -> bytes:
    with EmulatorServer(ServeOptions(clock="manual", **options), idle_timeout=30) as running:
        return client(running).generate_random(NumberOfBytes=16)["Plaintext"]


def test_randomness_is_reproducible_only_under_an_explicit_seed():
    assert _random_bytes(seed=3) == _random_bytes(seed=3) != _random_bytes(seed=4)
    assert _random_bytes() != _random_bytes()  # the operating system's


def test_dates_are_the_wall_clock_under_the_real_clock():
    """DK-01: a 7-day waiting period ends 7 days from now, not in the model's 2026-01-01."""
    with EmulatorServer(ServeOptions(clock="real", connect_delay=0.1, lag=0.0), idle_timeout=30) as running:
        kms = client(running)
        now = _dt.datetime.now(_dt.timezone.utc)
        meta = kms.create_key()["KeyMetadata"]
        assert abs((meta["CreationDate"] - now).total_seconds()) < 5
        deletion = kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)["DeletionDate"]
        assert abs((deletion - now - _dt.timedelta(days=7)).total_seconds()) < 5
        assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["DeletionDate"] == deletion
        store = {"CustomKeyStoreId": connected_store(running, kms, "dated")}
        entry = kms.describe_custom_key_stores(CustomKeyStoreId=store["CustomKeyStoreId"])["CustomKeyStores"][0]
        assert abs((entry["CreationDate"] - now).total_seconds()) < 5


def test_a_dry_run_answers_that_it_would_have_succeeded(kms, keys):
    assert error(lambda: kms.encrypt(KeyId=keys["ordinary"], Plaintext=b"x", DryRun=True))[0] == \
        "DryRunOperationException"
    kms.disable_key(KeyId=keys["ordinary"])
    assert error(lambda: kms.encrypt(KeyId=keys["ordinary"], Plaintext=b"x", DryRun=True))[0] == "DisabledException"


def test_every_ciphertext_of_the_same_model_ciphertext_stays_bound():
    """The engine and the observer map each of KMS's ciphertexts (a new one per Encrypt) to the
    model's one; requests go out with the latest."""
    from ckspec.conformance.identity import Binding

    binding = Binding()
    binding.bind(b"model", b"first")
    binding.bind(b"model", b"second")
    assert binding.model_value(b"first") == binding.model_value(b"second") == b"model"
    assert binding.outbound({"CiphertextBlob": b"model"}) == {"CiphertextBlob": b"second"}
    binding.bind("marker-model", "m1")
    binding.bind("marker-model", "m2")
    assert binding.model_value("m1") == "m1"  # a marker's old position is forgotten
