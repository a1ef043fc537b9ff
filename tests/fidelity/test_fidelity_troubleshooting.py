"""The KMS developer guide's troubleshooting pages, replayed against ``ckspec serve``: every
ConnectionErrorCode the guide lists with the condition it names, the repair procedures, and
what keys do while their store is disconnected or its cluster is unwell.

Sources: awsdocs/aws-kms-developer-guide doc_source/fix-keystore.md (archived; live at
https://docs.aws.amazon.com/kms/latest/developerguide/fix-keystore.html) and
doc_source/create-cmk-keystore.md.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from fidelity.support import Account, disagrees, error_of, evidence

FIX = "awsdocs/aws-kms-developer-guide doc_source/fix-keystore.md"
FAILURE = FIX + " (How to fix a connection failure)"


def _delete_cluster(aws: Account, store: str, cluster: str) -> None:
    for hsm in aws.hsms(cluster):
        aws.env("delete_hsm", cluster, hsm)
    assert aws.env("delete_cluster", cluster)["applied"]
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)


def _hsms_gone_while_connecting(aws: Account, store: str, cluster: str) -> None:
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    for hsm in aws.hsms(cluster):
        aws.env("delete_hsm", cluster, hsm)


def _internal_error(aws: Account, store: str, cluster: str) -> None:
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.env("internal_fault_begins")
    aws.wait()
    aws.env("internal_fault_ends")


def _network_errors(aws: Account, store: str, cluster: str) -> None:
    aws.env("network_fault_begins")
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    aws.env("network_fault_ends")


def _then_connect(event: str, *args: Any) -> Callable[[Account, str, str], None]:
    def setup(aws: Account, store: str, cluster: str) -> None:
        assert aws.env(event, cluster, *args)["applied"]
        aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    return setup


def _subnet_deleted(aws: Account, store: str, cluster: str) -> None:
    assert aws.env("delete_subnet", cluster, "us-east-1c")["applied"]
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)


#: (code, what the guide says causes it, how to bring that about)
CODES = [
    ("CLUSTER_NOT_FOUND", "the cluster with the store's cluster ID was deleted and not replaced", _delete_cluster),
    ("INSUFFICIENT_CLOUDHSM_HSMS", "the cluster has no HSMs", _hsms_gone_while_connecting),
    ("INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET", "a cluster subnet has no free IP address",
     _then_connect("exhaust_subnet", "us-east-1a")),
    ("INTERNAL_ERROR", "KMS had an internal error; disconnect before connecting again", _internal_error),
    ("INVALID_CREDENTIALS", "the kmsuser password KMS holds is not the current one",
     _then_connect("change_kmsuser_password", "Changed0pw")),
    ("NETWORK_ERRORS", "transient network issues", _network_errors),
    ("SUBNET_NOT_FOUND", "a subnet in the cluster configuration was deleted", _subnet_deleted),
    ("USER_LOCKED_OUT", "kmsuser is locked out after too many failed password attempts",
     _then_connect("kmsuser_locked_out")),
    ("USER_LOGGED_IN", "kmsuser is logged into the cluster, so KMS cannot rotate its password and log in",
     _then_connect("kmsuser_logs_in")),
    ("USER_NOT_FOUND", "the cluster has no kmsuser crypto user", _then_connect("delete_kmsuser")),
]


@pytest.mark.parametrize("code, cause, setup", [
    pytest.param(code, cause, setup, id=code, marks=evidence("guide", FAILURE, f"{code}: {cause}"))
    for code, cause, setup in CODES])
def test_each_documented_connection_error_code(aws, code, cause, setup):
    store, cluster, _ = aws.store(zones=3) if code == "SUBNET_NOT_FOUND" else aws.store()
    if code == "SUBNET_NOT_FOUND":  # a third subnet without an HSM, which can be deleted
        aws.env("delete_hsm", cluster, aws.hsms(cluster)[2])
    setup(aws, store, cluster)
    aws.wait()
    entry = aws.entry(store)
    assert (entry["ConnectionState"], entry.get("ConnectionErrorCode")) == ("FAILED", code)


@evidence("guide", FAILURE + " (note)",
          "you cannot connect a store whose connection state is FAILED; disconnect it first")
def test_connect_on_a_failed_store_is_refused(aws):
    store, cluster, _ = aws.store()
    aws.env("delete_kmsuser", cluster)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    status, code, _ = error_of(lambda: aws.kms.connect_custom_key_store(CustomKeyStoreId=store))
    assert (status, code) == (400, "CustomKeyStoreInvalidStateException")
    assert aws.state(store) == "FAILED"


@evidence("guide", FAILURE, "some connection attempts fail fast on an easily detected cluster configuration "
                            "error: an exception, and the store is still DISCONNECTED")
def test_fast_failing_misconfiguration_leaves_the_store_disconnected(aws):
    store, cluster, _ = aws.store()
    aws.env("break_security_group", cluster)
    status, code, _ = error_of(lambda: aws.kms.connect_custom_key_store(CustomKeyStoreId=store))
    assert (status, code) == (400, "CloudHsmClusterInvalidConfigurationException")
    aws.wait()
    assert aws.state(store) == "DISCONNECTED"


@evidence("guide", FIX + " (How to fix invalid kmsuser credentials)",
          "INVALID_CREDENTIALS: disconnect, tell KMS the current kmsuser password, connect again")
def test_repair_invalid_credentials(aws):
    store, cluster, _ = aws.store()
    aws.env("change_kmsuser_password", cluster, "Changed0pw")
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    aws.disconnect(store)
    aws.kms.update_custom_key_store(CustomKeyStoreId=store, KeyStorePassword="Changed0pw")
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"


@evidence("guide", FIX + " (How to fix invalid kmsuser credentials)",
          "USER_LOCKED_OUT: disconnect, change the kmsuser password in the cluster, tell KMS, connect again")
def test_repair_user_locked_out(aws):
    store, cluster, _ = aws.store()
    aws.env("kmsuser_locked_out", cluster)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    aws.disconnect(store)
    aws.env("change_kmsuser_password", cluster, "Changed0pw")
    aws.kms.update_custom_key_store(CustomKeyStoreId=store, KeyStorePassword="Changed0pw")
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"


@evidence("guide", FAILURE, "USER_LOGGED_IN: log kmsuser out of the cluster, then connect again")
def test_repair_user_logged_in(aws):
    store, cluster, _ = aws.store()
    aws.env("kmsuser_logs_in", cluster)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    aws.disconnect(store)
    aws.env("kmsuser_logs_out", cluster)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"


@evidence("guide", FAILURE, "NETWORK_ERRORS: disconnect, wait a few minutes, connect again")
def test_repair_network_errors(aws):
    store, cluster, _ = aws.store()
    _network_errors(aws, store, cluster)
    aws.wait()
    aws.disconnect(store)
    aws.wait(300)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"


@evidence("guide", FAILURE, "CLUSTER_NOT_FOUND: create a cluster from a backup of the original, disconnect, "
                            "edit the store's cluster ID, reconnect")
def test_repair_cluster_not_found_from_a_backup(aws):
    store, cluster, _ = aws.store()
    backup = aws.env("backup_cluster", cluster)["created"]
    _delete_cluster(aws, store, cluster)
    aws.wait()
    assert aws.state(store) == "FAILED"
    restored = aws.env("restore_backup", backup)["created"]
    for zone in ("us-east-1a", "us-east-1b"):
        aws.env("create_hsm", restored, zone)
    aws.env("activate_cluster", restored)
    aws.disconnect(store)
    aws.kms.update_custom_key_store(CustomKeyStoreId=store, CloudHsmClusterId=restored)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    entry = aws.entry(store)
    assert (entry["ConnectionState"], entry["CloudHsmClusterId"]) == ("CONNECTED", restored)


# --- keys while the store is unwell ------------------------------------------------------------

UNAVAILABLE = FIX + " (How to fix unavailable KMS keys)"


@evidence("guide", UNAVAILABLE, "keys in a disconnected store read Unavailable; they can be viewed and managed, "
                                "not used")
def test_keys_of_a_disconnected_store_are_unavailable(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    aws.disconnect(store)
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Unavailable"
    status, code, _ = error_of(lambda: aws.kms.encrypt(KeyId=key, Plaintext=b"data"))
    assert code == "KMSInvalidStateException"


@evidence("guide", UNAVAILABLE, "keys scheduled for deletion stay PendingDeletion while the store is "
                                "disconnected, so the deletion can be cancelled without reconnecting")
def test_pending_deletion_survives_a_disconnect_and_can_be_cancelled(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    aws.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=30)
    aws.disconnect(store)
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    aws.kms.cancel_key_deletion(KeyId=key)
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] != "PendingDeletion"


@evidence("guide", UNAVAILABLE, "after reconnecting, each key is restored to its previous state, such as Disabled")
def test_reconnect_restores_a_disabled_key(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    aws.kms.disable_key(KeyId=key)
    aws.disconnect(store)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"


@evidence("guide", UNAVAILABLE, "enabling an unavailable key does not change its state; it takes effect once the "
                                "key is available again")
def test_enable_on_an_unavailable_key_takes_effect_on_reconnect(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    aws.kms.disable_key(KeyId=key)
    aws.disconnect(store)
    aws.kms.enable_key(KeyId=key)
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Unavailable"
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


FAILING = FIX + " (How to fix a failing KMS key)"


@evidence("guide", FAILING, "creating a key in a disconnected store returns CustomKeyStoreInvalidStateException")
def test_create_key_in_a_disconnected_store(aws):
    store, _, _ = aws.store()
    status, code, _ = error_of(lambda: aws.kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store))
    assert (status, code) == (400, "CustomKeyStoreInvalidStateException")


@evidence("guide", FAILING, "with every HSM deleted, cryptographic operations fail although the key reads Enabled "
                            "and the store CONNECTED")
def test_crypto_fails_when_the_cluster_lost_its_hsms(aws):
    store, cluster = aws.connected()
    key = aws.key(store)
    for hsm in aws.hsms(cluster):
        aws.env("delete_hsm", cluster, hsm)
    status, code, _ = error_of(lambda: aws.kms.encrypt(KeyId=key, Plaintext=b"data"))
    assert code == "KMSInvalidStateException"
    assert aws.state(store) == "CONNECTED"
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


@evidence("guide", FAILING, "no free PKCS #11 session in the cluster: a KMSInternalException; back off and retry")
def test_no_free_pkcs11_session_is_an_internal_error_worth_retrying(aws):
    store, cluster = aws.connected()
    key = aws.key(store)
    aws.env("sessions_exhausted", cluster)
    status, code, _ = error_of(lambda: aws.kms.encrypt(KeyId=key, Plaintext=b"data"))
    assert (status, code) == (500, "KMSInternalException")
    aws.env("sessions_freed", cluster)
    assert aws.kms.encrypt(KeyId=key, Plaintext=b"data")["CiphertextBlob"]


@evidence("guide", FIX + " (How to respond to a cryptographic operation failure)",
          "a firewall or security group rule blocking KMS: KMSInvalidStateException, an HTTP 400 by the guide "
          "(Smithy says 409: AMB-21)")
def test_blocked_network_fails_crypto_with_invalid_state(aws):
    store, cluster = aws.connected()
    key = aws.key(store)
    aws.env("break_security_group", cluster)
    status, code, _ = error_of(lambda: aws.kms.encrypt(KeyId=key, Plaintext=b"data"))
    assert status in {400, 409} and code == "KMSInvalidStateException"


@evidence("guide", FIX + " (How to respond to a cryptographic operation failure)",
          "the guide quotes the message: KMS cannot communicate with your CloudHSM cluster")
def test_blocked_network_message_is_aws_wording(aws):
    store, cluster = aws.connected()
    key = aws.key(store)
    aws.env("break_security_group", cluster)
    _, _, message = error_of(lambda: aws.kms.encrypt(KeyId=key, Plaintext=b"data"))
    assert message.rstrip(".") == "KMS cannot communicate with your CloudHSM cluster"  # the quote has no period


@evidence("guide", "awsdocs/aws-kms-developer-guide doc_source/create-cmk-keystore.md",
          "to create a key the store must be connected and its cluster hold two active HSMs in different AZs")
def test_create_key_needs_two_active_hsms_in_two_zones(aws):
    store, cluster = aws.connected()
    aws.env("delete_hsm", cluster, aws.hsms(cluster)[1])
    status, code, _ = error_of(lambda: aws.kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store))
    assert (status, code) == (400, "CloudHsmClusterInvalidConfigurationException")


@evidence("guide", "awsdocs/aws-kms-developer-guide doc_source/create-cmk-keystore.md",
          "CloudHSM DescribeClusters tells the number of active HSMs and their Availability Zones")
def test_describe_clusters_shows_active_hsms_and_their_zones(aws):
    _, cluster = aws.connected()
    [described] = aws.hsm.describe_clusters(Filters={"clusterIds": [cluster]})["Clusters"]
    assert described["State"] == "ACTIVE"
    assert sorted(h["AvailabilityZone"] for h in described["Hsms"] if h["State"] == "ACTIVE") == [
        "us-east-1a", "us-east-1b"]


@evidence("guide", FIX + " (How to recover deleted key material)",
          "key material deleted from the cluster (by a person logged in as kmsuser, after disconnecting and "
          "resetting its password as the guide's How to log in as kmsuser says): the key still reads Enabled "
          "but cannot be used")
def test_deleted_key_material_makes_the_key_unusable(aws):
    store, cluster = aws.connected()
    key = aws.key(store)
    aws.disconnect(store)
    assert aws.env("change_kmsuser_password", cluster, "Person0pw")["applied"]
    assert aws.env("kmsuser_logs_in", cluster)["applied"]
    assert aws.env("delete_key_material", cluster, key)["applied"]
    aws.env("kmsuser_logs_out", cluster)
    aws.kms.update_custom_key_store(CustomKeyStoreId=store, KeyStorePassword="Person0pw")
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    status, code, _ = error_of(lambda: aws.kms.encrypt(KeyId=key, Plaintext=b"data"))
    assert code == "KMSInvalidStateException"
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


@evidence("guide", "awsdocs/aws-kms-developer-guide doc_source/create-keystore.md (tip)",
          "a new store need not be connected at once: it stays DISCONNECTED until you connect it; connecting, "
          "viewing the state and disconnecting verifies the configuration")
def test_a_new_store_stays_disconnected_until_connected(aws):
    store, _, _ = aws.store()
    aws.wait(86400)
    entry = aws.entry(store)
    assert entry["ConnectionState"] == "DISCONNECTED" and "ConnectionErrorCode" not in entry
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"
    aws.disconnect(store)
    assert aws.state(store) == "DISCONNECTED"


@evidence("guide", "awsdocs/aws-kms-developer-guide doc_source/create-cmk-keystore.md",
          "two active HSMs are not enough when they share an Availability Zone: key creation is refused")
def test_create_key_needs_hsms_in_two_different_zones(aws):
    store, cluster = aws.connected()
    aws.env("delete_hsm", cluster, aws.hsms(cluster)[1])
    aws.env("create_hsm", cluster, "us-east-1a")
    assert len(aws.hsms(cluster)) == 2
    status, code, _ = error_of(lambda: aws.kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store))
    assert (status, code) == (400, "CloudHsmClusterInvalidConfigurationException")


@evidence("guide", FIX + " (How to delete orphaned key material)",
          "a key in a disconnected store can be scheduled for deletion; after the waiting period KMS deletes the key "
          "(its material stays in the cluster, as the guide warns)")
def test_keys_of_a_disconnected_store_are_deleted_after_their_window(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    aws.disconnect(store)
    assert aws.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)["KeyState"] == "PendingDeletion"
    aws.wait(7 * 86400 + 1)
    assert error_of(lambda: aws.kms.describe_key(KeyId=key))[:2] == (404, "NotFoundException")


@evidence("guide", UNAVAILABLE, "disabling an unavailable key leaves it Unavailable; on reconnect it is Disabled")
def test_disable_on_an_unavailable_key_takes_effect_on_reconnect(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    aws.disconnect(store)
    aws.kms.disable_key(KeyId=key)
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Unavailable"
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
