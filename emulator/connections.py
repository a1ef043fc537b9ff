"""Bounded connections for ``ckspec serve``: a cap, a whole-request deadline, idle keep-alive.

Nothing a client does holds more than one of :attr:`ServeOptions.max_connections
<ckspec.emulator.options.ServeOptions.max_connections>` threads, or holds one for long:

- :class:`DeadlineReader` reads a connection under two deadlines: the next request must start
  within ``keep_alive_timeout`` of the connection opening (or of the previous answer), and its
  request line, headers and body must all arrive within ``request_deadline`` of its first byte,
  however the bytes trickle in (no single read waits longer than ``read_timeout`` either).
- :class:`Slots` counts the connections being served. At the cap, the connections that have
  been waiting longest for their next request (an eighth of the cap at most) are closed to make
  room (a keep-alive client reconnects; a silent one has no claim), and when every slot is
  inside a request, the newcomer is refused.
- :class:`Refuser` answers each refused connection with an AWS-shaped throttling error
  (HTTP 400 ``ThrottlingException``, which AWS SDKs retry with backoff) from one thread for all
  of them, reads what the client sent (so the answer is not lost to a reset), and closes.
"""

from __future__ import annotations

import contextlib
import io
import selectors
import socket
import threading
import time
import uuid
from http import HTTPStatus

from .errors import AwsError
from .json_protocol import CONTENT_TYPE, error_body

#: seconds a refused connection is kept to read what its client sent before it is closed
REFUSAL_LINGER = 1.0
#: seconds a connection waits for its next request before it can be closed to make room
EVICTABLE_AFTER = 0.5
#: seconds a read may outlast its deadline (the socket's timeout is not reset for less)
SLACK = 0.05
#: seconds the accept loop waits for a slot freed by closing an idle connection
SLOT_WAIT = 0.25


def throttling(max_connections: int) -> AwsError:
    return AwsError(400, "ThrottlingException", f"ckspec serve is already answering {max_connections} connections "
                                                f"(--max-connections); retry later", close=True)


def answer_bytes(error: AwsError) -> bytes:
    """A whole HTTP/1.1 answer for ``error``, closing the connection (no handler needed)."""
    body = error_body(error)
    head = (f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\nServer: ckspec-serve\r\n"
            f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\nx-amzn-RequestId: {uuid.uuid4()}\r\n"
            f"x-amzn-ErrorType: {error.kind}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


class DeadlineReader(io.RawIOBase):
    """A socket's bytes, read under the keep-alive and request deadlines (module docstring)."""

    def __init__(self, sock: socket.socket, *, keep_alive: float, request_deadline: float, read_timeout: float) -> None:
        super().__init__()
        self._sock = sock
        self._keep_alive, self._request_deadline, self._read_timeout = keep_alive, request_deadline, read_timeout
        #: whether a request has started (its first byte arrived) since :meth:`await_request`
        self.started = False
        #: what ran out: None, "idle" (no request started in time) or "request" (it did not complete)
        self.expired: str | None = None
        self.idle_since = time.monotonic()
        self._deadline = self.idle_since + keep_alive
        self._timeout: float | None = None  # the socket's, as last set (settimeout costs system calls)

    def readable(self) -> bool:
        return True

    def await_request(self) -> None:
        """The connection waits for its next request from now."""
        self.started, self.expired = False, None
        self.idle_since = time.monotonic()
        self._deadline = self.idle_since + self._keep_alive

    def idle_for(self, now: float) -> float:
        """Seconds spent waiting for the next request (0 while a request is under way)."""
        return 0.0 if self.started else now - self.idle_since

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        silent_since = time.monotonic()
        while True:
            now = time.monotonic()
            left = self._deadline - now
            wanted = min(left, self._read_timeout - (now - silent_since))
            if wanted <= 0:
                self._expire()
            if self._timeout is None or self._timeout > wanted + SLACK or self._timeout < wanted / 2:
                self._set_timeout(wanted)
            try:
                count = self._sock.recv_into(buffer)
                break
            except TimeoutError:
                if self._timeout >= wanted - SLACK:  # (else the timeout was set shorter than allowed: wait on)
                    self._expire()
                self._set_timeout(wanted)
        if count and not self.started:
            self.started = True
            self._deadline = time.monotonic() + self._request_deadline
        return count

    def for_writing(self) -> None:
        """A timeout for sending an answer to a client that may never read it."""
        if self._timeout is None or self._timeout < 1.0:
            self._set_timeout(self._read_timeout)

    def _set_timeout(self, seconds: float) -> None:
        self._sock.settimeout(seconds)
        self._timeout = seconds

    def _expire(self) -> None:
        self.expired = "request" if self.started else "idle"
        raise TimeoutError(f"the connection's {self.expired} time ran out")


class Slots:
    """The connections being served, at most ``cap`` of them (module docstring)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._free = threading.BoundedSemaphore(cap)
        self._lock = threading.Lock()
        self._open: dict[socket.socket, DeadlineReader | None] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def take(self, sock: socket.socket) -> bool:
        """A slot for ``sock``, closing an idle connection to make room if need be; False: refuse it."""
        if not self._free.acquire(blocking=False):
            if not self._evict_idle() or not self._free.acquire(timeout=SLOT_WAIT):
                return False
        with self._lock:
            self._open[sock] = None
        return True

    def reading(self, sock: socket.socket, reader: DeadlineReader) -> None:
        """``sock``'s handler reads through ``reader`` (which says whether it is idle)."""
        with self._lock:
            if sock in self._open:
                self._open[sock] = reader

    def give_back(self, sock: socket.socket) -> None:
        with self._lock:
            if self._open.pop(sock, False) is False:
                return
        self._free.release()

    def wake_all(self) -> None:
        """End every connection's wait for its next request (the server stops); answers under
        way still go out."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)

    def _evict_idle(self) -> bool:
        """Close the connections waiting longest for their next request (a few at once, so that
        a burst of newcomers does not wait for one slot at a time); False if none is idle enough."""
        now = time.monotonic()
        with self._lock:
            idle = [(reader.idle_for(now), sock) for sock, reader in self._open.items() if reader is not None]
        idle = sorted((pair for pair in idle if pair[0] >= EVICTABLE_AFTER), key=lambda pair: -pair[0])
        for _, sock in idle[:max(1, self.cap // 8)]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)  # its handler reads the end and closes
        return bool(idle)


class Refuser:
    """Answers refused connections from one thread; at most ``most`` at a time (beyond that,
    a refused connection is closed at once)."""

    def __init__(self, answer: bytes, *, most: int = 256) -> None:
        self._answer, self._most = answer, most
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._incoming: list[socket.socket] = []
        self._lingering: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stopping = False
        #: how many connections were refused (with an answer or, beyond ``most``, without)
        self.refused = 0
        self._thread = threading.Thread(target=self._run, name="ckspec-serve-refuser", daemon=True)
        self._thread.start()

    def refuse(self, sock: socket.socket) -> None:
        """Hand over a connection to refuse (never blocks)."""
        with self._lock:
            self.refused += 1
            full = self._stopping or len(self._incoming) + len(self._lingering) >= self._most
            if not full:
                self._incoming.append(sock)
        if full:
            _close(sock)
            return
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stopping:
                for key, _ in self._selector.select(timeout=0.2):
                    self._readable(key.fileobj)  # type: ignore[arg-type]
                self._take_incoming()
                now = time.monotonic()
                for sock in [s for s, due in self._lingering.items() if due <= now]:
                    self._drop(sock)
        finally:
            for sock in list(self._lingering):
                self._drop(sock)
            with self._lock:
                for sock in self._incoming:
                    _close(sock)
                self._incoming.clear()
            self._selector.close()
            _close(self._wake_read)
            _close(self._wake_write)

    def _take_incoming(self) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for sock in incoming:
            try:
                sock.setblocking(False)
                sock.send(self._answer)  # a few hundred bytes: the socket's buffer takes them at once
                sock.shutdown(socket.SHUT_WR)
                self._selector.register(sock, selectors.EVENT_READ)
            except (OSError, ValueError):
                _close(sock)
                continue
            self._lingering[sock] = time.monotonic() + REFUSAL_LINGER

    def _readable(self, sock: socket.socket) -> None:
        if sock is self._wake_read:
            with contextlib.suppress(OSError):
                sock.recv(4096)
            return
        try:
            ended = not sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            ended = True
        if ended:
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        self._lingering.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
