"""How an emulated account behaves, and the limits its HTTP endpoint enforces."""

from __future__ import annotations

import math
import re
from typing import Any

import attrs
from ckspec.conformance.control import CLOCKS

#: The largest request body read (1 MiB); a longer one is refused with HTTP 413 unread.
MAX_BODY = 1 << 20
CHOICES = ("reference", "random")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _seconds(allow_zero: bool) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0 or (value == 0 and not allow_zero):
            wanted = "a finite number of seconds >= 0" if allow_zero else "a finite number of seconds > 0"
            raise ValueError(f"{attribute.name} must be {wanted}, got {value!r}")
    return check


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {', '.join(choices)}, got {value!r}")
    return check


def _seed(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {value!r}")


def _region(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise ValueError(f"region must look like us-east-1, got {value!r}")


def _max_connections(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100_000:
        raise ValueError(f"max_connections must be a whole number from 1 to 100000, got {value!r}")


def _max_body(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1024:
        raise ValueError(f"max_body must be a whole number of bytes >= 1024, got {value!r}")


@attrs.frozen
class ServeOptions:
    """The knobs of ``ckspec serve`` (each flag has the same name with dashes)."""

    #: ``real``: asynchronous work completes as wall-clock time passes; ``manual``: only
    #: ``POST /_ckspec/wait`` moves time (deterministic tests)
    clock: str = attrs.field(default="real", validator=_one_of(CLOCKS))
    #: seconds until a connection attempt or a disconnect completes (T-01, CONNECT-09)
    connect_delay: float = attrs.field(default=2.0, validator=_seconds(allow_zero=True))
    #: seconds during which a read may still show a store's state from before the last call
    #: (AMB-30, AMB-12, T-02); 0 means reads never lag
    lag: float = attrs.field(default=0.5, validator=_seconds(allow_zero=True))
    #: ``reference``: the catalog's recommended outcome; ``random``: any documented outcome
    choices: str = attrs.field(default="reference", validator=_one_of(CHOICES))
    #: seeds the identifiers handed out and, with ``random`` choices, the outcomes; given, it
    #: also makes random bytes, data keys and key material reproducible (None: identifiers from
    #: seed 0, random bytes from the operating system)
    seed: int | None = attrs.field(default=None, validator=_seed)
    #: the Region of ARNs and Availability Zones when a request does not say (SigV4 scope)
    region: str = attrs.field(default="us-east-1", validator=_region)
    #: the largest request body accepted, in bytes
    max_body: int = attrs.field(default=MAX_BODY, validator=_max_body)
    #: the longest silence within a request (and before a connection's first request): the
    #: connection is dropped after it
    read_timeout: float = attrs.field(default=30.0, validator=_seconds(allow_zero=False))
    #: seconds from a request's first byte by which its request line, headers and body must all
    #: have arrived, however they trickle in (HTTP 408 and the connection closes)
    request_deadline: float = attrs.field(default=30.0, validator=_seconds(allow_zero=False))
    #: seconds a connection may wait for its next request (keep-alive) before it is closed
    keep_alive_timeout: float = attrs.field(default=15.0, validator=_seconds(allow_zero=False))
    #: connections served at once, each by a thread; beyond, the one waiting longest for its
    #: next request is closed, or if none is, the newcomer gets HTTP 400 ThrottlingException
    max_connections: int = attrs.field(default=64, validator=_max_connections)
