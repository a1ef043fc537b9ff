"""The test-control extension: environment events AWS has no API for, over plain HTTP.

A target that offers it (``ckspec serve`` does) answers JSON under :data:`PREFIX` on the same
host and port as its AWS endpoint. Everything is optional for a target: the boto3 adapter
asks ``GET /_ckspec`` first, and a target without the extension simply gets fewer kinds of
steps. The protocol, version 1:

``GET /_ckspec``
    ``{"protocol": "ckspec-test-control", "version": 1, "events": [...], "clock": "real" |
    "manual", "time_travel": bool}``. ``events`` are environment event names as in
    :data:`ckspec.model.environment.EVENTS` (``kmsuser_logs_in``, ``break_security_group``, ...).
    ``clock`` says how asynchronous work progresses: with ``"manual"`` only ``/wait`` moves
    time (so a Connect cannot complete before the next call); with ``"real"`` work also
    completes as wall-clock time passes.

``POST /_ckspec/environment`` with ``{"event": NAME, "args": [...]}``
    performs one event. ``args`` are as :data:`ckspec.conformance.steps.ENVIRONMENT_ARGUMENTS`
    lists them, using the target's own identifiers (``cluster-...``, ``hsm-...``), Availability
    Zone names, numbers and, for ``create_kmsuser`` and ``change_kmsuser_password``, the
    kmsuser password (the target must never echo it). Answer: ``{"applied": bool, "created":
    ID or null}``; ``applied`` is false when the event is impossible now (for example deleting a
    subnet that has an HSM in it), which is not an error.

``POST /_ckspec/wait`` with ``{"seconds": S}``
    lets ``S`` seconds pass (advances the target's clock); answer ``{"now": seconds}``.

``POST /_ckspec/reset`` with ``{"seed": N}`` (optional)
    forgets every store, key, cluster and fault: a fresh, empty account. Answer ``{}``.

Errors are AWS-shaped: a 4xx status and ``{"__type": "ValidationException", "message": ...}``
(unknown event, wrong arguments, bad JSON); to ckspec, such an error or an answer out of
protocol from ``/environment``, ``/wait`` or ``/reset`` is a :class:`ControlError`, an
:class:`~.adapter.AdapterError` the CLI reports in one line with exit 2. A spoiled answer (reset or closed connection,
timeout, cut or non-JSON body, a 5xx, throttling) is a :class:`~.transport.TransportFault`:
``GET /_ckspec`` and ``/reset`` are retried (they change nothing, or the same thing again),
``/environment`` and ``/wait`` are not (their outcome is unknown). Only the emulator's address should be able to
reach this extension: it exists for tests and must never be offered by a production endpoint.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import attrs

from .adapter import AdapterError
from .transport import ATTEMPTS, FaultRecord, TransportFault, classify_exception, raw_text

PREFIX = "/_ckspec"
PROTOCOL = "ckspec-test-control"
VERSION = 1
CLOCKS = ("real", "manual")


class ControlError(AdapterError):
    """The test-control extension answered with an error (or not in protocol): the target broke
    the extension's contract, which the CLI reports in one line with exit 2 (USAGE), as it does
    for an adapter class that breaks the interface."""


@attrs.frozen
class ControlInfo:
    """What ``GET /_ckspec`` said."""

    events: frozenset[str]
    clock: str = "real"
    time_travel: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ControlInfo:
        if data.get("protocol") != PROTOCOL or data.get("version") != VERSION:
            raise ControlError(f"not {PROTOCOL} version {VERSION}: {str(data)[:120]}")
        events = data.get("events")
        clock = data.get("clock", "real")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events) or clock not in CLOCKS:
            raise ControlError("malformed test-control description (events must be names, clock real|manual)")
        return cls(frozenset(events), clock, bool(data.get("time_travel", False)))

    def as_json(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL, "version": VERSION, "events": sorted(self.events), "clock": self.clock,
                "time_travel": self.time_travel}


class ControlClient:
    """Talks to a target's test-control extension (``endpoint`` is the AWS endpoint URL)."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.base = endpoint.rstrip("/") + PREFIX
        self.timeout = timeout
        #: transport faults met by these calls (retried ones included)
        self.faults: list[FaultRecord] = []

    def describe(self) -> ControlInfo | None:
        """The extension's description, or None when the target does not offer it (a spoiled
        answer, after retries, is a TransportFault: it says nothing about the extension)."""
        try:
            status, data = self._retried("GET", "", None)
        except TransportFault as fault:
            if fault.kind in ("server error", "garbled body"):  # every time: an endpoint without the extension
                return None
            raise
        except (ControlError, OSError):
            return None
        if status != 200 or not isinstance(data, dict):
            return None
        try:
            return ControlInfo.from_json(data)
        except ControlError:
            return None

    def environment(self, event: str, args: tuple[Any, ...]) -> tuple[bool, str | None]:
        try:
            data = self._post("/environment", {"event": event, "args": list(args)})
        except ControlError as exc:  # named by its event; the arguments may hold a password
            raise ControlError(f"{exc} (event {event})") from None
        applied, created = data.get("applied"), data.get("created")
        if not isinstance(applied, bool) or not (created is None or isinstance(created, str)):
            raise ControlError(f"{PREFIX}/environment {event}: the answer {_shape(data)} is not "
                               f'{{"applied": true|false, "created": ID or null}}')
        return applied, created

    def wait(self, seconds: float) -> float:
        return float(self._post("/wait", {"seconds": seconds}).get("now", 0.0))

    def reset(self, seed: int = 0) -> None:
        self._post("/reset", {"seed": seed}, retried=True)

    def _post(self, path: str, body: Mapping[str, Any], retried: bool = False) -> dict[str, Any]:
        status, data = (self._retried if retried else self._request)("POST", path, body)
        if status != 200 or not isinstance(data, dict):
            kind = data.get("__type", "error") if isinstance(data, dict) else "error"
            message = data.get("message", "") if isinstance(data, dict) else ""
            # the request may carry a password: only the path and the answer are reported
            raise ControlError(f"{PREFIX}{path}: HTTP {status} {kind}: {message}".rstrip(": "))
        return data

    def _retried(self, method: str, path: str, body: Mapping[str, Any] | None) -> tuple[int, Any]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._request(method, path, body)
            except TransportFault:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        operation = f"{PREFIX}{path}"
        try:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    status, raw = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, raw = exc.code, exc.read()
        except Exception as exc:  # the request carries a password: only the kind of error is kept
            kind = classify_exception(exc)
            if kind is None:
                raise
            raise self._fault(FaultRecord(kind, operation, type(exc).__name__)) from None
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            data = None
        if (status >= 500 and status != 501) or (status == 200 and data is None) or (  # 501: an answer, not a fault
                isinstance(data, dict) and str(data.get("__type", "")).endswith("ThrottlingException")):
            kind = "server error" if status >= 500 else "throttled" if data is not None else "garbled body"
            raise self._fault(FaultRecord(kind, operation, f"HTTP {status}: {raw_text(raw)}"))
        return status, data

    def _fault(self, record: FaultRecord) -> TransportFault:
        self.faults.append(record)
        return TransportFault(record)


def _shape(data: Mapping[str, Any]) -> str:
    """An answer's members and their types (never their values: an echoed password stays unshown)."""
    return "{" + ", ".join(f"{k!r}: {type(v).__name__}" for k, v in list(data.items())[:6]) + "}"
