"""Which KMS key a request names: a key ID, a key ARN, an alias name or an alias ARN.

A key is either one of the model's (a key in a CloudHSM key store, behind the reference
target's identifiers) or an ordinary ``AWS_KMS`` key of :mod:`.kms_state`. Refusals use KMS's
own words where they are published (``Key '<ARN>' does not exist``, ``Alias <ARN> is not
found.``, ``Invalid keyId <value>``, ``<ARN> is disabled.``, ``<ARN> is pending deletion.``).
"""

from __future__ import annotations

import re

import attrs
from ckspec.model import identifiers as ids
from ckspec.model import messages
from ckspec.model.aws_service import errors_of, http_status

from .account import Account
from .errors import AwsError

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@attrs.frozen
class KeyRef:
    """A key that exists: its ID, its ARN (in the request's Region), what holds it, its own state."""

    key_id: str
    arn: str
    kind: str  # "plain" (AWS_KMS) or "model" (in a CloudHSM key store)
    state: str  # Enabled, Disabled or PendingDeletion (a model key may read Unavailable besides)


def fail(kind: str, message: str, rules: tuple[str, ...] = ()) -> AwsError:
    return AwsError(http_status(kind), kind, message, rules=rules)


def key_arn(key_id: str, region: str) -> str:
    return f"arn:aws:kms:{region}:{ids.ACCOUNT}:key/{key_id}"


def alias_arn(name: str, region: str) -> str:
    return f"arn:aws:kms:{region}:{ids.ACCOUNT}:{name}"


def alias_name(ref: str, region: str) -> str | None:
    """The alias a reference names (``alias/x`` or its ARN), else None."""
    if ref.startswith("alias/"):
        return ref
    prefix = f"arn:aws:kms:{region}:{ids.ACCOUNT}:alias/"
    return ref[len(prefix) - len("alias/"):] if ref.startswith(prefix) else None


def key_id_of(account: Account, ref: str, region: str, operation: str) -> str:
    """The key ID (UUID) a reference names, through aliases; NotFoundException (or
    InvalidArnException for a malformed ARN, where the operation lists it) when it names none."""
    alias = alias_name(ref, region)
    if alias is not None:
        found = account.kms.aliases.get(alias)
        if found is None:
            raise fail("NotFoundException", f"Alias {alias_arn(alias, region)} is not found.")
        return found.target
    prefix = f"arn:aws:kms:{region}:{ids.ACCOUNT}:key/"
    if ref.startswith(prefix):
        return ref[len(prefix):]
    if ref.startswith("arn:"):
        if ref.startswith("arn:aws:kms:") and ":key/" in ref:
            raise fail("NotFoundException", f"Key '{ref}' does not exist")
        kind = "InvalidArnException" if "InvalidArnException" in errors_of(operation) else "NotFoundException"
        raise fail(kind, f"Invalid arn {ref}")
    if not _UUID.fullmatch(ref):
        raise fail("NotFoundException", f"Invalid keyId {ref}")
    return ref


def find(account: Account, key_id: str, region: str) -> KeyRef | None:
    """The key with this ID, if it exists (deleted keys do not)."""
    plain = account.kms.plain.get(key_id)
    if plain is not None:
        return KeyRef(key_id, key_arn(key_id, region), "plain", plain.state)
    serial = ids.parse_key_id(account.model.ids.back.get(key_id)) if account.model.ids is not None else None
    key = account.world.key(serial) if serial is not None else None
    if key is None:
        return None
    return KeyRef(key_id, key_arn(key_id, region), "model", key.state)


def existing(account: Account, ref: str, region: str, operation: str) -> KeyRef:
    """The key a reference names; NotFoundException when there is none."""
    key_id = key_id_of(account, ref, region, operation)
    found = find(account, key_id, region)
    if found is None:
        raise fail("NotFoundException", f"Key '{key_arn(key_id, region)}' does not exist")
    return found


def usable(key: KeyRef, rules: tuple[str, ...] = ("CRYPTO-01",)) -> None:
    """A cryptographic operation needs an Enabled key (for an ordinary key; the model judges its own)."""
    if key.state == "Disabled":
        raise fail("DisabledException", messages.TEMPLATES[("DisabledException", None)].format(arn=key.arn), rules)
    if key.state == "PendingDeletion":
        raise pending_deletion(key, rules)


def pending_deletion(key: KeyRef, rules: tuple[str, ...] = ()) -> AwsError:
    return fail("KMSInvalidStateException", f"{key.arn} is pending deletion.", rules)


def manageable(key: KeyRef) -> None:
    """KS-07: aliases, tags and descriptions change on a key in any state but PendingDeletion
    (an Unavailable key in a disconnected CloudHSM key store included)."""
    if key.state == "PendingDeletion":
        raise pending_deletion(key, ("KS-07",) if key.kind == "model" else ())
