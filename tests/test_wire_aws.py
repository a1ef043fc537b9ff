"""--target aws, run against ckspec serve standing in for a real account (CKSPEC_AWS_ENDPOINT_URL):
borrowed clusters, name prefixes, the ledger, and cleanup after an interrupted run."""

from __future__ import annotations

import json

import boto3
import pytest

from ckspec.conformance import load_target
from ckspec.conformance.aws_target import ENDPOINT_VARIABLE, PASSWORD_VARIABLE, AwsTarget
from ckspec.conformance.engine import CheckOptions, check
from ckspec.conformance.ledger import DEFAULT_LEDGER, Ledger
from ckspec.conformance.wire import BotoTarget
from ckspec.emulator import serving
from ckspec.main import main

PASSWORD = "Kmsuser4Real"


@pytest.fixture
def account(tmp_path, monkeypatch, request):
    """A served account with three ready clusters (what a user brings), and the environment
    an aws run reads; the working directory is a temporary one (the ledger goes there)."""
    monkeypatch.chdir(tmp_path)
    with serving(clock="real", connect_delay=0.05, lag=0.02) as endpoint:
        owner = BotoTarget(endpoint_url=endpoint, reset=False)
        flags = []
        for n in range(getattr(request, "param", 3)):
            cluster = owner.environment("create_cluster", (2,)).created
            owner.environment("create_hsm", (cluster, "us-east-1a"))
            anchor = owner.environment("initialize_cluster", (cluster,)).created
            owner.environment("create_hsm", (cluster, "us-east-1b"))
            assert owner.environment("activate_cluster", (cluster,)).applied
            assert owner.environment("create_kmsuser", (cluster, PASSWORD)).applied
            (tmp_path / f"ca{n}.pem").write_text(anchor)
            flags.append(f"{cluster}={tmp_path / f'ca{n}.pem'}")
        monkeypatch.setenv(ENDPOINT_VARIABLE, endpoint)
        monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="x")
        yield endpoint, flags, kms


@pytest.mark.parametrize("account", [9], indirect=True)  # 3 examples, each may leave its 3 clusters busy
def test_an_aws_run_conforms_and_leaves_nothing_behind(account):
    endpoint, flags, kms = account
    kms.create_custom_key_store(CustomKeyStoreName="someone-elses", CloudHsmClusterId=_fourth_cluster(endpoint),
                                TrustAnchorCertificate=_anchor_of_fourth, KeyStorePassword=PASSWORD)
    spec = load_target("aws", accept_aws_costs=True, aws_clusters=tuple(flags), region="us-east-1")
    result = check(spec, CheckOptions(examples=3, steps=60, seed=3, failures_dir=None, poll_interval=0.05))
    assert result.verdict == "conformant", [f.message for f in result.failures]
    assert result.steps > 20
    names = [s["CustomKeyStoreName"] for s in kms.describe_custom_key_stores()["CustomKeyStores"]]
    # the other owner's store was neither shown to the model nor touched; the run's own were removed,
    # except a store whose keys now wait for deletion
    assert "someone-elses" in names
    left = Ledger(DEFAULT_LEDGER)
    assert all(e.kind == "key" and e.status == "pending" or e.kind == "store" for e in left)
    assert {n for n in names if n != "someone-elses"} == {e.name for e in left if e.kind == "store"}


_anchor_of_fourth = ""


def _fourth_cluster(endpoint: str) -> str:
    """A cluster that is not the run's, holding another owner's store."""
    global _anchor_of_fourth
    owner = BotoTarget(endpoint_url=endpoint, reset=False)
    cluster = owner.environment("create_cluster", (2,)).created
    owner.environment("create_hsm", (cluster, "us-east-1a"))
    _anchor_of_fourth = owner.environment("initialize_cluster", (cluster,)).created
    owner.environment("create_hsm", (cluster, "us-east-1b"))
    owner.environment("activate_cluster", (cluster,))
    owner.environment("create_kmsuser", (cluster, PASSWORD))
    return cluster


def test_an_interrupted_run_is_cleaned_up_from_the_ledger(account, capsys):
    endpoint, flags, kms = account
    target = load_target("aws", accept_aws_costs=True, aws_clusters=tuple(flags), region="us-east-1").make(0)
    assert PASSWORD not in repr(target)
    cluster = target.environment("create_cluster", (2,)).created
    anchor = target.environment("initialize_cluster", (cluster,)).created
    target.environment("create_kmsuser", (cluster, "engine-password"))
    made = target.call("CreateCustomKeyStore", {"CustomKeyStoreName": "store-a", "CloudHsmClusterId": cluster,
                                                "TrustAnchorCertificate": anchor,
                                                "KeyStorePassword": "engine-password"})
    assert made.ok, made.message  # the model's password became the real one on the way
    shown = kms.describe_custom_key_stores()["CustomKeyStores"]
    assert shown[0]["CustomKeyStoreName"].startswith(target.prefix)  # named with the example's prefix
    assert target.call("DescribeCustomKeyStores", {}).body["CustomKeyStores"][0]["CustomKeyStoreName"] == "store-a"
    # interrupted here: close() never runs. The ledger already lists the store.
    assert [e.id for e in Ledger(DEFAULT_LEDGER)] == [made.body["CustomKeyStoreId"]]
    assert PASSWORD not in DEFAULT_LEDGER.read_text()
    assert main(["cleanup", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert [e["outcome"] for e in outcome["entries"]] == ["gone"]
    assert kms.describe_custom_key_stores()["CustomKeyStores"] == []
    assert len(Ledger(DEFAULT_LEDGER)) == 0


def test_keys_are_scheduled_for_deletion_and_their_store_waits(account, capsys):
    endpoint, flags, kms = account
    target = AwsTarget(clusters={f.split("=")[0]: open(f.split("=")[1]).read() for f in flags}, password=PASSWORD,
                       region="us-east-1", endpoint_url=endpoint)
    cluster = target.environment("create_cluster", (2,)).created
    anchor = target.environment("initialize_cluster", (cluster,)).created
    target.environment("create_kmsuser", (cluster, "p0"))
    store = target.call("CreateCustomKeyStore", {"CustomKeyStoreName": "s", "CloudHsmClusterId": cluster,
                                                 "TrustAnchorCertificate": anchor, "KeyStorePassword": "p0"})
    store_id = store.body["CustomKeyStoreId"]
    assert target.call("ConnectCustomKeyStore", {"CustomKeyStoreId": store_id}).ok
    for _ in range(100):
        state = target.call("DescribeCustomKeyStores", {"CustomKeyStoreId": store_id}).body["CustomKeyStores"][0]
        if state["ConnectionState"] == "CONNECTED":
            break
        target.wait(0.05)
    key = target.call("CreateKey", {"Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": store_id})
    assert key.ok, key.message
    target.close()
    left = {e.kind: e for e in Ledger(DEFAULT_LEDGER)}
    assert left["key"].status == "pending"  # scheduled, waiting its 7 days
    assert "store" in left  # DELETE-02: not deletable while its key exists
    assert kms.describe_key(KeyId=left["key"].id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    # the next example cannot start afresh on that cluster, and says why
    again = AwsTarget(clusters={cluster: anchor}, password=PASSWORD, region="us-east-1", endpoint_url=endpoint)
    with pytest.raises(Exception, match=f"{cluster} holds"):
        again.environment("create_cluster", (2,))
    assert main(["cleanup"]) == 0  # nothing failed: the rest only needs time
    assert "run ckspec cleanup again" in capsys.readouterr().out
