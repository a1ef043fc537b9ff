"""The KMS calls real tools make around key stores, replayed against ``ckspec serve``: the AWS CLI's
examples for keys, aliases, tags, policies, rotation and cryptography, with a key in a CloudHSM
key store (and an ordinary AWS_KMS key where an application would have one next to it)."""

from __future__ import annotations

from fidelity.support import disagrees, error_of, evidence

CLI = "aws/aws-cli awscli/examples/kms/"
ROTATE = "awsdocs/aws-kms-developer-guide doc_source/rotate-keys.md"
CONTEXT = "awsdocs/aws-kms-developer-guide doc_source/concepts.md (encryption context)"


def _cloudhsm_key(aws) -> str:
    store, _ = aws.connected()
    return aws.key(store)


@evidence("aws-cli", CLI + "encrypt.rst, decrypt.rst",
          "encrypt then decrypt without naming the key: the plaintext comes back with the key's ARN")
def test_encrypt_decrypt_round_trip(aws):
    key = _cloudhsm_key(aws)
    blob = aws.kms.encrypt(KeyId=key, Plaintext=b"ExamplePlaintext")["CiphertextBlob"]
    answer = aws.kms.decrypt(CiphertextBlob=blob)
    assert answer["Plaintext"] == b"ExamplePlaintext" and answer["KeyId"].endswith(f":key/{key}")


@evidence("aws-cli", CLI + "generate-data-key-without-plaintext.rst",
          "generate-data-key-without-plaintext returns a CiphertextBlob and the key ARN, no Plaintext")
def test_generate_data_key_without_plaintext(aws):
    key = _cloudhsm_key(aws)
    answer = aws.kms.generate_data_key_without_plaintext(KeyId=key, NumberOfBytes=64)
    assert "Plaintext" not in answer and answer["CiphertextBlob"]
    assert len(aws.kms.decrypt(CiphertextBlob=answer["CiphertextBlob"])["Plaintext"]) == 64


@evidence("guide", CONTEXT, "decryption needs exactly the encryption context used to encrypt; another context "
                            "fails with InvalidCiphertextException")
def test_decrypt_with_another_encryption_context_fails(aws):
    key = _cloudhsm_key(aws)
    blob = aws.kms.encrypt(KeyId=key, Plaintext=b"secret", EncryptionContext={"purpose": "test"})["CiphertextBlob"]
    assert error_of(lambda: aws.kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "prod"}))[1] == \
        "InvalidCiphertextException"


@evidence("guide", CONTEXT, "a ciphertext encrypted with an encryption context does not decrypt without one")
def test_decrypt_without_the_encryption_context_fails(aws):
    key = _cloudhsm_key(aws)
    blob = aws.kms.encrypt(KeyId=key, Plaintext=b"secret", EncryptionContext={"purpose": "test"})["CiphertextBlob"]
    assert error_of(lambda: aws.kms.decrypt(CiphertextBlob=blob))[1] == "InvalidCiphertextException"


@evidence("aws-cli", CLI + "encrypt.rst",
          "the ciphertext is an opaque, randomized blob: the same plaintext encrypts differently each time and "
          "reveals none of its bytes")
def test_ciphertexts_are_randomized_and_opaque(aws):
    key = _cloudhsm_key(aws)
    first = aws.kms.encrypt(KeyId=key, Plaintext=b"attack at dawn")["CiphertextBlob"]
    second = aws.kms.encrypt(KeyId=key, Plaintext=b"attack at dawn")["CiphertextBlob"]
    assert first != second
    assert b"dawn" not in first and b"dawn" not in second


@evidence("aws-cli", CLI + "generate-data-key.rst",
          "the data key's Plaintext is fresh key material, not all-zero bytes")
def test_data_keys_are_random(aws):
    key = _cloudhsm_key(aws)
    first = aws.kms.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]
    second = aws.kms.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]
    assert first != second and first != bytes(32)


@evidence("aws-cli", CLI + "re-encrypt.rst",
          "re-encrypt takes a ciphertext from its source key to a destination key")
def test_re_encrypt_between_keys(aws):
    store, _ = aws.connected()
    source, destination = aws.key(store), aws.key(store)
    blob = aws.kms.encrypt(KeyId=source, Plaintext=b"data")["CiphertextBlob"]
    answer = aws.kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=source, DestinationKeyId=destination)
    assert answer["KeyId"].endswith(f":key/{destination}")
    assert aws.kms.decrypt(CiphertextBlob=answer["CiphertextBlob"])["Plaintext"] == b"data"


@evidence("aws-cli", CLI + "list-keys.rst",
          "list-keys returns every key of the account and Region as KeyId and KeyArn")
def test_list_keys_shows_the_cloudhsm_key(aws):
    key = _cloudhsm_key(aws)
    [listed] = aws.kms.list_keys()["Keys"]
    assert listed["KeyId"] == key and listed["KeyArn"].endswith(f":key/{key}")


@evidence("aws-cli", CLI + "create-alias.rst, list-aliases.rst",
          "create-alias names a key; list-aliases shows the alias with its target key ID")
def test_alias_for_a_cloudhsm_key(aws):
    key = _cloudhsm_key(aws)
    aws.kms.create_alias(AliasName="alias/example-hsm", TargetKeyId=key)
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in aws.kms.list_aliases(KeyId=key)["Aliases"]}
    assert aliases == {"alias/example-hsm": key}
    assert aws.kms.describe_key(KeyId="alias/example-hsm")["KeyMetadata"]["KeyId"] == key


@evidence("aws-cli", CLI + "update-alias.rst, delete-alias.rst",
          "update-alias points an alias at another key; delete-alias removes it")
def test_update_and_delete_an_alias(aws):
    store, _ = aws.connected()
    first, second = aws.key(store), aws.key(store)
    aws.kms.create_alias(AliasName="alias/rotating", TargetKeyId=first)
    aws.kms.update_alias(AliasName="alias/rotating", TargetKeyId=second)
    assert aws.kms.describe_key(KeyId="alias/rotating")["KeyMetadata"]["KeyId"] == second
    aws.kms.delete_alias(AliasName="alias/rotating")
    assert error_of(lambda: aws.kms.describe_key(KeyId="alias/rotating"))[1] == "NotFoundException"


@evidence("aws-cli", CLI + "tag-resource.rst, untag-resource.rst, list-resource-tags.rst",
          "tag-resource adds tags, list-resource-tags shows them, untag-resource removes them")
def test_tags_on_a_cloudhsm_key(aws):
    key = _cloudhsm_key(aws)
    aws.kms.tag_resource(KeyId=key, Tags=[{"TagKey": "Purpose", "TagValue": "Test"}])
    assert aws.kms.list_resource_tags(KeyId=key)["Tags"] == [{"TagKey": "Purpose", "TagValue": "Test"}]
    aws.kms.untag_resource(KeyId=key, TagKeys=["Purpose"])
    assert aws.kms.list_resource_tags(KeyId=key)["Tags"] == []


@evidence("aws-cli", CLI + "get-key-policy.rst, list-key-policies.rst, put-key-policy.rst",
          "every key has one policy named default; put-key-policy replaces it and get-key-policy reads it back")
def test_key_policy_of_a_cloudhsm_key(aws):
    key = _cloudhsm_key(aws)
    assert aws.kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    policy = ('{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM policies","Effect":"Allow",'
              '"Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}')
    aws.kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
    assert "Enable IAM policies" in aws.kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]


@evidence("aws-cli", CLI + "update-key-description.rst",
          "update-key-description replaces the description describe-key shows")
def test_update_key_description(aws):
    key = _cloudhsm_key(aws)
    aws.kms.update_key_description(KeyId=key, Description="Example description that indicates the intended use")
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["Description"].startswith("Example description")


@evidence("guide", ROTATE, "automatic rotation is not supported for keys in custom key stores: enabling it "
                           "is refused with UnsupportedOperationException")
def test_enable_key_rotation_is_unsupported_for_cloudhsm_keys(aws):
    key = _cloudhsm_key(aws)
    assert error_of(lambda: aws.kms.enable_key_rotation(KeyId=key))[:2] == (400, "UnsupportedOperationException")


@evidence("forum", "https://github.com/ansible-collections/community.aws/pull/311",
          "GetKeyRotationStatus on a key whose origin is not AWS_KMS raises UnsupportedOperationException "
          "(the pull request quotes the real error for an EXTERNAL key)")
def test_get_key_rotation_status_is_unsupported_for_cloudhsm_keys(aws):
    key = _cloudhsm_key(aws)
    assert error_of(lambda: aws.kms.get_key_rotation_status(KeyId=key))[:2] == (400, "UnsupportedOperationException")


@evidence("forum", "https://github.com/ansible-collections/community.aws/pull/311",
          "AWS's message names the key ARN and its origin: '<key ARN> origin is <ORIGIN> which is not valid for "
          "this operation.'")
def test_get_key_rotation_status_message_is_aws_wording(aws):
    key = _cloudhsm_key(aws)
    _, _, message = error_of(lambda: aws.kms.get_key_rotation_status(KeyId=key))
    assert message.rstrip(".").endswith(f":key/{key} origin is AWS_CLOUDHSM which is not valid for this operation")


@evidence("aws-cli", CLI + "disable-key-rotation.rst",
          "disable-key-rotation is a KMS call tools make on every key; for a key in a CloudHSM key store rotation "
          "is unsupported (" + ROTATE + ")")
def test_disable_key_rotation_is_unsupported_for_cloudhsm_keys(aws):
    key = _cloudhsm_key(aws)
    assert error_of(lambda: aws.kms.disable_key_rotation(KeyId=key))[:2] == (400, "UnsupportedOperationException")


@evidence("aws-cli", CLI + "create-key.rst (example 1), get-key-rotation-status.rst",
          "an ordinary key (no parameters: AWS_KMS, SYMMETRIC_DEFAULT) next to the store's keys; its rotation "
          "status reads KeyRotationEnabled")
def test_an_ordinary_aws_kms_key_next_to_the_store(aws):
    _cloudhsm_key(aws)
    meta = aws.kms.create_key()["KeyMetadata"]
    assert (meta["Origin"], meta["KeySpec"], meta["KeyState"]) == ("AWS_KMS", "SYMMETRIC_DEFAULT", "Enabled")
    assert "CustomKeyStoreId" not in meta
    assert aws.kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is False


SDK = "awsdocs/aws-doc-sdk-examples python/example_code/kms/"


@evidence("aws-sdk", SDK + "key_management.py (ListKeys)",
          "keys listed with the list_keys paginator, PageSize 10: a Truncated page, then the rest")
def test_list_keys_in_pages_of_ten(aws):
    store, _ = aws.connected()
    keys = sorted(aws.key(store) for _ in range(12))
    pages = list(aws.kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 10}))
    assert [p["Truncated"] for p in pages] == [True, False]
    assert sorted(k["KeyId"] for p in pages for k in p["Keys"]) == keys


@evidence("aws-sdk", SDK + "key_management.py (DisableKey, EnableKey)",
          "disable then enable a key, describing it after each change: Disabled, then Enabled")
def test_disable_then_enable_a_key(aws):
    key = _cloudhsm_key(aws)
    aws.kms.disable_key(KeyId=key)
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    aws.kms.enable_key(KeyId=key)
    assert aws.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


@evidence("aws-sdk", SDK + "alias_management.py (CreateAlias)",
          "creating an alias that exists fails with AlreadyExistsException, which the example handles")
def test_create_an_existing_alias(aws):
    key = _cloudhsm_key(aws)
    aws.kms.create_alias(AliasName="alias/demo", TargetKeyId=key)
    assert error_of(lambda: aws.kms.create_alias(AliasName="alias/demo", TargetKeyId=key))[1] == \
        "AlreadyExistsException"


@evidence("aws-sdk", SDK + "alias_management.py (ListAliases)",
          "aliases listed with the list_aliases paginator in pages of a given size, Truncated until the last")
def test_list_aliases_in_pages(aws):
    key = _cloudhsm_key(aws)
    names = {f"alias/demo-{n}" for n in range(5)}
    for name in names:
        aws.kms.create_alias(AliasName=name, TargetKeyId=key)
    pages = list(aws.kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 2}))
    assert all(p["Truncated"] for p in pages[:-1]) and not pages[-1]["Truncated"]
    assert names <= {a["AliasName"] for p in pages for a in p["Aliases"]}
