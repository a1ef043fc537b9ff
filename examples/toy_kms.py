"""A toy key store emulator with its own ckspec adapter: how to plug in your own target.

``ToyKms`` is a deliberately small, two-state emulator of the custom key store APIs, in the
style of several real ones: a store is DISCONNECTED or
CONNECTED, Connect flips it at once without looking at the cluster, Delete of a connected
store answers CustomKeyStoreHasCMKsException, and it has no KMS keys at all. Run it with::

    ckspec check --target examples/toy_kms.py:ToyKms

ckspec reports it non-conformant, names the rules (every first failure is one of
:data:`KNOWN_BUGS`), and lists CreateKey, DescribeKey and GenerateRandom as *unsupported* (one
raises NotImplementedError like moto in-process does, one answers HTTP 501 like LocalStack does).
Its five set-up controls are thin fakes: it does not list them in ``Capabilities.real_setup``,
so they build the starting account and are never drawn as steps, and no verdict is about them.

An adapter is any class with ``capabilities``, ``call``, ``environment`` and ``wait`` (and
optionally ``close``); subclassing :class:`ckspec.conformance.Target` is the easy way. Wrap
a real emulator the same way: translate ``call`` into your client's request (boto3 with
``Config(retries={"max_attempts": 1}, parameter_validation=False)``), turn its error into
``Reply(status, error_code, message)``, and implement the environment controls you can.
"""

from __future__ import annotations

import datetime
import itertools
import time
from typing import Any, Mapping

from ckspec.conformance import Capabilities, EnvironmentReply, Reply, Target


#: the rules the toy breaks on purpose (rule ID -> what the code above does instead)
KNOWN_BUGS: dict[str, str] = {
    "AMB-18": "validates no parameter: a 6-character KeyStorePassword, an empty name, any Limit or Marker",
    "CONNECT-06": "Connect succeeds whatever the cluster, its HSMs and kmsuser (and the password) look like",
    "DISC-02": "Disconnect of a DISCONNECTED store answers 200 instead of CustomKeyStoreInvalidStateException",
    "DESC-04": "Describe ignores Limit and Marker: no pages, no InvalidMarkerException",
    "CREATE-04": "Create accepts a CloudHsmClusterId that names no cluster",
    "CREATE-05": "Create accepts a cluster that is not ACTIVE",
    "CREATE-06": "Create accepts a cluster that already backs a store",
    "CREATE-07": "Create accepts any TrustAnchorCertificate, not only the cluster's",
    "CREATE-08": "Create accepts a cluster without two ACTIVE HSMs in distinct AZs",
    "UPDATE-03": "Update changes the password or cluster of a store that is not DISCONNECTED",
    "DELETE-01": "Delete of a store that is not DISCONNECTED answers CustomKeyStoreHasCMKsException",
}


class ToyKms(Target):
    name = "toy-kms"
    capabilities = Capabilities(
        operations=frozenset({"CreateCustomKeyStore", "ConnectCustomKeyStore", "DisconnectCustomKeyStore",
                              "UpdateCustomKeyStore", "DeleteCustomKeyStore", "DescribeCustomKeyStores",
                              "CreateKey", "DescribeKey", "GenerateRandom"}),
        # the five set-up controls every target needs, nothing else: thin fakes, so set-up-only
        # (the default; real_setup=SETUP_CONTROLS would let ckspec draw them as steps too)
        environment=frozenset({"create_cluster", "create_hsm", "initialize_cluster", "activate_cluster",
                               "create_kmsuser"}),
        controlled_clock=False,  # work may complete between any two calls (here: it never waits)
    )

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.stores: dict[str, dict[str, Any]] = {}

    # --- KMS -------------------------------------------------------------------------------------
    def call(self, operation: str, params: Mapping[str, Any]) -> Reply:
        if operation == "CreateKey":
            raise NotImplementedError("CreateKey")  # the moto in-process signature
        if operation in ("DescribeKey", "GenerateRandom"):
            return Reply(501, "InternalFailure", "not implemented")  # the LocalStack signature
        handler = getattr(self, "_" + operation)
        return handler(params)

    def _CreateCustomKeyStore(self, p: Mapping[str, Any]) -> Reply:
        if any(s["CustomKeyStoreName"] == p.get("CustomKeyStoreName") for s in self.stores.values()):
            return _error("CustomKeyStoreNameInUseException")
        store_id = f"cks-{next(self.ids):017x}"
        self.stores[store_id] = {"CustomKeyStoreId": store_id, "CustomKeyStoreName": p["CustomKeyStoreName"],
                                 "CloudHsmClusterId": p["CloudHsmClusterId"],
                                 "TrustAnchorCertificate": p["TrustAnchorCertificate"],
                                 "ConnectionState": "DISCONNECTED", "CustomKeyStoreType": "AWS_CLOUDHSM",
                                 "CreationDate": datetime.datetime.now(datetime.timezone.utc)}
        return Reply(body={"CustomKeyStoreId": store_id})

    def _ConnectCustomKeyStore(self, p: Mapping[str, Any]) -> Reply:
        store = self.stores.get(p.get("CustomKeyStoreId"))
        if store is None:
            return _error("CustomKeyStoreNotFoundException")
        store["ConnectionState"] = "CONNECTED"  # at once, whatever the cluster looks like
        return Reply(body={})

    def _DisconnectCustomKeyStore(self, p: Mapping[str, Any]) -> Reply:
        store = self.stores.get(p.get("CustomKeyStoreId"))
        if store is None:
            return _error("CustomKeyStoreNotFoundException")
        store["ConnectionState"] = "DISCONNECTED"
        return Reply(body={})

    def _UpdateCustomKeyStore(self, p: Mapping[str, Any]) -> Reply:
        store = self.stores.get(p.get("CustomKeyStoreId"))
        if store is None:
            return _error("CustomKeyStoreNotFoundException")
        if "NewCustomKeyStoreName" in p:
            store["CustomKeyStoreName"] = p["NewCustomKeyStoreName"]
        if "CloudHsmClusterId" in p:
            store["CloudHsmClusterId"] = p["CloudHsmClusterId"]
        return Reply(body={})

    def _DeleteCustomKeyStore(self, p: Mapping[str, Any]) -> Reply:
        store = self.stores.get(p.get("CustomKeyStoreId"))
        if store is None:
            return _error("CustomKeyStoreNotFoundException")
        if store["ConnectionState"] != "DISCONNECTED":
            return _error("CustomKeyStoreHasCMKsException")
        del self.stores[store["CustomKeyStoreId"]]
        return Reply(body={})

    def _DescribeCustomKeyStores(self, p: Mapping[str, Any]) -> Reply:
        found = [dict(s) for s in self.stores.values()
                 if p.get("CustomKeyStoreId") in (None, s["CustomKeyStoreId"])
                 and p.get("CustomKeyStoreName") in (None, s["CustomKeyStoreName"])]
        if ("CustomKeyStoreId" in p or "CustomKeyStoreName" in p) and not found:
            return _error("CustomKeyStoreNotFoundException")
        return Reply(body={"CustomKeyStores": found, "Truncated": False})

    # --- the environment: just enough to build the starting account ------------------------------
    def environment(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        if event == "create_cluster":
            return EnvironmentReply(True, f"cluster-{next(self.ids):011d}".replace("0", "a").replace("1", "b"))
        if event == "create_hsm":
            return EnvironmentReply(True, f"hsm-toy{next(self.ids)}")
        if event == "initialize_cluster":
            return EnvironmentReply(True, f"-----BEGIN CERTIFICATE-----\ntoy-{args[0]}\n-----END CERTIFICATE-----")
        if event in ("activate_cluster", "create_kmsuser"):
            return EnvironmentReply(True)
        raise NotImplementedError(event)

    def wait(self, seconds: float) -> None:
        time.sleep(0)  # nothing is ever pending


def _error(code: str) -> Reply:
    return Reply(400, code, code)
