"""The HTTP endpoint: AWS JSON 1.1 for KMS and CloudHSM v2 at ``/``, test control at ``/_ckspec``.

One thread per connection (HTTP/1.1 keep-alive, as botocore uses it), at most
``max_connections`` of them, and one lock around the account. Nothing a client sends can crash
or hang it, or hold more than a bounded share of it (:mod:`~ckspec.emulator.connections`):
request bodies are bounded (:data:`~ckspec.emulator.options.MAX_BODY`, refused with 413
unread), every request has a whole deadline and every idle connection a keep-alive timeout,
connections beyond the cap get a ThrottlingException, malformed HTTP gets a JSON error and a
closed connection, and a bug in ckspec answers 500 ``InternalFailure`` for that request only.
The access log, when there is one, names operations and statuses, never a request's contents
(passwords travel in them).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import math
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TextIO
from urllib.parse import urlsplit

import attrs
from ckspec.conformance.control import PREFIX
from ckspec.model.environment import EVENTS

from . import cloudhsm, control, kms, regions
from .account import Account
from .connections import DeadlineReader, Refuser, Slots, answer_bytes, throttling
from .errors import AwsError, unknown_operation
from .json_protocol import CONTENT_TYPE, decode_object, encode, error_body
from .options import ServeOptions

LOOPBACK = "127.0.0.1"
SERVICES = {kms.TARGET_PREFIX: kms, cloudhsm.TARGET_PREFIX: cloudhsm}
#: what http.server itself refuses (a malformed request line or headers): a fixed message,
#: never the offending bytes
_HTTP_ERRORS = {
    400: ("BadRequest", "malformed HTTP request"),
    414: ("RequestURITooLong", "the request line is too long"),
    431: ("RequestHeaderFieldsTooLarge", "too many or too long request headers"),
    501: ("NotImplemented", "unsupported HTTP method"),
    505: ("HTTPVersionNotSupported", "unsupported HTTP version"),
}
#: after refusing a body unread, at most this much of it is drained (for at most DRAIN_SECONDS)
#: so that the client reads the refusal instead of a connection reset
DRAIN_BYTES, DRAIN_SECONDS = 1 << 20, 1.0


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` stands for is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in found)


class EmulatorServer:
    """``ckspec serve``: the reference model behind an AWS-compatible endpoint.

    Binds at once (``port=0`` picks a free port, see :attr:`url`); :meth:`start` serves in a
    daemon thread, :meth:`stop` stops. Also a context manager.
    """

    def __init__(self, options: ServeOptions | None = None, *, host: str = LOOPBACK, port: int = 0,
                 expose_unauthenticated_control: bool = False, idle_timeout: float | None = None,
                 log: TextIO | None = None) -> None:
        self.options = options or ServeOptions()
        if not expose_unauthenticated_control and not is_loopback(host):
            raise ValueError(f"{host} is not (or does not resolve to) a loopback address, and the test-control extension ({PREFIX}) has no "
                             f"authentication: anyone who can reach it can change the account")
        if idle_timeout is not None and not (isinstance(idle_timeout, (int, float)) and 0 < idle_timeout
                                             and math.isfinite(idle_timeout)):
            raise ValueError(f"idle_timeout must be a finite number of seconds > 0, got {idle_timeout!r}")
        self.account = Account(self.options)
        self.idle_timeout = idle_timeout
        #: why the server stopped (None while it runs)
        self.stop_reason: str | None = None
        self.stopped = threading.Event()
        self._log = log
        self._lock = threading.Lock()
        self._busy, self._last = 0, time.monotonic()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._httpd = _HttpServer(host, port, self)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._serve, name="ckspec-serve", daemon=True)
        self._thread.start()
        if self.idle_timeout is not None:
            threading.Thread(target=self._watch_idle, name="ckspec-serve-idle", daemon=True).start()
        return self

    def stop(self, reason: str = "stopped") -> None:
        """Stop serving and release the port (idempotent)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping, self.stop_reason = True, reason
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.slots.wake_all()  # idle keep-alive connections end now, not at their timeout
        self._httpd.server_close()
        self._httpd.refuser.stop()
        self.stopped.set()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self) -> None:
        try:
            self._httpd.serve_forever(poll_interval=0.1)
        finally:
            self.stopped.set()

    def _watch_idle(self) -> None:
        assert self.idle_timeout is not None
        while not self.stopped.wait(min(0.5, self.idle_timeout / 4)):
            with self._lock:
                idle = self._busy == 0 and time.monotonic() - self._last >= self.idle_timeout
            if idle:
                self.stop(f"no request for {self.idle_timeout:g} s")
                return

    @contextlib.contextmanager
    def activity(self) -> Iterator[None]:
        """A request is being answered (the idle timeout does not run meanwhile)."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self._last = time.monotonic()

    def log_access(self, label: str, status: int) -> None:
        if self._log is None:
            return
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._log.write(f"ckspec serve: {label} {status}\n")  # one write: lines never interleave
            self._log.flush()


@contextlib.contextmanager
def serving(options: ServeOptions | None = None, *, idle_timeout: float | None = None, log: TextIO | None = None,
            **changes: Any) -> Iterator[str]:
    """Serve on 127.0.0.1, on a free port, in a daemon thread; yield the endpoint URL.

    ``changes`` are :class:`ServeOptions` fields (``clock="manual"``, ``seed=3``, ...)::

        with serving(clock="manual") as endpoint:
            kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", ...)
    """
    server = EmulatorServer(attrs.evolve(options or ServeOptions(), **changes), idle_timeout=idle_timeout, log=log)
    with server:
        yield server.url


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, host: str, port: int, emulator: EmulatorServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.emulator = emulator
        cap = emulator.options.max_connections
        self.slots = Slots(cap)
        super().__init__((host, port), _Handler)
        self.refuser = Refuser(answer_bytes(throttling(cap)))  # after the bind: a failed bind starts no thread

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection if there is a slot; else a ThrottlingException, from the
        refuser's one thread (:mod:`~ckspec.emulator.connections`)."""
        if not self.slots.take(request):
            self.refuser.refuse(request)
            self.emulator.log_access("HTTP (over --max-connections)", 400)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread could be started: the slot is free again
            self.slots.give_back(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.give_back(request)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would also look the host's name up in DNS, which can be slow
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (reset, broken pipe, timeout) is no news: stay
        quiet. Anything else is a bug in ckspec: one line in the log, never a traceback."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.emulator.log_access(f"HTTP (connection ended by an internal error: {type(error).__name__}; "
                                     f"this is a bug in ckspec)", 500)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ckspec-serve"
    sys_version = ""
    # headers and body go out as two writes: without TCP_NODELAY, Nagle's algorithm holds the
    # body until the client's delayed ACK (about 40 ms per request)
    disable_nagle_algorithm = True
    server: _HttpServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        options = self.server.emulator.options
        self.timeout = options.read_timeout  # read in StreamRequestHandler.setup
        super().setup()
        self._reader = DeadlineReader(self.connection, keep_alive=options.keep_alive_timeout,
                                      request_deadline=options.request_deadline, read_timeout=options.read_timeout)
        self.rfile = io.BufferedReader(self._reader)
        self.server.slots.reading(self.connection, self._reader)

    def handle_one_request(self) -> None:
        """One request under the deadlines of :class:`DeadlineReader`; a request that started but
        did not arrive in time is answered 408 (the body's own timeout is answered in _read_body)."""
        self._reader.await_request()
        self._answered = False
        super().handle_one_request()  # a timeout there closes the connection
        if self._reader.expired == "request" and not self._answered:
            if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":  # the request line never came
                self.request_version = "HTTP/1.1"
            self.command = ""  # (perhaps the previous request's: not a HEAD, the answer has a body)
            with contextlib.suppress(OSError):
                self._send_error(self._timed_out())
            self.server.emulator.log_access("HTTP (request deadline)", 408)
            self.close_connection = True

    def _timed_out(self) -> AwsError:
        options = self.server.emulator.options
        return AwsError(408, "RequestTimeout", f"the request did not arrive in time: all of it within "
                                               f"{options.request_deadline:g} s (--request-deadline), no silence "
                                               f"longer than {options.read_timeout:g} s (--read-timeout)", close=True)

    # every method is routed; the routing says which ones a path takes
    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _answer(self) -> None:
        emulator = self.server.emulator
        self._label = "HTTP"
        with emulator.activity():
            try:
                content_type, body = self._route(emulator)
                self._send(200, content_type, body)
                emulator.log_access(self._label, 200)
                return
            except AwsError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 (a bug in ckspec: this request fails, the server goes on)
                error = AwsError(500, "InternalFailure", f"ckspec serve failed on this request "
                                                         f"({type(exc).__name__}); this is a bug in ckspec")
            self._send_error(error)
            emulator.log_access(self._label, error.status)

    # --- routing -------------------------------------------------------------------------------
    def _route(self, emulator: EmulatorServer) -> tuple[str, bytes]:
        raw = self._read_body(emulator.options)
        path = urlsplit(self.path).path
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return "application/json", encode(self._control(emulator.account, path[len(PREFIX):], raw))
        if path != "/":
            self._label = "HTTP (unknown path)"
            raise AwsError(404, "UnknownOperationException",
                           f"nothing here: AWS requests are POSTs to /, test control is under {PREFIX}")
        if self.command != "POST":
            raise AwsError(405, "MethodNotAllowed", f"AWS requests are POSTs, not {self.command}",
                           headers={"Allow": "POST"})
        target = self.headers.get("X-Amz-Target")
        if not target:
            raise unknown_operation("the request has no X-Amz-Target header: KMS takes TrentService.<Operation>, "
                                    "CloudHSM v2 BaldrApiService.<Operation>")
        prefix, _, name = target.partition(".")
        service = SERVICES.get(prefix)
        if service is None:
            raise unknown_operation(f"unknown X-Amz-Target prefix: ckspec serve answers "
                                    f"{' and '.join(f'{p}.<Operation>' for p in SERVICES)}")
        service.check_operation(name)
        self._label = target
        params = decode_object(raw)
        region = regions.request_region(self.headers.get("Authorization"), emulator.options.region)
        account = emulator.account
        with account.lock:
            account.catch_up()
            answer = service.perform(account, name, params, region)
        return CONTENT_TYPE, encode(answer)

    def _control(self, account: Account, path: str, raw: bytes) -> dict[str, Any]:
        control.check_path(path, self.command)
        self._label = f"control {PREFIX}{path}"
        request = decode_object(raw) if path else {}
        event = request.get("event") if path == "/environment" else None
        if isinstance(event, str) and event in EVENTS:
            self._label += f" {event}"
        with account.lock:
            account.catch_up()
            if path == "/environment":
                return control.environment(account, request)
            if path == "/wait":
                return control.wait(account, request)
            if path == "/reset":
                return control.reset(account, request)
            return control.describe(account)

    # --- reading -------------------------------------------------------------------------------
    def _read_body(self, options: ServeOptions) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise AwsError(411, "LengthRequired", "send the body with a Content-Length (no Transfer-Encoding)",
                           close=True)
        text = (self.headers.get("Content-Length") or "0").strip()
        if not (text.isascii() and text.isdigit()):
            raise AwsError(400, "BadRequest", "Content-Length is not a whole number", close=True)
        length = int(text)
        if length > options.max_body:
            raise AwsError(413, "RequestEntityTooLarge", f"the request body is {length} bytes; ckspec serve accepts "
                                                         f"at most {options.max_body}", close=True)
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raise self._timed_out() from None
        if len(raw) < length:
            raise AwsError(400, "BadRequest", "the connection ended before Content-Length bytes of body", close=True)
        return raw

    # --- writing -------------------------------------------------------------------------------
    def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None,
              close: bool = False) -> None:
        self._answered = True
        self._reader.for_writing()  # a client that never reads its answers cannot hold the thread
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, error: AwsError) -> None:
        headers = {"x-amzn-ErrorType": error.kind, **error.headers}
        self._send(error.status, CONTENT_TYPE, error_body(error), headers, close=error.close)
        if error.status == 413:
            self._drain()

    def _drain(self) -> None:
        """Read (a bounded part of) a refused body, so the client sees the answer, not a reset."""
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(DRAIN_SECONDS)
            deadline, left = time.monotonic() + DRAIN_SECONDS, DRAIN_BYTES
            while left > 0 and time.monotonic() < deadline:
                chunk = self.connection.recv(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)

    def parse_request(self) -> bool:
        """http.server's parsing, except that an HTTP/0.9 request (no version: ``GET /``) is
        refused, since its answer would have no status line (a client could not tell it apart)."""
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(400)
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server refused the request line or headers: a JSON answer, then the connection closes."""
        kind, text = _HTTP_ERRORS.get(code, _HTTP_ERRORS[400])
        if self.request_version == "HTTP/0.9":  # no version could be read: answer with a status line anyway
            self.request_version = "HTTP/1.1"
        with contextlib.suppress(OSError):
            self._send_error(AwsError(code, kind, text, close=True))
        self.server.emulator.log_access("HTTP (malformed)", code)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Silent (see log_message); also when no request line ever arrived."""

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: http.server's own log lines quote request lines; see EmulatorServer.log_access."""
