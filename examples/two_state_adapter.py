"""A ckspec adapter for a two-state emulator: the skeleton of docs/adapters.md, runnable as is.

    ckspec check --target examples/two_state_adapter.py:MyEmulatorAdapter

TwoStateEmulator stands in for yours (a store is DISCONNECTED or CONNECTED, nothing else):
replace it with your emulator or a client of it, and keep the adapter's shape.
"""

import itertools

from ckspec.conformance import SETUP_CONTROLS, Capabilities, EnvironmentReply, Reply, Target


class EmulatorError(Exception):
    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code, self.status = code, status


class TwoStateEmulator:
    def __init__(self) -> None:
        self.stores: dict[str, dict] = {}
        self.serial = itertools.count(1)

    def handle(self, operation: str, params: dict) -> dict:
        if operation == "CreateCustomKeyStore":
            store_id = f"cks-{next(self.serial):017x}"
            self.stores[store_id] = {"CustomKeyStoreId": store_id, "ConnectionState": "DISCONNECTED",
                                     "CustomKeyStoreName": params.get("CustomKeyStoreName"),
                                     "CloudHsmClusterId": params.get("CloudHsmClusterId"),
                                     "TrustAnchorCertificate": params.get("TrustAnchorCertificate")}
            return {"CustomKeyStoreId": store_id}
        if operation == "DescribeCustomKeyStores":
            return {"CustomKeyStores": list(self.stores.values()), "Truncated": False}
        store = self.stores.get(params.get("CustomKeyStoreId"))
        if store is None:
            raise EmulatorError("CustomKeyStoreNotFoundException")
        if operation == "ConnectCustomKeyStore":
            store["ConnectionState"] = "CONNECTED"  # at once: the two-state shortcut
        elif operation == "DisconnectCustomKeyStore":
            store["ConnectionState"] = "DISCONNECTED"
        elif operation == "DeleteCustomKeyStore":
            del self.stores[store["CustomKeyStoreId"]]
        else:
            raise NotImplementedError(operation)
        return {}


class MyEmulatorAdapter(Target):
    name = "two-state"
    capabilities = Capabilities(
        operations=frozenset({"CreateCustomKeyStore", "ConnectCustomKeyStore", "DisconnectCustomKeyStore",
                              "DeleteCustomKeyStore", "DescribeCustomKeyStores"}),
        environment=SETUP_CONTROLS,  # faked below, so set-up-only: no real_setup=...
        controlled_clock=False,      # work may complete between any two calls
    )

    def __init__(self) -> None:      # one fresh instance per example
        self.emulator = TwoStateEmulator()
        self.serial = itertools.count(1)

    def call(self, operation, params):
        try:
            body = self.emulator.handle(operation, dict(params))
        except EmulatorError as error:  # the AWS error shape name, e.g. CustomKeyStoreNotFoundException
            return Reply(error.status, error.code, str(error))
        return Reply(200, None, "", body)  # NotImplementedError passes through: "unsupported"

    def environment(self, event, args):  # thin fakes of the five set-up controls
        n = next(self.serial)
        if event == "create_cluster":
            return EnvironmentReply(True, "cluster-" + f"{n:011d}".translate(str.maketrans("0123456789",
                                                                                            "abcdefghij")))
        if event == "create_hsm":
            return EnvironmentReply(True, f"hsm-fake{n}")
        if event == "initialize_cluster":  # created: the trust anchor (CREATE-07)
            return EnvironmentReply(True, f"-----BEGIN CERTIFICATE-----\n{args[0]}\n-----END CERTIFICATE-----")
        return EnvironmentReply(True)  # activate_cluster, create_kmsuser: nothing created

    def wait(self, seconds):
        pass  # nothing is ever pending
