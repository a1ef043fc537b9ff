"""ckspec serve holds no resource without bound (issue 14): slow clients cannot keep a connection
past the request deadline, idle keep-alive connections are closed, connections beyond the cap
get a ThrottlingException without a thread each, and churn leaves the identifier maps and the
memo of outcomes as large as the account, not as its history.

Every server here listens on 127.0.0.1 and is stopped by its test; clients are few and every
wait is bounded (a few seconds)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse

import pytest
from ckspec.conformance import checker
from ckspec.emulator import EmulatorServer, ServeOptions, kms
from ckspec.emulator import control as control_api
from ckspec.emulator.account import MEMO_ENTRIES, Account
from ckspec.emulator.errors import AwsError

PASSWORD = "Kmsuser0pw"
HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.DescribeCustomKeyStores\r\n"
#: a whole, valid request
DESCRIBE = HEAD + b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}"


def address(server: EmulatorServer) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server.url)
    return parts.hostname, parts.port


def read_all(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def answer(sock: socket.socket) -> bytes:
    """One whole answer (headers and Content-Length bytes of body) from a keep-alive connection."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def one_answer(server: EmulatorServer) -> bytes:
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(DESCRIBE.replace(b"Host: x", b"Host: x\r\nConnection: close"))
        return read_all(sock)


def wait_until(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_trickling_clients_are_cut_off_at_the_request_deadline():
    """20 clients each send a byte of a request every 0.2 s (never silent for a read timeout of
    5 s): with a 1 s deadline each is answered 408 and closed within about 3 s."""
    options = ServeOptions(clock="manual", request_deadline=1.0, read_timeout=5.0, max_connections=32)
    with EmulatorServer(options) as server:
        before = threading.active_count()
        clients = [socket.create_connection(address(server), timeout=10) for _ in range(20)]
        closed: set[int] = set()
        answers = [bytearray() for _ in clients]
        start = time.monotonic()
        try:
            for sock in clients:
                sock.setblocking(False)
            position = 0
            while len(closed) < len(clients) and time.monotonic() - start < 6:
                for i, sock in enumerate(clients):
                    if i not in closed and _trickle(sock, DESCRIBE[position:position + 1], answers[i]):
                        closed.add(i)
                peak = threading.active_count() - before
                assert peak <= 20 + 1, peak
                position = min(position + 1, len(DESCRIBE) - 3)  # never completes the request
                time.sleep(0.2)
            took = time.monotonic() - start
        finally:
            for sock in clients:
                sock.close()
        assert len(closed) == 20 and took < 3.5, (len(closed), took)
        assert all(got.startswith(b"HTTP/1.1 408 ") and b"RequestTimeout" in got for got in answers), answers[0]
        assert one_answer(server).startswith(b"HTTP/1.1 200 ")
        assert wait_until(lambda: threading.active_count() <= before + 1, 3)


def _trickle(sock: socket.socket, byte: bytes, got: bytearray) -> bool:
    """Send one more byte and keep what the server answered in ``got``; True once it closed."""
    with contextlib.suppress(OSError):
        sock.send(byte)
    try:
        while chunk := sock.recv(65536):
            got += chunk
        return True  # the end of the stream
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_an_idle_keep_alive_connection_is_closed():
    options = ServeOptions(clock="manual", keep_alive_timeout=0.5)
    with EmulatorServer(options) as server, socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(DESCRIBE)
        assert answer(sock).startswith(b"HTTP/1.1 200 ")
        start = time.monotonic()
        assert read_all(sock) == b""
        assert 0.3 < time.monotonic() - start < 2.5


def test_connections_beyond_the_cap_get_a_throttling_answer_without_a_thread_each():
    """4 slots, all inside a request (headers half sent): 30 more connections are each answered
    HTTP 400 ThrottlingException and closed, and the server starts no thread for them."""
    options = ServeOptions(clock="manual", max_connections=4, request_deadline=4.0, read_timeout=4.0)
    with EmulatorServer(options) as server:
        held = [socket.create_connection(address(server), timeout=10) for _ in range(4)]
        try:
            for sock in held:
                sock.sendall(HEAD)  # a request under way: not idle, not to be closed for room
            time.sleep(0.3)
            before = threading.active_count()
            answers = []
            for _ in range(30):
                with socket.create_connection(address(server), timeout=10) as extra:
                    extra.sendall(DESCRIBE)
                    answers.append(read_all(extra))
                    assert threading.active_count() <= before
            head, _, body = answers[0].partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 ") and b"x-amzn-ErrorType: ThrottlingException" in head
            assert json.loads(body)["__type"] == "ThrottlingException" and "--max-connections" in json.loads(body)["message"]
            assert all(a.startswith(b"HTTP/1.1 400 ") and b"ThrottlingException" in a for a in answers)
        finally:
            for sock in held:
                sock.close()
        assert wait_until(lambda: one_answer(server).startswith(b"HTTP/1.1 200 "), 3)


def test_at_the_cap_an_idle_connection_makes_room():
    """Two slots held by silent connections: a new client is served, not refused."""
    options = ServeOptions(clock="manual", max_connections=2)
    with EmulatorServer(options) as server:
        silent = [socket.create_connection(address(server), timeout=5) for _ in range(2)]
        try:
            time.sleep(0.8)  # longer than connections.EVICTABLE_AFTER
            assert one_answer(server).startswith(b"HTTP/1.1 200 ")
            assert sum(_closed(sock) for sock in silent) >= 1
        finally:
            for sock in silent:
                sock.close()


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def test_stop_does_not_wait_for_idle_keep_alive_connections():
    server = EmulatorServer(ServeOptions(clock="manual", keep_alive_timeout=30.0)).start()
    idle = [socket.create_connection(address(server), timeout=5) for _ in range(5)]
    try:
        for sock in idle:
            sock.sendall(DESCRIBE)
            assert answer(sock).startswith(b"HTTP/1.1 200 ")
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 3
    finally:
        for sock in idle:
            sock.close()


@pytest.fixture
def account():
    account = Account(ServeOptions(clock="manual", seed=3))

    def env(event, *args):
        return control_api.environment(account, {"event": event, "args": list(args)})["created"]

    cluster = env("create_cluster", 2)
    env("create_hsm", cluster, "us-east-1a")
    anchor = env("initialize_cluster", cluster)
    env("create_hsm", cluster, "us-east-1b")
    env("activate_cluster", cluster)
    env("create_kmsuser", cluster, PASSWORD)
    return account, cluster, anchor


def test_churn_keeps_the_identifier_maps_and_the_memo_bounded(account):
    """600 Create/Describe/Delete cycles: the foreign-ID maps hold the live account only, the
    account's memo stays at its cap, and the shared conformance memo gets nothing."""
    account, cluster, anchor = account
    shared = len(checker._CACHE)
    kept = None
    for i in range(600):
        with account.lock:
            store = kms.perform(account, "CreateCustomKeyStore", {
                "CustomKeyStoreName": f"s{i}", "CloudHsmClusterId": cluster, "TrustAnchorCertificate": anchor,
                "KeyStorePassword": PASSWORD}, "us-east-1")["CustomKeyStoreId"]
            listing = kms.perform(account, "DescribeCustomKeyStores", {"Limit": 1}, "us-east-1")
            assert [s["CustomKeyStoreId"] for s in listing["CustomKeyStores"]] == [store]
            kms.perform(account, "DeleteCustomKeyStore", {"CustomKeyStoreId": store}, "us-east-1")
            account.wait(1.0)
        if i == 10:
            kept = len(account.model.ids.out)
    ids = account.model.ids
    assert len(ids.out) == len(ids.back) == kept <= 10  # the cluster, its HSMs, the trust anchor
    assert len(account.model._memo) <= MEMO_ENTRIES
    assert len(checker._CACHE) == shared
    with account.lock:  # a deleted store's ID still names nothing, as before it was forgotten
        with pytest.raises(AwsError) as refused:
            kms.perform(account, "DescribeCustomKeyStores", {"CustomKeyStoreId": store}, "us-east-1")
    assert refused.value.kind == "CustomKeyStoreNotFoundException"


def test_a_pause_within_the_limits_is_not_cut_short():
    """A request that starts and then pauses 2.4 s (under --read-timeout 3 and --request-deadline 4)
    is served, although the keep-alive timeout before it was only 2 s."""
    options = ServeOptions(clock="manual", keep_alive_timeout=2.0, read_timeout=3.0, request_deadline=4.0)
    with EmulatorServer(options) as server, socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(DESCRIBE[:20])
        time.sleep(2.4)
        sock.sendall(DESCRIBE[20:])
        assert answer(sock).startswith(b"HTTP/1.1 200 ")
