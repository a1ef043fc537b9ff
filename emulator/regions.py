"""The Region a request is for, and what it changes: key ARNs and Availability Zone names.

The model is one account in one Region (``us-east-1``, zones ``us-east-1a`` to ``-c``). The
emulator serves it under whatever Region the caller signs for: the Region is read from the
SigV4 credential scope of the ``Authorization`` header (signatures are not checked), key
ARNs are rewritten to carry it, and Availability Zones are named ``<region>a``,
``<region>b``, ``<region>c`` after the model's three zones, in that order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ckspec.model import identifiers as ids
from ckspec.model.world import AVAILABILITY_ZONES

#: ``Credential=AKID/20260101/eu-west-1/kms/aws4_request``: the third part is the Region
_SCOPE = re.compile(r"Credential=[^/\s,]+/\d{8}/([a-z]{2}(?:-[a-z]+)+-\d{1,2})/")
_ZONE = re.compile(r"([a-z]{2}(?:-[a-z]+)+-\d{1,2})[a-z]")
_MODEL_ARN = f"arn:aws:kms:{ids.REGION}:{ids.ACCOUNT}:"


def request_region(authorization: str | None, default: str) -> str:
    """The Region of a request's SigV4 credential scope, else ``default``."""
    found = _SCOPE.search(authorization or "")
    return found.group(1) if found else default


def zone_name(model_zone: str, region: str) -> str:
    """The name a caller in ``region`` sees for one of the model's zones."""
    return region + model_zone[-1]


def model_zone(name: str, region: str) -> str | None:
    """The model's zone a caller in ``region`` names, or None when it names none of them."""
    return next((z for z in AVAILABILITY_ZONES if zone_name(z, region) == name), None)


def control_zone(name: str) -> str:
    """A zone named in a test-control event, which carries no Region: any Region's zone name
    stands for the model's zone with the same letter (``eu-west-1b`` for ``us-east-1b``);
    anything else is passed on as it is (the event then does not apply)."""
    found = _ZONE.fullmatch(name)
    return (model_zone(name, found.group(1)) or name) if found else name


def model_arn(value: Any, region: str) -> Any:
    """A key ARN of ``region`` rewritten to the model's Region (other values as they are)."""
    prefix = f"arn:aws:kms:{region}:{ids.ACCOUNT}:"
    if isinstance(value, str) and value.startswith(prefix):
        return _MODEL_ARN + value[len(prefix):]
    return value


def with_region(body: Any, region: str) -> Any:
    """A response body whose key ARNs carry ``region`` instead of the model's Region."""
    if isinstance(body, Mapping):
        return {k: with_region(v, region) for k, v in body.items()}
    if isinstance(body, list):
        return [with_region(v, region) for v in body]
    if isinstance(body, str) and body.startswith(_MODEL_ARN):
        return f"arn:aws:kms:{region}:{ids.ACCOUNT}:" + body[len(_MODEL_ARN):]
    return body


def in_text(message: str, region: str) -> str:
    """A message whose key ARNs carry ``region`` instead of the model's Region."""
    return message.replace(_MODEL_ARN, f"arn:aws:kms:{region}:{ids.ACCOUNT}:")
