"""What can happen to a world: a KMS API call, an internal event, or an environment event.

Outcomes pair a response with the next world and the rule IDs that justify them. A
request's KeyStorePassword and Plaintext never appear in a ``repr``.
"""

from __future__ import annotations

from typing import Any, Mapping, Union

import attrs

from .aws_service import http_status
from .world import World

#: Request members whose values are secrets or payloads: never printed.
#: XksProxyAuthenticationCredential holds the RawSecretAccessKey of an external key store (XKS-01).
SECRET_MEMBERS = frozenset({"KeyStorePassword", "Plaintext", "XksProxyAuthenticationCredential"})
#: Environment events that take a kmsuser password (a test checks this against their signatures).
SECRET_EVENTS = frozenset({"create_kmsuser", "change_kmsuser_password", "create_kmsuser_missing_hsm",
                           "change_kmsuser_password_misses_hsm"})


def redacted(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ("<redacted>" if k in SECRET_MEMBERS else v) for k, v in params.items()}


@attrs.frozen(repr=False)
class Call:
    """A KMS API request: the operation name and its parameters."""

    operation: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, operation: str, params: Mapping[str, Any] | None = None, **more: Any) -> "Call":
        merged = {**(params or {}), **more}
        return cls(operation, tuple(merged.items()))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in redacted(self.kwargs).items())
        return f"{self.operation}({args})"


@attrs.frozen
class Internal:
    """An event inside KMS that the caller sees only through reads: the end of a connection
    attempt, of a disconnect, or of a key's deletion waiting period."""

    event: str
    subject: int

    def __repr__(self) -> str:
        return f"{self.event}(#{self.subject})"


@attrs.frozen
class Environment:
    """Something the user does outside KMS: to the cluster, its HSMs, subnets, kmsuser, or a fault."""

    event: str
    args: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        secret = self.event in SECRET_EVENTS
        args = ", ".join("<redacted>" if secret and isinstance(a, str) else repr(a) for a in self.args)
        return f"{self.event}({args})"


Action = Union[Call, Internal, Environment]


@attrs.frozen
class Response:
    """A successful body, or an error shape name with a message and its HTTP status (ERR-01:
    the error carries its shape name and a message; ERR-02: the status)."""

    body: dict[str, Any] | None = attrs.field(default=None, eq=False, hash=False)
    error: str | None = None
    message: str = ""
    #: the rule IDs behind the answer (reported next to the message, never inside it)
    rules: tuple[str, ...] = attrs.field(default=(), eq=False, hash=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> int:
        return 200 if self.error is None else http_status(self.error)

    @classmethod
    def success(cls, body: dict[str, Any], rules: tuple[str, ...] = ()) -> "Response":
        return cls(body=body, rules=tuple(rules))

    @classmethod
    def failure(cls, error: str, message: str, rules: tuple[str, ...] = ()) -> "Response":
        return cls(error=error, message=message, rules=tuple(rules))

    def summary(self) -> str:
        return "200 OK" if self.ok else f"{self.status} {self.error}"


@attrs.frozen
class Outcome:
    """One possible result of an action."""

    action: Action
    response: Response | None
    world: World = attrs.field(repr=False)
    rules: tuple[str, ...]
    #: the table row (or environment event) that produced it
    label: str
    #: the ambiguity that makes this outcome a documented alternative, if any
    alt: str | None = None
