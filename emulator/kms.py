"""KMS over AWS JSON 1.1 (``X-Amz-Target: TrentService.<Operation>``), answered by the model.

Every operation the model covers (:data:`ckspec.model.transitions.CALLS`) is answered
exactly as the reference target answers it: the outcome the rule catalog recommends, the
model's error shape names with their HTTP statuses (ERR-01, ERR-02), and
``ValidationException`` for parameters that break botocore's shapes (AMB-18). Operations KMS
has but the model does not cover are answered HTTP 501, honestly unsupported.
"""

from __future__ import annotations

from typing import Any

from ckspec.model.aws_service import ParameterError, validate_input
from ckspec.model.aws_service import kms as kms_service
from ckspec.model.external import OutsideModel
from ckspec.model.transitions import CALLS, VALIDATION_ERROR

from . import errors, regions
from .account import Account
from .errors import AwsError, validation
from .json_protocol import blobs_decoded

TARGET_PREFIX = "TrentService"


def check_operation(operation: str) -> None:
    """Refuse an operation KMS does not have (400) or the model does not cover (501)."""
    errors.check_operation("KMS", kms_service(), CALLS, operation, "the reference model covers only")


def perform(account: Account, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
    """Answer one KMS call (the caller holds the account's lock)."""
    shape = kms_service().operation_model(operation).input_shape
    params = blobs_decoded(params, shape, operation)
    try:  # the model's own check (AMB-18), made before identifiers are mapped: a list or a map
        validate_input(operation, params)  # where an ID belongs cannot be looked up
    except ParameterError as exc:
        raise validation(f"AMB-18: {exc}") from None
    if "KeyId" in params:
        params["KeyId"] = regions.model_arn(params["KeyId"], region)
    try:
        reply = account.model.call(operation, params)
    except OutsideModel as exc:  # XKS-06: an external key store's connection and keys
        raise errors.not_implemented(f"ckspec serve does not model this: {exc}") from None
    if not reply.ok:
        kind = "ValidationException" if reply.error == VALIDATION_ERROR else reply.error
        raise AwsError(reply.status, kind, reply.message)
    return regions.with_region(reply.body or {}, region)
