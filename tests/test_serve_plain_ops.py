"""ckspec serve answers the KMS calls applications make around their keys (KS-07, KS-09, CRYPTO-01):
ordinary AWS_KMS keys, ListKeys and ListAliases with paging, aliases, tags, key policies,
rotation, descriptions, data keys and ReEncrypt; for keys in a CloudHSM key store as well as
for ordinary ones. Every answer fits botocore's output shape."""

from __future__ import annotations

import pytest
from ckspec.emulator import EmulatorServer, ServeOptions
from ckspec.model.aws_service import check_output
from serve_accounts import client, connected_store, control, error, hsm_key

OPTIONS = ServeOptions(clock="manual", connect_delay=2.0, lag=0.0)


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(OPTIONS, idle_timeout=120) as running:
        yield running


@pytest.fixture()
def kms(server):
    control(server, "/reset", {})
    return client(server)


def fits(operation: str, body: dict) -> dict:
    body = {k: v for k, v in body.items() if k != "ResponseMetadata"}
    assert check_output(operation, body) == [], (operation, check_output(operation, body))
    return body


def test_an_ordinary_key_lives_its_whole_life(kms):
    meta = fits("CreateKey", kms.create_key(Description="orders"))["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"], meta["Description"], meta["KeySpec"]) == \
           ("AWS_KMS", "Enabled", "orders", "SYMMETRIC_DEFAULT")
    assert "CustomKeyStoreId" not in meta
    kms.disable_key(KeyId=meta["KeyId"])
    assert kms.describe_key(KeyId=meta["Arn"])["KeyMetadata"]["KeyState"] == "Disabled"
    deletion = fits("ScheduleKeyDeletion", kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7))
    assert deletion["KeyState"] == "PendingDeletion" and deletion["PendingWindowInDays"] == 7
    assert error(lambda: kms.enable_key(KeyId=meta["KeyId"]))[:2] == (
        "KMSInvalidStateException", f"{meta['Arn']} is pending deletion.")
    kms.cancel_key_deletion(KeyId=meta["KeyId"])
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert kms.list_keys()["Keys"] == [{"KeyId": meta["KeyId"], "KeyArn": meta["Arn"]}]


def test_a_key_whose_waiting_period_ends_is_gone_with_its_aliases(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/short-lived", TargetKeyId=key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    control(server, "/wait", {"seconds": 7 * 86400 + 1})
    assert error(lambda: kms.describe_key(KeyId=key))[0] == "NotFoundException"
    assert kms.list_aliases()["Aliases"] == []
    assert kms.list_keys()["Keys"] == []


def test_list_keys_pages_through_every_key_ordinary_and_in_a_custom_key_store(server, kms):
    store = connected_store(server, kms)
    made = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)] + [hsm_key(server, kms, store)]
    made.append(kms.create_key()["KeyMetadata"]["KeyId"])
    seen, marker, pages = [], None, 0
    while True:
        page = fits("ListKeys", kms.list_keys(Limit=2, **({"Marker": marker} if marker else {})))
        pages += 1
        seen += [k["KeyId"] for k in page["Keys"]]
        assert all(k["KeyArn"].endswith(k["KeyId"]) for k in page["Keys"])
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert (seen, pages) == (made, 3)
    paged = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1})
             for k in p["Keys"]]
    assert paged == made
    assert error(lambda: kms.list_keys(Marker="not-ours"))[0] == "InvalidMarkerException"


def test_aliases_name_keys_everywhere_a_key_id_goes(server, kms):
    store = connected_store(server, kms)
    ordinary, in_store = kms.create_key()["KeyMetadata"]["KeyId"], hsm_key(server, kms, store)
    kms.create_alias(AliasName="alias/app", TargetKeyId=ordinary)
    kms.create_alias(AliasName="alias/hsm", TargetKeyId=f"arn:aws:kms:us-east-1:111122223333:key/{in_store}")
    assert kms.describe_key(KeyId="alias/hsm")["KeyMetadata"]["KeyId"] == in_store
    assert kms.encrypt(KeyId="arn:aws:kms:us-east-1:111122223333:alias/app", Plaintext=b"x")["KeyId"].endswith(ordinary)
    code, message, _ = error(lambda: kms.create_alias(AliasName="alias/app", TargetKeyId=in_store))
    assert (code, message) == ("AlreadyExistsException",
                               "An alias with the name arn:aws:kms:us-east-1:111122223333:alias/app already exists")
    assert error(lambda: kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=ordinary))[0] == \
        "InvalidAliasNameException"
    assert error(lambda: kms.create_alias(AliasName="app", TargetKeyId=ordinary))[0] == "ValidationException"
    kms.update_alias(AliasName="alias/app", TargetKeyId=in_store)
    listed = fits("ListAliases", kms.list_aliases(KeyId=in_store))
    assert sorted(a["AliasName"] for a in listed["Aliases"]) == ["alias/app", "alias/hsm"]
    first = kms.list_aliases(Limit=1)
    assert first["Truncated"] and len(first["Aliases"]) == 1
    assert kms.list_aliases(Marker=first["NextMarker"])["Aliases"][0]["AliasName"] == "alias/hsm"
    kms.delete_alias(AliasName="alias/app")
    assert error(lambda: kms.delete_alias(AliasName="alias/app"))[:2] == (
        "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:alias/app is not found.")
    assert error(lambda: kms.describe_key(KeyId="alias/app"))[0] == "NotFoundException"


def test_tags_policies_and_descriptions_stay_manageable_on_an_unavailable_key(server, kms):
    """KS-07: a key in a disconnected CloudHSM key store reads Unavailable and is still managed."""
    store = connected_store(server, kms)
    key = hsm_key(server, kms, store)
    kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    control(server, "/wait", {"seconds": 5})
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Unavailable"
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": f"t{i}", "TagValue": str(i)} for i in range(3)])
    kms.untag_resource(KeyId=key, TagKeys=["t1"])
    page = fits("ListResourceTags", kms.list_resource_tags(KeyId=key, Limit=1))
    assert page["Tags"] == [{"TagKey": "t0", "TagValue": "0"}] and page["Truncated"]
    assert kms.list_resource_tags(KeyId=key, Marker=page["NextMarker"])["Tags"] == [{"TagKey": "t2", "TagValue": "2"}]
    assert error(lambda: kms.tag_resource(KeyId=key, Tags=[{"TagKey": "aws:x", "TagValue": "y"}]))[0] == "TagException"
    policy = fits("GetKeyPolicy", kms.get_key_policy(KeyId=key, PolicyName="default"))
    assert '"kms:*"' in policy["Policy"] and policy["PolicyName"] == "default"
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy='{"Version": "2012-10-17", "Statement": []}')
    assert kms.get_key_policy(KeyId=key)["Policy"] == '{"Version": "2012-10-17", "Statement": []}'
    assert error(lambda: kms.put_key_policy(KeyId=key, Policy="{not json"))[0] == "MalformedPolicyDocumentException"
    assert fits("ListKeyPolicies", kms.list_key_policies(KeyId=key))["PolicyNames"] == ["default"]
    kms.update_key_description(KeyId=key, Description="payments")
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["Description"] == "payments"
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert error(lambda: kms.update_key_description(KeyId=key, Description="x"))[0] == "KMSInvalidStateException"


def test_rotation_is_unsupported_in_a_cloudhsm_key_store_and_works_on_ordinary_keys(server, kms):
    """KS-09: every rotation call on a CloudHSM key store key, in AWS's words; DisableKeyRotation too
    (an IaC provider calls it on every key)."""
    store = connected_store(server, kms)
    key = hsm_key(server, kms, store)
    arn = f"arn:aws:kms:us-east-1:111122223333:key/{key}"
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.get_key_rotation_status):
        code, message, headers = error(lambda: call(KeyId=key))
        assert (code, message) == ("UnsupportedOperationException",
                                   f"{arn} origin is AWS_CLOUDHSM which is not valid for this operation.")
        assert "KS-09" in headers["x-ckspec-rules"]
    ordinary = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=ordinary)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=ordinary, RotationPeriodInDays=180)
    status = fits("GetKeyRotationStatus", kms.get_key_rotation_status(KeyId=ordinary))
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 180
    kms.disable_key_rotation(KeyId=ordinary)
    assert kms.get_key_rotation_status(KeyId=ordinary)["KeyRotationEnabled"] is False
    kms.disable_key(KeyId=ordinary)
    assert error(lambda: kms.disable_key_rotation(KeyId=ordinary))[0] == "DisabledException"


def test_data_keys_and_reencrypt_cross_between_key_kinds(server, kms):
    store = connected_store(server, kms)
    in_store, ordinary = hsm_key(server, kms, store), kms.create_key()["KeyMetadata"]["KeyId"]
    data = fits("GenerateDataKey", kms.generate_data_key(KeyId=in_store, KeySpec="AES_256"))
    assert len(data["Plaintext"]) == 32
    bare = fits("GenerateDataKeyWithoutPlaintext",
                kms.generate_data_key_without_plaintext(KeyId=ordinary, NumberOfBytes=24, EncryptionContext={"a": "1"}))
    assert "Plaintext" not in bare
    moved = fits("ReEncrypt", kms.re_encrypt(CiphertextBlob=data["CiphertextBlob"], DestinationKeyId=ordinary,
                                            DestinationEncryptionContext={"to": "ordinary"}))
    assert moved["SourceKeyId"].endswith(in_store) and moved["KeyId"].endswith(ordinary)
    back = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"to": "ordinary"})
    assert back["Plaintext"] == data["Plaintext"]
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"], EncryptionContext={"a": "1"})["Plaintext"]) == 24
    assert error(lambda: kms.generate_data_key(KeyId=ordinary))[0] == "ValidationException"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    control(server, "/wait", {"seconds": 5})
    assert error(lambda: kms.re_encrypt(CiphertextBlob=moved["CiphertextBlob"], DestinationKeyId=in_store,
                                        SourceEncryptionContext={"to": "ordinary"}))[0] == "KMSInvalidStateException"


def test_unknown_keys_and_aliases_are_not_found_in_kms_words(kms):
    assert error(lambda: kms.tag_resource(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab", Tags=[]))[:2] == (
        "NotFoundException", "Key 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' "
                             "does not exist")
    assert error(lambda: kms.get_key_policy(KeyId="not-a-key-id"))[:2] == ("NotFoundException",
                                                                         "Invalid keyId not-a-key-id")
    assert error(lambda: kms.list_aliases(KeyId="alias/none"))[0] == "NotFoundException"
