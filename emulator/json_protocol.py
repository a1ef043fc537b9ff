"""The AWS JSON 1.1 wire format: request bodies in, response and error bodies out.

Both KMS and CloudHSM v2 speak it (ERR-01): a POST whose ``X-Amz-Target`` header names
``<prefix>.<Operation>`` and whose body is a JSON object. Blobs travel as base64 strings
and timestamps as seconds since the epoch; botocore's shapes say which members are blobs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import enum
import json
from collections.abc import Mapping
from typing import Any

from .errors import AwsError, serialization

CONTENT_TYPE = "application/x-amz-json-1.1"


def decode_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise serialization("the request body is not UTF-8 text") from None
    except RecursionError:
        raise serialization("the request body nests JSON too deeply") from None
    except ValueError as exc:  # JSONDecodeError: its message gives a position, never the text
        raise serialization(f"the request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise serialization(f"the request body must be a JSON object, got a JSON {_json_kind(data)}")
    return data


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def blobs_decoded(params: Mapping[str, Any], shape: Any, where: str) -> dict[str, Any]:
    """``params`` with every blob member (per botocore's input ``shape``) decoded from base64;
    other members are left for the model's validation (AMB-18)."""
    return {name: (_decoded(shape.members[name], value, f"{where}.{name}") if name in shape.members else value)
            for name, value in params.items()}


def _decoded(shape: Any, value: Any, where: str) -> Any:
    kind = shape.type_name
    if kind == "blob":
        if not isinstance(value, str):
            raise serialization(f"{where}: expected a base64-encoded string, got a JSON {_json_kind(value)}")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise serialization(f"{where}: not valid base64") from None
    if kind == "structure" and isinstance(value, Mapping):
        return blobs_decoded(value, shape, where)
    if kind == "list" and isinstance(value, list):
        return [_decoded(shape.member, item, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


def encode(body: Mapping[str, Any]) -> bytes:
    """A response body: blobs as base64, timestamps as epoch seconds, enums as their value."""
    return json.dumps(body, default=_plain, separators=(",", ":")).encode("utf-8")


def error_body(error: AwsError) -> bytes:
    """ERR-01: the error shape name in ``__type`` and a ``message``."""
    return encode({"__type": error.kind, "message": error.message})
