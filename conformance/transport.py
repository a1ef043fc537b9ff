"""Transport faults: answers that say nothing about the implementation's behaviour.

Between ckspec and an endpoint, the network and whatever fronts the service can spoil an
answer: the connection resets or closes, the answer comes too late, its body is cut short or
garbled, a gateway answers a 5xx page, a rate limit answers ``ThrottlingException``. None of
that is a rule broken by the implementation (issue 10 section 1), so none of it may become a
failure or a "minimal reproduction":

* :func:`classify_exception` and :func:`classify_answer` name the kind of fault (:data:`KINDS`)
  from what botocore (or urllib, for the test-control calls) raised or received. The raw
  answer is kept, cut short and with every ``KeyStorePassword`` value blanked.
* :class:`TransportFault` carries it. The boto3 adapter retries a read-only operation
  (:func:`is_read_only`) and a throttled one (throttling means the call had no effect) a
  bounded number of times; otherwise the example is abandoned: its outcome is unknown, it is
  neither a failure nor a pass.
* :class:`NotImplementedEvidence`: an operation is *unsupported* only on an unambiguous
  signature (HTTP 501, ``NotImplementedError``, ``InvalidAction``,
  ``UnknownOperationException``), or when an ambiguous one (an HTML 500) repeats on
  :data:`REPEATS` calls of an operation that never answered otherwise. One HTML 500 proves nothing.
"""

from __future__ import annotations

import functools
import http.client
import json
import re
import socket
import urllib.error
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .adapter import Reply

KINDS = ("connection reset", "connection closed", "read timeout", "truncated body", "garbled body", "server error",
         "throttled")
#: read-only operations: retried after a fault (nothing changed, whatever the answer was)
READ_ONLY_PREFIXES = ("Describe", "List", "Get")
#: attempts of a read-only or throttled call before the fault ends the example
ATTEMPTS = 3
#: calls of one operation with the same ambiguous signature (and no other answer) that make it unsupported
REPEATS = 3
#: error codes that say "not implemented" whatever the status (HTTP 501 says it by itself)
UNAMBIGUOUS_CODES = frozenset({"InvalidAction", "UnknownOperationException", "NotImplemented"})
#: characters of a raw answer kept in a report
RAW_CHARS = 300
_SECRET_MEMBER = re.compile(r'("?(?:KeyStorePassword|Password|password)"?\s*[:=]\s*)("[^"]*"|\'[^\']*\'|[^,}\s]+)')


def is_read_only(operation: str) -> bool:
    return operation.startswith(READ_ONLY_PREFIXES)


def redact(raw: str, secrets: Iterable[str] = ()) -> str:
    """``raw`` without any password member's value or any of ``secrets``, cut to :data:`RAW_CHARS`."""
    cleaned = _SECRET_MEMBER.sub(r'\1"<redacted>"', raw)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, "<redacted>")
    return cleaned if len(cleaned) <= RAW_CHARS else cleaned[:RAW_CHARS] + "..."


@attrs.frozen
class FaultRecord:
    """One transport fault: its kind, the operation (or control call) it spoiled, the raw answer."""

    kind: str
    operation: str
    raw: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "operation": self.operation, "raw": self.raw}


class TransportFault(Exception):
    """An answer spoiled on the way: not the implementation's behaviour. ``reply`` is what the
    answer reads as, when it is an ambiguous not-implemented signature (an HTML 500)."""

    def __init__(self, record: FaultRecord, reply: Reply | None = None, signature: str | None = None) -> None:
        super().__init__(f"transport fault ({record.kind}) on {record.operation or 'a call'}: outcome unknown")
        self.record, self.reply, self.signature = record, reply, signature

    @property
    def kind(self) -> str:
        return self.record.kind


@attrs.define
class NotImplementedEvidence:
    """What a run has seen of ambiguous not-implemented signatures, per operation. Shared by
    every example of a run. ``trusted``: the target is known to answer every operation it lacks
    with the same HTML 500 (moto's server, not behind a proxy), so once is enough."""

    trusted: bool = False
    seen: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    answered_ops: set[str] = attrs.field(factory=set)

    def answered(self, operation: str) -> None:
        """``operation`` gave an answer of its own: it is implemented."""
        self.answered_ops.add(operation)

    def conclusive(self, operation: str, signature: str) -> bool:
        """Note one more ``signature`` answer to ``operation``; whether it now proves the
        operation is not implemented."""
        self.seen[(operation, signature)] += 1
        if operation in self.answered_ops:
            return False
        return self.trusted or self.seen[(operation, signature)] >= REPEATS


# --- classification ---------------------------------------------------------------------------------

def classify_exception(exc: BaseException) -> str | None:
    """The kind of transport fault an exception from an HTTP client means, or None. Only an
    exception of a transport type counts; its chain (what botocore or urllib wrapped) only tells
    a reset from a close."""
    import botocore.exceptions
    import urllib3.exceptions

    if isinstance(exc, (botocore.exceptions.ReadTimeoutError, socket.timeout, TimeoutError,
                        urllib3.exceptions.ReadTimeoutError)):
        return "read timeout"
    if isinstance(exc, (http.client.IncompleteRead, urllib3.exceptions.IncompleteRead)):
        return "truncated body"
    transport = (botocore.exceptions.ConnectionClosedError, urllib3.exceptions.ProtocolError,
                 http.client.HTTPException, ConnectionError, urllib.error.URLError)
    if not isinstance(exc, transport):
        return None
    chain = list(_chain(exc))
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return None  # nobody listens: unreachable, not a spoiled answer
    if any(isinstance(e, (socket.timeout, TimeoutError)) for e in chain):
        return "read timeout"
    if any(isinstance(e, (http.client.IncompleteRead, urllib3.exceptions.IncompleteRead)) for e in chain):
        return "truncated body"
    if any(isinstance(e, http.client.RemoteDisconnected) for e in chain):  # a ConnectionResetError subclass
        return "connection closed"
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError)) for e in chain):
        return "connection reset"
    if isinstance(exc, urllib.error.URLError) and not any(
            isinstance(e, (ConnectionAbortedError, http.client.HTTPException)) for e in chain):
        return None  # refused, no such host: unreachable, not a spoiled answer
    return "connection closed"


def _chain(exc: BaseException | None) -> Iterable[BaseException]:
    seen = 0
    while exc is not None and seen < 8:
        yield exc
        reason = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error here
        exc = reason if isinstance(reason, BaseException) else (exc.__cause__ or exc.__context__)
        seen += 1


def classify_answer(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """The kind of transport fault a JSON-protocol answer is, or None for a real answer: a body
    shorter than its Content-Length, a body that is not a JSON object, a 5xx that is not one of
    the services' documented error shapes, a throttling error."""
    declared = _header(headers, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > len(body):
        return "truncated body"
    document = _json_object(body)
    code = _error_code(headers, document)
    if status >= 500 and status != 501 and code not in documented_errors() | UNAMBIGUOUS_CODES:
        return "server error"
    if body.strip() and document is None:
        return "garbled body"
    if code is not None and code.endswith("ThrottlingException"):
        return "throttled"
    return None


def html_500(status: int, body: bytes) -> bool:
    """The ambiguous not-implemented signature: HTTP 500 with an HTML body."""
    return status == 500 and body.lstrip()[:1] == b"<"


@functools.cache
def documented_errors() -> frozenset[str]:
    """Every error shape of the KMS and CloudHSM v2 service models (KMSInternalException,
    DependencyTimeoutException, CloudHsmInternalFailureException, ...)."""
    import botocore.session

    session = botocore.session.get_session()
    names: set[str] = set()
    for service in ("kms", "cloudhsmv2"):
        model = session.get_service_model(service)
        names |= {shape.name for shape in model.error_shapes}
    return frozenset(names)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _json_object(body: bytes) -> dict[str, Any] | None:
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _error_code(headers: Mapping[str, str], document: Mapping[str, Any] | None) -> str | None:
    code = _header(headers, "x-amzn-errortype") or (document or {}).get("__type") or (document or {}).get("code")
    if not isinstance(code, str) or not code:
        return None
    return code.split(":")[0].rsplit("#", 1)[-1]


def raw_text(body: bytes) -> str:
    return redact(body.decode("utf-8", "replace"))


def before_parse_hook(operation_model: Any, response_dict: Mapping[str, Any], **_: Any) -> None:
    """botocore's ``before-parse`` event for a JSON-protocol client: a spoiled answer raises
    :class:`TransportFault` before botocore can parse it (a garbled 200 would otherwise read as
    an empty success)."""
    status, body = int(response_dict.get("status_code", 0)), response_dict.get("body") or b""
    if not isinstance(body, bytes):
        return  # a streamed body: not in these services' JSON operations
    kind = classify_answer(status, response_dict.get("headers") or {}, body)
    if kind is None:
        return
    record = FaultRecord(kind, operation_model.name, raw_text(body))
    if kind == "server error" and html_500(status, body):
        text = body.decode("utf-8", "replace")
        raise TransportFault(record, Reply(500, "500", text), "HTTP 500 with an HTML body")
    raise TransportFault(record)


def before_parse_hook_xml(operation_model: Any, response_dict: Mapping[str, Any], **_: Any) -> None:
    """The same for EC2 (the query protocol, XML answers): a cut body, any 5xx, a success that is
    not XML, a throttled request."""
    status, body = int(response_dict.get("status_code", 0)), response_dict.get("body") or b""
    if not isinstance(body, bytes):
        return
    declared = _header(response_dict.get("headers") or {}, "content-length")
    kind = ("truncated body" if declared is not None and declared.isdigit() and int(declared) > len(body)
            else "server error" if status >= 500
            else "garbled body" if status == 200 and not body.lstrip().startswith(b"<")
            else "throttled" if status >= 400 and (b"RequestLimitExceeded" in body or b"Throttling" in body)
            else None)
    if kind is not None:
        raise TransportFault(FaultRecord(kind, operation_model.name, raw_text(body)))
