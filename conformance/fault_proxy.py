"""A fault proxy: an HTTP relay on 127.0.0.1 that spoils a few answers of an upstream endpoint.

It stands between ``ckspec check --target http://...`` and the implementation and, on a
seeded fraction of requests (``rate``, at most ``budget`` of them), answers with network
noise instead of the implementation's answer. The modes (:data:`MODES`):

* ``drop``: the request reaches the upstream, the answer does not: the connection closes;
* ``reset``: as ``drop``, with a TCP RST instead of an orderly close;
* ``delay``: the answer comes ``delay`` seconds late (longer than the client's read timeout);
* ``truncate``: the answer's headers promise its whole body, half of it comes, then a close;
* ``corrupt``: the answer's JSON body garbled (its length fixed up, so it looks complete);
* ``html500``: a gateway's HTML 500 page; the request never reaches the upstream;
* ``throttle``: 400 ``ThrottlingException`` (JSON); the request never reaches the upstream.

Which request is spoiled, and how, follows from ``seed`` and the order requests arrive in
(ckspec sends one at a time), so a run through the proxy can be repeated. The test-control
calls (``/_ckspec``) pass through it like any other. Bounded: every thread is a daemon, each
upstream request has a timeout, and the proxy stops by itself after ``lifetime`` seconds.

From tests::

    with FaultProxy(server.url, modes=("reset",), rate=0.05, seed=1) as proxy:
        ... --target proxy.url ...
    proxy.faults  # Counter: mode -> faults injected

From a shell: ``python -m ckspec.conformance.fault_proxy http://127.0.0.1:4566 --modes reset,drop
--rate 0.05 --seed 1`` (prints the proxy's URL; Ctrl-C or ``--lifetime`` stops it; exit 2 for
bad arguments).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import struct
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

import attrs

MODES = ("drop", "reset", "delay", "truncate", "corrupt", "html500", "throttle")
LOOPBACK = "127.0.0.1"
#: what a gateway in front of a service answers when it fails (moto-server and many proxies alike)
HTML_500 = (b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
            b"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error.</p>\n")
THROTTLED = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
#: request bodies larger than this are refused (nothing ckspec sends comes close)
MAX_BODY = 1 << 20


@attrs.frozen
class FaultPlan:
    """Which faults, how often, how many at most, and the seed that picks them."""

    modes: tuple[str, ...] = MODES
    rate: float = 0.05
    #: at most this many faults (None: no limit)
    budget: int | None = None
    seed: int = 0
    #: how late a ``delay`` answer comes, in seconds
    delay: float = 2.0

    def __attrs_post_init__(self) -> None:
        unknown = [m for m in self.modes if m not in MODES]
        if not self.modes or unknown:
            raise ValueError(f"fault modes must be some of {', '.join(MODES)}; got {', '.join(self.modes) or 'none'}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {self.rate}")
        if self.budget is not None and self.budget < 0:
            raise ValueError(f"fault budget must be 0 or more, got {self.budget}")
        if not 0.0 < self.delay <= 60.0:
            raise ValueError(f"fault delay must be more than 0 and at most 60 seconds, got {self.delay}")


class FaultProxy:
    """The proxy: binds 127.0.0.1 at once (``port=0``: a free port, see :attr:`url`), relays in
    daemon threads after :meth:`start`, stops on :meth:`stop` or after ``lifetime`` seconds."""

    def __init__(self, upstream: str, *, modes: tuple[str, ...] = MODES, rate: float = 0.05,
                 budget: int | None = None, seed: int = 0, delay: float = 2.0, port: int = 0,
                 lifetime: float = 600.0, upstream_timeout: float = 30.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be an http://HOST:PORT URL, got {upstream!r}")
        self.plan = FaultPlan(tuple(modes), rate, budget, seed, delay)
        self.upstream = (parts.hostname, parts.port)
        self.upstream_timeout, self.lifetime = upstream_timeout, lifetime
        #: mode -> faults injected so far; ``requests``: requests relayed or spoiled
        self.faults: Counter[str] = Counter()
        self.requests = 0
        #: (mode, request path, operation named in X-Amz-Target) of every fault, in order
        self.log: list[tuple[str, str, str]] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd = _QuietServer((LOOPBACK, port), _Handler)
        self._httpd.proxy = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="ckspec-fault-proxy", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if thread is not None:
            self._httpd.shutdown()
            thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def draw(self, path: str = "", operation: str = "") -> str | None:
        """The fault for the next request, or None (seeded, in arrival order)."""
        with self._lock:
            self.requests += 1
            hit = self._random.random() < self.plan.rate
            mode = self._random.choice(self.plan.modes)
            if not hit or (self.plan.budget is not None and sum(self.faults.values()) >= self.plan.budget):
                return None
            self.faults[mode] += 1
            self.log.append((mode, path, operation))
            return mode

    def garble(self, body: bytes) -> bytes:
        """A JSON body no parser reads as the original: its braces and quotes swapped for junk."""
        with self._lock:
            junk = bytes(self._random.choice(b"#%&~") for _ in range(4))
        return junk + body.replace(b"{", b"<").replace(b'"', b"'")[len(junk) // 2:]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (it timed out on a delay) is no news."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle client connection is closed after this long
    disable_nagle_algorithm = True  # head and body go as two writes: no delayed-ACK stall between them

    def log_message(self, *_args: Any) -> None:  # requests carry passwords: log nothing
        pass

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def _relay(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, b"", "text/plain")
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        mode = proxy.draw(self.path, (self.headers.get("X-Amz-Target") or "").rpartition(".")[2])
        if mode == "html500":
            self._answer(500, HTML_500, "text/html; charset=utf-8")
            return
        if mode == "throttle":
            self._answer(400, THROTTLED, "application/x-amz-json-1.1", {"x-amzn-ErrorType": "ThrottlingException"})
            return
        status, headers, answer = self._forward(proxy, body)
        if mode in ("drop", "reset"):
            self._close(rst=mode == "reset")
        elif mode == "delay":
            time.sleep(proxy.plan.delay)
            self._answer(status, answer, headers.get("Content-Type", ""), headers)
        elif mode == "truncate":
            self._send_head(status, len(answer), headers.get("Content-Type", ""), headers)
            self.wfile.write(answer[: len(answer) // 2])
            self.wfile.flush()
            self._close(rst=False)
        elif mode == "corrupt":
            self._answer(status, proxy.garble(answer), headers.get("Content-Type", ""), headers)
        else:
            self._answer(status, answer, headers.get("Content-Type", ""), headers)

    def _forward(self, proxy: FaultProxy, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(*proxy.upstream, timeout=proxy.upstream_timeout)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        except OSError as exc:  # the upstream itself is gone: a gateway's answer
            return 502, {"Content-Type": "text/plain"}, f"upstream unreachable: {type(exc).__name__}".encode()
        finally:
            connection.close()

    def _send_head(self, status: int, length: int, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            if name.lower().startswith("x-amz"):
                self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _answer(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self._send_head(status, len(body), content_type, headers)
        self.wfile.write(body)
        self.wfile.flush()

    def _close(self, rst: bool) -> None:
        """End the connection without (the rest of) an answer; with a TCP RST when ``rst``."""
        self.close_connection = True
        if rst:  # linger on, zero seconds: close() sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            self.connection.shutdown(socket.SHUT_RDWR) if not rst else None
        except OSError:
            pass
        self.connection.close()


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ckspec.conformance.fault_proxy",
                                description="Relay to UPSTREAM on 127.0.0.1, spoiling a seeded fraction of answers. "
                                            "Exit 0 when stopped (Ctrl-C or --lifetime), 2 for bad arguments.")
    p.add_argument("upstream", metavar="UPSTREAM", help="the endpoint to relay to, http://HOST:PORT")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated fault modes (default: all of {','.join(MODES)})")
    p.add_argument("--rate", type=float, default=0.05, help="fraction of requests spoiled (default %(default)s)")
    p.add_argument("--budget", type=int, help="at most this many faults (default: no limit)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault choices (default %(default)s)")
    p.add_argument("--delay", type=float, default=2.0, help="seconds a 'delay' answer is late (default %(default)s)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--lifetime", type=float, default=3600.0, help="stop after this many seconds (default %(default)s)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    try:
        proxy = FaultProxy(args.upstream, modes=tuple(m for m in args.modes.split(",") if m), rate=args.rate,
                           budget=args.budget, seed=args.seed, delay=args.delay, port=args.port,
                           lifetime=args.lifetime)
    except (ValueError, OSError) as exc:
        print(f"fault_proxy: {exc}", file=sys.stderr)
        return 2
    with proxy:
        print(f"fault proxy {proxy.url} -> {args.upstream} (modes {','.join(proxy.plan.modes)}, rate "
              f"{proxy.plan.rate}, seed {proxy.plan.seed})", flush=True)
        try:
            while proxy._thread is not None and proxy._thread.is_alive():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    print(f"fault proxy stopped: {proxy.requests} requests, faults: "
          + (", ".join(f"{k} x{v}" for k, v in sorted(proxy.faults.items())) or "none"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
