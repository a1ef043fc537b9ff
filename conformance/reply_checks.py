"""Checks on a recorded reply by itself, before any model world is consulted.

Which errors say a call had no effect, which leave its effect unknown and which mean nothing
was sent; a reply normalised for what says nothing about custom key stores; botocore's
output shapes, enums and error lists (ERR-01); and the response invariants read off the
model's response builders (CS-07, CEC-00, KS-11).
"""

from __future__ import annotations

from typing import Any

from ckspec.model import World
from ckspec.model import identifiers as ids
from ckspec.model.aws_service import ConnectionState, check_output, cloudhsm, kms
from ckspec.model.responses import metadata, store_entry
from ckspec.model.transitions import CONNECTION_ATTEMPT_COMPLETES, Operation
from ckspec.model.world import Key, KeyStore

from .adapter import Reply
from .checker import Mismatch, Nonconformance
from .recorded import RecordedCall

#: Errors that say the call had no effect and nothing about custom key stores: throttling
#: (CRYPTO-05) and authentication or authorisation (CONNECT-12, DISC-09, CREATE-15, ...).
NO_EFFECT_ERRORS = frozenset({
    "ThrottlingException", "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
    "IncompleteSignature", "InvalidClientTokenId", "ExpiredTokenException", "RequestExpired",
    "MissingAuthenticationToken", "NotAuthorized", "OptInRequired", "RequestLimitExceeded",
})
#: Answers after which nobody knows whether the call took effect.
UNKNOWN_EFFECT_ERRORS = frozenset({"InternalFailure", "ServiceUnavailable", "ServiceUnavailableException"})
#: botocore exceptions raised before anything was sent.
NOT_SENT = frozenset({"ParamValidationError", "NoCredentialsError", "PartialCredentialsError", "NoRegionError",
                      "UnknownServiceError", "InvalidConfigError", "UnknownParameterError"})
_VALIDATION = frozenset({"ValidationException", "ValidationError"})

#: CEC-00: the codes a connection attempt can end with, read off the table.
ATTEMPT_CODES = frozenset(b.error_code for b in CONNECTION_ATTEMPT_COMPLETES.branches if b.error_code)


def check_answer_shape(call: RecordedCall, op: Operation | None) -> None:
    """botocore's output shape and enums, and the operation's error list (ERR-01)."""
    service = "cloudhsmv2" if call.service == "cloudhsmv2" else "kms"
    if call.response is not None:
        # identifiers are opaque to an observer, and the documentation's own examples break
        # their patterns (the seed page's cluster-1a23b4cdefg): shapes and enums are checked
        problems = check_output(call.operation, call.typed_response(), service, patterns=False)
        if problems:
            rules = _branch_rules(op) if op is not None else ("ERR-01",)
            raise Nonconformance(Mismatch(rules, ("a body that fits botocore's output shape",), "200 OK",
                                          problems[0], f"{rules[0]}: the response does not fit botocore's "
                                                       f"{call.operation} output shape: {problems[0]}"))
    elif call.error is not None:
        model = cloudhsm() if service == "cloudhsmv2" else kms()
        listed = {e.name for e in model.operation_model(call.operation).error_shapes}
        known = listed | _VALIDATION | NO_EFFECT_ERRORS | UNKNOWN_EFFECT_ERRORS
        if call.error.code not in known:
            raise Nonconformance(Mismatch(
                ("ERR-01",), tuple(sorted(listed)), call.error.code, "",
                f"ERR-01: {call.operation} cannot return {call.error.code}: it is not in botocore's error list "
                f"for the operation ({', '.join(sorted(listed))})"))


def pattern_notes(call: RecordedCall) -> list[str]:
    """AMB-18: identifiers of the answer outside botocore's documented patterns (AWS's own examples
    show some, e.g. cluster-1a23b4cdefg): noted, never a failure."""
    if call.response is None:
        return []
    service = "cloudhsmv2" if call.service == "cloudhsmv2" else "kms"
    return [f"call {call.index} ({call.operation}): identifier outside the documented pattern (AMB-18): {p}"
            for p in check_output(call.operation, call.typed_response(), service)
            if "pattern" in p and "'redacted-" not in p]  # a redacted sensitive value shows no pattern


def _branch_rules(op: Operation) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for b in op.branches for r in b.rules)) or ("ERR-01",)


def normalised(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """Differences that say nothing about custom key stores: a listing that leaves out
    ``Truncated: false``, the caller's account ID and a key's description (the model fixes both).
    External key stores stay in a listing: they are the model's too (XKS-04)."""
    body = dict(body)
    if operation == "DescribeCustomKeyStores":
        body.setdefault("Truncated", False)
    meta = body.get("KeyMetadata")
    if isinstance(meta, dict):
        meta = dict(meta)
        if "AWSAccountId" in meta:
            meta["AWSAccountId"] = ids.ACCOUNT
        if "Description" in meta:
            meta["Description"] = ""
        body["KeyMetadata"] = meta
    return body


def check_invariants(call: RecordedCall, reply: Reply) -> None:
    """Response invariants, read off the model's response builders: a listing entry carries
    ConnectionErrorCode exactly when the model's entry for that state does (CS-07), with a
    code a connection attempt can end with (CEC-00); KeyMetadata's Enabled (KS-11)."""
    if not reply.ok:
        return
    for entry in reply.body.get("CustomKeyStores", []) if call.operation == "DescribeCustomKeyStores" else ():
        problem = _entry_problem(entry)
        if problem:
            rules, detail = problem
            raise Nonconformance(Mismatch(rules, (detail,), "200 OK", detail, f"{rules[0]}: {detail}"))
    meta = reply.body.get("KeyMetadata")
    if isinstance(meta, dict) and isinstance(meta.get("KeyState"), str) and isinstance(meta.get("Enabled"), bool):
        probe = World(stores=(KeyStore(1, "probe", 2, "probe", "probe"),), keys=(Key(3, 1),))
        expected = metadata(probe, probe.keys[0], meta["KeyState"])["Enabled"]
        if meta["Enabled"] != expected:
            detail = f"KeyMetadata shows KeyState {meta['KeyState']} with Enabled {meta['Enabled']}"
            raise Nonconformance(Mismatch(("KS-11",), (f"Enabled {expected}",), "200 OK", detail,
                                          f"KS-11: {detail}: Enabled is true exactly when KeyState is Enabled"))


def _entry_problem(entry: Any) -> tuple[tuple[str, ...], str] | None:
    if not isinstance(entry, dict) or entry.get("CustomKeyStoreType") == "EXTERNAL_KEY_STORE":
        return None
    try:
        state = ConnectionState(entry.get("ConnectionState"))
    except ValueError:
        return None
    code = entry.get("ConnectionErrorCode")
    model = store_entry(KeyStore(0, "probe", 1, "probe", "probe", state=state, error_code=code or "probe"))
    store = entry.get("CustomKeyStoreId", "a store")
    if "ConnectionErrorCode" in model and code is None:
        return ("CS-07", "CS-06", "TR-03"), f"{store} is FAILED but its entry has no ConnectionErrorCode"
    if "ConnectionErrorCode" not in model and code is not None:
        return ("CS-07", "TR-06", "AMB-11"), (f"{store} is {state.value} but its entry carries ConnectionErrorCode "
                                               f"{code} (only a FAILED store has one)")
    if code is not None and code not in ATTEMPT_CODES:
        return ("CEC-00",), f"{store} is FAILED with {code}, which is not a CloudHSM key store connection error code"
    return None
