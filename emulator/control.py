"""The server side of the test-control extension (:mod:`ckspec.conformance.control`).

Under ``/_ckspec``: what AWS has no API for. ``GET /_ckspec`` describes the extension;
``POST /_ckspec/environment`` performs one environment event of the model
(:data:`ckspec.model.environment.EVENTS`: activating a cluster, kmsuser, subnets, the
security group, sessions, faults, backups and restores, ...); ``POST /_ckspec/wait`` lets
time pass; ``POST /_ckspec/reset`` empties the account. It has no authentication: it exists
for tests, which is why the emulator listens on loopback unless told otherwise.
"""

from __future__ import annotations

import math
from typing import Any

from ckspec.conformance.control import PREFIX, ControlInfo
from ckspec.conformance.steps import ENVIRONMENT_ARGUMENTS
from ckspec.model.environment import EVENTS

from . import regions
from .account import Account
from .errors import AwsError, validation

#: the paths under PREFIX and the method each takes
PATHS = {"": "GET", "/environment": "POST", "/wait": "POST", "/reset": "POST"}


def check_path(path: str, method: str) -> None:
    """Refuse an unknown path (404) or the wrong method for it (405)."""
    wanted = PATHS.get(path)
    if wanted is None:
        raise AwsError(404, "UnknownOperationException",
                       f"no test-control path {PREFIX}{path}; the paths are "
                       f"{', '.join(PREFIX + p for p in PATHS)}")
    if method != wanted:
        raise AwsError(405, "MethodNotAllowed", f"{PREFIX}{path} takes {wanted}, not {method}", close=True,
                       headers={"Allow": wanted})


def describe(account: Account) -> dict[str, Any]:
    return ControlInfo(frozenset(EVENTS), clock=account.clock.kind, time_travel=True).as_json()


def environment(account: Account, request: dict[str, Any]) -> dict[str, Any]:
    """``{"event": NAME, "args": [...]}`` -> ``{"applied": bool, "created": ID or null}``.
    Arguments are never quoted back: two of the events take the kmsuser password."""
    _only(request, {"event", "args"}, "environment")
    event, args = request.get("event"), request.get("args", [])
    if not isinstance(event, str) or event not in EVENTS:
        raise validation(f"environment: event must be one of {', '.join(sorted(EVENTS))}")
    kinds = ENVIRONMENT_ARGUMENTS[event]
    if not isinstance(args, list) or len(args) != len(kinds):
        raise validation(f"environment {event}: args must be a list of {len(kinds)} "
                         f"({', '.join(kinds) or 'nothing'})")
    values = tuple(_argument(event, kind, value) for kind, value in zip(kinds, args))
    reply = account.model.environment(event, values)
    return {"applied": reply.applied, "created": reply.created}


def _argument(event: str, kind: str, value: Any) -> Any:
    if kind == "count":
        if not isinstance(value, int) or isinstance(value, bool):
            raise validation(f"environment {event}: the {kind} argument must be a whole number")
        return value
    if not isinstance(value, str):
        raise validation(f"environment {event}: the {kind} argument must be a string")
    if kind == "zone":
        return regions.control_zone(value)
    if kind == "key":
        return value.rpartition("/")[2]  # a key ARN ends in key/<id>
    return value


def wait(account: Account, request: dict[str, Any]) -> dict[str, Any]:
    """``{"seconds": S}`` -> ``{"now": seconds}``: asynchronous work due by then completes."""
    _only(request, {"seconds"}, "wait")
    seconds = request.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or seconds < 0:
        raise validation("wait: seconds must be a finite number >= 0")
    return {"now": account.wait(float(seconds))}


def reset(account: Account, request: dict[str, Any]) -> dict[str, Any]:
    """``{"seed": N}`` (optional) -> ``{}``: a fresh, empty account."""
    _only(request, {"seed"}, "reset")
    seed = request.get("seed", account.options.seed)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise validation("reset: seed must be a whole number >= 0")
    account.reset(seed)
    return {}


def _only(request: dict[str, Any], members: set[str], what: str) -> None:
    extra = sorted(set(request) - members)
    if extra:
        raise validation(f"{what}: unknown member {extra[0]!r}; expected {', '.join(sorted(members))}")
