"""Invariants over random runs: Hypothesis picks actions from ``moves`` (KMS calls, internal events and
environment events) and, under the permissive profile, one of their documented outcomes."""

from __future__ import annotations

import tempfile

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ckspec.model import aws_service
from ckspec.model import identifiers as ids
from ckspec.model.actions import Call
from ckspec.model.aws_service import ConnectionState
from ckspec.model.executor import outcomes
from ckspec.model.moves import moves
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, healthy_account
from ckspec.model.scope import Scope
from ckspec.model.world import World

# Keep Hypothesis's on-disk caches out of the repository (tests/ is the only place we may write).
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="ckspec-hypothesis-"))

SCOPE = Scope(stores=3, clusters=3, keys=3, backups=1, faults=2)
#: the kinds of moves a step draws from (calls twice as likely)
KINDS = ("Call", "Call", "Internal", "Environment")


def _start() -> World:
    """Three ready clusters and a quota of two: one CONNECTED store with a key, one DISCONNECTED store."""
    d = Driver(healthy_account(clusters=3, quota=2))
    first = d.create_store(0, name="store-a")
    d.connect(first)
    d.call("CreateKey", CustomKeyStoreId=first, Origin="AWS_CLOUDHSM")
    d.create_store(1, name="store-b")
    return d.world


START = _start()


def _draw_step(data, world: World):
    """Draw a move (first its kind, then the move) and one of its permissive outcomes; None if it has none."""
    groups: dict[str, list] = {}
    for move in moves(world, SCOPE):
        groups.setdefault(type(move).__name__, []).append(move)
    kinds = [k for k in KINDS if k in groups]
    options = groups[kinds[data.draw(st.integers(0, len(kinds) - 1), label="kind")]]
    action = options[data.draw(st.integers(0, len(options) - 1), label="action")]
    found = outcomes(world, action, PERMISSIVE)
    if not found:
        return action, None
    return action, found[data.draw(st.integers(0, len(found) - 1), label="outcome")]


def _check_invariants(world: World) -> None:
    stores = world.stores
    # CS-01, CS-06, CS-07, CEC-00: five states; a code (a CloudHSM one) exactly when FAILED, in Describe too
    for s in stores:
        assert s.state in ConnectionState
        assert (s.error_code is not None) == (s.state is ConnectionState.FAILED)
        if s.error_code is not None:
            assert s.error_code in aws_service.CLOUDHSM_ERROR_CODES
    reads = attrs.evolve(world, internal_fault=False)  # read through a moment without a KMS internal fault
    (page,) = outcomes(reads, Call.of("DescribeCustomKeyStores"), REFERENCE)
    for entry in page.response.body["CustomKeyStores"]:
        assert ("ConnectionErrorCode" in entry) == (entry["ConnectionState"] == "FAILED")
    # CREATE-03, UPDATE-06: names are unique
    names = [s.name for s in stores]
    assert len(names) == len(set(names))
    # CREATE-06: at most one store per cluster lineage (trust anchor), and per cluster
    assert len({s.trust_anchor for s in stores}) == len(stores)
    assert len({s.cluster_id for s in stores}) == len(stores)
    # CREATE-09, Q-01: never more stores than the quota
    assert len(stores) <= world.quota
    # DELETE-02: no key refers to a missing store
    for key in world.keys:
        store = world.store(key.store_id)
        assert store is not None
        # KS-02, KS-03, AMB-12: keys not pending deletion read Unavailable while the store is not CONNECTED
        (shown,) = outcomes(reads, Call.of("DescribeKey", KeyId=ids.key_id(key.key_id)), REFERENCE)
        state = shown.response.body["KeyMetadata"]["KeyState"]
        if key.state == "PendingDeletion":
            assert state == "PendingDeletion"
        elif store.state is not ConnectionState.CONNECTED:
            assert state == "Unavailable"
        else:
            assert state == key.state
    # TR-01, AMB-06: an attempt is in flight only while CONNECTING
    for s in stores:
        assert not s.attempt_in_flight or s.state is ConnectionState.CONNECTING


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_invariants_hold_on_random_runs(data):
    """CS-01, CS-06, CS-07, CEC-00, CREATE-03, UPDATE-06, CREATE-06, CREATE-09, Q-01, DELETE-02, KS-02, KS-03,
    AMB-12: along any run of calls, internal events and environment events, ConnectionErrorCode is present iff
    FAILED; keys not pending deletion read Unavailable while their store is not CONNECTED; store names are
    unique; at most one store per cluster lineage; never more stores than the quota; no key without its store."""
    world = START
    _check_invariants(world)
    for _ in range(data.draw(st.integers(min_value=1, max_value=30), label="steps")):
        action, chosen = _draw_step(data, world)
        if chosen is None:
            continue
        if chosen.response is not None and not chosen.response.ok:
            assert chosen.world == world  # errors change nothing
        world = chosen.world
        _check_invariants(world)


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_store_connects_only_through_an_attempt(data):
    """TR-02, CONNECT-06, CS-03, TR-08: along random runs a store becomes CONNECTED only by the completion of a
    connection attempt, becomes DISCONNECTED only through Disconnect (or its completion) or by being created,
    and environment events never change any store."""
    world = START
    for _ in range(data.draw(st.integers(min_value=1, max_value=30), label="steps")):
        action, chosen = _draw_step(data, world)
        if chosen is None:
            continue
        new = chosen.world
        before = {s.store_id: s for s in world.stores}
        kind = getattr(action, "event", getattr(action, "operation", ""))
        if hasattr(action, "args"):  # an environment event
            assert new.stores == world.stores, action
        for s in new.stores:
            old = before.get(s.store_id)
            if old is None or old.state is s.state:
                continue
            if s.state is ConnectionState.CONNECTED:
                assert kind == "ConnectionAttemptCompletes", action
            if s.state is ConnectionState.DISCONNECTED:
                assert kind in ("DisconnectCustomKeyStore", "DisconnectCompletes"), action
        world = new
