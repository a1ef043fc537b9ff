"""The steps of a conformance run, in the model's identifiers, and their two written forms.

A step is a KMS call, an environment control, or time passing. Steps name resources by the
model's identifiers (``cks-...``, ``cluster-...``); the session maps them to the target's.
Passwords are never written down: a step holds a :class:`Password` alias, and each process
draws a random value for each alias (``session._PASSWORDS``), so a saved trace or a printed
program reproduces a failure without containing any password.

Written forms: JSON (saved traces, :func:`to_json` / :func:`from_json`) and one line of a
runnable Python program (:func:`to_python`).
"""

from __future__ import annotations

import base64
from typing import Any, Union

import attrs

#: What each environment control's arguments are (model identifiers are strings).
ENVIRONMENT_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "create_cluster": ("count",), "create_hsm": ("cluster", "zone"), "initialize_cluster": ("cluster",),
    "activate_cluster": ("cluster",), "delete_hsm": ("cluster", "hsm"), "delete_cluster": ("cluster",),
    "backup_cluster": ("cluster",), "restore_backup": ("backup",), "create_kmsuser": ("cluster", "password"),
    "delete_kmsuser": ("cluster",), "kmsuser_logs_in": ("cluster",), "kmsuser_logs_out": ("cluster",),
    "change_kmsuser_password": ("cluster", "password"), "kmsuser_locked_out": ("cluster",),
    "kmsuser_enables_2fa": ("cluster",), "delete_key_material": ("cluster", "key"),
    "delete_subnet": ("cluster", "zone"), "exhaust_subnet": ("cluster", "zone"), "free_subnet": ("cluster", "zone"),
    "break_security_group": ("cluster",), "repair_security_group": ("cluster",), "sessions_exhausted": ("cluster",),
    "sessions_freed": ("cluster",), "network_fault_begins": (), "network_fault_ends": (),
    "internal_fault_begins": (), "internal_fault_ends": (),
    # KU-11 to KU-13: kmsuser on each HSM
    "create_kmsuser_missing_hsm": ("cluster", "hsm", "password"), "create_hsm_from_older_backup": ("cluster", "zone"),
    "change_kmsuser_password_misses_hsm": ("cluster", "hsm", "password"), "sync_kmsuser": ("cluster", "hsm"),
}


@attrs.frozen
class Password:
    """A kmsuser password by alias; the session supplies a random value for it. ``length`` asks
    for a value of that many characters (KU-04: 7 to 32; the generator also draws 6 and 33),
    another password than the alias's own."""

    alias: int
    length: int | None = None

    def __repr__(self) -> str:
        return f"password({self.alias})" if self.length is None else f"password({self.alias}, length={self.length})"


@attrs.frozen
class CallStep:
    operation: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@attrs.frozen
class EnvironmentStep:
    event: str
    args: tuple[Any, ...] = ()


@attrs.frozen
class WaitStep:
    """Let a few seconds pass: asynchronous work may or may not complete."""

    seconds: float = 1.0


@attrs.frozen
class SettleStep:
    """Poll (wait, then Describe) until no connection attempt or disconnect is under way."""


@attrs.frozen
class DaysPassStep:
    """Let days pass: key deletion waiting periods (7 to 30 days) end."""

    days: int = 31


@attrs.frozen
class PaginateStep:
    """List every store page by page with this Limit, following NextMarker (DESC-04)."""

    limit: int = 1


Step = Union[CallStep, EnvironmentStep, WaitStep, SettleStep, DaysPassStep, PaginateStep]


def call(operation: str, **params: Any) -> CallStep:
    return CallStep(operation, tuple(params.items()))


# --- JSON ------------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, Password):
        return {"$password": value.alias} if value.length is None else {"$password": value.alias,
                                                                        "$length": value.length}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$password"} and isinstance(value["$password"], int):
            return Password(value["$password"])
        if set(value) == {"$password", "$length"} and all(isinstance(value[k], int) and not isinstance(value[k], bool)
                                                          and 0 <= value[k] <= 64 for k in value):
            return Password(value["$password"], value["$length"])
        if set(value) == {"$bytes"} and isinstance(value["$bytes"], str):
            return base64.b64decode(value["$bytes"])
        raise ValueError(f"unknown encoded value {value!r}")
    if isinstance(value, list):
        raise ValueError("lists are not step arguments")
    return value


def to_json(step: Step) -> dict[str, Any]:
    if isinstance(step, CallStep):
        return {"call": step.operation, "params": {k: _encode(v) for k, v in step.params}}
    if isinstance(step, EnvironmentStep):
        return {"environment": step.event, "args": [_encode(a) for a in step.args]}
    if isinstance(step, WaitStep):
        return {"wait": step.seconds}
    if isinstance(step, SettleStep):
        return {"settle": True}
    if isinstance(step, DaysPassStep):
        return {"days_pass": step.days}
    if isinstance(step, PaginateStep):
        return {"paginate": step.limit}
    raise TypeError(f"not a step: {step!r}")


def from_json(data: Any) -> Step:
    """A step from its JSON form; ValueError with the reason when it is not one."""
    if not isinstance(data, dict):
        raise ValueError(f"a step must be an object, got {type(data).__name__}")
    if "call" in data:
        from ckspec.model.transitions import CALLS

        params = data.get("params", {})
        if not isinstance(data["call"], str) or not isinstance(params, dict):
            raise ValueError("a call step needs an operation name and a params object")
        if data["call"] not in CALLS:
            raise ValueError(f"the model does not cover the operation {data['call']!r}")
        return CallStep(data["call"], tuple((k, _decode(v)) for k, v in params.items()))
    if "environment" in data:
        event, args = data["environment"], data.get("args", [])
        if event not in ENVIRONMENT_ARGUMENTS or not isinstance(args, list):
            raise ValueError(f"unknown environment control {event!r}")
        if len(args) != len(ENVIRONMENT_ARGUMENTS[event]):
            raise ValueError(f"{event} takes {len(ENVIRONMENT_ARGUMENTS[event])} arguments, got {len(args)}")
        decoded = tuple(_decode(a) for a in args)
        for kind, value in zip(ENVIRONMENT_ARGUMENTS[event], decoded):
            wanted = {"count": int, "password": Password}.get(kind, str)
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise ValueError(f"{event}: the {kind} argument must be a {wanted.__name__}, got {value!r}")
        return EnvironmentStep(event, decoded)
    if "wait" in data:
        return WaitStep(_number(data["wait"], float, "wait"))
    if "settle" in data:
        return SettleStep()
    if "days_pass" in data:
        return DaysPassStep(_number(data["days_pass"], int, "days_pass"))
    if "paginate" in data:
        return PaginateStep(_number(data["paginate"], int, "paginate"))
    raise ValueError(f"not a step: {sorted(data)}")


def _number(value: Any, kind: type, name: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} needs a positive number, got {value!r}")
    if kind is int and value != int(value):
        raise ValueError(f"{name} needs a whole number, got {value!r}")
    return kind(value)


# --- Python ----------------------------------------------------------------------------------------


def to_python(step: Step, session: str = "s") -> str:
    """One line of a program that replays ``step`` on a :class:`~ckspec.conformance.Session`."""
    if isinstance(step, CallStep):
        args = ", ".join([repr(step.operation), *(f"{k}={v!r}" for k, v in step.params)])
        return f"{session}.call({args})"
    if isinstance(step, EnvironmentStep):
        return f"{session}.env({', '.join([repr(step.event), *(repr(a) for a in step.args)])})"
    if isinstance(step, WaitStep):
        return f"{session}.wait({step.seconds!r})"
    if isinstance(step, SettleStep):
        return f"{session}.settle()"
    if isinstance(step, DaysPassStep):
        return f"{session}.days_pass({step.days})"
    if isinstance(step, PaginateStep):
        return f"{session}.paginate(limit={step.limit})"
    raise TypeError(f"not a step: {step!r}")
