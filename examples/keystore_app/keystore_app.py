"""An example application: it keeps a CloudHSM key store connected, with plain boto3.

Nothing here knows about ckspec: it is the code an application team ships, and
test_keystore_app.py tests it against ``ckspec serve`` with the testing kit
(docs/testing-kit.md). It creates a key store, connects it and waits (polling
DescribeCustomKeyStores) until the store is CONNECTED or FAILED, and when it is FAILED carries
out the recovery the AWS KMS Developer Guide documents for its ConnectionErrorCode.
"""

from __future__ import annotations

import time
from typing import Any

import boto3

#: the codes whose recovery updates the store to a new cluster (restored from a backup)
NEEDS_NEW_CLUSTER = frozenset({"CLUSTER_NOT_FOUND", "SUBNET_NOT_FOUND"})
#: the codes whose recovery updates the store's kmsuser password
NEEDS_NEW_PASSWORD = frozenset({"INVALID_CREDENTIALS", "USER_LOCKED_OUT", "USER_NOT_FOUND"})
#: what someone must fix outside KMS before the application retries, per ConnectionErrorCode
OPERATOR_FIXES = {
    "CLUSTER_NOT_FOUND": "restore the cluster from a backup and give the application its new cluster ID",
    "INSUFFICIENT_CLOUDHSM_HSMS": "add an HSM to the cluster",
    "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET": "free IP addresses in the cluster's subnets",
    "INTERNAL_ERROR": "nothing: retry",
    "INVALID_CREDENTIALS": "give the application kmsuser's current password",
    "NETWORK_ERRORS": "wait for the network problem to end (check the security group)",
    "SUBNET_NOT_FOUND": "restore the cluster from a backup into new subnets and give the application its ID",
    "USER_LOCKED_OUT": "reset kmsuser's password and give it to the application",
    "USER_LOGGED_IN": "log out the person logged in as kmsuser",
    "USER_NOT_FOUND": "create kmsuser again and give the application its password",
}


class KeyStoreError(Exception):
    """The store did not reach the state the application needs."""


class KeyStoreApp:
    """Keeps one custom key store connected."""

    def __init__(self, kms: Any = None, *, poll_interval: float = 0.05, timeout: float = 30.0) -> None:
        self.kms = kms or boto3.client("kms")
        self.poll_interval, self.timeout = poll_interval, timeout

    def create_store(self, name: str, cluster_id: str, trust_anchor: str, password: str) -> str:
        return self.kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId=cluster_id,
                                                TrustAnchorCertificate=trust_anchor,
                                                KeyStorePassword=password)["CustomKeyStoreId"]

    def describe(self, store_id: str) -> dict[str, Any]:
        return self.kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]

    def connect(self, store_id: str) -> dict[str, Any]:
        """Connect and wait until the attempt has ended: the store, CONNECTED or FAILED."""
        self.kms.connect_custom_key_store(CustomKeyStoreId=store_id)
        return self._wait_for(store_id, {"CONNECTED", "FAILED"})

    def disconnect(self, store_id: str) -> dict[str, Any]:
        self.kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
        return self._wait_for(store_id, {"DISCONNECTED"})

    def recover(self, store_id: str, *, cluster_id: str | None = None, password: str | None = None) -> dict[str, Any]:
        """The documented recovery of a FAILED store: disconnect, update what its
        ConnectionErrorCode says changed, connect again. Returns the store once the new attempt
        has ended."""
        store = self.describe(store_id)
        if store["ConnectionState"] != "FAILED":
            raise KeyStoreError(f"{store_id} is {store['ConnectionState']}, not FAILED: nothing to recover")
        code = store["ConnectionErrorCode"]
        if code in NEEDS_NEW_CLUSTER and cluster_id is None:
            raise KeyStoreError(f"{code}: {OPERATOR_FIXES[code]} first")
        if code in NEEDS_NEW_PASSWORD and password is None:
            raise KeyStoreError(f"{code}: {OPERATOR_FIXES[code]} first")
        self.disconnect(store_id)  # a FAILED store must be disconnected before it connects again
        update: dict[str, str] = {}
        if cluster_id is not None:
            update["CloudHsmClusterId"] = cluster_id
        if password is not None:
            update["KeyStorePassword"] = password
        if update:
            self.kms.update_custom_key_store(CustomKeyStoreId=store_id, **update)
        return self.connect(store_id)

    def _wait_for(self, store_id: str, states: set[str]) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            store = self.describe(store_id)  # reads may lag a moment behind the last call
            if store["ConnectionState"] in states:
                return store
            if time.monotonic() > deadline:
                raise KeyStoreError(f"{store_id} still {store['ConnectionState']} after {self.timeout:g} s")
            time.sleep(self.poll_interval)
