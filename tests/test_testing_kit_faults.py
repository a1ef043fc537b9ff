"""fail_next_connect: each of the ten ConnectionErrorCodes a CloudHSM key store can show
(CEC-00) is caused by the environment condition its CEC rule names, the connect ends FAILED
with it on ckspec serve, and after the repair the documented recovery connects again."""

from __future__ import annotations

import time

import pytest
from ckspec.model.aws_service import CLOUDHSM_ERROR_CODES
from ckspec.model.catalog import rules as catalog_rules
from ckspec.model.environment import EVENTS
from ckspec.testing import FAULTS, KitError, emulated_aws, typed_methods

NEEDS = {"CLUSTER_NOT_FOUND": "cluster_id", "SUBNET_NOT_FOUND": "cluster_id", "INVALID_CREDENTIALS": "kmsuser_password",
         "USER_LOCKED_OUT": "kmsuser_password", "USER_NOT_FOUND": "kmsuser_password"}


def test_every_code_a_cloudhsm_store_can_show_and_no_other():
    assert sorted(FAULTS) == sorted(CLOUDHSM_ERROR_CODES)


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_each_code_is_caused_as_its_rule_says(code):
    kind = FAULTS[code]
    rules = {r.id: r for r in catalog_rules()}
    assert rules[kind.rule].statement.startswith(f"{code}:"), f"{kind.rule} is not the rule of {code}"
    methods = typed_methods()
    extra = {"delete_hsms": "delete_hsm"}  # the kit's one composite: every HSM of the cluster
    events = [methods.get(m) or extra[m] for m in kind.methods]
    assert any(kind.rule in EVENTS[e].rules for e in events), \
        f"none of {kind.methods} stands for {kind.rule} in the model's environment events"


def _state(kms, store):
    return kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]


def _until(kms, store, states, seconds=10.0):
    deadline = time.monotonic() + seconds
    while (shown := _state(kms, store))["ConnectionState"] not in states:
        assert time.monotonic() < deadline, f"still {shown['ConnectionState']}"
        time.sleep(0.02)
    return shown


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_the_next_connect_fails_with_the_code_and_the_documented_recovery_works(code):
    with emulated_aws() as kit:
        account = kit.ready_account()
        kms = account.kms
        store = kms.create_custom_key_store(**account.create_request())["CustomKeyStoreId"]
        fault = account.fail_next_connect(code)
        kms.connect_custom_key_store(CustomKeyStoreId=store)
        shown = _until(kms, store, {"CONNECTED", "FAILED"})
        assert (shown["ConnectionState"], shown.get("ConnectionErrorCode")) == ("FAILED", code)
        repaired = fault.repair()
        assert {k for k in ("cluster_id", "kmsuser_password") if getattr(repaired, k)} == \
            ({NEEDS[code]} if code in NEEDS else set())
        kms.disconnect_custom_key_store(CustomKeyStoreId=store)
        _until(kms, store, {"DISCONNECTED"})
        update = {"CloudHsmClusterId": repaired.cluster_id, "KeyStorePassword": repaired.kmsuser_password}
        update = {k: v for k, v in update.items() if v}
        if update:
            kms.update_custom_key_store(CustomKeyStoreId=store, **update)
        kms.connect_custom_key_store(CustomKeyStoreId=store)
        assert _until(kms, store, {"CONNECTED", "FAILED"})["ConnectionState"] == "CONNECTED"
        assert repaired.kmsuser_password is None or repaired.kmsuser_password not in repr(repaired)


def test_only_the_codes_a_cloudhsm_store_shows_are_accepted():
    with emulated_aws() as kit:
        account = kit.ready_account()
        with pytest.raises(KitError, match=r"XKS_PROXY_TIMED_OUT.*not a ConnectionErrorCode a CloudHSM key store can "
                                           r"show \(CEC-00"):
            account.fail_next_connect("XKS_PROXY_TIMED_OUT")
        with pytest.raises(KitError, match=r"fail_next_connect\(USER_NOT_FOUND\): cluster must be a cluster-.*CEC-10"):
            kit.fail_next_connect("USER_NOT_FOUND", 7)
        with pytest.raises(KitError, match=r"no cluster cluster-aaaaaaaaaaz"):
            kit.fail_next_connect("INSUFFICIENT_CLOUDHSM_HSMS", "cluster-aaaaaaaaaaz")


def test_a_fault_that_strikes_at_the_connect_on_another_cluster_waits_for_its_own():
    """The in-flight faults (CEC-02 here) strike the next Connect of a store on their cluster only."""
    with emulated_aws() as kit:
        first, second = kit.ready_account(), kit.ready_account()
        kms = first.kms
        other = kms.create_custom_key_store(**second.create_request("other"))["CustomKeyStoreId"]
        mine = kms.create_custom_key_store(**first.create_request("mine"))["CustomKeyStoreId"]
        first.fail_next_connect("INSUFFICIENT_CLOUDHSM_HSMS")
        kms.connect_custom_key_store(CustomKeyStoreId=other)
        assert _until(kms, other, {"CONNECTED", "FAILED"})["ConnectionState"] == "CONNECTED"
        assert len(kit.hsms(first.cluster_id)) == 2
        kms.connect_custom_key_store(CustomKeyStoreId=mine)
        assert _until(kms, mine, {"CONNECTED", "FAILED"})["ConnectionErrorCode"] == "INSUFFICIENT_CLOUDHSM_HSMS"


def test_user_logged_in_after_a_connect_says_why_it_cannot_be_caused():
    """CONNECT-11: once a store has connected, KMS rotated kmsuser's password; nobody can log in."""
    with emulated_aws() as kit:
        account = kit.ready_account()
        kms = account.kms
        store = kms.create_custom_key_store(**account.create_request())["CustomKeyStoreId"]
        kms.connect_custom_key_store(CustomKeyStoreId=store)
        _until(kms, store, {"CONNECTED"})
        kms.disconnect_custom_key_store(CustomKeyStoreId=store)
        _until(kms, store, {"DISCONNECTED"})
        with pytest.raises(KitError, match=r"CONNECT-11.*change_kmsuser_password first"):
            account.fail_next_connect("USER_LOGGED_IN")
