"""ckspec serve's test-control extension, exactly as ckspec.conformance.control defines it
(its own client talks to it), and the kmsuser password: never in an answer or a log line."""

from __future__ import annotations

import io
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from ckspec.conformance.control import ControlClient, ControlError, ControlInfo
from ckspec.emulator import EmulatorServer, ServeOptions, serving
from ckspec.model.environment import EVENTS

ANCHOR = "-----BEGIN CERTIFICATE-----\nMIIBanchor\n-----END CERTIFICATE-----"


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(ServeOptions(clock="manual", read_timeout=0.5), idle_timeout=120) as running:
        yield running


@pytest.fixture
def client(server):
    control = ControlClient(server.url)
    control.reset()
    return control


def post(url: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url + path, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_description_is_the_protocol_s(server, client):
    info = client.describe()
    assert info == ControlInfo(frozenset(EVENTS), clock="manual", time_travel=True)
    with urllib.request.urlopen(server.url + "/_ckspec", timeout=10) as answer:
        assert answer.headers["Content-Type"] == "application/json"
        assert json.loads(answer.read()) == info.as_json()


def test_events_apply_create_and_refuse(client):
    applied, cluster = client.environment("create_cluster", (2,))
    assert applied and cluster.startswith("cluster-")
    applied, hsm = client.environment("create_hsm", (cluster, "us-east-1a"))
    assert applied and hsm.startswith("hsm-")
    # impossible now is not an error: delete a subnet with an HSM in it, a cluster that has HSMs
    assert client.environment("delete_subnet", (cluster, "us-east-1a")) == (False, None)
    assert client.environment("delete_cluster", (cluster,)) == (False, None)
    assert client.environment("activate_cluster", ("cluster-abcdefghijk",)) == (False, None)
    applied, anchor = client.environment("initialize_cluster", (cluster,))
    assert applied and anchor.startswith("-----BEGIN CERTIFICATE-----")
    assert client.environment("network_fault_begins", ()) == (True, None)
    assert client.environment("network_fault_begins", ()) == (False, None)
    assert client.environment("delete_hsm", (cluster, hsm)) == (True, None)
    assert client.environment("delete_cluster", (cluster,)) == (True, None)


def test_wait_moves_the_manual_clock_and_reset_empties_the_account(server, client):
    assert client.wait(1.5) == 1.5
    assert client.wait(0) == 1.5
    assert client.wait(86400 * 31) == pytest.approx(1.5 + 86400 * 31)
    client.environment("create_cluster", (2,))
    client.reset(seed=4)
    assert client.wait(1) == 1.0
    hsm = boto3.client("cloudhsmv2", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="t",
                       aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}))
    assert hsm.describe_clusters()["Clusters"] == []


@pytest.mark.parametrize("path, body", [
    ("/environment", {"event": "explode", "args": []}),
    ("/environment", {"args": []}),
    ("/environment", {"event": "create_cluster", "args": []}),
    ("/environment", {"event": "create_cluster", "args": ["two"]}),
    ("/environment", {"event": "create_cluster", "args": [True]}),
    ("/environment", {"event": "create_hsm", "args": [1, "us-east-1a"]}),
    ("/environment", {"event": "create_cluster", "args": 2}),
    ("/environment", {"event": "create_cluster", "args": [2], "extra": 1}),
    ("/wait", {"seconds": -1}),
    ("/wait", {"seconds": "soon"}),
    ("/wait", {"seconds": True}),
    ("/wait", {}),
    ("/reset", {"seed": -1}),
    ("/reset", {"seed": 1.5}),
])
def test_bad_control_requests_are_validation_errors(server, client, path, body):
    status, answer = post(server.url, "/_ckspec" + path, json.dumps(body).encode())
    assert (status, answer["__type"]) == (400, "ValidationException")
    assert answer["message"]
    with pytest.raises(ControlError, match="ValidationException"):
        client._post(path, body)


def test_nan_and_bad_json_are_refused(server, client):
    assert post(server.url, "/_ckspec/wait", b'{"seconds": NaN}')[0] == 400
    assert post(server.url, "/_ckspec/wait", b'{"seconds": Infinity}')[0] == 400
    status, answer = post(server.url, "/_ckspec/environment", b"{not json")
    assert (status, answer["__type"]) == (400, "SerializationException")


def test_a_real_clock_completes_work_by_itself():
    """With --clock real, a connection attempt completes as time passes, no /wait needed
    (connect delay 0: the next request finds it done)."""
    with serving(clock="real", connect_delay=0, lag=0) as url:
        control = ControlClient(url)
        assert control.describe().clock == "real"
        kms = boto3.client("kms", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t",
                           aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}))
        cluster, anchor = _ready_cluster(control)
        store = kms.create_custom_key_store(CustomKeyStoreName="s", CloudHsmClusterId=cluster,
                                            TrustAnchorCertificate=anchor,
                                            KeyStorePassword="Password0")["CustomKeyStoreId"]
        kms.connect_custom_key_store(CustomKeyStoreId=store)
        entry = kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]
        assert entry["ConnectionState"] == "CONNECTED"
        assert control.wait(5) >= 5


def _ready_cluster(control: ControlClient, password: str = "Password0") -> tuple[str, str]:
    _, cluster = control.environment("create_cluster", (2,))
    control.environment("create_hsm", (cluster, "us-east-1a"))
    _, anchor = control.environment("initialize_cluster", (cluster,))
    control.environment("create_hsm", (cluster, "us-east-1b"))
    control.environment("activate_cluster", (cluster,))
    control.environment("create_kmsuser", (cluster, password))
    return cluster, anchor


# --- secrets ---------------------------------------------------------------------------------------

SECRET = "Zq7SecretPw"
NEW_SECRET = "Yx4OtherPw"


def test_passwords_never_appear_in_answers_or_the_log():
    """KeyStorePassword and kmsuser passwords, given right, wrong, with the wrong type or
    length, or in broken requests: no answer (headers and body) and no access log line
    contains them. (Names of unknown members and operations are quoted back: that is how an
    error says what is wrong; a value is never quoted from a password's place.)"""
    log = io.StringIO()
    seen: list[str] = []
    with serving(clock="manual", log=log, read_timeout=0.5) as url:
        control = ControlClient(url)
        kms = boto3.client("kms", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t",
                           aws_secret_access_key="t",
                           config=Config(retries={"max_attempts": 1}, parameter_validation=False))

        def remember(parsed: Any, **kwargs: Any) -> None:
            seen.append(repr(parsed))

        kms.meta.events.register("after-call.kms", remember)
        cluster, anchor = _ready_cluster(control, SECRET)
        store = kms.create_custom_key_store(CustomKeyStoreName="s", CloudHsmClusterId=cluster,
                                            TrustAnchorCertificate=anchor, KeyStorePassword=SECRET)["CustomKeyStoreId"]
        for password in (NEW_SECRET, SECRET * 4, SECRET[:5], SECRET + "\x00"):
            try:
                kms.update_custom_key_store(CustomKeyStoreId=store, KeyStorePassword=password)
            except ClientError as exc:
                seen.append(repr(exc.response))
        for body in ({"CustomKeyStoreId": store, "KeyStorePassword": [SECRET]},
                     {"CustomKeyStoreId": store, "KeyStorePassword": {"nested": SECRET}},
                     {"CustomKeyStoreId": store, "NewCustomKeyStoreName": SECRET * 30}):
            seen.append(_raw_post(url, "/", json.dumps(body).encode(), "TrentService.UpdateCustomKeyStore"))
        seen.append(_raw_post(url, "/", f'{{"KeyStorePassword": "{SECRET}"'.encode(),
                              "TrentService.CreateCustomKeyStore"))
        seen.append(_raw_post(url, "/", json.dumps({"KeyStorePassword": SECRET}).encode(), "TrentService.ListKeys"))
        for body in ({"event": "change_kmsuser_password", "args": [cluster, NEW_SECRET]},
                     {"event": "change_kmsuser_password", "args": [cluster, NEW_SECRET, SECRET]},
                     {"event": "create_kmsuser", "args": [cluster, SECRET]},
                     {"event": SECRET, "args": [SECRET]}):
            seen.append(_raw_post(url, "/_ckspec/environment", json.dumps(body).encode()))
        seen.append(_raw_socket(url, f"POST /{SECRET} HTTP/1.1\r\nX-Amz-Target: {SECRET}\r\n\r\n".encode()))
        seen.append(_raw_socket(url, f"{SECRET}\r\n\r\n".encode()))
        kms.connect_custom_key_store(CustomKeyStoreId=store)
        control.wait(5)
        seen.append(repr(kms.describe_custom_key_stores()))
    text = "\n".join(seen) + log.getvalue()
    assert "ValidationException" in text and "CustomKeyStores" in text  # the answers were collected
    assert SECRET not in text and NEW_SECRET not in text and SECRET[:5] not in text
    lines = log.getvalue().splitlines()
    assert len(lines) >= 20 and all(line.startswith("ckspec serve: ") for line in lines)
    assert "ckspec serve: TrentService.CreateCustomKeyStore 200" in lines
    assert "ckspec serve: control /_ckspec/environment create_kmsuser 200" in lines


def _raw_post(url: str, path: str, body: bytes, target: str | None = None) -> str:
    headers = {"X-Amz-Target": target} if target else {}
    request = urllib.request.Request(url + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return f"{answer.status} {dict(answer.headers)} {answer.read()!r}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {dict(exc.headers)} {exc.read()!r}"


def _raw_socket(url: str, data: bytes) -> str:
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return repr(received)
