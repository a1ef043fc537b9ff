"""The AWS service model as botocore ships it: the single source for enums, shapes and error lists.

Nothing here is copied by hand from the AWS documentation. Enum values, parameter
constraints (lengths, patterns, ranges) and each operation's error list are read from
botocore's JSON service models at run time, so a botocore upgrade that changes them
shows up as a model change rather than as silent drift.

The one exception is the HTTP status of each error shape: botocore does not carry it,
so it comes from the Smithy model as the rule catalog records it (ERR-02, AMB-21).
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import re
from typing import Any, Mapping

import botocore.session

#: Abstract outcome for malformed parameters; it is not an AWS error shape (AMB-18).
VALIDATION_ERROR = "ValidationError"

#: HTTP status per error shape, from the Smithy ``httpError`` trait (ERR-02). Shapes not
#: listed answer 400, which is what Smithy gives every custom-key-store error.
_HTTP_STATUS = {
    "NotFoundException": 404,
    "KMSInvalidStateException": 409,
    "DisabledException": 409,
    "KMSInternalException": 500,
    "KeyUnavailableException": 500,
    "DependencyTimeoutException": 503,
}


@functools.cache
def kms() -> Any:
    """botocore's KMS service model."""
    return botocore.session.get_session().get_service_model("kms")


@functools.cache
def cloudhsm() -> Any:
    """botocore's CloudHSM v2 service model."""
    return botocore.session.get_session().get_service_model("cloudhsmv2")


def _enum(service: Any, shape: str, name: str) -> type[enum.Enum]:
    values = service.shape_for(shape).enum
    return enum.Enum(name, [(v, v) for v in values], type=str, module=__name__)


ConnectionState = _enum(kms(), "ConnectionStateType", "ConnectionState")
ConnectionErrorCode = _enum(kms(), "ConnectionErrorCodeType", "ConnectionErrorCode")
KeyState = _enum(kms(), "KeyState", "KeyState")
ClusterState = _enum(cloudhsm(), "ClusterState", "ClusterState")
HsmState = _enum(cloudhsm(), "HsmState", "HsmState")
CustomKeyStoreType = _enum(kms(), "CustomKeyStoreType", "CustomKeyStoreType")

#: CEC-00: the codes a CloudHSM key store can report; the XKS_* codes belong to external stores.
CLOUDHSM_ERROR_CODES: tuple[str, ...] = tuple(
    c.value for c in ConnectionErrorCode if not c.value.startswith("XKS_")
)


def http_status(error: str) -> int:
    """The HTTP status an error shape is sent with (ERR-02; AMB-21 for the three disputed ones)."""
    return _HTTP_STATUS.get(error, 400)


@functools.cache
def errors_of(operation: str) -> frozenset[str]:
    """The error shape names botocore lists for a KMS operation."""
    return frozenset(e.name for e in kms().operation_model(operation).error_shapes)


def operation_names() -> frozenset[str]:
    return frozenset(kms().operation_names)


class ParameterError(ValueError):
    """A request parameter breaks its botocore shape (AMB-18). The message never quotes a
    sensitive value (KeyStorePassword, Plaintext)."""


def input_members(operation: str) -> tuple[frozenset[str], frozenset[str]]:
    """The operation's request members and, of those, the required ones (botocore's shape)."""
    shape = kms().operation_model(operation).input_shape
    return frozenset(shape.members), frozenset(shape.required_members)


def _service(name: str) -> Any:
    if name not in ("kms", "cloudhsmv2"):
        raise ValueError(f"unknown service {name!r}: kms or cloudhsmv2")
    return kms() if name == "kms" else cloudhsm()


def validate_input(operation: str, params: Mapping[str, Any], service: str = "kms", *, patterns: bool = True) -> None:
    """Check a request against the operation's input shape (of KMS, or of ``cloudhsmv2``):
    unknown and missing members, types, string/blob lengths, patterns (unless ``patterns`` is
    false: AMB-18, AWS's own examples break them), integer ranges and enum values.

    Raises ParameterError naming the member, the constraint and (unless sensitive) the value.
    """
    shape = _service(service).operation_model(operation).input_shape
    _check_structure(shape, params, operation, patterns)


def _check_structure(shape: Any, value: Any, where: str, patterns: bool = True) -> None:
    if not isinstance(value, Mapping):
        raise ParameterError(f"{where}: expected a structure, got {type(value).__name__}")
    unknown = sorted(set(value) - set(shape.members))
    if unknown:
        raise ParameterError(f"{where}: unknown parameter {unknown[0]!r}")
    for member in shape.required_members:
        if member not in value:
            raise ParameterError(f"{where}: missing required parameter {member!r}")
    for name, member_value in value.items():
        _check_value(shape.members[name], member_value, f"{where}.{name}", patterns)


def _shown(shape: Any, value: Any) -> str:
    return "(sensitive value)" if shape.metadata.get("sensitive") else repr(value)


def _check_value(shape: Any, value: Any, where: str, patterns: bool = True) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        _check_structure(shape, value, where, patterns)
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            raise ParameterError(f"{where}: expected a list")
        _check_length(shape, len(value), where, value)
        for i, item in enumerate(value):
            _check_value(shape.member, item, f"{where}[{i}]", patterns)
    elif kind == "string":
        if not isinstance(value, str):
            raise ParameterError(f"{where}: expected a string, got {type(value).__name__}")
        _check_length(shape, len(value), where, value)
        if shape.enum and value not in shape.enum:
            raise ParameterError(f"{where}: {value!r} is not one of {', '.join(shape.enum)}")
        pattern = meta.get("pattern") if patterns else None
        if pattern and not re.fullmatch(pattern, value):
            raise ParameterError(f"{where}: {_shown(shape, value)} does not match the pattern {pattern}")
    elif kind == "blob":
        if not isinstance(value, (bytes, bytearray)):
            raise ParameterError(f"{where}: expected bytes, got {type(value).__name__}")
        _check_length(shape, len(value), where, value)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ParameterError(f"{where}: expected an integer, got {type(value).__name__}")
        low, high = meta.get("min"), meta.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ParameterError(f"{where}: {value} is outside {low}..{high}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ParameterError(f"{where}: expected a boolean, got {type(value).__name__}")
    elif kind == "map":
        if not isinstance(value, Mapping):
            raise ParameterError(f"{where}: expected a map")


def _check_length(shape: Any, length: int, where: str, value: Any) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        raise ParameterError(f"{where}: {_shown(shape, value)} is shorter than {low}")
    if high is not None and length > high:
        raise ParameterError(f"{where}: length {length} is longer than {high}")


def check_output(operation: str, body: Mapping[str, Any], service: str = "kms", *, patterns: bool = True) -> list[str]:
    """Problems with a response body against the operation's output shape (empty when it fits).
    ``patterns=False`` skips the identifier patterns: AWS's own documentation shows IDs outside
    them (the connect page's ``cluster-1a23b4cdefg`` has a ``1``, which CloudHsmClusterIdType's
    ``cluster-[2-7a-zA-Z]{11,16}`` excludes)."""
    shape = _service(service).operation_model(operation).output_shape
    problems: list[str] = []
    if shape is None:
        if body:
            problems.append(f"{operation}: expected an empty body")
        return problems
    _output_structure(shape, body, operation, problems, patterns)
    return problems


def _output_structure(shape: Any, body: Any, where: str, problems: list[str], patterns: bool) -> None:
    if not isinstance(body, Mapping):
        problems.append(f"{where}: expected a structure")
        return
    for name, value in body.items():
        if name not in shape.members:
            problems.append(f"{where}: member {name!r} is not in shape {shape.name}")
            continue
        _output_value(shape.members[name], value, f"{where}.{name}", problems, patterns)


_PY_TYPES = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "long": int,
    "blob": (bytes, bytearray),
    "timestamp": _dt.datetime,
}


def _output_value(shape: Any, value: Any, where: str, problems: list[str], patterns: bool) -> None:
    kind = shape.type_name
    if kind == "structure":
        _output_structure(shape, value, where, problems, patterns)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list")
            return
        for i, item in enumerate(value):
            _output_value(shape.member, item, f"{where}[{i}]", problems, patterns)
    elif kind == "map":
        if not isinstance(value, Mapping):
            problems.append(f"{where}: expected a map")
            return
        for key, item in value.items():
            _output_value(shape.key, key, f"{where} key", problems, patterns)
            _output_value(shape.value, item, f"{where}[{key!r}]", problems, patterns)
    elif kind in _PY_TYPES:
        if not isinstance(value, _PY_TYPES[kind]):
            problems.append(f"{where}: expected {kind}, got {type(value).__name__}")
        elif kind == "string" and shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} is not a value of {shape.name}")
        # Smithy patterns are not anchored (``vpc-[0-9a-fA-F]`` accepts any VPC ID)
        elif kind == "string" and patterns and shape.metadata.get("pattern") and not re.search(shape.metadata["pattern"], value):
            problems.append(f"{where}: {value!r} does not match the pattern of {shape.name}")
