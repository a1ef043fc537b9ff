"""Response bodies, in the shapes botocore describes for each operation.

Builders return a tuple of bodies: usually one, several where the documentation allows
more than one answer (DescribeCustomKeyStores may return fewer items than Limit, DESC-04).
Fields appear only where the API says they do: ``ConnectionErrorCode`` only for a FAILED
store (CS-07), ``DeletionDate`` only for a key pending deletion. No builder ever emits a
password (KU-04, DESC-05).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable

import attrs

from . import identifiers as ids
from .aws_service import ConnectionState
from .facts import MARKER_PREFIX, Context, ciphertext_key, idempotent_store, matching_stores, parse_marker
from .facts import CIPHERTEXT_MAGIC
from .guards import ALWAYS, Fact, Guard, compile_guard
from .profiles import REFERENCE
from .world import Key, KeyStore, World

Body = dict[str, Any]
Builder = Callable[[World, Context, dict[str, Any]], tuple[Body, ...]]

RESPONSES: dict[str, Builder] = {}


def response(fn: Builder) -> Builder:
    RESPONSES[fn.__name__] = fn
    return fn


@response
def empty(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    """CONNECT-02, DISC-03, UPDATE-01, DELETE-04: HTTP 200 with ``{}``."""
    return ({},)


@response
def store_id(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    serial = info.get("store_id")
    if serial is None:
        existing = idempotent_store(ctx)  # CREATE-10: an idempotent retry returns the existing store
        assert existing is not None
        serial = existing.store_id
    return ({"CustomKeyStoreId": ids.store_id(serial)},)


def store_entry(store: KeyStore, lagged: bool = False) -> Body:
    """DESC-05: one CustomKeyStoresListEntry of a CloudHSM key store (as a lagging read would
    still show it, AMB-30, when ``lagged``)."""
    if lagged and store.lag is not None:
        store = attrs.evolve(store, state=store.lag[0], error_code=store.lag[1])
    if store.external:
        from .external import entry as external_entry  # XKS-04: one list for both types

        return external_entry(store)
    entry: Body = {
        "CustomKeyStoreId": ids.store_id(store.store_id),
        "CustomKeyStoreName": store.name,
        "CloudHsmClusterId": ids.cluster_id(store.cluster_id),
        "TrustAnchorCertificate": store.trust_anchor,
        "ConnectionState": store.state.value,
        "CreationDate": ids.creation_date(store.store_id),
        "CustomKeyStoreType": "AWS_CLOUDHSM",
    }
    if store.state is ConnectionState.FAILED:
        entry["ConnectionErrorCode"] = store.error_code
    return entry


def in_current_shape(entry: Any) -> Any:
    """AMB-38: a listing entry as published before external key stores existed has no
    CustomKeyStoreType; every store was then a CloudHSM key store. The model always emits the
    current shape; readers of recorded or live answers take an older entry as this one."""
    if isinstance(entry, dict) and "CustomKeyStoreType" not in entry and "XksProxyConfiguration" not in entry:
        return {**entry, "CustomKeyStoreType": "AWS_CLOUDHSM"}
    return entry


@response
def describe_page(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    """DESC-01, DESC-04: the matching stores in creation order, from the Marker on, at most
    Limit of them (and possibly fewer, so every shorter non-empty page is allowed too)."""
    after = parse_marker(ctx.params.get("Marker"))
    stores = [s for s in matching_stores(ctx) if after is None or s.store_id > after]
    limit = ctx.params.get("Limit", 1000)
    if not stores:
        return ({"CustomKeyStores": [], "Truncated": False},)
    pages = []
    for size in range(min(limit, len(stores)), 0, -1):
        page = stores[:size]
        body: Body = {"CustomKeyStores": [store_entry(s) for s in page], "Truncated": size < len(stores)}
        if size < len(stores):
            body["NextMarker"] = f"{MARKER_PREFIX}{page[-1].store_id}"
        pages.append((page, body))
    bodies = [body for _, body in pages]
    # AMB-30: a read right after a call may still show a store's previous state, on a page of any length
    for page, body in pages:
        for lagging in (s for s in page if s.lag is not None):
            bodies.append({**body, "CustomKeyStores": [store_entry(s, lagged=s is lagging) for s in page]})
    return tuple(bodies)


#: KS-02, KS-03, AMB-12: the key state KMS shows, as ordered rows (the subject key's own states,
#: a guard, the state shown; None shows the key's own state). The first row that applies wins.
#: ``visible_key_state`` reads it here; the proofs fold the same rows (P-UNAVAILABLE).
KEY_STATE_SHOWN: tuple[tuple[frozenset[str], Guard, str | None], ...] = (
    (frozenset({"PendingDeletion"}), ALWAYS, None),
    (frozenset({"Enabled", "Disabled"}), ~Fact("store_connected"), "Unavailable"),
    (frozenset({"Enabled", "Disabled"}), ALWAYS, None),
)
_SHOWN = tuple((states, compile_guard(guard), shown) for states, guard, shown in KEY_STATE_SHOWN)


def visible_key_state(world: World, key: Key) -> str:
    """KS-02, KS-03, AMB-12: PendingDeletion shows through; otherwise a key whose store is not
    CONNECTED reads Unavailable; otherwise the key's own state."""
    ctx = Context(world, REFERENCE, {}, store=world.store(key.store_id), key=key)
    for states, applies, shown in _SHOWN:
        if key.state in states and applies(ctx):
            return shown or key.state
    raise AssertionError(f"KEY_STATE_SHOWN has no row for a key in state {key.state}")


def metadata(world: World, key: Key, shown_state: str | None = None) -> Body:
    """KEY-07, KS-11: the KeyMetadata of a key in a CloudHSM key store."""
    store = world.store(key.store_id)
    assert store is not None
    state = shown_state or visible_key_state(world, key)
    meta: Body = {
        "AWSAccountId": ids.ACCOUNT,
        "KeyId": ids.key_id(key.key_id),
        "Arn": ids.key_arn(key.key_id),
        "CreationDate": ids.creation_date(key.key_id),
        "Enabled": state == "Enabled",  # KS-11
        "Description": "",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": state,
        "Origin": "AWS_CLOUDHSM",
        "CustomKeyStoreId": ids.store_id(store.store_id),
        "CloudHsmClusterId": ids.cluster_id(store.cluster_id),
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }
    if key.state == "PendingDeletion":
        meta["DeletionDate"] = _deletion_date(world, key)
        meta["PendingDeletionWindowInDays"] = key.pending_window_days
    return meta


def _deletion_date(world: World, key: Key) -> _dt.datetime:
    """DK-01: the date a scheduled deletion ends. Fixed while the deletion stays scheduled (a
    reply must not move it: ``conformance.stability``), so it is read off the key and its
    window, not off the world's clock."""
    return ids.creation_date(key.key_id) + _dt.timedelta(days=key.pending_window_days or 30)


def _subject_key(world: World, ctx: Context, info: dict[str, Any]) -> Key:
    serial = info.get("key_id", ctx.key.key_id if ctx.key else None)
    key = world.key(serial)
    assert key is not None
    return key


@response
def key_metadata(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    return ({"KeyMetadata": metadata(world, _subject_key(world, ctx, info))},)


@response
def key_metadata_lagging(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    """AMB-12, AMB-30: right after Connect or Disconnect a read may show the key as it was."""
    key = _subject_key(world, ctx, info)
    store = world.store(key.store_id)
    before = attrs.evolve(world, stores=tuple(attrs.evolve(s, state=s.lag[0]) if s is store else s
                                              for s in world.stores))
    return ({"KeyMetadata": metadata(world, key, visible_key_state(before, key))},)


@response
def key_metadata_unavailable(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    """AMB-13: a key whose backing key is gone may read Unavailable."""
    return ({"KeyMetadata": metadata(world, _subject_key(world, ctx, info), "Unavailable")},)


@response
def schedule_deletion(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    key = _subject_key(world, ctx, info)
    return ({
        "KeyId": ids.key_arn(key.key_id),
        "DeletionDate": _deletion_date(world, key),
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": key.pending_window_days,
    },)


@response
def key_id(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    return ({"KeyId": ids.key_arn(_subject_key(world, ctx, info).key_id)},)


def encrypt_bytes(key_serial: int, plaintext: bytes) -> bytes:
    """The model's ciphertext format: recognisably ours, bound to the key (CRYPTO-01)."""
    return CIPHERTEXT_MAGIC + key_serial.to_bytes(8, "big") + plaintext


@response
def ciphertext(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    key = _subject_key(world, ctx, info)
    return ({
        "CiphertextBlob": encrypt_bytes(key.key_id, bytes(ctx.params["Plaintext"])),
        "KeyId": ids.key_arn(key.key_id),
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    },)


@response
def plaintext(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    key = _subject_key(world, ctx, info)
    blob = bytes(ctx.params["CiphertextBlob"])
    assert ciphertext_key(blob) == key.key_id
    return ({
        "KeyId": ids.key_arn(key.key_id),
        "Plaintext": blob[len(CIPHERTEXT_MAGIC) + 8:],
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    },)


def _data_key_size(ctx: Context) -> int:
    if "NumberOfBytes" in ctx.params:
        return ctx.params["NumberOfBytes"]
    return 16 if ctx.params.get("KeySpec") == "AES_128" else 32


@response
def data_key(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    key = _subject_key(world, ctx, info)
    secret = bytes(_data_key_size(ctx))
    return ({
        "CiphertextBlob": encrypt_bytes(key.key_id, secret),
        "Plaintext": secret,
        "KeyId": ids.key_arn(key.key_id),
    },)


@response
def data_key_without_plaintext(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    body = dict(data_key(world, ctx, info)[0])
    del body["Plaintext"]
    return (body,)


@response
def random(world: World, ctx: Context, info: dict[str, Any]) -> tuple[Body, ...]:
    """RAND-01: NumberOfBytes bytes (their values are not part of the model)."""
    return ({"Plaintext": bytes(ctx.params["NumberOfBytes"])},)
