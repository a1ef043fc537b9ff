"""Helpers for the tests that hold ``ckspec serve`` to KMS's observable behaviour: a boto3
client for a running server, the test-control extension, and a KMS key in a CONNECTED
CloudHSM key store (two ACTIVE HSMs, kmsuser)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from ckspec.emulator import EmulatorServer

PASSWORD = "Kmsuser0pw"
NO_CLIENT_CHECKS = Config(retries={"max_attempts": 1}, parameter_validation=False)


def client(server: EmulatorServer, service: str = "kms", region: str = "us-east-1") -> Any:
    return boto3.client(service, endpoint_url=server.url, region_name=region, aws_access_key_id="test",
                        aws_secret_access_key="test", config=NO_CLIENT_CHECKS)


def control(server: EmulatorServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.url}/_ckspec{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def env(server: EmulatorServer, event: str, *args: Any) -> dict[str, Any]:
    return control(server, "/environment", {"event": event, "args": list(args)})


def connected_store(server: EmulatorServer, kms: Any, name: str = "store") -> str:
    """A CONNECTED CloudHSM key store on a ready cluster (needs a manual clock)."""
    cluster = env(server, "create_cluster", 2)["created"]
    env(server, "create_hsm", cluster, "us-east-1a")
    anchor = env(server, "initialize_cluster", cluster)["created"]
    env(server, "create_hsm", cluster, "us-east-1b")
    env(server, "activate_cluster", cluster)
    env(server, "create_kmsuser", cluster, PASSWORD)
    store = kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId=cluster,
                                        TrustAnchorCertificate=anchor, KeyStorePassword=PASSWORD)["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    control(server, "/wait", {"seconds": 5})
    return store


def hsm_key(server: EmulatorServer, kms: Any, store: str) -> str:
    """A KMS key in the store; its key ID."""
    return kms.create_key(CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")["KeyMetadata"]["KeyId"]


def error(call: Any) -> tuple[str, str, dict[str, str]]:
    """The error code, message and response headers of a call that must fail."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        return (exc.response["Error"]["Code"], exc.response["Error"]["Message"],
                exc.response["ResponseMetadata"]["HTTPHeaders"])
    raise AssertionError("the call succeeded")
