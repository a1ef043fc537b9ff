"""The explorer: what it finds in the default scope, and that its checks can fail."""

from __future__ import annotations

import attrs
import pytest

from ckspec.model import Driver, healthy_account
from ckspec.model import transitions
from ckspec.model.explorer import canonical_key, explore
from ckspec.model.moves import moves
from ckspec.model.executor import outcomes
from ckspec.model.profiles import PROFILES
from ckspec.model.scope import LIFECYCLE, Scope
from ckspec.model.world import World

SMALL = Scope(name="small", stores=1, clusters=1, keys=0, backups=0, faults=0, environment_steps=0)


@pytest.fixture(scope="module")
def lifecycle():
    return explore(LIFECYCLE, initial=healthy_account(1))


def test_default_lifecycle_scope_reaches_every_state_and_code(lifecycle):
    """CS-01, CEC-00, TR-01, TR-02, TR-03, TR-05: in the default lifecycle scope every ConnectionState and every
    CloudHSM ConnectionErrorCode is reachable, and the exploration is complete."""
    assert lifecycle.complete
    assert set(lifecycle.connection_states) == {"CONNECTED", "CONNECTING", "FAILED", "DISCONNECTED", "DISCONNECTING"}
    assert not lifecycle.missing_error_codes
    assert len(lifecycle.error_codes) == 10
    assert set(lifecycle.key_states) == {"Enabled", "Disabled", "PendingDeletion", "Unavailable"}


def test_default_lifecycle_scope_has_no_dead_end(lifecycle):
    """TR-06, TR-09, DISC-02, AMB-04: from every reachable state the store can be brought back to DISCONNECTED."""
    assert lifecycle.dead_ends == 0
    assert lifecycle.dead_end_example == ()


def test_dead_ends_are_found_when_disconnects_never_complete(monkeypatch):
    """AMB-04: without the DISCONNECTING -> DISCONNECTED event the explorer must report dead ends and a path."""
    broken = attrs.evolve(transitions.DISCONNECT_COMPLETES, branches=())
    monkeypatch.setitem(transitions.INTERNAL_EVENTS, "DisconnectCompletes", broken)
    result = explore(SMALL, initial=healthy_account(1))
    assert result.dead_ends > 0
    # the first dead end found: a store that can only ever reach DISCONNECTING
    assert result.dead_end_example and result.dead_end_example[0].startswith("CreateCustomKeyStore(")


def test_state_limit_makes_the_result_incomplete():
    """A state limit stops the search and says so, and unexpanded states are not counted as dead ends."""
    result = explore(LIFECYCLE, initial=healthy_account(1), max_states=500)
    assert not result.complete
    assert result.states == 500
    assert result.dead_ends == 0


def test_small_scope_numbers_are_stable():
    """The exploration is deterministic: the same scope gives the same numbers."""
    a = explore(SMALL, initial=healthy_account(1))
    b = explore(SMALL, initial=healthy_account(1))
    assert (a.states, a.transitions, a.error_codes) == (b.states, b.transitions, b.error_codes)
    assert a.states > 10


def test_canonical_key_ignores_numbering_but_not_state():
    """CREATE-02: worlds that differ only in identifier numbering are one state; a state change is not."""
    d1 = Driver(healthy_account())
    s1 = d1.create_store()
    d2 = Driver(healthy_account())
    extra = d2.create_store(name="store-b")          # an extra store, created and deleted first,
    d2.call("DeleteCustomKeyStore", CustomKeyStoreId=extra)   # shifts every later serial number
    s2 = d2.create_store()
    assert s1 != s2
    assert canonical_key(d1.world) == canonical_key(d2.world)
    d1.connect(s1)
    d2.connect(s2)
    assert canonical_key(d1.world) == canonical_key(d2.world)
    d2.disconnect(s2)
    assert canonical_key(d1.world) != canonical_key(d2.world)


def test_equal_keys_have_equal_successor_keys():
    """The quotient is sound on an example: renumbered twins have the same successor states."""
    d1 = Driver(healthy_account())
    d1.connect(d1.create_store())
    d2 = Driver(healthy_account())
    d2.call("DeleteCustomKeyStore", CustomKeyStoreId=d2.create_store(name="x"))
    d2.connect(d2.create_store())

    def successor_keys(world: World) -> set:
        return {canonical_key(o.world) for a in moves(world, LIFECYCLE) for o in outcomes(world, a)}

    assert successor_keys(d1.world) == successor_keys(d2.world)


def test_reference_profile_has_no_dead_end_either():
    """AMB-07, CEC-04: under the one-answer profile a KMS internal fault refuses every call, so a store can be
    stuck only while the fault lasts; faults always end (repairs do not count against the scope's budget)."""
    result = explore(attrs.evolve(LIFECYCLE, keys=0), PROFILES["reference"])
    assert result.complete and result.dead_ends == 0
    assert len(result.error_codes) == 10
