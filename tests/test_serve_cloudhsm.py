"""ckspec serve, CloudHSM v2 over the wire: clusters, HSMs and backups as boto3 sees them,
and the whole custom key store lifecycle on top of them (CL-01 to CL-08)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from ckspec.emulator import EmulatorServer, ServeOptions
from ckspec.model import aws_service

REGION = "us-west-2"
PASSWORD = "Kmsuser0pw"
ANCHOR = "-----BEGIN CERTIFICATE-----\nMIIBcustomerCA0\n-----END CERTIFICATE-----"
SIGNED = "-----BEGIN CERTIFICATE-----\nMIIBclusterCert0\n-----END CERTIFICATE-----"
SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
CHECKS_OFF = Config(retries={"max_attempts": 1}, parameter_validation=False)


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(ServeOptions(clock="manual", connect_delay=2.0, lag=0.5), idle_timeout=120) as running:
        yield running


@pytest.fixture
def aws(server):
    """Fresh account; boto3 clients for KMS and CloudHSM v2 in REGION, and the test-control extension."""
    control(server, "/reset", {})
    kwargs = {"endpoint_url": server.url, "region_name": REGION, "aws_access_key_id": "test",
              "aws_secret_access_key": "test", "config": CHECKS_OFF}
    return Aws(server, boto3.client("kms", **kwargs), boto3.client("cloudhsmv2", **kwargs))


def control(server: EmulatorServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.url}/_ckspec{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


class Aws:
    def __init__(self, server: EmulatorServer, kms: Any, hsm: Any) -> None:
        self.server, self.kms, self.hsm = server, kms, hsm

    def env(self, event: str, *args: Any) -> dict[str, Any]:
        return control(self.server, "/environment", {"event": event, "args": list(args)})

    def wait(self, seconds: float) -> None:
        control(self.server, "/wait", {"seconds": seconds})

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        found = self.hsm.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"]
        assert len(found) == 1
        return found[0]

    def state(self, store_id: str) -> tuple[str, str | None]:
        entry = self.kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]
        return entry["ConnectionState"], entry.get("ConnectionErrorCode")

    def ready_cluster(self, subnets: list[str] = SUBNETS, anchor: str = ANCHOR) -> str:
        cluster_id = self.hsm.create_cluster(SubnetIds=subnets, HsmType="hsm1.medium")["Cluster"]["ClusterId"]
        self.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")
        self.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=SIGNED, TrustAnchor=anchor)
        self.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")
        assert self.env("activate_cluster", cluster_id) == {"applied": True, "created": None}
        assert self.env("create_kmsuser", cluster_id, PASSWORD)["applied"]
        return cluster_id


def fits(operation: str, response: dict[str, Any]) -> bool:
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    assert aws_service.check_output(operation, body, service="cloudhsmv2") == []
    return True


def refused(call: Any, kind: str, status: int = 400) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (kind, status)
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == kind
    return response["Error"]["Message"]


def test_the_whole_lifecycle_through_boto3_and_the_control_extension(aws):
    created = aws.hsm.create_cluster(SubnetIds=SUBNETS, HsmType="hsm1.medium")
    cluster = created["Cluster"]
    cluster_id = cluster["ClusterId"]
    assert fits("CreateCluster", created)
    assert cluster["State"] == "UNINITIALIZED" and "ClusterCsr" in cluster["Certificates"]  # CL-06
    # subnets take the Region's zones in the order given
    assert cluster["SubnetMapping"] == {f"{REGION}a": SUBNETS[0], f"{REGION}b": SUBNETS[1]}
    first = aws.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")
    assert fits("CreateHsm", first)
    assert (first["Hsm"]["SubnetId"], first["Hsm"]["State"]) == (SUBNETS[0], "ACTIVE")
    initialized = aws.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=SIGNED, TrustAnchor=ANCHOR)
    assert fits("InitializeCluster", initialized) and initialized["State"] == "INITIALIZED"
    aws.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")
    assert aws.env("activate_cluster", cluster_id)["applied"]
    assert aws.env("create_kmsuser", cluster_id, PASSWORD)["applied"]
    described = aws.hsm.describe_clusters()
    assert fits("DescribeClusters", described)
    cluster = aws.cluster(cluster_id)
    assert cluster["State"] == "ACTIVE" and cluster["Certificates"] == {"ClusterCertificate": SIGNED}
    assert {(h["AvailabilityZone"], h["SubnetId"]) for h in cluster["Hsms"]} == set(cluster["SubnetMapping"].items())

    # the caller's trust anchor is the cluster's (CREATE-07)
    store = aws.kms.create_custom_key_store(CustomKeyStoreName="payments", CloudHsmClusterId=cluster_id,
                                            TrustAnchorCertificate=ANCHOR,
                                            KeyStorePassword=PASSWORD)["CustomKeyStoreId"]
    entry = aws.kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]
    assert (entry["CloudHsmClusterId"], entry["TrustAnchorCertificate"]) == (cluster_id, ANCHOR)
    assert entry["ConnectionState"] == "DISCONNECTED"

    # a person logged in as kmsuser: the attempt fails (CEC-09)
    assert aws.env("kmsuser_logs_in", cluster_id)["applied"]
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait(3)
    assert aws.state(store) == ("FAILED", "USER_LOGGED_IN")
    refused(lambda: aws.kms.connect_custom_key_store(CustomKeyStoreId=store),
            "CustomKeyStoreInvalidStateException")  # CONNECT-04
    aws.kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    aws.wait(3)
    assert aws.env("kmsuser_logs_out", cluster_id)["applied"]

    # Connect: CONNECTING, then CONNECTED once the connect delay has passed (TR-01, TR-02)
    aws.kms.connect_custom_key_store(CustomKeyStoreId=store)
    aws.wait(1)
    assert aws.state(store) == ("CONNECTING", None)
    aws.wait(1.5)
    assert aws.state(store) == ("CONNECTED", None)
    key = aws.kms.create_key(CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")["KeyMetadata"]
    assert (key["KeyState"], key["CloudHsmClusterId"], key["Origin"]) == ("Enabled", cluster_id, "AWS_CLOUDHSM")
    assert key["Arn"].startswith(f"arn:aws:kms:{REGION}:")
    blob = aws.kms.encrypt(KeyId=key["KeyId"], Plaintext=b"card data")["CiphertextBlob"]
    assert aws.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"card data"

    aws.kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    aws.wait(3)
    assert aws.state(store) == ("DISCONNECTED", None)
    assert aws.kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Unavailable"  # KS-02
    refused(lambda: aws.kms.delete_custom_key_store(CustomKeyStoreId=store),
            "CustomKeyStoreHasCMKsException")  # DELETE-02
    aws.kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    aws.wait(8 * 86400)
    aws.kms.delete_custom_key_store(CustomKeyStoreId=store)
    assert aws.kms.describe_custom_key_stores()["CustomKeyStores"] == []

    refused(lambda: aws.hsm.delete_cluster(ClusterId=cluster_id), "CloudHsmInvalidRequestException")  # CL-07
    first, second = cluster["Hsms"]
    assert aws.hsm.delete_hsm(ClusterId=cluster_id, EniIp=first["EniIp"])["HsmId"] == first["HsmId"]
    assert aws.hsm.delete_hsm(ClusterId=cluster_id, HsmId=second["HsmId"])["HsmId"] == second["HsmId"]
    deleted = aws.hsm.delete_cluster(ClusterId=cluster_id)
    assert fits("DeleteCluster", deleted) and deleted["Cluster"]["ClusterId"] == cluster_id
    assert aws.hsm.describe_clusters()["Clusters"] == []


def test_describe_clusters_filters_and_pages(aws):
    made = [aws.hsm.create_cluster(SubnetIds=SUBNETS[:n], HsmType="hsm1.medium")["Cluster"]["ClusterId"]
            for n in (1, 2)]
    made.append(aws.env("create_cluster", 3)["created"])  # subnets of its own, zones a, b, c
    pages = list(aws.hsm.get_paginator("describe_clusters").paginate(PaginationConfig={"PageSize": 1}))
    assert [[c["ClusterId"] for c in page["Clusters"]] for page in pages] == [[m] for m in made]
    assert all(fits("DescribeClusters", page) for page in pages)
    third = aws.cluster(made[2])
    assert sorted(third["SubnetMapping"]) == [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
    assert len(set(third["SubnetMapping"].values())) == 3
    aws.hsm.create_hsm(ClusterId=made[1], AvailabilityZone=f"{REGION}b")
    aws.hsm.initialize_cluster(ClusterId=made[1], SignedCert=SIGNED, TrustAnchor=ANCHOR)
    by_state = aws.hsm.describe_clusters(Filters={"states": ["INITIALIZED"]})["Clusters"]
    assert [c["ClusterId"] for c in by_state] == [made[1]]
    vpc = third["VpcId"]
    assert len(aws.hsm.describe_clusters(Filters={"vpcIds": [vpc]})["Clusters"]) == 3
    assert aws.hsm.describe_clusters(Filters={"clusterIds": ["cluster-abcdefghijk"]})["Clusters"] == []
    refused(lambda: aws.hsm.describe_clusters(NextToken="bm90IGEgdG9rZW4="), "CloudHsmInvalidRequestException")
    refused(lambda: aws.hsm.describe_clusters(Filters={"colour": ["blue"]}), "CloudHsmInvalidRequestException")
    refused(lambda: aws.hsm.describe_clusters(Filters={"states": ["SLEEPING"]}), "CloudHsmInvalidRequestException")
    refused(lambda: aws.hsm.describe_clusters(MaxResults=100), "ValidationException")


def test_a_page_token_survives_the_deletion_of_the_cluster_it_names(aws):
    made = [aws.hsm.create_cluster(SubnetIds=SUBNETS, HsmType="hsm1.medium")["Cluster"]["ClusterId"]
            for _ in range(3)]
    page = aws.hsm.describe_clusters(MaxResults=1)
    aws.hsm.delete_cluster(ClusterId=made[0])
    rest = aws.hsm.describe_clusters(MaxResults=5, NextToken=page["NextToken"])
    assert [c["ClusterId"] for c in rest["Clusters"]] == made[1:] and "NextToken" not in rest


def test_a_cluster_restored_from_a_backup(aws):
    """CL-05: same certificate and kmsuser, SourceBackupId, CREATE_IN_PROGRESS until an HSM is
    added; CREATE-06: a cluster of the same lineage is in use once one backs a store."""
    source = aws.ready_cluster()
    backup = aws.env("backup_cluster", source)["created"]
    listed = aws.hsm.describe_backups()
    assert fits("DescribeBackups", listed)
    assert [(b["BackupId"], b["ClusterId"], b["BackupState"]) for b in listed["Backups"]] == [
        (backup, source, "READY")]
    assert listed["Backups"][0]["BackupArn"].endswith(f":backup/{backup}")
    assert aws.hsm.describe_backups(Filters={"clusterIds": ["cluster-abcdefghijk"]})["Backups"] == []
    refused(lambda: aws.hsm.create_cluster(SubnetIds=SUBNETS[:1], HsmType="hsm1.medium", SourceBackupId=backup),
            "CloudHsmInvalidRequestException")  # the backup's two zones need two subnets
    refused(lambda: aws.hsm.create_cluster(SubnetIds=SUBNETS, HsmType="hsm1.medium", SourceBackupId=backup,
                                           Mode="NON_FIPS"), "CloudHsmInvalidRequestException")  # CL-08
    refused(lambda: aws.hsm.create_cluster(SubnetIds=SUBNETS, HsmType="hsm1.medium",
                                           SourceBackupId="backup-abcdefghijk"), "CloudHsmResourceNotFoundException")
    other = ["subnet-0f0f0f0f0f0f0f0f1", "subnet-0f0f0f0f0f0f0f0f2"]
    restored = aws.hsm.create_cluster(SubnetIds=other, HsmType="hsm1.medium", SourceBackupId=backup)["Cluster"]
    assert (restored["State"], restored["SourceBackupId"]) == ("CREATE_IN_PROGRESS", backup)
    assert restored["SubnetMapping"] == {f"{REGION}a": other[0], f"{REGION}b": other[1]}
    aws.hsm.create_hsm(ClusterId=restored["ClusterId"], AvailabilityZone=f"{REGION}a")
    aws.hsm.create_hsm(ClusterId=restored["ClusterId"], AvailabilityZone=f"{REGION}b")
    restored = aws.cluster(restored["ClusterId"])
    assert restored["State"] == "ACTIVE"
    assert restored["Certificates"] == aws.cluster(source)["Certificates"] == {"ClusterCertificate": SIGNED}
    # the restored cluster has kmsuser and the same trust anchor: it can back a store
    store = aws.kms.create_custom_key_store(CustomKeyStoreName="restored", CloudHsmClusterId=restored["ClusterId"],
                                            TrustAnchorCertificate=ANCHOR, KeyStorePassword=PASSWORD)
    assert store["CustomKeyStoreId"].startswith("cks-")
    refused(lambda: aws.kms.create_custom_key_store(CustomKeyStoreName="source", CloudHsmClusterId=source,
                                                    TrustAnchorCertificate=ANCHOR, KeyStorePassword=PASSWORD),
            "CloudHsmClusterInUseException")


def test_refusals_say_what_is_wrong(aws):
    unknown = "cluster-abcdefghijk"
    assert "no cluster" in refused(lambda: aws.hsm.create_hsm(ClusterId=unknown, AvailabilityZone=f"{REGION}a"),
                                   "CloudHsmResourceNotFoundException")
    refused(lambda: aws.hsm.initialize_cluster(ClusterId=unknown, SignedCert=SIGNED, TrustAnchor=ANCHOR),
            "CloudHsmResourceNotFoundException")
    refused(lambda: aws.hsm.delete_cluster(ClusterId=unknown), "CloudHsmResourceNotFoundException")
    cluster_id = aws.hsm.create_cluster(SubnetIds=SUBNETS, HsmType="hsm1.medium")["Cluster"]["ClusterId"]
    message = refused(lambda: aws.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}c"),
                      "CloudHsmInvalidRequestException")
    assert f"{REGION}a, {REGION}b" in message  # the zones it has (CL-04)
    refused(lambda: aws.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone="eu-west-1a"),
            "CloudHsmInvalidRequestException")
    assert "no HSM" in refused(lambda: aws.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=SIGNED,
                                                                  TrustAnchor=ANCHOR),
                               "CloudHsmInvalidRequestException")
    aws.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")
    aws.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=SIGNED, TrustAnchor=ANCHOR)
    assert "INITIALIZED" in refused(lambda: aws.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=SIGNED,
                                                                       TrustAnchor=ANCHOR),
                                    "CloudHsmInvalidRequestException")
    second = aws.hsm.create_cluster(SubnetIds=SUBNETS, HsmType="hsm1.medium")["Cluster"]["ClusterId"]
    aws.hsm.create_hsm(ClusterId=second, AvailabilityZone=f"{REGION}a")
    refused(lambda: aws.hsm.initialize_cluster(ClusterId=second, SignedCert=SIGNED, TrustAnchor=ANCHOR),
            "CloudHsmInvalidRequestException")  # one trust anchor per lineage
    refused(lambda: aws.hsm.delete_hsm(ClusterId=cluster_id, HsmId="hsm-abcdefghijk"),
            "CloudHsmResourceNotFoundException")
    refused(lambda: aws.hsm.delete_hsm(ClusterId=cluster_id), "ValidationException")
    refused(lambda: aws.hsm.create_cluster(SubnetIds=SUBNETS * 2, HsmType="hsm1.medium"),
            "CloudHsmInvalidRequestException")  # the same subnet twice
    four = [f"subnet-0a1b2c3d4e5f6000{i}" for i in range(4)]
    assert "at most 3" in refused(lambda: aws.hsm.create_cluster(SubnetIds=four, HsmType="hsm1.medium"),
                                  "CloudHsmInvalidRequestException")
    refused(lambda: aws.hsm.create_cluster(SubnetIds=["not-a-subnet"], HsmType="hsm1.medium"), "ValidationException")
    refused(lambda: aws.hsm.create_cluster(SubnetIds=SUBNETS), "ValidationException")  # HsmType is required
    with pytest.raises(ClientError) as caught:
        aws.hsm.list_tags(ResourceId=cluster_id)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    # and the clusters the refusals named are as they were
    assert aws.cluster(cluster_id)["State"] == "INITIALIZED" and len(aws.cluster(cluster_id)["Hsms"]) == 1


def test_a_cluster_set_up_through_the_control_extension_is_one_cloudhsm_shows(aws):
    """The conformance engine's set-up (ckspec.conformance.session.setup_steps) goes through
    test control only; CloudHSM v2 shows the same clusters, with subnets and HSMs."""
    cluster_id = aws.env("create_cluster", 2)["created"]
    hsm_id = aws.env("create_hsm", cluster_id, "us-east-1a")["created"]
    anchor = aws.env("initialize_cluster", cluster_id)["created"]
    assert anchor.startswith("-----BEGIN CERTIFICATE-----")
    aws.env("create_hsm", cluster_id, "eu-west-1b")  # any Region's zone b is the model's zone b
    aws.env("activate_cluster", cluster_id)
    cluster = aws.cluster(cluster_id)
    assert cluster["State"] == "ACTIVE" and hsm_id in [h["HsmId"] for h in cluster["Hsms"]]
    assert {(h["AvailabilityZone"], h["SubnetId"]) for h in cluster["Hsms"]} == set(cluster["SubnetMapping"].items())
    assert fits("DescribeClusters", {"Clusters": [cluster]})
    assert aws.env("delete_hsm", cluster_id, hsm_id)["applied"]
    assert len(aws.cluster(cluster_id)["Hsms"]) == 1
