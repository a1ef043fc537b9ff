"""Identifiers the target generates, mapped to the model's; and replies compared with the model.

A target hands out its own store IDs, key IDs and ARNs, cluster, HSM and backup IDs, trust
anchors, pagination markers and ciphertexts. The engine learns a one-to-one
:class:`Binding` from them to the model's values the first time each appears in a reply,
at the place where the model's reply has the model's value, and afterwards requires the
same correspondence everywhere. Values that do not identify anything (dates, random bytes)
are compared loosely; everything else must be equal.
"""

from __future__ import annotations

from typing import Any, Mapping

#: Reply and request members whose values are identifiers: bound, never compared literally.
#: ``AWSAccountId`` (and the account inside an ARN) is the caller's, not the implementation's:
#: an emulator's ``123456789012`` is bound to the model's account like any other identifier.
ID_FIELDS = frozenset({"CustomKeyStoreId", "CloudHsmClusterId", "KeyId", "Arn", "NextMarker", "Marker",
                       "TrustAnchorCertificate", "CiphertextBlob", "AWSAccountId"})
#: Identifier members bound afresh each time: a target may reuse a pagination marker (say, a
#: position) for another page of a later listing, and KMS gives a different ciphertext on every
#: Encrypt of the same plaintext (the model's is deterministic), so no one-to-one binding is kept
#: for them: the latest value stands for the model's.
REBOUND_FIELDS = frozenset({"NextMarker", "CiphertextBlob"})
#: Members whose values change from run to run: only their presence is compared.
VOLATILE_FIELDS = frozenset({"CreationDate", "DeletionDate"})
#: Members whose bytes are random: only their length is compared.
LENGTH_ONLY_FIELDS = frozenset({"Plaintext"})
#: Every member the model's replies can contain. A target's extra members outside this set
#: (``ResponseMetadata``, fields the model does not describe) are ignored; an extra member
#: inside it (a ConnectionErrorCode outside FAILED, a NextMarker on the last page) is a mismatch.
MODELLED_FIELDS = frozenset({
    "CustomKeyStores", "Truncated", "NextMarker", "CustomKeyStoreId", "CustomKeyStoreName", "CloudHsmClusterId",
    "TrustAnchorCertificate", "ConnectionState", "ConnectionErrorCode", "CreationDate", "CustomKeyStoreType",
    "KeyMetadata", "AWSAccountId", "KeyId", "Arn", "Enabled", "Description", "KeyUsage", "KeyState", "Origin",
    "KeyManager", "CustomerMasterKeySpec", "KeySpec", "EncryptionAlgorithms", "MultiRegion", "DeletionDate",
    "PendingDeletionWindowInDays", "PendingWindowInDays", "CiphertextBlob", "EncryptionAlgorithm", "Plaintext",
})
_ABSENT = object()


class Binding:
    """A one-to-one map between the model's identifiers and the target's."""

    __slots__ = ("to_target", "to_model")

    def __init__(self) -> None:
        self.to_target: dict[Any, Any] = {}
        self.to_model: dict[Any, Any] = {}

    def bind(self, model_value: Any, target_value: Any) -> None:
        # a rebinding (pagination markers) first drops what either side was bound to
        old_target = self.to_target.pop(model_value, None)
        # an earlier ciphertext (bytes: the only identifiers that are) still decrypts to the same
        # model value: many ciphertexts, one model ciphertext; a marker's old position is dropped
        if old_target is not None and self.to_model.get(old_target) == model_value \
                and not isinstance(old_target, (bytes, bytearray)):
            del self.to_model[old_target]
        old_model = self.to_model.pop(target_value, None)
        if old_model is not None and self.to_target.get(old_model) == target_value:
            del self.to_target[old_model]
        self.to_target[model_value] = target_value
        self.to_model[target_value] = model_value

    def bind_all(self, pairs: Mapping[Any, Any]) -> None:
        for m, t in pairs.items():
            self.bind(m, t)

    def outbound(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A request in the model's identifiers, in the target's (unknown values pass as they are:
        an ID the model never issued is one the target never issued either)."""
        return {k: (self.to_target.get(v, v) if k in ID_FIELDS else v) for k, v in params.items()}

    def model_value(self, target_value: Any) -> Any:
        return self.to_model.get(target_value, target_value)


def difference(expected: Any, observed: Any, binding: Binding, new: dict[Any, Any], where: str = "") -> str | None:
    """Why ``observed`` (in the target's identifiers) is not ``expected`` (in the model's), or
    None when it matches. Identifier pairs seen for the first time are added to ``new``."""
    if isinstance(expected, dict):
        if not isinstance(observed, dict):
            return f"{where or 'body'}: expected a structure, observed {_short(observed)}"
        for key, value in expected.items():
            path = f"{where}.{key}" if where else key
            if key not in observed:
                return f"{path}: missing (expected {_short(value)})"
            if key in VOLATILE_FIELDS:
                continue
            if key in REBOUND_FIELDS:  # a marker names a position in one listing, not a resource
                new[value] = observed[key]
                why = None
            elif key in ID_FIELDS:
                why = _identifier(value, observed[key], binding, new, path)
            elif key in LENGTH_ONLY_FIELDS and isinstance(value, (bytes, bytearray)):
                why = None if _length(observed[key]) == len(value) else (
                    f"{path}: expected {len(value)} bytes, observed {_length(observed[key])}")
            else:
                why = difference(value, observed[key], binding, new, path)
            if why:
                return why
        for key in observed:
            if key not in expected and key in MODELLED_FIELDS:
                path = f"{where}.{key}" if where else key
                return f"{path}: expected absent, observed {_short(observed[key])}"
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(observed, (list, tuple)):
            return f"{where}: expected a list, observed {_short(observed)}"
        if len(expected) != len(observed):
            return f"{where}: expected {len(expected)} entries, observed {len(observed)}"
        for i, (e, o) in enumerate(zip(expected, observed)):
            why = difference(e, o, binding, new, f"{where}[{i}]")
            if why:
                return why
        return None
    if _plain(expected) != _plain(observed):
        return f"{where}: expected {_short(expected)}, observed {_short(observed)}"
    return None


def _identifier(model_value: Any, target_value: Any, binding: Binding, new: dict[Any, Any], path: str) -> str | None:
    if isinstance(model_value, (bytes, bytearray)) or isinstance(target_value, (bytes, bytearray)):
        model_value, target_value = _bytes(model_value), _bytes(target_value)
    known = binding.to_target.get(model_value, new.get(model_value, _ABSENT))
    if known is not _ABSENT:
        return None if known == target_value else (
            f"{path}: observed {_short(target_value)}, which is not the identifier the target gave this resource "
            f"({_short(known)})")
    if target_value in binding.to_model or target_value in new.values():
        return f"{path}: observed {_short(target_value)}, which the target already gave another resource"
    new[model_value] = target_value
    return None


def _bytes(value: Any) -> Any:
    return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else value


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:
        return None


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)  # enums compare by their wire value


def _short(value: Any) -> str:
    if value is _ABSENT:
        return "nothing"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    text = repr(_plain(value))
    return text if len(text) <= 80 else text[:77] + "..."
