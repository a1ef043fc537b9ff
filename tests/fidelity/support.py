"""What the fidelity cases share: the evidence marker, an account on ``ckspec serve``, traces.

Every case in ``tests/fidelity/`` is drawn from public material nobody on this team wrote
and carries exactly one ``evidence`` mark: the *kind* of source (one of :data:`KINDS`), the
source itself (repository and path, or URL) and what it shows. A case either agrees with
the model (a plain test) or records a known disagreement as ``xfail(strict=True)`` whose
reason names the part of issue 11 that fixes it (``issue 11 §N: ...``) or, for a
disagreement no part covers, ``model: ...``. ``scorecard.py`` counts both.
"""

from __future__ import annotations

import functools
import io
import json
import urllib.request
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

#: the kinds of public source, in the order the scorecard lists them
KINDS = {
    "aws-cli": "AWS CLI examples (aws/aws-cli, awscli/examples/kms)",
    "aws-sdk": "AWS SDK examples (awsdocs/aws-doc-sdk-examples, botocore's examples-1.json, the JS SDK v3 docs)",
    "aws-sample": "AWS samples (aws-samples/aws-cloudhsm-cloudformation-template, its issues)",
    "iac": "infrastructure-as-code providers (hashicorp/terraform-provider-aws, pulumi-aws; their issues)",
    "guide": "AWS developer guides: KMS (awsdocs/aws-kms-developer-guide) and CloudHSM (awsdocs/aws-cloudhsm-user-guide)",
    "botocore": "botocore's KMS service model (shapes, error lists, paginators)",
    "forum": "third-party reports quoting what AWS answered (ansible-collections/community.aws)",
}

#: the kmsuser password the cases use (never printed: KU-04)
PASSWORD = "Kmsuser0pw"
NO_RETRIES = Config(retries={"max_attempts": 1})
#: botocore's own checks off, for the cases that send what a tool sends unvalidated
UNCHECKED = Config(retries={"max_attempts": 1}, parameter_validation=False)
TRACES = Path(__file__).resolve().parent / "traces"
#: the items ``-k``/``-m`` deselected in this session (conftest.pytest_deselected)
DESELECTED: pytest.StashKey[list[Any]] = pytest.StashKey()


def evidence(kind: str, source: str, shows: str) -> pytest.MarkDecorator:
    """The mark every case carries: where the behaviour under test was published."""
    if kind not in KINDS:
        raise ValueError(f"unknown evidence kind {kind!r}; one of {', '.join(KINDS)}")
    return pytest.mark.evidence(kind=kind, source=source, shows=shows)


def disagrees(reason: str) -> pytest.MarkDecorator:
    """A known disagreement: fails today, must pass once the named fix lands (strict)."""
    if not (reason.startswith("issue 11 §") or reason.startswith("model: ")):
        raise ValueError(f"a disagreement names its fix (issue 11 §N: ...) or says model: ...; got {reason!r}")
    return pytest.mark.xfail(strict=True, reason=reason)


def error_of(call: Any) -> tuple[int, str, str]:
    """Run a boto3 call that must fail: (HTTP status, error code, message)."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


@functools.cache
def client(url: str, service: str, checked: bool = True) -> Any:
    """A boto3 client for the session's server (made once: clients are slow to build, and stateless here)."""
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=NO_RETRIES if checked else UNCHECKED)


class Account:
    """One fresh account on the session's ``ckspec serve``: boto3 clients and the test-control extension."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kms = client(url, "kms")
        self.raw_kms = client(url, "kms", checked=False)
        self.hsm = client(url, "cloudhsmv2")
        self.control("/reset", {})

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.url}/_ckspec{path}", data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def env(self, event: str, *args: Any) -> dict[str, Any]:
        return self.control("/environment", {"event": event, "args": list(args)})

    def wait(self, seconds: float = 3) -> None:
        """Let model time pass (the session's serve runs a manual clock; work completes in 2 s)."""
        self.control("/wait", {"seconds": seconds})

    def cluster(self, zones: int = 2, kmsuser: bool = True) -> tuple[str, str]:
        """An initialized, active cluster with one ACTIVE HSM per zone (and kmsuser): (ID, trust anchor)."""
        cluster = self.env("create_cluster", zones)["created"]
        names = [f"us-east-1{chr(ord('a') + i)}" for i in range(zones)]
        self.env("create_hsm", cluster, names[0])
        anchor = self.env("initialize_cluster", cluster)["created"]
        for zone in names[1:]:
            self.env("create_hsm", cluster, zone)
        self.env("activate_cluster", cluster)
        if kmsuser:
            self.env("create_kmsuser", cluster, PASSWORD)
        return cluster, anchor

    def store(self, name: str = "ExampleKeyStore", **cluster: Any) -> tuple[str, str, str]:
        """A new DISCONNECTED CloudHSM key store on a fresh cluster: (store ID, cluster ID, trust anchor)."""
        cluster_id, anchor = self.cluster(**cluster)
        store = self.kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId=cluster_id,
                                                 TrustAnchorCertificate=anchor,
                                                 KeyStorePassword=PASSWORD)["CustomKeyStoreId"]
        return store, cluster_id, anchor

    def connected(self, name: str = "ExampleKeyStore") -> tuple[str, str]:
        """A CONNECTED store: (store ID, cluster ID)."""
        store, cluster_id, _ = self.store(name)
        self.kms.connect_custom_key_store(CustomKeyStoreId=store)
        self.wait()
        assert self.state(store) == "CONNECTED"
        return store, cluster_id

    def key(self, store: str) -> str:
        return self.kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store)["KeyMetadata"]["KeyId"]

    def entry(self, store: str) -> dict[str, Any]:
        return self.kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]

    def state(self, store: str) -> str:
        return self.entry(store)["ConnectionState"]

    def hsms(self, cluster_id: str) -> list[str]:
        clusters = self.hsm.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"]
        return [h["HsmId"] for h in clusters[0]["Hsms"]]

    def disconnect(self, store: str) -> None:
        self.kms.disconnect_custom_key_store(CustomKeyStoreId=store)
        self.wait()


def trace_verdict(name: str) -> dict[str, Any]:
    """``ckspec trace check tests/fidelity/traces/NAME.json --json``, in process: the JSON verdict."""
    from ckspec.main import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["trace", "check", str(TRACES / f"{name}.json"), "--json"])
    verdict = json.loads(out.getvalue())
    assert code == (0 if verdict["verdict"] == "conforms" else 1), verdict
    return verdict
