"""botocore's KMS service model (boto/botocore botocore/data/kms/2014-11-01/service-2.json and
paginators-1.json, as installed) held against ``ckspec serve``: the error shapes each operation
lists with the conditions their documentation names, parameter bounds, and paging."""

from __future__ import annotations

import pytest

from fidelity.support import PASSWORD, disagrees, error_of, evidence

MODEL = "boto/botocore botocore/data/kms/2014-11-01/service-2.json"
PAGINATORS = "boto/botocore botocore/data/kms/2014-11-01/paginators-1.json"
INVALID_STATE = MODEL + " (CustomKeyStoreInvalidStateException)"
SDK_UPDATE = ("aws/aws-sdk-js-v3 clients/client-kms/src/commands/UpdateCustomKeyStoreCommand.ts (example "
              "'associate the custom key store with a different, but related, AWS CloudHSM cluster')")
XKS_CREDENTIAL = {"AccessKeyId": "ABCDEFGHIJKLMNOPQRST", "RawSecretAccessKey": "DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo="}


@evidence("aws-sdk", "boto/botocore botocore/data/kms/2014-11-01/examples-1.json (DescribeCustomKeyStores)",
          "in an account without custom key stores, DescribeCustomKeyStores answers an empty CustomKeyStores list")
def test_describe_in_an_empty_account(aws):
    answer = aws.kms.describe_custom_key_stores()
    assert answer["CustomKeyStores"] == [] and answer["Truncated"] is False


def _three_stores(aws) -> list[str]:
    return sorted(aws.store(name)[0] for name in ("one", "two", "three"))


@evidence("botocore", MODEL + " (DescribeCustomKeyStores: Limit, Marker, NextMarker, Truncated)",
          "with Limit, a page says Truncated and gives a NextMarker; following it lists every store once")
def test_describe_pages_by_marker(aws):
    stores = _three_stores(aws)
    seen, marker, pages = [], None, 0
    while True:
        page = aws.kms.describe_custom_key_stores(Limit=1, **({"Marker": marker} if marker else {}))
        pages += 1
        seen += [e["CustomKeyStoreId"] for e in page["CustomKeyStores"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert sorted(seen) == stores and pages == 3


@evidence("botocore", PAGINATORS + " (DescribeCustomKeyStores: input_token Marker, limit_key Limit)",
          "boto3's paginator walks the pages and builds the full list")
def test_describe_paginator_builds_the_full_list(aws):
    stores = _three_stores(aws)
    full = aws.kms.get_paginator("describe_custom_key_stores").paginate(PaginationConfig={"PageSize": 2})
    assert sorted(e["CustomKeyStoreId"] for e in full.build_full_result()["CustomKeyStores"]) == stores


@evidence("botocore", MODEL + " (InvalidMarkerException)", "a Marker that no earlier page gave is refused")
def test_describe_with_a_foreign_marker(aws):
    _three_stores(aws)
    assert error_of(lambda: aws.kms.describe_custom_key_stores(Marker="not-a-marker"))[:2] == (
        400, "InvalidMarkerException")


@pytest.mark.parametrize("limit", [pytest.param(0, id="0"), pytest.param(1001, id="1001")])
@evidence("botocore", MODEL + " (LimitType: 1 to 1000)", "a Limit outside 1..1000 is a validation error")
def test_describe_limit_out_of_range(aws, limit):
    assert error_of(lambda: aws.raw_kms.describe_custom_key_stores(Limit=limit))[:2] == (400, "ValidationException")


@pytest.mark.parametrize("size", [pytest.param(0, id="0"), pytest.param(1025, id="1025")])
@evidence("botocore", MODEL + " (GenerateRandom NumberOfBytes: 1 to 1024)",
          "NumberOfBytes outside 1..1024 is a validation error")
def test_generate_random_size_out_of_range(aws, size):
    assert error_of(lambda: aws.raw_kms.generate_random(NumberOfBytes=size))[:2] == (400, "ValidationException")


@evidence("botocore", MODEL + " (GenerateRandom errors)",
          "GenerateRandom in a CloudHSM store that is not connected raises CustomKeyStoreInvalidStateException")
def test_generate_random_in_a_disconnected_store(aws):
    store, _, _ = aws.store()
    assert error_of(lambda: aws.kms.generate_random(NumberOfBytes=8, CustomKeyStoreId=store))[1] == \
        "CustomKeyStoreInvalidStateException"


@evidence("botocore", MODEL + " (GenerateRandom errors)",
          "GenerateRandom with an unknown CustomKeyStoreId raises CustomKeyStoreNotFoundException")
def test_generate_random_in_an_unknown_store(aws):
    assert error_of(lambda: aws.kms.generate_random(NumberOfBytes=8, CustomKeyStoreId="cks-1234567890abcdef0"))[1] \
        == "CustomKeyStoreNotFoundException"


@evidence("botocore", MODEL + " (GenerateRandom CustomKeyStoreId)",
          "external key stores do not support GenerateRandom: UnsupportedOperationException")
def test_generate_random_in_an_external_key_store(aws):
    xks = aws.kms.create_custom_key_store(
        CustomKeyStoreName="xks", CustomKeyStoreType="EXTERNAL_KEY_STORE", XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyUriEndpoint="https://myproxy.xks.example.com", XksProxyUriPath="/kms/xks/v1",
        XksProxyAuthenticationCredential=XKS_CREDENTIAL)["CustomKeyStoreId"]
    assert error_of(lambda: aws.kms.generate_random(NumberOfBytes=8, CustomKeyStoreId=xks))[1] == \
        "UnsupportedOperationException"


@evidence("botocore", MODEL + " (CustomKeyStoreNameInUseException)", "a second store may not take a name in use")
def test_create_with_a_name_in_use(aws):
    aws.store("taken")
    cluster, anchor = aws.cluster()
    assert error_of(lambda: aws.kms.create_custom_key_store(
        CustomKeyStoreName="taken", CloudHsmClusterId=cluster, TrustAnchorCertificate=anchor,
        KeyStorePassword=PASSWORD))[1] == "CustomKeyStoreNameInUseException"


@evidence("botocore", MODEL + " (CloudHsmClusterInUseException)", "a cluster backs at most one store")
def test_create_on_a_cluster_in_use(aws):
    _, cluster, anchor = aws.store("first")
    assert error_of(lambda: aws.kms.create_custom_key_store(
        CustomKeyStoreName="second", CloudHsmClusterId=cluster, TrustAnchorCertificate=anchor,
        KeyStorePassword=PASSWORD))[1] == "CloudHsmClusterInUseException"


@evidence("botocore", MODEL + " (IncorrectTrustAnchorException)",
          "the trust anchor must be the certificate that signed the cluster's certificate")
def test_create_with_another_clusters_trust_anchor(aws):
    cluster, _ = aws.cluster()
    _, other_anchor = aws.cluster()
    assert error_of(lambda: aws.kms.create_custom_key_store(
        CustomKeyStoreName="s", CloudHsmClusterId=cluster, TrustAnchorCertificate=other_anchor,
        KeyStorePassword=PASSWORD))[1] == "IncorrectTrustAnchorException"


@evidence("botocore", MODEL + " (CloudHsmClusterNotFoundException)", "an unknown cluster ID is refused on create")
def test_create_on_an_unknown_cluster(aws):
    _, anchor = aws.cluster()
    assert error_of(lambda: aws.kms.create_custom_key_store(
        CustomKeyStoreName="s", CloudHsmClusterId="cluster-234567abcde", TrustAnchorCertificate=anchor,
        KeyStorePassword=PASSWORD))[1] == "CloudHsmClusterNotFoundException"


@evidence("botocore", MODEL + " (CloudHsmClusterNotActiveException)", "a cluster that is not active is refused")
def test_create_on_an_inactive_cluster(aws):
    cluster = aws.env("create_cluster", 2)["created"]
    aws.env("create_hsm", cluster, "us-east-1a")
    anchor = aws.env("initialize_cluster", cluster)["created"]
    assert error_of(lambda: aws.kms.create_custom_key_store(
        CustomKeyStoreName="s", CloudHsmClusterId=cluster, TrustAnchorCertificate=anchor,
        KeyStorePassword=PASSWORD))[1] == "CloudHsmClusterNotActiveException"


@evidence("botocore", MODEL + " (CreateCustomKeyStore errors: LimitExceededException)",
          "the account's custom key store quota: the eleventh store is refused")
def test_the_eleventh_store_is_refused(aws):
    for n in range(10):
        aws.store(f"store-{n}")
    cluster, anchor = aws.cluster()
    assert error_of(lambda: aws.kms.create_custom_key_store(
        CustomKeyStoreName="store-10", CloudHsmClusterId=cluster, TrustAnchorCertificate=anchor,
        KeyStorePassword=PASSWORD))[1] == "LimitExceededException"


@evidence("botocore", MODEL + " (CreateCustomKeyStore errors: LimitExceededException)",
          "the quota counts every custom key store, external key stores included")
def test_external_key_stores_count_in_the_quota(aws):
    for n in range(9):
        aws.store(f"store-{n}")
    aws.kms.create_custom_key_store(
        CustomKeyStoreName="xks", CustomKeyStoreType="EXTERNAL_KEY_STORE", XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyUriEndpoint="https://myproxy.xks.example.com", XksProxyUriPath="/kms/xks/v1",
        XksProxyAuthenticationCredential=XKS_CREDENTIAL)
    cluster, anchor = aws.cluster()
    assert error_of(lambda: aws.kms.create_custom_key_store(
        CustomKeyStoreName="store-10", CloudHsmClusterId=cluster, TrustAnchorCertificate=anchor,
        KeyStorePassword=PASSWORD))[1] == "LimitExceededException"


@evidence("botocore", MODEL + " (CloudHsmClusterNotRelatedException)",
          "a store's cluster may change only to a related cluster (same lineage)")
def test_update_to_an_unrelated_cluster(aws):
    store, _, _ = aws.store()
    other, _ = aws.cluster()
    assert error_of(lambda: aws.kms.update_custom_key_store(CustomKeyStoreId=store, CloudHsmClusterId=other))[1] == \
        "CloudHsmClusterNotRelatedException"


@evidence("aws-sdk", SDK_UPDATE, "UpdateCustomKeyStore with the ID of a cluster restored from a backup of the "
                                 "store's cluster returns no data and the store names the new cluster")
def test_update_to_a_related_cluster(aws):
    store, cluster, _ = aws.store()
    restored = aws.env("restore_backup", aws.env("backup_cluster", cluster)["created"])["created"]
    for zone in ("us-east-1a", "us-east-1b"):
        aws.env("create_hsm", restored, zone)
    aws.env("activate_cluster", restored)
    answer = aws.kms.update_custom_key_store(CustomKeyStoreId=store, CloudHsmClusterId=restored)
    answer.pop("ResponseMetadata")
    assert answer == {} and aws.entry(store)["CloudHsmClusterId"] == restored


@pytest.mark.parametrize("operation", ["ConnectCustomKeyStore", "DisconnectCustomKeyStore", "UpdateCustomKeyStore",
                                       "DeleteCustomKeyStore"])
@evidence("botocore", MODEL + " (CustomKeyStoreNotFoundException)",
          "each key store operation lists CustomKeyStoreNotFoundException for an ID with no store")
def test_unknown_store_id(aws, operation):
    params = {"CustomKeyStoreId": "cks-1234567890abcdef0"}
    if operation == "UpdateCustomKeyStore":
        params["NewCustomKeyStoreName"] = "renamed"
    method = getattr(aws.kms, {"ConnectCustomKeyStore": "connect_custom_key_store",
                               "DisconnectCustomKeyStore": "disconnect_custom_key_store",
                               "UpdateCustomKeyStore": "update_custom_key_store",
                               "DeleteCustomKeyStore": "delete_custom_key_store"}[operation])
    assert error_of(lambda: method(**params))[:2] == (400, "CustomKeyStoreNotFoundException")


@evidence("botocore", INVALID_STATE, "Disconnect on a DISCONNECTED store is refused")
def test_disconnect_a_disconnected_store(aws):
    store, _, _ = aws.store()
    assert error_of(lambda: aws.kms.disconnect_custom_key_store(CustomKeyStoreId=store))[1] == \
        "CustomKeyStoreInvalidStateException"


@evidence("botocore", INVALID_STATE, "Connect on a DISCONNECTING store is refused")
def test_connect_a_disconnecting_store(aws):
    store, _ = aws.connected()
    aws.kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    assert aws.state(store) == "DISCONNECTING"
    assert error_of(lambda: aws.kms.connect_custom_key_store(CustomKeyStoreId=store))[1] == \
        "CustomKeyStoreInvalidStateException"


@evidence("botocore", INVALID_STATE, "Connect is valid in every state but DISCONNECTING and FAILED: on a CONNECTED "
                                     "store it is accepted and the store stays CONNECTED")
def test_connect_a_connected_store(aws):
    store, _ = aws.connected()
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"


@evidence("botocore", INVALID_STATE, "CreateKey is valid only while the store is CONNECTED: not while CONNECTING")
def test_create_key_while_connecting(aws):
    store, _, _ = aws.store()
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    assert aws.state(store) == "CONNECTING"
    assert error_of(lambda: aws.kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store))[1] == \
        "CustomKeyStoreInvalidStateException"


@evidence("botocore", MODEL + " (ConnectionStateType)",
          "the five connection states botocore's enum lists are the ones a store passes through")
def test_a_store_passes_through_every_documented_state(aws):
    states = aws.kms.meta.service_model.shape_for("ConnectionStateType").enum
    store, cluster, _ = aws.store()
    seen = {aws.state(store)}
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    seen.add(aws.state(store))
    aws.wait()
    seen.add(aws.state(store))
    aws.kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    seen.add(aws.state(store))
    aws.wait()
    aws.env("delete_kmsuser", cluster)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    seen.add(aws.state(store))
    assert seen == set(states) == {"CONNECTED", "CONNECTING", "FAILED", "DISCONNECTED", "DISCONNECTING"}


@evidence("botocore", INVALID_STATE, "on a CONNECTED store UpdateCustomKeyStore may change only the name: a new "
                                     "cluster ID is refused")
def test_update_cluster_while_connected(aws):
    store, cluster = aws.connected()
    assert error_of(lambda: aws.kms.update_custom_key_store(CustomKeyStoreId=store, CloudHsmClusterId=cluster))[1] == \
        "CustomKeyStoreInvalidStateException"


@evidence("botocore", INVALID_STATE, "DeleteCustomKeyStore on a store that is not disconnected (here FAILED) is "
                                     "refused")
def test_delete_a_failed_store(aws):
    store, cluster, _ = aws.store()
    aws.env("delete_kmsuser", cluster)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "FAILED"
    assert error_of(lambda: aws.kms.delete_custom_key_store(CustomKeyStoreId=store))[1] == \
        "CustomKeyStoreInvalidStateException"


@evidence("botocore", INVALID_STATE, "Disconnect is valid in every state but DISCONNECTING and DISCONNECTED: while "
                                     "CONNECTING it is accepted and the store ends DISCONNECTED (AMB-06)")
def test_disconnect_while_connecting(aws):
    store, _, _ = aws.store()
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "DISCONNECTED"


@evidence("botocore", INVALID_STATE, "Connect is valid while CONNECTING (neither DISCONNECTING nor FAILED): accepted, "
                                     "and the attempt still ends (AMB-02)")
def test_connect_while_connecting(aws):
    store, _, _ = aws.store()
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait()
    assert aws.state(store) == "CONNECTED"
