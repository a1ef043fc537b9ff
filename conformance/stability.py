"""Members that must not change, held to the value the target first showed.

The reply comparison (:mod:`.identity`) checks a date only for presence: the model cannot know
the target's clock. But once a target has shown a store's ``CreationDate`` it must show the same
one for as long as the store exists, and likewise for the other members nothing can change:

=========================  =========================================  ============================
member                     of                                         rule
=========================  =========================================  ============================
``CreationDate``           a store (listing entry)                    DESC-05
``TrustAnchorCertificate`` a store                                    UPDATE-11
``CustomKeyStoreType``     a store                                    CREATE-02
``CreationDate``           a key (``KeyMetadata``)                    KEY-07
``Arn``, ``Origin``,       a key                                      KEY-07
``CustomKeyStoreId``
``DeletionDate``           a key, while its deletion stays scheduled  DK-01
=========================  =========================================  ============================

Identifiers themselves are held one-to-one by the :class:`~.identity.Binding`; this module
adds the members that are not identifiers. Resources are keyed by the target's own IDs (a key
by the model serial its ID or ARN is bound to, since ScheduleKeyDeletion answers with the ARN).
A scheduled ``DeletionDate`` is forgotten when the key is seen not pending deletion (cancelled:
a later schedule sets a new date).
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from ckspec.model import identifiers as ids

from .identity import Binding

#: store listing entry members that never change, with the rule that says so
STORE_FIXED = (("CreationDate", "DESC-05"), ("TrustAnchorCertificate", "UPDATE-11"), ("CustomKeyStoreType", "CREATE-02"))
#: KeyMetadata members that never change
KEY_FIXED = (("CreationDate", "KEY-07"), ("Arn", "KEY-07"), ("Origin", "KEY-07"), ("CustomKeyStoreId", "KEY-07"))
#: operations whose replies hold KeyMetadata
_KEY_METADATA = frozenset({"CreateKey", "DescribeKey"})


@attrs.frozen
class Changed:
    """A member that changed since the target first showed it."""

    rule: str
    resource: str
    member: str
    first: str
    now: str

    @property
    def message(self) -> str:
        return (f"{self.rule}: {self.resource}'s {self.member} changed from {self.first} to {self.now}; "
                f"it must keep the value first shown")


@attrs.define
class FirstSight:
    """The first value the target showed for each fixed member of each resource."""

    #: (resource, member) -> first value
    seen: dict[tuple[Any, str], Any] = attrs.field(factory=dict)

    def observe(self, operation: str, body: Mapping[str, Any] | None, binding: Binding) -> Changed | None:
        """Record a successful reply's fixed members; the first that changed, if any."""
        if not isinstance(body, Mapping):
            return None
        if operation == "DescribeCustomKeyStores":
            for entry in body.get("CustomKeyStores") or ():
                if isinstance(entry, Mapping) and "CustomKeyStoreId" in entry:
                    found = self._fixed(("store", entry["CustomKeyStoreId"]), entry, STORE_FIXED)
                    if found:
                        return found
        meta = body.get("KeyMetadata")
        if operation in _KEY_METADATA and isinstance(meta, Mapping) and "KeyId" in meta:
            key = self._key(meta["KeyId"], binding)
            found = self._fixed(key, meta, KEY_FIXED)
            if found:
                return found
            return self._deletion(key, meta.get("KeyState"), meta)
        if operation == "ScheduleKeyDeletion" and "KeyId" in body:
            return self._deletion(self._key(body["KeyId"], binding), body.get("KeyState", "PendingDeletion"), body)
        if operation == "CancelKeyDeletion" and "KeyId" in body:
            self.seen.pop((self._key(body["KeyId"], binding), "DeletionDate"), None)
        return None

    def _key(self, target_id: Any, binding: Binding) -> tuple[str, Any]:
        serial = ids.parse_key_id(binding.model_value(target_id))
        return ("key", serial if serial is not None else target_id)

    def _fixed(self, resource: tuple[str, Any], members: Mapping[str, Any],
               fixed: tuple[tuple[str, str], ...]) -> Changed | None:
        for member, rule in fixed:
            if member not in members:
                continue
            found = self._compare(resource, member, members[member], rule)
            if found:
                return found
        return None

    def _deletion(self, key: tuple[str, Any], state: Any, members: Mapping[str, Any]) -> Changed | None:
        if state != "PendingDeletion":
            self.seen.pop((key, "DeletionDate"), None)
            return None
        if "DeletionDate" not in members:
            return None
        return self._compare(key, "DeletionDate", members["DeletionDate"], "DK-01")

    def _compare(self, resource: tuple[str, Any], member: str, value: Any, rule: str) -> Changed | None:
        slot = (resource, member)
        if slot not in self.seen:
            self.seen[slot] = value
            return None
        first = self.seen[slot]
        if first == value:
            return None
        return Changed(rule, _name(resource), member, _short(first), _short(value))


def _name(resource: tuple[str, Any]) -> str:
    kind, value = resource
    if kind == "key" and isinstance(value, int):
        return f"key {ids.key_id(value)}"
    return f"{kind} {value}"


def _short(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
