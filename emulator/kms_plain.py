"""The KMS calls an application makes around its keys that the model does not hold: ordinary
``AWS_KMS`` keys, aliases, tags, key policies, descriptions, rotation, and listings.

*Plain* operations are kept simple and correct: the shapes, errors and paging of botocore's
service model (``Limit``, ``Marker``, ``Truncated``, ``NextMarker``). Where one touches a key
in a CloudHSM key store, the model's rules apply and are cited: KS-07 (an Unavailable key is
still managed: aliases, tags, policy, description), KS-09 (rotation is unsupported: the model
answers, for DisableKeyRotation as for EnableKeyRotation), and the model's own state for every
call it covers (:mod:`.kms`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

import attrs
from ckspec.model import identifiers as ids

from .account import Account
from .errors import not_implemented, validation
from .kms_keys import KeyRef, alias_arn, existing, fail, find, key_arn, key_id_of, manageable, pending_deletion
from .kms_state import DEFAULT_POLICY_NAME, Alias, PlainKey

#: a model call: (operation, params) -> the reply's body, or AwsError
ModelCall = Callable[[str, dict[str, Any]], dict[str, Any]]


@attrs.frozen
class Request:
    account: Account
    params: dict[str, Any]
    region: str
    model: ModelCall

    def key(self, operation: str, member: str = "KeyId") -> KeyRef:
        return existing(self.account, self.params[member], self.region, operation)

    @property
    def state(self) -> Any:
        return self.account.kms


HANDLERS: dict[str, Callable[[Request], dict[str, Any]]] = {}


def handler(fn: Callable[[Request], dict[str, Any]]) -> Callable[[Request], dict[str, Any]]:
    HANDLERS["".join(part.title() for part in fn.__name__.split("_"))] = fn
    return fn


# --- ordinary keys ---------------------------------------------------------------------------------


def is_plain_create(params: dict[str, Any]) -> bool:
    """CreateKey of an ordinary key: no custom key store, Origin AWS_KMS (the default)."""
    return "CustomKeyStoreId" not in params and params.get("Origin", "AWS_KMS") == "AWS_KMS"


def create_plain_key(r: Request) -> dict[str, Any]:
    p = r.params
    for member, wanted in (("KeySpec", "SYMMETRIC_DEFAULT"), ("CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"),
                           ("KeyUsage", "ENCRYPT_DECRYPT")):
        if p.get(member, wanted) != wanted:
            raise not_implemented(f"ckspec serve's ordinary keys are symmetric encryption keys: {member} {wanted}")
    if p.get("MultiRegion"):
        raise not_implemented("ckspec serve's ordinary keys are single-Region keys")
    tags = _tags(p.get("Tags", []))
    policy = _policy(p["Policy"]) if "Policy" in p else None
    key_id = r.state.new_key_id()
    r.state.plain[key_id] = PlainKey(key_id)
    extras = r.state.key_extras(key_id, ids.ACCOUNT)
    r.state.update(key_id, description=p.get("Description", ""), tags=tags, policy=policy or extras.policy)
    return {"KeyMetadata": plain_metadata(r, key_id)}


def plain_metadata(r: Request, key_id: str) -> dict[str, Any]:
    key, extras = r.state.plain[key_id], r.state.extras[key_id]
    meta: dict[str, Any] = {
        "AWSAccountId": ids.ACCOUNT, "KeyId": key_id, "Arn": key_arn(key_id, r.region),
        "CreationDate": extras.created, "Enabled": key.state == "Enabled", "Description": extras.description,
        "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": key.state, "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False,
    }
    if key.state == "PendingDeletion":
        meta["DeletionDate"] = extras.deletion_date
        meta["PendingDeletionWindowInDays"] = key.window
    return meta


def plain_key_call(r: Request, operation: str, key: KeyRef) -> dict[str, Any]:
    """A call the model covers, on an ordinary key."""
    plain = r.state.plain[key.key_id]
    if operation == "DescribeKey":
        return {"KeyMetadata": plain_metadata(r, key.key_id)}
    if operation in ("EnableKey", "DisableKey"):
        if plain.state == "PendingDeletion":
            raise pending_deletion(key)
        r.state.plain[key.key_id] = attrs.evolve(plain, state="Enabled" if operation == "EnableKey" else "Disabled")
        return {}
    if operation == "ScheduleKeyDeletion":
        return _schedule(r, key, plain)
    if operation == "CancelKeyDeletion":
        if plain.state != "PendingDeletion":
            raise fail("KMSInvalidStateException", f"{key.arn} is not pending deletion.")
        r.state.plain[key.key_id] = attrs.evolve(plain, state="Disabled", window=None)
        r.state.update(key.key_id, deletion_date=None)
        return {"KeyId": key.arn}
    if operation in ("EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus"):
        return _rotation(r, operation, key, plain)
    raise not_implemented(f"ckspec serve does not implement {operation} for ordinary (AWS_KMS) keys")


def _schedule(r: Request, key: KeyRef, plain: PlainKey) -> dict[str, Any]:
    if plain.state == "PendingDeletion":
        raise pending_deletion(key)
    window = r.params.get("PendingWindowInDays", 30)
    if not 7 <= window <= 30:
        raise validation(f"PendingWindowInDays must be between 7 and 30 days; {window} is not.")
    date = r.state.now() + _dt.timedelta(days=window)
    r.state.plain[key.key_id] = attrs.evolve(plain, state="PendingDeletion", window=window)
    r.state.update(key.key_id, deletion_date=date)
    return {"KeyId": key.arn, "DeletionDate": date, "KeyState": "PendingDeletion", "PendingWindowInDays": window}


def _rotation(r: Request, operation: str, key: KeyRef, plain: PlainKey) -> dict[str, Any]:
    if operation == "GetKeyRotationStatus":
        body: dict[str, Any] = {"KeyRotationEnabled": plain.rotation_days is not None, "KeyId": key.arn}
        if plain.rotation_days is not None:
            body["RotationPeriodInDays"] = plain.rotation_days
            body["NextRotationDate"] = r.state.extras[key.key_id].created + _dt.timedelta(days=plain.rotation_days)
        return body
    if plain.state == "Disabled":
        raise fail("DisabledException", f"{key.arn} is disabled.")
    if plain.state == "PendingDeletion":
        raise pending_deletion(key)
    days = r.params.get("RotationPeriodInDays", 365) if operation == "EnableKeyRotation" else None
    r.state.plain[key.key_id] = attrs.evolve(plain, rotation_days=days)
    return {}


@handler
def disable_key_rotation(r: Request) -> dict[str, Any]:
    """KS-09: on a key in a CloudHSM key store the model answers, as for EnableKeyRotation
    (UnsupportedOperationException in every state)."""
    key_id = key_id_of(r.account, r.params["KeyId"], r.region, "DisableKeyRotation")
    key = find(r.account, key_id, r.region)
    if key is None or key.kind == "model":
        return r.model("EnableKeyRotation", {"KeyId": key.arn if key else r.params["KeyId"]})
    return plain_key_call(r, "DisableKeyRotation", key)


@handler
def list_keys(r: Request) -> dict[str, Any]:
    """Every key of the account, ordinary or in a custom key store, oldest first."""
    keys = sorted((e.order, k) for k, e in r.state.extras.items() if find(r.account, k, r.region) is not None)
    page, more = _page(r.params, [k for _, k in keys], "keys", 100)
    return {"Keys": [{"KeyId": k, "KeyArn": key_arn(k, r.region)} for k in page], **more}


@handler
def update_key_description(r: Request) -> dict[str, Any]:
    key = r.key("UpdateKeyDescription")
    manageable(key)
    r.state.update(key.key_id, description=r.params["Description"])
    return {}


# --- aliases ---------------------------------------------------------------------------------------


def _alias_name(name: str) -> str:
    if not name.startswith("alias/"):
        raise validation('Alias must start with the prefix "alias/".')
    if name.startswith("alias/aws/"):
        raise fail("InvalidAliasNameException", f"Alias {name} cannot begin with alias/aws/: that prefix is "
                                                f"reserved for AWS managed keys.")
    if name == "alias/":
        raise fail("InvalidAliasNameException", "An alias needs a name after alias/.")
    return name


def _alias_target(r: Request, operation: str) -> KeyRef:
    if r.params["TargetKeyId"].startswith(("alias/", f"arn:aws:kms:{r.region}:{ids.ACCOUNT}:alias/")):
        raise validation("TargetKeyId must be a key ID or key ARN, not an alias.")
    key = r.key(operation, "TargetKeyId")
    manageable(key)
    return key


@handler
def create_alias(r: Request) -> dict[str, Any]:
    name = _alias_name(r.params["AliasName"])
    key = _alias_target(r, "CreateAlias")
    if name in r.state.aliases:
        raise fail("AlreadyExistsException", f"An alias with the name {alias_arn(name, r.region)} already exists")
    now = r.state.now()
    r.state.aliases[name] = Alias(name, key.key_id, now, now)
    return {}


@handler
def update_alias(r: Request) -> dict[str, Any]:
    name = r.params["AliasName"]
    alias = r.state.aliases.get(name)
    if alias is None:
        raise fail("NotFoundException", f"Alias {alias_arn(name, r.region)} is not found.")
    key = _alias_target(r, "UpdateAlias")
    r.state.aliases[name] = attrs.evolve(alias, target=key.key_id, updated=r.state.now())
    return {}


@handler
def delete_alias(r: Request) -> dict[str, Any]:
    name = r.params["AliasName"]
    if r.state.aliases.pop(name, None) is None:
        raise fail("NotFoundException", f"Alias {alias_arn(name, r.region)} is not found.")
    return {}


@handler
def list_aliases(r: Request) -> dict[str, Any]:
    target = r.key("ListAliases").key_id if "KeyId" in r.params else None
    aliases = sorted((a for a in r.state.aliases.values() if target is None or a.target == target),
                     key=lambda a: a.name)
    page, more = _page(r.params, aliases, "aliases", 50)
    return {"Aliases": [{"AliasName": a.name, "AliasArn": alias_arn(a.name, r.region), "TargetKeyId": a.target,
                         "CreationDate": a.created, "LastUpdatedDate": a.updated} for a in page], **more}


# --- tags and policies -------------------------------------------------------------------------------


def _tags(tags: list[Any]) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for i, tag in enumerate(tags):
        if not isinstance(tag, dict) or not isinstance(tag.get("TagKey"), str) or \
                not isinstance(tag.get("TagValue"), str):
            raise validation(f"Tags[{i}] must have a TagKey and a TagValue, both strings.")
        if tag["TagKey"].startswith("aws:"):
            raise fail("TagException", "Tag keys beginning with aws: are reserved for AWS.")
        found[tag["TagKey"]] = tag["TagValue"]
    return tuple(found.items())


@handler
def tag_resource(r: Request) -> dict[str, Any]:
    key = r.key("TagResource")
    manageable(key)
    merged = dict(r.state.extras[key.key_id].tags)
    merged.update(_tags(r.params["Tags"]))
    if len(merged) > 50:
        raise fail("LimitExceededException", f"A KMS key can have at most 50 tags; {key.arn} would have "
                                             f"{len(merged)}.")
    r.state.update(key.key_id, tags=tuple(merged.items()))
    return {}


@handler
def untag_resource(r: Request) -> dict[str, Any]:
    key = r.key("UntagResource")
    manageable(key)
    gone = set(r.params["TagKeys"])
    r.state.update(key.key_id, tags=tuple(t for t in r.state.extras[key.key_id].tags if t[0] not in gone))
    return {}


@handler
def list_resource_tags(r: Request) -> dict[str, Any]:
    key = r.key("ListResourceTags")
    page, more = _page(r.params, list(r.state.extras[key.key_id].tags), "tags", 50)
    return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in page], **more}


def _policy(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        raise fail("MalformedPolicyDocumentException", "The key policy is not valid JSON.") from None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (list, dict)):
        raise fail("MalformedPolicyDocumentException", "The key policy needs a Statement.")
    return text


def _policy_name(r: Request, key: KeyRef) -> None:
    name = r.params.get("PolicyName", DEFAULT_POLICY_NAME)
    if name != DEFAULT_POLICY_NAME:
        raise fail("NotFoundException", f"{key.arn} has no key policy named {name}; its one policy is "
                                         f"{DEFAULT_POLICY_NAME}.")


@handler
def get_key_policy(r: Request) -> dict[str, Any]:
    key = r.key("GetKeyPolicy")
    _policy_name(r, key)
    return {"Policy": r.state.extras[key.key_id].policy, "PolicyName": DEFAULT_POLICY_NAME}


@handler
def put_key_policy(r: Request) -> dict[str, Any]:
    key = r.key("PutKeyPolicy")
    _policy_name(r, key)
    r.state.update(key.key_id, policy=_policy(r.params["Policy"]))
    return {}


@handler
def list_key_policies(r: Request) -> dict[str, Any]:
    r.key("ListKeyPolicies")
    page, more = _page(r.params, [DEFAULT_POLICY_NAME], "policies", 100)
    return {"PolicyNames": page, **more}


# --- paging --------------------------------------------------------------------------------------------


def _page(params: dict[str, Any], items: list[Any], kind: str, default: int) -> tuple[list[Any], dict[str, Any]]:
    """One page from the Marker on, at most Limit long; Truncated, and NextMarker when truncated.
    A marker names the position of the next item in this kind of listing."""
    start = 0
    if "Marker" in params:
        start = _marker_position(params["Marker"], kind)
    limit = params.get("Limit", default)
    page = items[start:start + limit]
    more = start + limit < len(items)
    return page, ({"NextMarker": _marker(kind, start + limit), "Truncated": True} if more else {"Truncated": False})


def _marker(kind: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"ckspec:{kind}:{position}".encode()).decode("ascii")


def _marker_position(marker: str, kind: str) -> int:
    try:
        prefix, found, number = base64.urlsafe_b64decode(marker.encode("ascii")).decode("ascii").split(":")
        if prefix == "ckspec" and found == kind and number.isdigit():
            return int(number)
    except (ValueError, UnicodeError):
        pass
    raise fail("InvalidMarkerException", "The marker is not a NextMarker value from an earlier response.")

