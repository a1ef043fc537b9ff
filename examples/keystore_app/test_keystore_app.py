"""The example application's tests: its own boto3 code against ``ckspec serve``, with the
testing kit's fixtures (``ckspec_account``, ``ckspec_emulator``) and fault injection.

Run them with ``python -m pytest`` in this folder (ckspec installed); the repository's test
suite runs them too (tests/test_testing_kit_example.py).
"""

from __future__ import annotations

import boto3
import pytest
from ckspec.testing import FAULTS, current, emulated_aws
from keystore_app import KeyStoreApp, KeyStoreError


def test_a_new_store_connects(ckspec_account):
    app = KeyStoreApp()  # a plain boto3.client("kms"): the fixture pointed the environment at the emulator
    store = app.create_store("orders", ckspec_account.cluster_id, ckspec_account.trust_anchor,
                             ckspec_account.kmsuser_password)
    assert app.connect(store)["ConnectionState"] == "CONNECTED"
    key = app.kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store)["KeyMetadata"]["KeyId"]
    blob = app.kms.encrypt(KeyId=key, Plaintext=b"order 66")["CiphertextBlob"]
    assert app.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"order 66"


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_the_app_recovers_from_every_connection_error(ckspec_account, code):
    app = KeyStoreApp()
    store = app.create_store("orders", ckspec_account.cluster_id, ckspec_account.trust_anchor,
                             ckspec_account.kmsuser_password)
    fault = ckspec_account.fail_next_connect(code)
    failed = app.connect(store)
    assert (failed["ConnectionState"], failed["ConnectionErrorCode"]) == ("FAILED", code)
    repaired = fault.repair()  # the operator's part: log kmsuser out, restore the cluster, ...
    after = app.recover(store, cluster_id=repaired.cluster_id, password=repaired.kmsuser_password)
    assert after["ConnectionState"] == "CONNECTED", after


def test_a_password_fault_is_not_retried_blindly(ckspec_account):
    app = KeyStoreApp()
    store = app.create_store("orders", ckspec_account.cluster_id, ckspec_account.trust_anchor,
                             ckspec_account.kmsuser_password)
    ckspec_account.fail_next_connect("USER_LOCKED_OUT")
    assert app.connect(store)["ConnectionErrorCode"] == "USER_LOCKED_OUT"
    with pytest.raises(KeyStoreError, match="reset kmsuser's password"):
        app.recover(store)  # without the new password the app asks for it instead of looping


def test_a_person_logged_in_as_kmsuser(ckspec_emulator, ckspec_account):
    """The typed environment events, one at a time (here CEC-09 by hand)."""
    app = KeyStoreApp()
    store = app.create_store("orders", ckspec_account.cluster_id, ckspec_account.trust_anchor,
                             ckspec_account.kmsuser_password)
    ckspec_emulator.log_in_kmsuser(ckspec_account.cluster_id)
    assert app.connect(store)["ConnectionErrorCode"] == "USER_LOGGED_IN"
    ckspec_emulator.log_out_kmsuser(ckspec_account.cluster_id)
    assert app.recover(store)["ConnectionState"] == "CONNECTED"


@emulated_aws(connect_delay=0.3)
def test_with_the_decorator():
    kit = current()
    account = kit.ready_account()
    app = KeyStoreApp(boto3.client("kms"))
    store = app.create_store("orders", account.cluster_id, account.trust_anchor, account.kmsuser_password)
    assert app.connect(store)["ConnectionState"] == "CONNECTED"
