"""ckspec serve, KMS over the wire: boto3 gets exactly the reference model's answers.

The same script of calls and environment events runs against an in-process
ReferenceTarget and, through boto3 and the test-control extension, against the server;
every answer (status, error shape, message, body) must be the same (ERR-01, ERR-02), but for
what serve makes real: dates from its clock, ciphertexts, data keys and random bytes (compared
by presence and length here; tests/test_serve_crypto.py holds them to KMS's behaviour). Both
draw identifiers from the same seed, so even the IDs coincide.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from ckspec.conformance.reference import ReferenceTarget
from ckspec.emulator import EmulatorServer, ServeOptions
from ckspec.model.transitions import CALLS
from serve_accounts import client, control  # botocore's own checks off: the script sends bad requests

PASSWORD = "Kmsuser0pw"
OPTIONS = ServeOptions(clock="manual", connect_delay=2.0, lag=0.5, seed=7)


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(OPTIONS, idle_timeout=120) as running:
        yield running



#: what serve makes real and the reference target keeps deterministic: dates, ciphertexts, random bytes
_VOLATILE = {"CreationDate": "<date>", "DeletionDate": "<date>", "CiphertextBlob": "<ciphertext>"}


def comparable(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """A body with the values serve makes real replaced by what they must have in common."""
    def masked(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (_VOLATILE[k] if k in _VOLATILE else masked(v)) for k, v in value.items()}
        return [masked(v) for v in value] if isinstance(value, list) else value
    body = masked(body)
    if operation in ("GenerateDataKey", "GenerateRandom") and "Plaintext" in body:
        body["Plaintext"] = len(body["Plaintext"])
    return body


def plain(value: Any) -> Any:
    """A body with timestamps as epoch seconds (the model's datetimes and boto3's compare)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    return value


class Local:
    """The script's runner on the in-process reference target."""

    def __init__(self) -> None:
        self.target = ReferenceTarget(OPTIONS.seed, choices="reference", lag=True, work_delay=2.0, lag_delay=0.5)
        self.seen: list[Any] = []

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        reply = self.target.call(operation, params)
        error = "ValidationException" if reply.error == "ValidationError" else reply.error
        self.seen.append((operation, reply.status, error, reply.message,
                          comparable(operation, plain(dict(reply.body or {})))))
        return dict(reply.body or {})

    def env(self, event: str, *args: Any) -> dict[str, Any]:
        reply = self.target.environment(event, args)
        self.seen.append((event, reply.applied, reply.created))
        return {"applied": reply.applied, "created": reply.created}

    def wait(self, seconds: float) -> None:
        self.target.wait(seconds)


class Remote:
    """The script's runner on the server: boto3 for KMS, HTTP for the test-control extension."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.kms = client(server, "kms")
        self.seen: list[Any] = []

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            body = getattr(self.kms, xform_name(operation))(**params)
            status, error, message = 200, None, ""
        except ClientError as exc:
            body, error = {}, exc.response["Error"]["Code"]
            status, message = exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Message"]
        self.seen.append((operation, status, error, message, comparable(operation, plain(body))))
        return plain(body)

    def env(self, event: str, *args: Any) -> dict[str, Any]:
        answer = control(self.server, "/environment", {"event": event, "args": list(args)})
        self.seen.append((event, answer["applied"], answer["created"]))
        return answer

    def wait(self, seconds: float) -> None:
        control(self.server, "/wait", {"seconds": seconds})


def ready_cluster(run: Any) -> tuple[str, str]:
    cluster = run.env("create_cluster", 2)["created"]
    run.env("create_hsm", cluster, "us-east-1a")
    anchor = run.env("initialize_cluster", cluster)["created"]
    run.env("create_hsm", cluster, "us-east-1b")
    run.env("activate_cluster", cluster)
    run.env("create_kmsuser", cluster, PASSWORD)
    return cluster, anchor


def script(run: Any) -> set[str]:
    """Every KMS operation the model covers, in successes and refusals; returns the operations."""
    c1, anchor1 = ready_cluster(run)
    c2, anchor2 = ready_cluster(run)
    create = {"CustomKeyStoreName": "store-a", "CloudHsmClusterId": c1, "TrustAnchorCertificate": anchor1,
              "KeyStorePassword": PASSWORD}
    run.call("DescribeCustomKeyStores")
    store = run.call("CreateCustomKeyStore", **create)["CustomKeyStoreId"]
    run.call("CreateCustomKeyStore", **create)  # CREATE-10: an idempotent retry
    run.call("CreateCustomKeyStore", **{**create, "CloudHsmClusterId": c2, "TrustAnchorCertificate": anchor2})
    run.call("CreateCustomKeyStore", **{**create, "CustomKeyStoreName": "store-b", "CloudHsmClusterId": c2})
    run.call("CreateCustomKeyStore", **{**create, "CustomKeyStoreName": "store-c", "KeyStorePassword": "short"})
    run.call("CreateCustomKeyStore", CustomKeyStoreName="store-d")  # CREATE-01
    run.call("UpdateCustomKeyStore", CustomKeyStoreId=store, NewCustomKeyStoreName="store-renamed")
    run.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    run.call("DescribeCustomKeyStores", CustomKeyStoreId=store)  # AMB-30: may still read DISCONNECTED
    run.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")  # KEY-02: not CONNECTED yet
    run.call("UpdateCustomKeyStore", CustomKeyStoreId=store, KeyStorePassword=PASSWORD)
    run.wait(3)
    run.call("DescribeCustomKeyStores", CustomKeyStoreName="store-renamed")
    key = run.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM", Description="",
                   Tags=[{"TagKey": "team", "TagValue": "payments"}])["KeyMetadata"]["KeyId"]
    run.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM", KeySpec="RSA_2048")  # KEY-05
    run.call("DescribeKey", KeyId=key)
    run.call("DisableKey", KeyId=key)
    run.call("Encrypt", KeyId=key, Plaintext=b"disabled")
    run.call("EnableKey", KeyId=key)
    blob = run.call("Encrypt", KeyId=key, Plaintext=b"attack at dawn",
                    EncryptionContext={"purpose": "test"})["CiphertextBlob"]
    run.call("Decrypt", CiphertextBlob=blob, EncryptionContext={"purpose": "test"})
    run.call("Decrypt", CiphertextBlob=b"not a ciphertext of this service")
    run.call("GenerateDataKey", KeyId=key, NumberOfBytes=32)
    run.call("GenerateDataKeyWithoutPlaintext", KeyId=key, KeySpec="AES_128")
    run.call("GenerateDataKeyPair", KeyId=key, KeyPairSpec="RSA_2048")
    run.call("EnableKeyRotation", KeyId=key)
    run.call("GetKeyRotationStatus", KeyId=key)
    run.call("GetParametersForImport", KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256",
             WrappingKeySpec="RSA_2048")
    run.call("GenerateRandom", NumberOfBytes=16, CustomKeyStoreId=store)
    run.call("GenerateRandom", NumberOfBytes=8)
    run.call("DescribeKey", KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    run.call("DescribeKey", KeyId="arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    run.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)
    run.call("CancelKeyDeletion", KeyId=key)
    run.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=3)  # AMB-36
    run.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)
    run.call("DeleteCustomKeyStore", CustomKeyStoreId=store)  # DELETE-01: still CONNECTED
    run.call("DisconnectCustomKeyStore", CustomKeyStoreId=store)
    run.wait(3)
    run.env("network_fault_begins")
    run.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    run.wait(3)
    run.call("DescribeCustomKeyStores", CustomKeyStoreId=store)  # FAILED, NETWORK_ERRORS (CEC-06)
    run.call("ConnectCustomKeyStore", CustomKeyStoreId=store)  # CONNECT-04
    run.call("DisconnectCustomKeyStore", CustomKeyStoreId=store)
    run.env("network_fault_ends")
    run.wait(31 * 86400)  # DK-04: the waiting period ends
    run.call("DescribeCustomKeyStores", Limit=1)
    run.call("DescribeCustomKeyStores", Marker="not-a-marker")
    run.call("DescribeCustomKeyStores", CustomKeyStoreId=store, CustomKeyStoreName="store-renamed")
    run.call("DeleteCustomKeyStore", CustomKeyStoreId=store)
    run.call("DeleteCustomKeyStore", CustomKeyStoreId=store)
    return {step[0] for step in run.seen if step[0] in CALLS}


def test_every_covered_operation_answers_as_the_reference_target(server):
    control(server, "/reset", {})
    local, remote = Local(), Remote(server)
    covered = script(local)
    script(remote)
    assert covered == set(CALLS)
    assert len(remote.seen) == len(local.seen)
    for ours, theirs in zip(remote.seen, local.seen):
        assert ours == theirs
    assert any("'ConnectionErrorCode': 'NETWORK_ERRORS'" in repr(step) for step in local.seen)
    errors = {step[2] for step in local.seen if len(step) == 5 and step[2]}
    assert {"ValidationException", "IncorrectTrustAnchorException", "CustomKeyStoreNameInUseException",
            "CustomKeyStoreInvalidStateException", "NotFoundException", "UnsupportedOperationException",
            "DisabledException", "InvalidCiphertextException", "InvalidMarkerException", "InvalidArnException",
            "CustomKeyStoreNotFoundException"} <= errors


def test_error_statuses_and_headers_are_aws_shaped(server):
    """ERR-01, ERR-02: __type and message in the body, the Smithy status, x-amzn-ErrorType."""
    control(server, "/reset", {})
    kms = client(server, "kms")
    cases = [
        (lambda: kms.describe_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab"), 404, "NotFoundException"),
        (lambda: kms.connect_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0"), 400,
         "CustomKeyStoreNotFoundException"),
        (lambda: kms.describe_custom_key_stores(Limit=0), 400, "ValidationException"),
    ]
    for call, status, kind in cases:
        with pytest.raises(ClientError) as caught:
            call()
        response = caught.value.response
        assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (status, kind)
        assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == kind
        assert response["Error"]["Message"]


def test_arns_carry_the_region_the_request_is_signed_for(server):
    """The credential scope's Region is the ARNs' Region; such an ARN names the key again."""
    control(server, "/reset", {})
    remote = Remote(server)
    remote.kms = client(server, "kms", region="eu-central-1")
    cluster, anchor = ready_cluster(remote)
    store = remote.call("CreateCustomKeyStore", CustomKeyStoreName="s", CloudHsmClusterId=cluster,
                        TrustAnchorCertificate=anchor, KeyStorePassword=PASSWORD)["CustomKeyStoreId"]
    remote.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    remote.wait(3)
    arn = remote.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")["KeyMetadata"]["Arn"]
    assert arn.startswith("arn:aws:kms:eu-central-1:111122223333:key/")
    assert remote.call("DescribeKey", KeyId=arn)["KeyMetadata"]["Arn"] == arn
    assert remote.call("Encrypt", KeyId=arn, Plaintext=b"x")["KeyId"] == arn


def test_operations_kms_has_but_the_model_does_not_cover_are_not_implemented(server):
    """HTTP 501: a "not implemented" signature (adapter.unsupported_signature), not a failure."""
    from ckspec.conformance.adapter import Reply, unsupported_signature

    kms = client(server, "kms")
    with pytest.raises(ClientError) as caught:
        kms.list_grants(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "ListGrants" in response["Error"]["Message"]
    reply = Reply(501, response["Error"]["Code"], response["Error"]["Message"])
    assert unsupported_signature(reply) == f"HTTP 501 {response['Error']['Code']}"
