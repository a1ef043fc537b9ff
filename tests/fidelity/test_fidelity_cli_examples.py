"""The AWS CLI's own KMS examples (aws/aws-cli, awscli/examples/kms/*.rst), replayed with boto3
against ``ckspec serve``: what each example sends, and what its output shows or its notes say."""

from __future__ import annotations

import re

import pytest

from fidelity.support import PASSWORD, disagrees, error_of, evidence

CLI = "aws/aws-cli awscli/examples/kms/"
STORE_ID = re.compile(r"cks-[0-9a-f]{17}")


@evidence("aws-cli", CLI + "create-custom-key-store.rst (example 1)",
          "create-custom-key-store with the four required parameters (password kmsPswd, 7 characters) "
          "outputs only a CustomKeyStoreId of the form cks-<17 hex digits>")
def test_create_cloudhsm_store_returns_only_its_id(aws):
    cluster, anchor = aws.cluster()
    answer = aws.kms.create_custom_key_store(CustomKeyStoreName="ExampleCloudHSMKeyStore", CloudHsmClusterId=cluster,
                                             TrustAnchorCertificate=anchor, KeyStorePassword="kmsPswd")
    answer.pop("ResponseMetadata")
    assert list(answer) == ["CustomKeyStoreId"]
    assert STORE_ID.fullmatch(answer["CustomKeyStoreId"])


@evidence("aws-cli", CLI + "create-custom-key-store.rst (example 2)",
          "an external key store with public endpoint connectivity is created by the same operation "
          "(CustomKeyStoreType EXTERNAL_KEY_STORE, proxy URI endpoint and path, authentication credential)")
def test_create_external_key_store_with_public_endpoint(aws):
    answer = aws.kms.create_custom_key_store(
        CustomKeyStoreName="ExamplePublicEndpointXKS", CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyConnectivity="PUBLIC_ENDPOINT", XksProxyUriEndpoint="https://myproxy.xks.example.com",
        XksProxyUriPath="/example-prefix/kms/xks/v1",
        # the example's access key ID holds 0 and 1, outside botocore's ^[A-Z2-7]+$: a valid one here
        XksProxyAuthenticationCredential={"AccessKeyId": "ABCDEFGHIJKLMNOPQRST",
                                          "RawSecretAccessKey": "DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo="})
    assert STORE_ID.fullmatch(answer["CustomKeyStoreId"])
    entry = aws.entry(answer["CustomKeyStoreId"])
    assert entry["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE"
    assert entry["XksProxyConfiguration"]["Connectivity"] == "PUBLIC_ENDPOINT"
    assert "CloudHsmClusterId" not in entry and "TrustAnchorCertificate" not in entry


@evidence("aws-cli", CLI + "create-custom-key-store.rst (example 3)",
          "an external key store with VPC endpoint service connectivity names its endpoint service")
def test_create_external_key_store_with_vpc_endpoint_service(aws):
    answer = aws.kms.create_custom_key_store(
        CustomKeyStoreName="ExampleVPCEndpointXKS", CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyConnectivity="VPC_ENDPOINT_SERVICE", XksProxyUriEndpoint="https://myproxy-private.xks.example.com",
        XksProxyUriPath="/kms/xks/v1", XksProxyVpcEndpointServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-example1",
        XksProxyAuthenticationCredential={"AccessKeyId": "ABCDEFGHIJKLMNOPQRST",
                                          "RawSecretAccessKey": "DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo="})
    entry = aws.entry(answer["CustomKeyStoreId"])
    assert entry["XksProxyConfiguration"]["VpcEndpointServiceName"] == "com.amazonaws.vpce.us-east-1.vpce-svc-example1"


@evidence("aws-cli", CLI + "connect-custom-key-store.rst",
          "connect-custom-key-store returns no output; describe-custom-key-stores shows the effect")
def test_connect_returns_nothing_and_describe_shows_the_connection(aws):
    store, _, _ = aws.store()
    answer = aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    answer.pop("ResponseMetadata")
    assert answer == {}
    assert aws.state(store) in {"CONNECTING", "CONNECTED"}
    aws.wait()
    assert aws.state(store) == "CONNECTED"


@evidence("aws-cli", CLI + "connect-custom-key-store.rst",
          "the same command reconnects a key store that was disconnected")
def test_connect_again_after_a_disconnect(aws):
    store, _ = aws.connected()
    aws.disconnect(store)
    assert aws.state(store) == "DISCONNECTED"
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"


@evidence("aws-cli", CLI + "describe-custom-key-stores.rst (example 1)",
          "describe by name returns the one store with its cluster ID, trust anchor, creation date, "
          "ConnectionState, and no ConnectionErrorCode unless FAILED")
def test_describe_by_name_shows_the_cloudhsm_entry(aws):
    store, cluster, anchor = aws.store("ExampleCloudHSMKeyStore")
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    [entry] = aws.kms.describe_custom_key_stores(CustomKeyStoreName="ExampleCloudHSMKeyStore")["CustomKeyStores"]
    assert entry["CustomKeyStoreId"] == store and entry["CloudHsmClusterId"] == cluster
    assert entry["TrustAnchorCertificate"] == anchor and entry["ConnectionState"] == "CONNECTED"
    assert "CreationDate" in entry and "ConnectionErrorCode" not in entry


@evidence("aws-cli", CLI + "describe-custom-key-stores.rst",
          "with all parameters omitted, the command lists every custom key store in the account and Region")
def test_describe_without_parameters_lists_every_store(aws):
    first, _, _ = aws.store("one")
    second, _, _ = aws.store("two")
    listed = aws.kms.describe_custom_key_stores()["CustomKeyStores"]
    assert sorted(e["CustomKeyStoreId"] for e in listed) == sorted([first, second])


@evidence("aws-cli", CLI + "disconnect-custom-key-store.rst",
          "disconnect-custom-key-store produces no output; the store ends DISCONNECTED")
def test_disconnect_returns_nothing(aws):
    store, _ = aws.connected()
    answer = aws.kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    answer.pop("ResponseMetadata")
    assert answer == {}
    assert aws.state(store) in {"DISCONNECTING", "DISCONNECTED"}
    aws.wait()
    assert aws.state(store) == "DISCONNECTED"


@evidence("aws-cli", CLI + "update-custom-key-store.rst (password example)",
          "update-custom-key-store --key-store-password on a disconnected store returns no output and only "
          "tells KMS the current kmsuser password; connecting then verifies it")
def test_update_password_while_disconnected_then_connect(aws):
    store, cluster, _ = aws.store()
    aws.env("change_kmsuser_password", cluster, "ExamplePassword")
    answer = aws.kms.update_custom_key_store(CustomKeyStoreId=store, KeyStorePassword="ExamplePassword")
    answer.pop("ResponseMetadata")
    assert answer == {}
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"


@evidence("aws-cli", CLI + "update-custom-key-store.rst (note)",
          "before updating the custom key store you must disconnect it")
def test_update_password_while_connected_is_refused(aws):
    store, _ = aws.connected()
    status, code, _ = error_of(lambda: aws.kms.update_custom_key_store(CustomKeyStoreId=store,
                                                                       KeyStorePassword=PASSWORD))
    assert (status, code) == (400, "CustomKeyStoreInvalidStateException")


@evidence("aws-cli", CLI + "update-custom-key-store.rst (example 1, current)",
          "to rename a CloudHSM key store you must first disconnect it (an external key store renames while "
          "connected); the API reference allows the rename (AMB-14): serve answers one of the two")
def test_rename_while_connected_is_one_of_the_documented_outcomes(aws):
    store, _ = aws.connected()
    try:
        aws.kms.update_custom_key_store(CustomKeyStoreId=store, NewCustomKeyStoreName="ExampleKeyStore2")
    except aws.kms.exceptions.CustomKeyStoreInvalidStateException:
        assert aws.entry(store)["CustomKeyStoreName"] == "ExampleKeyStore"
    else:
        assert aws.entry(store)["CustomKeyStoreName"] == "ExampleKeyStore2"


@evidence("aws-cli", CLI + "update-custom-key-store.rst (example 1)",
          "new-custom-key-store-name renames a disconnected store; describe shows the new name")
def test_rename_while_disconnected(aws):
    store, _, _ = aws.store()
    aws.kms.update_custom_key_store(CustomKeyStoreId=store, NewCustomKeyStoreName="DevelopmentKeys")
    [entry] = aws.kms.describe_custom_key_stores(CustomKeyStoreName="DevelopmentKeys")["CustomKeyStores"]
    assert entry["CustomKeyStoreId"] == store


@evidence("aws-cli", CLI + "delete-custom-key-store.rst (note)",
          "before deleting a store, schedule the deletion of all its KMS keys and wait for them to be deleted")
def test_delete_with_keys_pending_deletion_is_refused(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    aws.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    aws.disconnect(store)
    status, code, _ = error_of(lambda: aws.kms.delete_custom_key_store(CustomKeyStoreId=store))
    assert (status, code) == (400, "CustomKeyStoreHasCMKsException")


@evidence("aws-cli", CLI + "delete-custom-key-store.rst (note)",
          "then you must disconnect the custom key store: deleting a connected store is refused")
def test_delete_while_connected_is_refused(aws):
    store, _ = aws.connected()
    status, code, _ = error_of(lambda: aws.kms.delete_custom_key_store(CustomKeyStoreId=store))
    assert (status, code) == (400, "CustomKeyStoreInvalidStateException")


@evidence("aws-cli", CLI + "delete-custom-key-store.rst",
          "the whole sequence: keys deleted after their waiting period, store disconnected, delete returns no "
          "output, describe no longer finds the store, and the cluster is untouched")
def test_the_deletion_sequence(aws):
    store, cluster = aws.connected()
    key = aws.key(store)
    aws.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    aws.disconnect(store)
    aws.wait(7 * 86400 + 1)
    answer = aws.kms.delete_custom_key_store(CustomKeyStoreId=store)
    answer.pop("ResponseMetadata")
    assert answer == {}
    status, code, _ = error_of(lambda: aws.kms.describe_custom_key_stores(CustomKeyStoreId=store))
    assert (status, code) == (400, "CustomKeyStoreNotFoundException")
    assert aws.hsm.describe_clusters(Filters={"clusterIds": [cluster]})["Clusters"][0]["State"] == "ACTIVE"


@evidence("aws-cli", CLI + "create-key.rst (example 6)",
          "create-key --origin AWS_CLOUDHSM --custom-key-store-id: KeyMetadata names the store and its cluster, "
          "SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, CUSTOMER-managed, Enabled, single-Region")
def test_create_key_in_a_cloudhsm_store(aws):
    store, cluster = aws.connected()
    meta = aws.kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store)["KeyMetadata"]
    assert (meta["CustomKeyStoreId"], meta["CloudHsmClusterId"]) == (store, cluster)
    assert (meta["Origin"], meta["KeyManager"], meta["KeyState"], meta["Enabled"]) == (
        "AWS_CLOUDHSM", "CUSTOMER", "Enabled", True)
    assert (meta["KeySpec"], meta["CustomerMasterKeySpec"], meta["KeyUsage"]) == (
        "SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"] and meta["MultiRegion"] is False
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{meta['AWSAccountId']}:key/{meta['KeyId']}"


@evidence("aws-cli", CLI + "create-key.rst (example 6)",
          "--custom-key-store-id and --origin are both required: a store ID without Origin AWS_CLOUDHSM is refused")
def test_create_key_with_store_but_default_origin_is_refused(aws):
    store, _ = aws.connected()
    status, code, _ = error_of(lambda: aws.kms.create_key(CustomKeyStoreId=store))
    assert status == 400 and code in {"UnsupportedOperationException", "ValidationException"}


@evidence("aws-cli", CLI + "generate-random.rst",
          "generate-random --number-of-bytes 32 returns a 32-byte Plaintext")
def test_generate_random_32_bytes(aws):
    assert len(aws.kms.generate_random(NumberOfBytes=32)["Plaintext"]) == 32


@evidence("aws-cli", CLI + "generate-random.rst",
          "unless a custom key store is named, KMS generates the number; naming a connected CloudHSM store "
          "generates it in that store's cluster")
def test_generate_random_in_a_connected_cloudhsm_store(aws):
    store, _ = aws.connected()
    assert len(aws.kms.generate_random(NumberOfBytes=32, CustomKeyStoreId=store)["Plaintext"]) == 32


@evidence("aws-cli", CLI + "generate-random.rst",
          "a random byte string: two calls do not return the same (all-zero) bytes")
def test_generate_random_is_random(aws):
    first = aws.kms.generate_random(NumberOfBytes=32)["Plaintext"]
    second = aws.kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert first != second and first != bytes(32)


@evidence("aws-cli", CLI + "schedule-key-deletion.rst",
          "schedule-key-deletion with a 7-day window answers KeyState PendingDeletion, the window and a "
          "DeletionDate 7 days on")
def test_schedule_key_deletion_in_a_cloudhsm_store(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    created = aws.kms.describe_key(KeyId=key)["KeyMetadata"]["CreationDate"]
    answer = aws.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert (answer["KeyState"], answer["PendingWindowInDays"]) == ("PendingDeletion", 7)
    assert 7 * 86400 <= (answer["DeletionDate"] - created).total_seconds() < 8 * 86400


@evidence("aws-cli", CLI + "cancel-key-deletion.rst",
          "cancel-key-deletion answers the key's ARN and leaves the key no longer PendingDeletion")
def test_cancel_key_deletion(aws):
    store, _ = aws.connected()
    key = aws.key(store)
    aws.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    answer = aws.kms.cancel_key_deletion(KeyId=key)
    assert answer["KeyId"].endswith(key)
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"


@pytest.mark.parametrize("spec, size", [("AES_256", 32), ("AES_128", 16)])
@evidence("aws-cli", CLI + "generate-data-key.rst",
          "generate-data-key --key-spec AES_256 returns a 32-byte Plaintext, a CiphertextBlob and the key's ARN")
def test_generate_data_key_with_a_cloudhsm_key(aws, spec, size):
    store, _ = aws.connected()
    key = aws.key(store)
    answer = aws.kms.generate_data_key(KeyId=key, KeySpec=spec)
    assert len(answer["Plaintext"]) == size and answer["CiphertextBlob"]
    assert answer["KeyId"].endswith(f":key/{key}")
    assert aws.kms.decrypt(CiphertextBlob=answer["CiphertextBlob"])["Plaintext"] == answer["Plaintext"]
