"""Which part of ``ckspec serve`` answers a KMS call: the model, the plain bookkeeping, or both.

Calls about custom key stores and the keys in them are the model's (:mod:`.kms`); serve adds
what the model leaves out of its answers: dates from the account's clock (a store's and a key's
CreationDate when it was created, a DeletionDate the waiting period ahead), a key's
description, real cryptography (:mod:`.kms_ciphers`). Ordinary ``AWS_KMS`` keys, aliases,
tags, policies and listings are plain (:mod:`.kms_plain`). An alias in ``KeyId`` is resolved
before the model sees the call.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ckspec.model import identifiers as ids
from ckspec.model.aws_service import errors_of

from . import kms_ciphers, kms_plain
from .account import Account
from .errors import AwsError, not_implemented
from .kms_keys import alias_name, existing, fail, find, key_id_of
from .kms_plain import ModelCall, Request

#: operations KMS has that serve answers beyond the model's
PLAIN = frozenset({*kms_plain.HANDLERS, "ReEncrypt"})
#: calls the model covers that name a key in KeyId
_KEY_CALLS = frozenset({"DescribeKey", "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion",
                        "EnableKeyRotation", "GetKeyRotationStatus", "GetParametersForImport",
                        "GenerateDataKeyPair"})


def perform(account: Account, operation: str, params: dict[str, Any], region: str, model: ModelCall) -> dict[str, Any]:
    tidy(account)
    r = Request(account, params, region, model)
    if operation in kms_ciphers.HANDLERS:
        answer = kms_ciphers.HANDLERS[operation](r)
        if params.get("DryRun") is True and "DryRunOperationException" in errors_of(operation):
            raise fail("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
        return answer
    if operation in kms_plain.HANDLERS:
        return kms_plain.HANDLERS[operation](r)
    if operation == "CreateKey":
        return _create_key(r)
    if operation in _KEY_CALLS:
        return _key_call(r, operation)
    return _dated(r, model(operation, params))


def _create_key(r: Request) -> dict[str, Any]:
    if kms_plain.is_plain_create(r.params):
        return kms_plain.create_plain_key(r)
    if "CustomKeyStoreId" not in r.params and r.params.get("Origin") == "EXTERNAL":
        raise not_implemented("ckspec serve does not implement keys with imported key material (Origin EXTERNAL)")
    body = r.model("CreateKey", r.params)
    key_id = body["KeyMetadata"]["KeyId"]
    extras = r.state.key_extras(key_id, ids.ACCOUNT)
    p = r.params
    r.state.update(key_id, description=p.get("Description", ""), policy=p.get("Policy", extras.policy),
                   tags=kms_plain._tags(p.get("Tags", [])))
    return _dated(r, body)


def _key_call(r: Request, operation: str) -> dict[str, Any]:
    ref = r.params["KeyId"]
    if isinstance(ref, str) and alias_name(ref, r.region) is not None:
        r = Request(r.account, {**r.params, "KeyId": existing(r.account, ref, r.region, operation).arn}, r.region,
                    r.model)
    key = _found(r, operation)
    if key is not None and key.kind == "plain":
        return kms_plain.plain_key_call(r, operation, key)
    body = r.model(operation, r.params)
    if key is not None and operation == "ScheduleKeyDeletion":
        date = r.state.now() + _dt.timedelta(days=body["PendingWindowInDays"])
        r.state.update(key.key_id, deletion_date=date)
    elif key is not None and operation == "CancelKeyDeletion":
        r.state.update(key.key_id, deletion_date=None)
    return _dated(r, body)


def _found(r: Request, operation: str) -> Any:
    ref = r.params["KeyId"]
    if not isinstance(ref, str):
        return None
    try:
        return find(r.account, key_id_of(r.account, ref, r.region, operation), r.region)
    except AwsError:  # a reference the model judges itself (malformed, unknown)
        return None


def _dated(r: Request, body: dict[str, Any]) -> dict[str, Any]:
    """The model's answer with the account's dates (and a key's description) in it."""
    body = dict(body)
    if "CustomKeyStoreId" in body and len(body) == 1:  # CreateCustomKeyStore: the store is born now
        r.state.store_date(body["CustomKeyStoreId"])
    if "CustomKeyStores" in body:
        body["CustomKeyStores"] = [{**e, "CreationDate": r.state.store_date(e["CustomKeyStoreId"])}
                                   if "CreationDate" in e else e for e in body["CustomKeyStores"]]
    meta = body.get("KeyMetadata")
    if isinstance(meta, dict):
        extras = r.state.key_extras(meta["KeyId"], ids.ACCOUNT)
        meta = {**meta, "CreationDate": extras.created, "Description": extras.description}
        if "DeletionDate" in meta:
            meta["DeletionDate"] = extras.deletion_date or meta["DeletionDate"]
        body["KeyMetadata"] = meta
    if "DeletionDate" in body and isinstance(body.get("KeyId"), str):
        key_id = body["KeyId"].rpartition("/")[2]
        body["DeletionDate"] = r.state.extras[key_id].deletion_date if key_id in r.state.extras \
            and r.state.extras[key_id].deletion_date else body["DeletionDate"]
    return body


def tidy(account: Account) -> None:
    """Keys whose waiting period is over are gone, and so are their aliases (DK-04 for a key in a
    CloudHSM key store: the model deletes it; an ordinary key here)."""
    state, now = account.kms, account.kms.now()
    for key_id, key in list(state.plain.items()):
        extras = state.extras.get(key_id)
        if key.state == "PendingDeletion" and extras and extras.deletion_date and extras.deletion_date <= now:
            del state.plain[key_id]
    gone = [k for k in state.extras if find(account, k, account.options.region) is None]
    for key_id in gone:
        del state.extras[key_id]
    for name in [n for n, a in state.aliases.items() if a.target in gone]:
        del state.aliases[name]
