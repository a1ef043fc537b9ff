"""AWS-shaped error answers: an HTTP status, an error shape name (``__type``) and a message.

Every refusal the emulator sends, from a malformed HTTP request to a model precondition,
is one :class:`AwsError`. Messages say what is wrong and why, and never quote a request's
secret values (KeyStorePassword, kmsuser passwords, plaintexts).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

#: the response header that names the rules behind an answer (never the message: an
#: application that logs or matches ``message`` sees KMS's kind of text)
RULES_HEADER = "x-ckspec-rules"
#: a message that still begins with rule IDs (``CL-07: cluster ... still has HSMs``)
_LEADING_RULES = re.compile(r"((?:[A-Z]+-\d{2}(?:, |,| and )?)+): ")
_RULE = re.compile(r"[A-Z]+-\d{2}")


class AwsError(Exception):
    """An error answer: ``status``, the error shape name ``kind`` and ``message``."""

    def __init__(self, status: int, kind: str, message: str, *, close: bool = False,
                 headers: Mapping[str, str] | None = None, rules: Iterable[str] = ()) -> None:
        message, leading = split_rules(message)
        #: the rule IDs behind the refusal, sent in the x-ckspec-rules header
        self.rules = tuple(dict.fromkeys((*rules, *leading)))
        super().__init__(f"{status} {kind}: {message}")
        self.status = status
        self.kind = kind
        self.message = message
        #: the connection is closed after the answer (the request body was not read, or not all of it)
        self.close = close
        #: extra response headers (``Allow`` with a 405)
        self.headers = dict(headers or {})
        if self.rules:
            self.headers[RULES_HEADER] = ", ".join(self.rules)


def split_rules(message: str) -> tuple[str, tuple[str, ...]]:
    """A message without the rule IDs it begins with (the older form of ckspec's messages),
    first letter capitalised; and those IDs."""
    found = _LEADING_RULES.match(message)
    if found is None:
        return message, ()
    rest = message[found.end():]
    return (rest[:1].upper() + rest[1:]), tuple(_RULE.findall(found.group(1)))


def serialization(message: str) -> AwsError:
    """The body is not the JSON object the protocol requires."""
    return AwsError(400, "SerializationException", message)


def validation(message: str, rules: Iterable[str] = ()) -> AwsError:
    """A member is missing or has the wrong type or value."""
    return AwsError(400, "ValidationException", message, rules=rules)


def unknown_operation(message: str) -> AwsError:
    return AwsError(400, "UnknownOperationException", message)


def not_implemented(message: str) -> AwsError:
    """An operation the service has but the model does not cover: HTTP 501, one of the "not
    implemented" signatures the conformance engine recognises (``unsupported_signature``)."""
    return AwsError(501, "NotImplementedException", message)


def check_operation(service: str, model: Any, implemented: Collection[str], name: str, why: str) -> None:
    """Refuse an operation the service does not have (400 UnknownOperationException) or that
    ckspec serve does not implement (501, one of the "not implemented" signatures)."""
    if name not in model.operation_names:
        raise unknown_operation(f"{service} has no operation {name!r}")
    if name not in implemented:
        raise not_implemented(f"ckspec serve does not implement {service} {name}: {why} "
                              f"{', '.join(sorted(implemented))}")
