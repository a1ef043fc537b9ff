"""Look-alike emulators of the kind found in the wild, written the way strangers write them.

Nothing here is built on ckspec: each is a small AWS JSON 1.1 server for KMS alone, with
its own account ID (``123456789012``), its own identifiers, a two-state connection machine
(Connect goes straight to CONNECTED, Disconnect straight to DISCONNECTED), no CloudHSM v2 API,
no ``/_ckspec`` extension, and a ``POST /_reset`` route of its own. The tests hold ckspec's
verdict on each to exactly the bugs listed in :data:`BUGS`, each blamed on its rule.

Operations other than the custom key store lifecycle and a few key calls answer
``UnknownOperationException``, as such emulators do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

from stub_endpoint import loopback_server

ACCOUNT = "123456789012"
REGION = "us-east-1"

#: bug name -> the rule ckspec must blame for it
BUGS = {
    "key-metadata-without-cluster": "KEY-07",  # KeyMetadata leaves out CloudHsmClusterId
    "unknown-marker-accepted": "DESC-04",  # a Marker it never issued lists from the start
    "customer-master-key-spec-ignored": "KEY-05",  # the deprecated CustomerMasterKeySpec is not checked
}
#: bugs ckspec finds on some seeds only (not held to a verdict yet): Update looks the store up
#: before it validates its input, so an out-of-range new name for an unknown store is NotFound
#: where AWS's request validation answers first (AMB-18). The generator seldom pairs an unknown
#: store with an out-of-range value (about half the seeds at 100 examples): issue 11 notes.
SOMETIMES_FOUND = {"lookup-before-validation": "AMB-18"}
_CLUSTER = re.compile(r"cluster-[2-7a-zA-Z]{11,16}")


class _Error(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Kms:
    """The emulator's state and operations (one lock; the HTTP layer is below)."""

    def __init__(self, *, bugs: frozenset[str] = frozenset(BUGS), page_size: int | None = None) -> None:
        self.bugs, self.page_size = bugs, page_size
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.stores: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}

    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self, "op_" + operation, None)
        if method is None:
            raise _Error("UnknownOperationException", f"operation {operation} is not supported by this emulator")
        with self.lock:
            return method(body)

    # --- custom key stores ------------------------------------------------------------------------
    def op_CreateCustomKeyStore(self, b: dict[str, Any]) -> dict[str, Any]:
        name, cluster = b.get("CustomKeyStoreName"), b.get("CloudHsmClusterId")
        anchor, password = b.get("TrustAnchorCertificate"), b.get("KeyStorePassword")
        kind = b.get("CustomKeyStoreType", "AWS_CLOUDHSM")
        _text(name, "CustomKeyStoreName", 1, 256)
        if kind != "AWS_CLOUDHSM":
            raise _Error("ValidationException", "only AWS_CLOUDHSM key stores are supported")
        _text(cluster, "CloudHsmClusterId", 19, 24)
        if not _CLUSTER.fullmatch(cluster):
            raise _Error("ValidationException", "CloudHsmClusterId does not match the pattern")
        _text(anchor, "TrustAnchorCertificate", 1, 5000)
        _text(password, "KeyStorePassword", 7, 32)
        for store in self.stores.values():
            same = (store["CustomKeyStoreName"], store["CloudHsmClusterId"], store["TrustAnchorCertificate"],
                    store["password"]) == (name, cluster, anchor, password)
            if same and store["ConnectionState"] == "DISCONNECTED":
                return {"CustomKeyStoreId": store["CustomKeyStoreId"]}  # an idempotent retry
            if store["CustomKeyStoreName"] == name:
                raise _Error("CustomKeyStoreNameInUseException", f"name {name} is in use")
            if store["CloudHsmClusterId"] == cluster:
                raise _Error("CloudHsmClusterInUseException", f"{cluster} already backs a key store")
        if len(self.stores) >= 10:
            raise _Error("LimitExceededException", "too many custom key stores")
        store_id = "cks-" + uuid.uuid4().hex[:17]
        self.stores[store_id] = {
            "CustomKeyStoreId": store_id, "CustomKeyStoreName": name, "CloudHsmClusterId": cluster,
            "TrustAnchorCertificate": anchor, "ConnectionState": "DISCONNECTED", "password": password,
            "CreationDate": dt.datetime.now(dt.timezone.utc).timestamp(), "CustomKeyStoreType": "AWS_CLOUDHSM",
        }
        return {"CustomKeyStoreId": store_id}

    def op_ConnectCustomKeyStore(self, b: dict[str, Any]) -> dict[str, Any]:
        store = self._store(b)
        store["ConnectionState"] = "CONNECTED"  # no CONNECTING, no failures: the HSM is imaginary
        store["password"] = None  # KMS rotates kmsuser's password: the one given at Create is gone
        return {}

    def op_DisconnectCustomKeyStore(self, b: dict[str, Any]) -> dict[str, Any]:
        store = self._store(b)
        if store["ConnectionState"] != "CONNECTED":
            raise _Error("CustomKeyStoreInvalidStateException", "the key store is not connected")
        store["ConnectionState"] = "DISCONNECTED"
        return {}

    def op_UpdateCustomKeyStore(self, b: dict[str, Any]) -> dict[str, Any]:
        if "lookup-before-validation" in self.bugs:
            self._store(b)
        new_name, password, cluster = (b.get("NewCustomKeyStoreName"), b.get("KeyStorePassword"),
                                       b.get("CloudHsmClusterId"))
        if new_name is not None:
            _text(new_name, "NewCustomKeyStoreName", 1, 256)
        if password is not None:
            _text(password, "KeyStorePassword", 7, 32)
        if cluster is not None:
            _text(cluster, "CloudHsmClusterId", 19, 24)
            if not _CLUSTER.fullmatch(cluster):
                raise _Error("ValidationException", "CloudHsmClusterId does not match the pattern")
        store = self._store(b)
        if (password is not None or cluster is not None) and store["ConnectionState"] != "DISCONNECTED":
            raise _Error("CustomKeyStoreInvalidStateException", "disconnect the key store first")
        if new_name is not None and any(s["CustomKeyStoreName"] == new_name and s is not store
                                        for s in self.stores.values()):
            raise _Error("CustomKeyStoreNameInUseException", f"name {new_name} is in use")
        if cluster is not None and cluster != store["CloudHsmClusterId"]:
            raise _Error("CloudHsmClusterNotRelatedException", f"{cluster} is not related to the store's cluster")
        if new_name is not None:
            store["CustomKeyStoreName"] = new_name
        if password is not None:
            store["password"] = password
        return {}

    def op_DeleteCustomKeyStore(self, b: dict[str, Any]) -> dict[str, Any]:
        store = self._store(b)
        if store["ConnectionState"] != "DISCONNECTED":
            raise _Error("CustomKeyStoreInvalidStateException", "disconnect the key store first")
        if any(k["CustomKeyStoreId"] == store["CustomKeyStoreId"] for k in self.keys.values()):
            raise _Error("CustomKeyStoreHasCMKsException", "the key store still has keys")
        del self.stores[store["CustomKeyStoreId"]]
        return {}

    def op_DescribeCustomKeyStores(self, b: dict[str, Any]) -> dict[str, Any]:
        if b.get("CustomKeyStoreId") is not None and b.get("CustomKeyStoreName") is not None:
            raise _Error("ValidationException", "give CustomKeyStoreId or CustomKeyStoreName, not both")
        if b.get("CustomKeyStoreName") is not None:
            _text(b["CustomKeyStoreName"], "CustomKeyStoreName", 1, 256)
        found = list(self.stores.values())
        if b.get("CustomKeyStoreId") is not None:
            found = [s for s in found if s["CustomKeyStoreId"] == b["CustomKeyStoreId"]]
        if b.get("CustomKeyStoreName") is not None:
            found = [s for s in found if s["CustomKeyStoreName"] == b["CustomKeyStoreName"]]
        if not found and (b.get("CustomKeyStoreId") is not None or b.get("CustomKeyStoreName") is not None):
            raise _Error("CustomKeyStoreNotFoundException", "no such key store")
        limit = b.get("Limit", 1000)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise _Error("ValidationException", "Limit must be between 1 and 1000")
        start = 0
        if b.get("Marker") is not None:  # our markers are "p<index>"
            marker = str(b["Marker"])
            if re.fullmatch(r"p\d+", marker):
                start = int(marker[1:])
            elif "unknown-marker-accepted" not in self.bugs:
                raise _Error("InvalidMarkerException", "the marker is not valid")
        size = min(limit, self.page_size or limit)
        page = found[start:start + size]
        out: dict[str, Any] = {"CustomKeyStores": [_entry(s) for s in page], "Truncated": start + size < len(found)}
        if out["Truncated"]:
            out["NextMarker"] = f"p{start + size}"
        return out

    # --- keys ---------------------------------------------------------------------------------------
    def op_CreateKey(self, b: dict[str, Any]) -> dict[str, Any]:
        store_id = b.get("CustomKeyStoreId")
        if store_id is None:
            raise _Error("UnsupportedOperationException", "this emulator makes keys in custom key stores only")
        if b.get("Origin") != "AWS_CLOUDHSM":
            raise _Error("ValidationException", "keys in a CloudHSM key store need Origin AWS_CLOUDHSM")
        spec = b.get("KeySpec", "SYMMETRIC_DEFAULT")
        if "customer-master-key-spec-ignored" not in self.bugs:
            spec = b.get("CustomerMasterKeySpec", spec)  # the deprecated name of KeySpec
        if spec != "SYMMETRIC_DEFAULT" or \
                b.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT" or b.get("MultiRegion"):
            raise _Error("UnsupportedOperationException", "custom key stores hold symmetric encryption keys only")
        store = self.stores.get(store_id)
        if store is None:
            raise _Error("CustomKeyStoreNotFoundException", "no such key store")
        if store["ConnectionState"] != "CONNECTED":
            raise _Error("CustomKeyStoreInvalidStateException", "the key store is not connected")
        key_id = str(uuid.uuid4())
        self.keys[key_id] = {"KeyId": key_id, "CustomKeyStoreId": store_id, "state": "Enabled",
                             "CreationDate": dt.datetime.now(dt.timezone.utc).timestamp()}
        return {"KeyMetadata": self._metadata(self.keys[key_id])}

    def op_DescribeKey(self, b: dict[str, Any]) -> dict[str, Any]:
        return {"KeyMetadata": self._metadata(self._key(b))}

    def op_ScheduleKeyDeletion(self, b: dict[str, Any]) -> dict[str, Any]:
        days = b.get("PendingWindowInDays", 30)  # the request is validated before anything is looked up
        if not isinstance(days, int) or isinstance(days, bool) or not 7 <= days <= 30:
            raise _Error("ValidationException", "PendingWindowInDays must be between 7 and 30")
        key = self._key(b)
        if key["state"] == "PendingDeletion":
            raise _Error("KMSInvalidStateException", "the key is already pending deletion", 409)
        key.update(state="PendingDeletion", days=days,
                   DeletionDate=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).timestamp())
        return {"KeyId": _arn(key["KeyId"]), "DeletionDate": key["DeletionDate"], "KeyState": "PendingDeletion",
                "PendingWindowInDays": days}

    # --- helpers ------------------------------------------------------------------------------------
    def _store(self, b: dict[str, Any]) -> dict[str, Any]:
        store_id = b.get("CustomKeyStoreId")
        _text(store_id, "CustomKeyStoreId", 1, 64)
        if store_id not in self.stores:
            raise _Error("CustomKeyStoreNotFoundException", f"no key store {store_id}")
        return self.stores[store_id]

    def _key(self, b: dict[str, Any]) -> dict[str, Any]:
        wanted = str(b.get("KeyId", ""))
        key = self.keys.get(wanted.rsplit("/", 1)[-1])
        if key is None:
            raise _Error("NotFoundException", f"key {wanted} not found", 404)
        return key

    def _metadata(self, key: dict[str, Any]) -> dict[str, Any]:
        store = self.stores[key["CustomKeyStoreId"]]
        state = key["state"]
        if state != "PendingDeletion" and store["ConnectionState"] != "CONNECTED":
            state = "Unavailable"
        meta = {
            "AWSAccountId": ACCOUNT, "KeyId": key["KeyId"], "Arn": _arn(key["KeyId"]),
            "CreationDate": key["CreationDate"], "Enabled": state == "Enabled", "Description": "",
            "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": state, "Origin": "AWS_CLOUDHSM",
            "CustomKeyStoreId": store["CustomKeyStoreId"], "CloudHsmClusterId": store["CloudHsmClusterId"],
            "KeyManager": "CUSTOMER", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False,
        }
        if "key-metadata-without-cluster" in self.bugs:
            del meta["CloudHsmClusterId"]
        if key["state"] == "PendingDeletion":
            meta.update(DeletionDate=key["DeletionDate"], PendingDeletionWindowInDays=key["days"])
        return meta


def _text(value: Any, field: str, low: int, high: int) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise _Error("ValidationException", f"{field} must be a string of {low} to {high} characters")


def _entry(store: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in store.items() if k != "password"}


def _arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def _handler(kms: Kms) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # answers in one piece, not held back for a delayed ACK

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == "/_reset":
                with kms.lock:
                    kms.reset()
                return self._send(200, {})
            target = self.headers.get("X-Amz-Target", "")
            if not target.startswith("TrentService."):
                return self._send(400, {"__type": "UnknownOperationException", "message": "not KMS"})
            try:
                body = json.loads(raw or b"{}")
                self._send(200, kms.handle(target.split(".", 1)[1], body))
            except _Error as exc:
                self._send(exc.status, {"__type": exc.code, "message": exc.message})
            except (ValueError, TypeError, AttributeError) as exc:
                self._send(400, {"__type": "SerializationException", "message": str(exc)})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serving(kms: Kms) -> Iterator[str]:
    """Serve ``kms`` on 127.0.0.1 and a free port; yield its URL; stop when the block ends."""
    with loopback_server(_handler(kms)) as url:
        yield url
