"""KMS over AWS JSON 1.1 (``X-Amz-Target: TrentService.<Operation>``), answered by the model.

Every operation the model covers (:data:`ckspec.model.transitions.CALLS`) is answered as
the reference target decides: the outcome the rule catalog recommends, the model's error
shape names with their HTTP statuses (ERR-01, ERR-02), and ``ValidationException`` for
parameters that break botocore's shapes (AMB-18); serve adds dates, descriptions and real
cryptography (:mod:`.kms_routes`). The KMS calls applications make around their keys
(ordinary keys, aliases, tags, policies, listings) are plain (:mod:`.kms_plain`). Other
operations are answered HTTP 501, honestly unsupported.
"""

from __future__ import annotations

from typing import Any

from ckspec.model.aws_service import ParameterError, validate_input
from ckspec.model.aws_service import kms as kms_service
from ckspec.model.external import OutsideModel
from ckspec.model.transitions import CALLS, VALIDATION_ERROR

from . import errors, kms_routes, regions
from .account import Account
from .errors import AwsError, validation
from .json_protocol import blobs_decoded

TARGET_PREFIX = "TrentService"


def check_operation(operation: str) -> None:
    """Refuse an operation KMS does not have (400) or serve does not answer (501)."""
    errors.check_operation("KMS", kms_service(), CALLS.keys() | kms_routes.PLAIN, operation,
                           "ckspec serve answers only")


def perform(account: Account, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
    """Answer one KMS call (the caller holds the account's lock)."""
    shape = kms_service().operation_model(operation).input_shape
    params = blobs_decoded(params, shape, operation)
    try:  # the model's own check (AMB-18), made before identifiers are mapped: a list or a map
        validate_input(operation, params)  # where an ID belongs cannot be looked up
    except ParameterError as exc:
        raise validation(str(exc), ("AMB-18",)) from None
    return kms_routes.perform(account, operation, params, region, lambda op, p: _model(account, op, p, region))


def _model(account: Account, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
    """The model's answer to one call it covers, in the caller's Region; AwsError for a refusal."""
    params = dict(params)
    if "KeyId" in params:
        params["KeyId"] = regions.model_arn(params["KeyId"], region)
    try:
        reply = account.model.call(operation, params)
    except OutsideModel as exc:  # XKS-06: an external key store's connection and keys
        raise errors.not_implemented(f"ckspec serve does not model this: {exc}") from None
    if not reply.ok:
        kind = "ValidationException" if reply.error == VALIDATION_ERROR else reply.error
        raise AwsError(reply.status, kind, regions.in_text(reply.message, region), rules=reply.rules)
    for observer in tuple(account.call_observers):
        observer(operation, params)
    return regions.with_region(reply.body or {}, region)
