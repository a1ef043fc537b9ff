"""ckspec serve on the wire: malformed requests get clear 4xx answers, and nothing a client
sends (garbage, truncated or huge bodies, silent connections, many clients at once) crashes
or hangs the server."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from typing import Any

import boto3
import pytest
from botocore.config import Config
from ckspec.emulator import EmulatorServer, ServeOptions
from ckspec.emulator.cloudhsm import OPERATIONS
from ckspec.model.aws_service import cloudhsm
from ckspec.model.aws_service import kms as kms_model
from ckspec.model.environment import EVENTS
from ckspec.model.transitions import CALLS
from hypothesis import given, settings
from hypothesis import strategies as st

READ_TIMEOUT = 0.5
#: long enough for any answer on a slow, shared machine; a hang would outlast it
CLIENT_TIMEOUT = 20


@pytest.fixture(scope="module")
def server():
    options = ServeOptions(clock="manual", read_timeout=READ_TIMEOUT, max_body=64 * 1024)
    with EmulatorServer(options, idle_timeout=120) as running:
        yield running


def address(server: EmulatorServer) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server.url)
    return parts.hostname, parts.port


def request(server: EmulatorServer, method: str, path: str = "/", body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection(*address(server), timeout=CLIENT_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        raw = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, json.loads(raw) if raw else None
    finally:
        connection.close()


def kms(operation: str) -> dict[str, str]:
    return {"X-Amz-Target": f"TrentService.{operation}", "Content-Type": "application/x-amz-json-1.1"}


def raw_exchange(server: EmulatorServer, data: bytes, *, shut: bool = False) -> bytes:
    """Send bytes on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(address(server), timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def still_serving(server: EmulatorServer) -> bool:
    status, _, body = request(server, "POST", "/", b"{}", kms("DescribeCustomKeyStores"))
    return status == 200 and "CustomKeyStores" in body


@pytest.mark.parametrize("method, path, body, headers, status, kind", [
    ("POST", "/", b"{}", {}, 400, "UnknownOperationException"),  # no X-Amz-Target
    ("POST", "/", b"{}", {"X-Amz-Target": "Acme_20260101.Launch"}, 400, "UnknownOperationException"),
    ("POST", "/", b"{}", kms("LaunchRockets"), 400, "UnknownOperationException"),
    ("POST", "/", b"{}", kms(""), 400, "UnknownOperationException"),
    ("POST", "/", b"{}", kms("ListGrants"), 501, "NotImplementedException"),
    ("POST", "/", b"{}", {"X-Amz-Target": "BaldrApiService.TagResource"}, 501, "NotImplementedException"),
    ("POST", "/", b"{}", {"X-Amz-Target": "BaldrApiService.Explode"}, 400, "UnknownOperationException"),
    ("POST", "/", b"{", kms("DescribeCustomKeyStores"), 400, "SerializationException"),
    ("POST", "/", b"[1, 2]", kms("DescribeCustomKeyStores"), 400, "SerializationException"),
    ("POST", "/", b'"a string"', kms("DescribeCustomKeyStores"), 400, "SerializationException"),
    ("POST", "/", b"\xff\xfe\x00", kms("DescribeCustomKeyStores"), 400, "SerializationException"),
    ("POST", "/", b"[" * 50_000, kms("DescribeCustomKeyStores"), 400, "SerializationException"),
    ("POST", "/", b'{"KeyId": "k", "Plaintext": 5}', kms("Encrypt"), 400, "SerializationException"),
    ("POST", "/", b'{"KeyId": "k", "Plaintext": "not base64!"}', kms("Encrypt"), 400, "SerializationException"),
    ("POST", "/", b'{"Limit": "ten"}', kms("DescribeCustomKeyStores"), 400, "ValidationException"),
    ("POST", "/", b'{"Limit": 1.5}', kms("DescribeCustomKeyStores"), 400, "ValidationException"),
    ("POST", "/", b'{"Nonsense": 1}', kms("DescribeCustomKeyStores"), 400, "ValidationException"),
    ("POST", "/", b'{"CustomKeyStoreName": "x"}', kms("CreateCustomKeyStore"), 400, "ValidationException"),
    ("POST", "/", b'{"Filters": {"states": "ACTIVE"}}', {"X-Amz-Target": "BaldrApiService.DescribeClusters"},
     400, "ValidationException"),
    ("POST", "/", b'{"Filters": {"states": [1]}}', {"X-Amz-Target": "BaldrApiService.DescribeClusters"},
     400, "ValidationException"),
    ("GET", "/", None, {}, 405, "MethodNotAllowed"),
    ("PUT", "/", b"{}", kms("DescribeCustomKeyStores"), 405, "MethodNotAllowed"),
    ("DELETE", "/", None, {}, 405, "MethodNotAllowed"),
    ("POST", "/somewhere", b"{}", kms("DescribeCustomKeyStores"), 404, "UnknownOperationException"),
    ("GET", "/_ckspec/nothing", None, {}, 404, "UnknownOperationException"),
    ("POST", "/_ckspec", b"{}", {}, 405, "MethodNotAllowed"),
    ("GET", "/_ckspec/wait", None, {}, 405, "MethodNotAllowed"),
    ("POST", "/", b"{}", {**kms("DescribeCustomKeyStores"), "Content-Length": "two"}, 400, "BadRequest"),
])
def test_malformed_requests_get_a_clear_4xx(server, method, path, body, headers, status, kind):
    got, answer_headers, answer = request(server, method, path, body, headers)
    assert (got, answer["__type"], answer_headers["x-amzn-errortype"]) == (status, kind, kind)
    assert answer["message"] and "Traceback" not in answer["message"]
    if status == 405:
        assert answer_headers["allow"] in ("GET", "POST")
    assert still_serving(server)


def test_a_body_over_the_limit_is_refused_unread(server):
    """413 from the headers alone: the server answers before the body arrives (it never will)."""
    head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.DescribeCustomKeyStores\r\n"
    answer = raw_exchange(server, head + b"Content-Length: 10737418240\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 413 ") and b"RequestEntityTooLarge" in answer
    # and when the client does send it all (more than the limit), it still reads the refusal
    big = b"{" + b" " * (200 * 1024) + b"}"
    answer = raw_exchange(server, head + f"Content-Length: {len(big)}\r\n\r\n".encode() + big)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert still_serving(server)


def test_a_chunked_body_is_refused(server):
    head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.DescribeCustomKeyStores\r\n"
    answer = raw_exchange(server, head + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411 ") and b"LengthRequired" in answer


def test_a_truncated_body_times_out_without_holding_the_server(server):
    """Content-Length promises more than is sent: 408 after the read timeout; meanwhile and
    afterwards, other clients are served."""
    head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.DescribeCustomKeyStores\r\n"
    with socket.create_connection(address(server), timeout=CLIENT_TIMEOUT) as stalled:
        stalled.sendall(head + b"Content-Length: 100\r\n\r\n{\"Li")
        assert still_serving(server)
        answer = b""
        while chunk := stalled.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ") and b"RequestTimeout" in answer
    assert still_serving(server)


def test_a_client_that_hangs_up_mid_body_does_no_harm(server):
    head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.DescribeCustomKeyStores\r\n"
    answer = raw_exchange(server, head + b"Content-Length: 100\r\n\r\n{\"Li", shut=True)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert still_serving(server)


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02 GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /\r\n\r\n",  # HTTP/0.9: its answer would have no status line
    b"POST / HTTP/9.9\r\n\r\n",
    b"POST / HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\r\n" * 5,
])
def test_garbage_on_a_raw_socket_is_answered_and_closed(server, garbage):
    answer = raw_exchange(server, garbage, shut=True)
    if garbage.strip():  # (blank lines are no request: the connection just closes)
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        assert head.startswith(b"HTTP/1.1 ") and 400 <= status < 600 and status != 500, answer[:200]
        assert json.loads(body)["__type"]
    assert still_serving(server)


def test_a_silent_connection_does_not_block_others(server):
    with socket.create_connection(address(server), timeout=CLIENT_TIMEOUT) as silent:
        assert still_serving(server)
        assert silent.recv(1) == b""  # dropped after the read timeout


def test_keep_alive_serves_several_requests_on_one_connection(server):
    connection = http.client.HTTPConnection(*address(server), timeout=CLIENT_TIMEOUT)
    try:
        for _ in range(3):
            connection.request("POST", "/", b"{}", kms("DescribeCustomKeyStores"))
            answer = connection.getresponse()
            assert answer.status == 200 and json.loads(answer.read())["Truncated"] is False
    finally:
        connection.close()


def test_concurrent_clients_each_build_a_store(server):
    """Eight clients at once, each making a cluster and a store: the lock keeps the account whole."""
    request(server, "POST", "/_ckspec/reset", b"{}")
    config = Config(retries={"max_attempts": 1})
    clients = [(boto3.client("cloudhsmv2", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="t",
                             aws_secret_access_key="t", config=config),
                boto3.client("kms", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="t",
                             aws_secret_access_key="t", config=config)) for _ in range(8)]
    failures: list[BaseException] = []

    def build(n: int) -> None:
        hsm, kms_client = clients[n]
        anchor = f"-----BEGIN CERTIFICATE-----\nMIIBanchor{n}\n-----END CERTIFICATE-----"
        try:
            cluster = hsm.create_cluster(SubnetIds=[f"subnet-{n:08x}a", f"subnet-{n:08x}b"],
                                         HsmType="hsm1.medium")["Cluster"]["ClusterId"]
            hsm.create_hsm(ClusterId=cluster, AvailabilityZone="us-east-1a")
            hsm.initialize_cluster(ClusterId=cluster, SignedCert=anchor, TrustAnchor=anchor)
            hsm.create_hsm(ClusterId=cluster, AvailabilityZone="us-east-1b")
            for event, args in (("activate_cluster", [cluster]), ("create_kmsuser", [cluster, "Password0"])):
                status, _, answer = request(server, "POST", "/_ckspec/environment",
                                            json.dumps({"event": event, "args": args}).encode())
                assert status == 200 and answer["applied"], answer
            kms_client.create_custom_key_store(CustomKeyStoreName=f"store-{n}", CloudHsmClusterId=cluster,
                                               TrustAnchorCertificate=anchor, KeyStorePassword="Password0")
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            failures.append(exc)

    threads = [threading.Thread(target=build, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CLIENT_TIMEOUT * 3)
    assert not failures, failures
    stores = clients[0][1].describe_custom_key_stores()["CustomKeyStores"]
    assert sorted(s["CustomKeyStoreName"] for s in stores) == [f"store-{n}" for n in range(8)]
    clusters = clients[0][0].describe_clusters()["Clusters"]
    assert len(clusters) == 8 and all(len(c["Hsms"]) == 2 and c["State"] == "ACTIVE" for c in clusters)
    assert {s["CloudHsmClusterId"] for s in stores} == {c["ClusterId"] for c in clusters}


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
                     | st.sampled_from(["cks-1234567890abcdef0", "cluster-abcdefghijk", "us-east-1a", "AAAA",
                                        "arn:aws:kms:us-east-1:111122223333:key/x", "hsm-abcdefghijk"]),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=3), max_leaves=6)


def _members(prefix: str, operation: str) -> list[str]:
    service = kms_model() if prefix == "TrentService" else cloudhsm()
    return sorted(service.operation_model(operation).input_shape.members)


@st.composite
def _aws_requests(draw: Any) -> tuple[str, dict[str, Any]]:
    prefix, operation = draw(st.sampled_from([("TrentService", op) for op in sorted(CALLS)]
                                             + [("BaldrApiService", op) for op in sorted(OPERATIONS)]))
    members = draw(st.lists(st.sampled_from(_members(prefix, operation) + ["Extra"]), unique=True, max_size=4))
    return f"{prefix}.{operation}", {m: draw(_JSON) for m in members}


@settings(max_examples=150)
@given(request_=_aws_requests())
def test_no_json_object_makes_it_fail_with_a_5xx(server, request_):
    """Any JSON object for any operation it serves: an answer, never 5xx (every 5xx the model
    can give, KMSInternalException and the like, needs a fault this test never starts)."""
    target, body = request_
    status, _, answer = request(server, "POST", "/", json.dumps(body).encode(), {"X-Amz-Target": target})
    assert status < 500, (status, answer)


@settings(max_examples=100)
@given(event=st.sampled_from(sorted(EVENTS)),
       args=st.lists(_JSON, max_size=3))
def test_no_control_event_makes_it_fail_with_a_5xx(server, event, args):
    status, _, answer = request(server, "POST", "/_ckspec/environment",
                                json.dumps({"event": event, "args": args}).encode())
    assert status in (200, 400), (status, answer)
    assert set(answer) == ({"applied", "created"} if status == 200 else {"__type", "message"})
