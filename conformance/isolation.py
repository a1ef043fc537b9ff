"""How one example is kept apart from the others on a target ckspec does not own.

Every example starts from an empty account (the model's starting account). A target that
offers a reset (the ``/_ckspec/reset`` extension, or a reset URL the user names) is reset
before each example. A plain endpoint without one is isolated without its help:

* every custom key store an example creates is named with the example's prefix
  (``ckspec-<run>-<example>-``), and the prefix is taken off again in every answer;
* listings are filtered to the example's own stores; a page that filtering empties is
  followed to the next one, so what the model sees is a listing of its own stores, pages no
  longer than ``Limit`` (shorter pages are allowed, DESC-04);
* when the example ends, its keys are scheduled for deletion and its stores disconnected
  and deleted; a store whose keys still wait for deletion cannot be removed (DELETE-02) and
  stays, counted in the quota every later example shares (CREATE-09): an example starts
  with the quota those it finds leave it, and a quota answer that stores made while it ran
  explain is inconclusive, never a failure.

:class:`Isolation` says which of these was in force; every report shows it.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

#: one prefix per process: every store a prefix-isolated run creates is named with it
RUN_PREFIX = f"ckspec-{secrets.token_hex(3)}-"
_EXAMPLES = itertools.count(1)
NAME_FIELDS = ("CustomKeyStoreName", "NewCustomKeyStoreName")
#: pages a filtered listing follows, at most, to find one that holds the example's own stores
MAX_FILTERED_PAGES = 100
QUOTA = 10  # CREATE-09
#: the longest CustomKeyStoreName botocore's model allows
MAX_NAME_LENGTH = 256
#: tries to delete a store just disconnected, 0.2 s apart
DELETE_ATTEMPTS = 10


@attrs.frozen
class Isolation:
    """Which isolation kept the examples apart: ``reset``, ``prefix`` or ``fresh`` (a new
    account per example), and how, in words."""

    kind: str
    how: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "how": self.how}


def isolation_of(target: Any) -> Isolation:
    """The isolation a target says it keeps (a wire target decides it when it is made); any
    other target is a new object per example, isolated as well as its constructor makes it."""
    isolation = getattr(target, "isolation", None)
    if isinstance(isolation, Isolation):
        return isolation
    adapter = getattr(target, "adapter_class", None) or type(target).__name__  # a guarded adapter names its own class
    return Isolation("fresh", f"a new {adapter} per example")


def next_prefix() -> str:
    """The next example's prefix, always of one length: the room it leaves for a name
    (``Capabilities.name_room``) steers generation, so a seed must draw the same run whatever
    ran before it in the process."""
    return f"{RUN_PREFIX}{next(_EXAMPLES) % 10**8:08d}-"


class NamePrefix:
    """The example's own names on a shared account: prefixed going out, unprefixed coming back,
    other owners' stores left out of listings."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def outbound(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The request with the example's names prefixed. An empty name goes out as it is (its
        answer is the target's own, CREATE-01); a name the prefix would push past the longest
        name allowed cannot be tried on a shared account: inconclusive, never a failure."""
        from .checker import Inconclusive

        sent = dict(params)
        for field in NAME_FIELDS:
            name = sent.get(field)
            if not isinstance(name, str) or not name:
                continue
            if len(name) <= MAX_NAME_LENGTH < len(self.prefix) + len(name):
                raise Inconclusive(f"{field} of {len(name)} characters cannot be tried under prefix isolation: "
                                   f"with the example's prefix it passes the {MAX_NAME_LENGTH} allowed")
            sent[field] = self.prefix + name
        return sent

    def owns(self, entry: Any) -> bool:
        return isinstance(entry, Mapping) and str(entry.get("CustomKeyStoreName", "")).startswith(self.prefix)

    def view(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body with the prefix taken off names, and other owners' stores left out."""
        out = dict(body)
        if isinstance(out.get("CustomKeyStores"), list):
            out["CustomKeyStores"] = [self._unprefixed(s) for s in out["CustomKeyStores"] if self.owns(s)]
        return self._unprefixed(out)

    def listing(self, fetch: Callable[[dict[str, Any]], Any], params: Mapping[str, Any]) -> Any:
        """A DescribeCustomKeyStores through ``fetch`` (params -> Reply), filtered; a page that
        filtering empties while the listing goes on is followed to the next page."""
        sent = dict(params)
        for _ in range(MAX_FILTERED_PAGES):
            reply = fetch(sent)
            if not reply.ok or not isinstance(reply.body, Mapping):
                return reply
            body = self.view(reply.body)
            if body.get("CustomKeyStores") or not reply.body.get("Truncated") or not reply.body.get("NextMarker"):
                if not body.get("CustomKeyStores") and "NextMarker" in body:  # nothing of ours is left
                    body = {**body, "Truncated": False}
                    del body["NextMarker"]
                return attrs.evolve(reply, body=body)
            sent["Marker"] = reply.body["NextMarker"]
        return attrs.evolve(reply, body={"CustomKeyStores": [], "Truncated": False})

    def _unprefixed(self, item: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(item)
        name = out.get("CustomKeyStoreName")
        if isinstance(name, str) and name.startswith(self.prefix):
            out["CustomKeyStoreName"] = name[len(self.prefix):]
        return out


def foreign_stores(fetch: Callable[[dict[str, Any]], Any], names: NamePrefix) -> int | None:
    """How many stores in the account are not the example's (None when the listing fails)."""
    count, params = 0, {}
    for _ in range(MAX_FILTERED_PAGES):
        reply = fetch(params)
        if not reply.ok or not isinstance(reply.body, Mapping):
            return None
        count += sum(1 for s in reply.body.get("CustomKeyStores", []) if not names.owns(s))
        if not reply.body.get("Truncated") or not reply.body.get("NextMarker"):
            return count
        params = {"Marker": reply.body["NextMarker"]}
    return count


def remove(kms: Any, stores: list[str], keys: list[str]) -> int:
    """Schedule the example's keys for deletion, disconnect and delete its stores (errors are
    expected and ignored: a store with keys stays, DELETE-02). Returns the stores left."""
    errors = _errors(kms)
    for key in keys:
        try:
            kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        except errors:
            pass
    left = 0
    for store in stores:
        try:
            kms.disconnect_custom_key_store(CustomKeyStoreId=store)
        except errors:
            pass
        for attempt in range(DELETE_ATTEMPTS):  # a disconnect may take a moment (DISCONNECTING)
            try:
                kms.delete_custom_key_store(CustomKeyStoreId=store)
                break
            except errors as exc:
                if _code(exc) != "CustomKeyStoreInvalidStateException" or attempt == DELETE_ATTEMPTS - 1:
                    left += 1
                    break
                time.sleep(0.2)
    return left


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _errors(kms: Any) -> tuple[type[BaseException], ...]:
    import botocore.exceptions

    from .transport import TransportFault

    return (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ValueError, TransportFault)


def post_reset(url: str, timeout: float) -> None:
    """POST the user's reset URL (an emulator's own reset route); TargetUnreachable unless it
    answers 2xx."""
    import urllib.error
    import urllib.request

    from .adapter import TargetUnreachable

    request = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (the user's own URL)
            answer.read()
    except urllib.error.HTTPError as exc:
        raise TargetUnreachable(f"reset URL {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise TargetUnreachable(f"reset URL {url}: {getattr(exc, 'reason', exc)}") from None
