"""Ready-made worlds and a driver for writing scenarios in tests, searches and diagrams.

``healthy_account()`` is the set-up the documentation asks for before a key store is
created: an ACTIVE cluster with two active HSMs in two AZs, subnets with room, the default
security-group rules, and a kmsuser crypto user whose password the caller knows.
:class:`Driver` applies calls and events with a profile and keeps the world, so a scenario
reads like the steps a user would take.
"""

from __future__ import annotations

from typing import Any

import attrs

from . import identifiers as ids
from .actions import Call, Environment, Internal, Outcome
from .executor import internal_events, outcomes, step
from .profiles import REFERENCE, Profile
from .world import AVAILABILITY_ZONES, World

KMSUSER_PASSWORD = "kmsPassw0rd"


def healthy_account(clusters: int = 1, zones: int = 2, quota: int = 10, password: str = KMSUSER_PASSWORD) -> World:
    """An account with ``clusters`` ready clusters (ACTIVE, one HSM per AZ, kmsuser present)."""
    world = World(quota=quota)
    for _ in range(clusters):
        world = step(world, Environment("create_cluster", (zones,))).world
        c = world.clusters[-1].cluster_id
        world = step(world, Environment("create_hsm", (c, AVAILABILITY_ZONES[0]))).world
        world = step(world, Environment("initialize_cluster", (c,))).world
        for zone in AVAILABILITY_ZONES[1:zones]:
            world = step(world, Environment("create_hsm", (c, zone))).world
        world = step(world, Environment("activate_cluster", (c,))).world
        world = step(world, Environment("create_kmsuser", (c, password))).world
    return world


def create_request(world: World, cluster_index: int = 0, name: str = "store-a",
                   password: str = KMSUSER_PASSWORD) -> dict[str, Any]:
    """CreateCustomKeyStore parameters for one of the world's clusters."""
    cluster = world.clusters[cluster_index]
    return {
        "CustomKeyStoreName": name,
        "CloudHsmClusterId": ids.cluster_id(cluster.cluster_id),
        "TrustAnchorCertificate": cluster.trust_anchor,
        "KeyStorePassword": password,
    }


@attrs.define
class Driver:
    """Applies actions one by one with a profile, keeping the current world."""

    world: World
    profile: Profile = REFERENCE
    history: list[Outcome] = attrs.field(factory=list)

    def call(self, operation: str, **params: Any) -> Outcome:
        outcome = step(self.world, Call.of(operation, params), self.profile)
        self.world = outcome.world
        self.history.append(outcome)
        return outcome

    def possible(self, operation: str, **params: Any) -> tuple[Outcome, ...]:
        """Every outcome of a call under the profile, without applying any."""
        return outcomes(self.world, Call.of(operation, params), self.profile)

    def env(self, event: str, *args: Any) -> Outcome:
        outcome = step(self.world, Environment(event, args), self.profile)
        self.world = outcome.world
        self.history.append(outcome)
        return outcome

    def settle(self, choose: str | None = None) -> list[Outcome]:
        """Let every pending internal event happen (connection attempts complete, disconnects
        end), taking the profile's outcome, or the branch whose label contains ``choose``."""
        done = []
        for _ in range(100):
            pending = [e for e in internal_events(self.world) if e.event != "KeyDeletionCompletes"]
            if not pending:
                return done
            done.append(self.internal(pending[0], choose))
        raise RuntimeError("internal events did not settle")

    def internal(self, event: Internal, choose: str | None = None) -> Outcome:
        if choose is None:
            outcome = step(self.world, event, self.profile)
        else:
            from .profiles import PERMISSIVE

            options = [o for o in outcomes(self.world, event, PERMISSIVE) if choose in o.label]
            if not options:
                raise ValueError(f"no outcome of {event!r} matches {choose!r}")
            outcome = options[0]
        self.world = outcome.world
        self.history.append(outcome)
        return outcome

    # conveniences --------------------------------------------------------------------------
    def create_store(self, cluster_index: int = 0, name: str = "store-a", **overrides: Any) -> str:
        params = {**create_request(self.world, cluster_index, name), **overrides}
        outcome = self.call("CreateCustomKeyStore", **params)
        if not outcome.response.ok:
            raise AssertionError(f"CreateCustomKeyStore failed: {outcome.response.error}: {outcome.response.message}")
        return outcome.response.body["CustomKeyStoreId"]

    def connect(self, store_id: str, choose: str | None = None) -> str:
        """Connect and let the attempt complete; returns the final ConnectionState."""
        self.call("ConnectCustomKeyStore", CustomKeyStoreId=store_id)
        self.settle(choose)
        return self.store_state(store_id)

    def disconnect(self, store_id: str) -> str:
        self.call("DisconnectCustomKeyStore", CustomKeyStoreId=store_id)
        self.settle()
        return self.store_state(store_id)

    def reach(self, store_id: str, state: str) -> None:
        """Bring a DISCONNECTED store to ``state`` the plainest way (FAILED through a transient
        network fault), using the reference profile whatever this driver's profile is."""
        saved, self.profile = self.profile, REFERENCE
        try:
            if state == "FAILED":
                self.env("network_fault_begins")
                self.connect(store_id)
                self.env("network_fault_ends")
            elif state in ("CONNECTING", "CONNECTED", "DISCONNECTING"):
                self.call("ConnectCustomKeyStore", CustomKeyStoreId=store_id)
                if state != "CONNECTING":
                    self.settle()
                if state == "DISCONNECTING":
                    self.call("DisconnectCustomKeyStore", CustomKeyStoreId=store_id)
        finally:
            self.profile = saved
        if self.store_state(store_id) != state:
            raise AssertionError(f"could not bring the store to {state}; it is {self.store_state(store_id)}")

    def describe(self, store_id: str) -> dict[str, Any]:
        outcome = self.call("DescribeCustomKeyStores", CustomKeyStoreId=store_id)
        return outcome.response.body["CustomKeyStores"][0]

    def store_state(self, store_id: str) -> str:
        return self.world.store(ids.parse_store_id(store_id)).state.value

    def cluster_serial(self, index: int = 0) -> int:
        return self.world.clusters[index].cluster_id
