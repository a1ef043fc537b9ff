"""Recorded traces: what a real program's KMS and CloudHSM v2 calls were, and how they ended.

``ckspec record`` and :func:`ckspec.conformance.recording.recording` write them;
``ckspec trace check`` reads them. The format (version 1) is one JSON object::

    {
      "format": "ckspec-recorded-trace",
      "version": 1,
      "program": ["python", "app.py"],              (optional: what was run)
      "calls": [
        {
          "service": "kms",                          ("kms" or "cloudhsmv2", botocore's names)
          "operation": "DescribeCustomKeyStores",    (botocore's operation name)
          "region": "us-east-1",                     (optional)
          "endpoint": "http://127.0.0.1:9400",       (optional: where the call went; never credentials)
          "time": "2026-05-01T12:00:00.000001+00:00",  (optional: when the call started, ISO 8601)
          "end": "2026-05-01T12:00:00.120000+00:00",   (optional: when it returned)
          "request": {"CustomKeyStoreId": "cks-1234567890abcdef0"},
          "response": {"CustomKeyStores": [...], "Truncated": false}
        },
        ...
      ]
    }

Each call has exactly one of ``response`` (the parsed body, without botocore's
``ResponseMetadata``), ``error`` (``{"code", "message", "status"}``: the error shape name,
its message and the HTTP status) or ``exception`` (``{"type", "message"}``: the call raised
before an answer came, e.g. a connection error or botocore's own parameter validation).
Requests and responses are written as botocore shows them, except that bytes are base64
strings and timestamps ISO 8601 strings (reading a trace turns them back, guided by
botocore's shapes). Calls are in the order they returned. ``endpoint`` (scheme, host, port and
path, without user name, password or query) tells accounts apart: ``ckspec trace check``
checks the calls to each endpoint as one account of their own; a trace without it (written
before the field existed) is one account.

Secrets are never written: a ``KeyStorePassword`` is ``{"redacted": "password(N)"}``, the
same N for the same password within one recording (so a reader can tell "the same password
again" from "a new password"), with ``"type"`` (``integer``, ``number``, ``boolean``,
``bytes``, ``list``, ``object`` or ``other``) when the value sent was not a string, so that
the request is judged as what it was (KU-04, AMB-18); any other sensitive member is
``{"redacted": "sensitive"}`` (with ``"length"`` for bytes).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from ckspec.model.aws_service import cloudhsm, kms

FORMAT = "ckspec-recorded-trace"
VERSION = 1
SERVICES = {"kms": kms, "cloudhsmv2": cloudhsm}
#: what a redacted password decodes to: the alias itself, as a string of a valid length (KU-04)
_ALIAS = re.compile(r"password\((\d+)\)")


class RecordedTraceError(ValueError):
    """A file that is not a recorded trace (the message is one line)."""


@attrs.frozen
class RecordedError:
    code: str
    message: str
    status: int | None


@attrs.frozen
class RecordedException:
    type: str
    message: str


@attrs.frozen
class RecordedCall:
    """One call as recorded: JSON values (see the module docstring)."""

    index: int
    service: str
    operation: str
    request: Mapping[str, Any]
    response: Mapping[str, Any] | None = None
    error: RecordedError | None = None
    exception: RecordedException | None = None
    time: str | None = None
    end: str | None = None
    region: str | None = None
    #: the endpoint URL the call went to (None in traces written before it was recorded)
    endpoint: str | None = None

    @property
    def started(self) -> _dt.datetime | None:
        return _timestamp(self.time)

    def typed_request(self) -> dict[str, Any]:
        """The request with bytes and timestamps as Python values (botocore's input shape)."""
        return _typed(self.request, _operation(self.service, self.operation).input_shape, f"call {self.index} request")

    def typed_response(self) -> dict[str, Any]:
        """The response body with bytes and timestamps as Python values (the output shape)."""
        shape = _operation(self.service, self.operation).output_shape
        return _typed(self.response or {}, shape, f"call {self.index} response") if shape else dict(self.response or {})

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"service": self.service, "operation": self.operation}
        for name in ("region", "endpoint", "time", "end"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out["request"] = self.request
        if self.error is not None:
            out["error"] = attrs.asdict(self.error)
        elif self.exception is not None:
            out["exception"] = attrs.asdict(self.exception)
        else:
            out["response"] = self.response
        return out


@attrs.frozen
class RecordedTrace:
    calls: tuple[RecordedCall, ...]
    program: tuple[str, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        if self.program is not None:
            out["program"] = list(self.program)
        out["calls"] = [c.as_json() for c in self.calls]
        return out


# --- reading -----------------------------------------------------------------------------------


def load(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> RecordedTrace:
    """Read and check a recorded trace; RecordedTraceError (one line) when it is not one. The
    file is read by :func:`ckspec.conformance.jsonfile.read_json`: a regular file only, at most
    ``max_bytes`` (default its cap), nesting bounded."""
    from .jsonfile import DEFAULT_MAX_BYTES, JsonFileError, read_json

    try:
        data = read_json(path, max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)
    except JsonFileError as exc:
        raise RecordedTraceError(str(exc)) from None
    try:
        return parse(data)
    except RecordedTraceError as exc:
        raise RecordedTraceError(f"{path}: {exc}") from None


def parse(data: Any) -> RecordedTrace:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecordedTraceError(f'not a recorded trace (expected "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise RecordedTraceError(f"recorded trace version {data.get('version')!r} is not supported "
                                 f"(this ckspec reads version {VERSION})")
    calls = data.get("calls")
    if not isinstance(calls, list):
        raise RecordedTraceError('a recorded trace needs a "calls" list')
    program = data.get("program")
    if program is not None and not (isinstance(program, list) and all(isinstance(a, str) for a in program)):
        raise RecordedTraceError('"program" must be a list of strings')
    parsed = tuple(parse_call(i, c) for i, c in enumerate(calls))
    return RecordedTrace(parsed, tuple(program) if program is not None else None)


def parse_call(index: int, data: Any) -> RecordedCall:
    """One call entry, checked (including that its values fit botocore's shapes)."""
    where = f"call {index}"
    if not isinstance(data, dict):
        raise RecordedTraceError(f"{where}: expected an object, got {type(data).__name__}")
    service, operation = data.get("service"), data.get("operation")
    if service not in SERVICES:
        raise RecordedTraceError(f"{where}: service must be one of {', '.join(SERVICES)}, got {service!r}")
    if not isinstance(operation, str) or operation not in SERVICES[service]().operation_names:
        raise RecordedTraceError(f"{where}: {service} has no operation {operation!r}")
    request = data.get("request", {})
    if not isinstance(request, dict):
        raise RecordedTraceError(f"{where}: request must be an object")
    outcomes = [k for k in ("response", "error", "exception") if k in data]
    if len(outcomes) != 1:
        raise RecordedTraceError(f"{where}: needs exactly one of response, error or exception")
    for name in ("time", "end", "region", "endpoint"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise RecordedTraceError(f"{where}: {name} must be a string")
    for name in ("time", "end"):
        if data.get(name) is not None and _timestamp(data[name]) is None:
            raise RecordedTraceError(f"{where}: {name} is not an ISO 8601 timestamp: {data[name]!r}")
    if data.get("endpoint") is not None and "@" in data["endpoint"].partition("://")[2].partition("/")[0]:
        raise RecordedTraceError(f"{where}: endpoint must not hold a user name or password")
    call = RecordedCall(index, service, operation, request, time=data.get("time"), end=data.get("end"),
                        region=data.get("region"), endpoint=data.get("endpoint"))
    if "response" in data:
        if not isinstance(data["response"], dict):
            raise RecordedTraceError(f"{where}: response must be an object")
        call = attrs.evolve(call, response=data["response"])
    elif "error" in data:
        error = data["error"]
        if (not isinstance(error, dict) or not isinstance(error.get("code"), str) or not error["code"]
                or not isinstance(error.get("message", ""), str)
                or not (error.get("status") is None or (isinstance(error["status"], int)
                                                        and not isinstance(error["status"], bool)))):
            raise RecordedTraceError(f"{where}: error must be {{\"code\": str, \"message\": str, \"status\": int}}")
        call = attrs.evolve(call, error=RecordedError(error["code"], error.get("message", ""), error.get("status")))
    else:
        exc = data["exception"]
        if not isinstance(exc, dict) or not isinstance(exc.get("type"), str):
            raise RecordedTraceError(f"{where}: exception must be {{\"type\": str, \"message\": str}}")
        call = attrs.evolve(call, exception=RecordedException(exc["type"], str(exc.get("message", ""))))
    call.typed_request()  # bytes and timestamps must decode
    if call.response is not None:
        call.typed_response()
    return call


def _operation(service: str, operation: str) -> Any:
    return SERVICES[service]().operation_model(operation)


def _timestamp(text: Any) -> _dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)  # naive means UTC


def _typed(value: Any, shape: Any, where: str) -> Any:
    """JSON values to botocore's Python values, guided by the shape (unknown members pass as they are)."""
    if shape is None:
        return value
    if isinstance(value, dict) and "redacted" in value and set(value) <= {"redacted", "length", "type"}:
        return _redacted(value, shape, where)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _typed(v, shape.members.get(k), f"{where}.{k}") for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_typed(v, shape.member, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: _typed(v, shape.value, f"{where}.{k}") for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise RecordedTraceError(f"{where}: not base64") from None
    if kind == "timestamp" and isinstance(value, str):
        stamp = _timestamp(value)
        if stamp is None:
            raise RecordedTraceError(f"{where}: not an ISO 8601 timestamp: {value!r}")
        return stamp
    if kind == "timestamp" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value, _dt.UTC)
    return value


def _redacted(value: dict[str, Any], shape: Any, where: str) -> Any:
    label = value["redacted"]
    alias = _ALIAS.fullmatch(label) if isinstance(label, str) else None
    if alias:
        kind = value.get("type", "string")
        if kind not in _PLACEHOLDERS:
            raise RecordedTraceError(f"{where}: a redacted password's type must be one of "
                                     f"{', '.join(_PLACEHOLDERS)}, got {kind!r}")
        return _PLACEHOLDERS[kind](int(alias.group(1)))
    if shape.type_name == "blob":
        length = value.get("length", 0)
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise RecordedTraceError(f"{where}: a redacted value's length must be a whole number")
        return bytes(length)  # only the length of sensitive bytes is known (and compared)
    return f"redacted-{label}"


def password_value(alias: int) -> str:
    """What ``{"redacted": "password(N)"}`` stands for when a trace is read: a placeholder equal
    for equal N, different otherwise, of a length KeyStorePassword accepts (7 to 32)."""
    return f"password({alias})".ljust(7, "_")


@attrs.frozen
class OtherPassword:
    """What a redacted password of type ``other`` (a value JSON has no kind for) stands for."""

    alias: int


#: what ``{"redacted": "password(N)", "type": T}`` stands for when a trace is read: a value of
#: kind T (the kind is what a service's validation sees; KU-04 keeps everything else out)
_PLACEHOLDERS: dict[str, Any] = {
    "string": password_value,
    "integer": lambda n: n,
    "number": float,
    "boolean": lambda n: True,
    "bytes": lambda n: password_value(n).encode("ascii"),
    "list": lambda n: [password_value(n)],
    "object": lambda n: {"password": n},
    "other": OtherPassword,
}


# --- writing -----------------------------------------------------------------------------------


def write(trace: RecordedTrace, path: str | os.PathLike[str]) -> None:
    """Write the trace (atomically: a reader never sees half a file)."""
    target = Path(path)
    text = json.dumps(trace.as_json(), indent=2, ensure_ascii=False) + "\n"
    fd, temporary = tempfile.mkstemp(prefix=".ckspec-trace-", dir=str(target.parent or Path(".")))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
