"""Behaviour of ConnectCustomKeyStore and the connection states, rule by rule (CS, TR, CONNECT, NET)."""

from __future__ import annotations

import attrs
import pytest

from ckspec.model import aws_service
from ckspec.model import identifiers as ids
from ckspec.model.actions import Internal
from ckspec.model.aws_service import ClusterState, ConnectionState
from ckspec.model.executor import NotEnabled, internal_events, outcomes
from ckspec.model.moves import environment_events
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import KMSUSER_PASSWORD, Driver, healthy_account
from ckspec.model.scope import Scope
from ckspec.model.world import Secret

INVALID_STATE = "CustomKeyStoreInvalidStateException"
INVALID_CONFIG = "CloudHsmClusterInvalidConfigurationException"
NOT_ACTIVE = "CloudHsmClusterNotActiveException"


def _new(profile=REFERENCE, **account):
    d = Driver(healthy_account(**account), profile=profile)
    return d, d.create_store()


def _store(d, sid):
    return d.world.store(ids.parse_store_id(sid))


def _connect_call(d, sid):
    return d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)


def _summary(outs):
    """Each outcome as (error or 200, the subject store's next state)."""
    found = set()
    for o in outs:
        store = next(iter(o.world.stores), None)
        found.add((o.response.error or 200, store.state.value if store else None))
    return found


def _attempt_outcomes(d, sid, profile=PERMISSIVE):
    return outcomes(d.world, Internal("ConnectionAttemptCompletes", ids.parse_store_id(sid)), profile)


# --- connection states ---------------------------------------------------------------------------


def test_states_are_the_botocore_enum():
    """CS-01: ConnectionState takes exactly the five values of botocore's ConnectionStateType, and
    every state a store passes through in a connect/fail/disconnect cycle is one of them."""
    assert {s.value for s in ConnectionState} == {"CONNECTED", "CONNECTING", "FAILED", "DISCONNECTED",
                                                  "DISCONNECTING"}
    d, sid = _new()
    seen = {d.describe(sid)["ConnectionState"]}
    _connect_call(d, sid)
    seen.add(d.describe(sid)["ConnectionState"])
    d.settle()
    seen.add(d.describe(sid)["ConnectionState"])
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    seen.add(d.describe(sid)["ConnectionState"])
    d.settle()
    d.env("kmsuser_locked_out", d.cluster_serial())
    d.connect(sid)
    seen.add(d.describe(sid)["ConnectionState"])
    assert seen == {s.value for s in ConnectionState}


def test_new_store_is_disconnected_and_stays_so():
    """CS-02, CREATE-02: a new store reads DISCONNECTED with no ConnectionErrorCode, and stays
    DISCONNECTED with no internal event pending until someone calls Connect."""
    d, sid = _new()
    entry = d.describe(sid)
    assert entry["ConnectionState"] == "DISCONNECTED"
    assert "ConnectionErrorCode" not in entry
    assert internal_events(d.world) == ()
    for _ in range(3):
        d.describe(sid)
    assert d.store_state(sid) == "DISCONNECTED"


def test_cluster_problems_never_disconnect_a_store():
    """CS-03, TR-08, CS-04: no environment event (HSM, cluster, subnet, kmsuser, fault) moves a
    CONNECTED store anywhere, in particular not to DISCONNECTED; only the user's Disconnect does."""
    d, sid = _new()
    d.connect(sid)
    scope = Scope(faults=3, backups=1, clusters=2)
    world = d.world
    tried = 0
    for ev in environment_events(world, scope):
        for o in outcomes(world, ev, PERMISSIVE):
            tried += 1
            assert o.world.store(ids.parse_store_id(sid)).state is ConnectionState.CONNECTED, ev
            # and the next event too, from that world
            for ev2 in environment_events(o.world, scope):
                for o2 in outcomes(o.world, ev2, PERMISSIVE):
                    assert o2.world.store(ids.parse_store_id(sid)).state is ConnectionState.CONNECTED, (ev, ev2)
    assert tried > 5


def test_connected_with_failing_crypto():
    """CS-04, TR-08, CRYPTO-02: after every HSM is deleted the store still reads CONNECTED while
    Encrypt with its key fails with KMSInvalidStateException."""
    d, sid = _new()
    d.connect(sid)
    key = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
    c = d.world.clusters[0]
    for h in c.hsms:
        d.env("delete_hsm", c.cluster_id, h.hsm_id)
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"
    out = d.call("Encrypt", KeyId=key, Plaintext=b"x")
    assert out.response.error == "KMSInvalidStateException"
    assert d.call("DescribeKey", KeyId=key).response.body["KeyMetadata"]["KeyState"] == "Enabled"


def test_transient_states_have_a_way_out():
    """CS-05, TR-01, TR-05: CONNECTING and DISCONNECTING are seen only between a Connect/Disconnect
    call and its completion: each has a pending internal event, and settling leaves them."""
    d, sid = _new()
    _connect_call(d, sid)
    assert d.describe(sid)["ConnectionState"] == "CONNECTING"
    assert [e.event for e in internal_events(d.world) if e.event != "ReadsCatchUp"] == ["ConnectionAttemptCompletes"]
    d.settle()
    assert d.store_state(sid) == "CONNECTED"
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert d.describe(sid)["ConnectionState"] == "DISCONNECTING"
    assert [e.event for e in internal_events(d.world) if e.event != "ReadsCatchUp"] == ["DisconnectCompletes"]
    d.settle()
    assert d.store_state(sid) == "DISCONNECTED"
    assert internal_events(d.world) == ()


def test_failed_carries_a_code_and_only_failed_does():
    """CS-06, CS-07, TR-03: a failed attempt leaves FAILED with one ConnectionErrorCode; in every other
    state the Describe entry has no ConnectionErrorCode."""
    d, sid = _new()
    assert "ConnectionErrorCode" not in d.describe(sid)
    d.env("delete_kmsuser", d.cluster_serial())
    _connect_call(d, sid)
    assert "ConnectionErrorCode" not in d.describe(sid)
    d.settle()
    entry = d.describe(sid)
    assert entry["ConnectionState"] == "FAILED"
    assert entry["ConnectionErrorCode"] == "USER_NOT_FOUND"
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert "ConnectionErrorCode" not in d.describe(sid)
    d.settle()
    assert "ConnectionErrorCode" not in d.describe(sid)


def test_keys_usable_only_while_connected():
    """CS-08, KEY-02, RAND-02: CreateKey and GenerateRandom are refused with
    CustomKeyStoreInvalidStateException until the store is CONNECTED, and work once it is."""
    d, sid = _new()
    for state_step in ("DISCONNECTED", "CONNECTING"):
        assert d.store_state(sid) == state_step
        assert d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.error == INVALID_STATE
        assert d.call("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=4).response.error == INVALID_STATE
        if state_step == "DISCONNECTED":
            _connect_call(d, sid)
    d.settle()
    assert d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.ok
    assert d.call("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=4).response.ok


# --- transitions -------------------------------------------------------------------------------


def test_connect_starts_an_attempt():
    """TR-01, CONNECT-02: Connect on a DISCONNECTED store answers 200 with {} and the store goes to
    CONNECTING with an attempt in flight; the response says nothing about the result."""
    d, sid = _new()
    out = _connect_call(d, sid)
    assert out.response.ok and out.response.status == 200
    assert out.response.body == {}
    assert _store(d, sid).state is ConnectionState.CONNECTING
    assert _store(d, sid).attempt_in_flight
    # the same 200 leads to success or failure: the outcome is decided later
    assert {o.world.store(ids.parse_store_id(sid)).state.value for o in _attempt_outcomes(d, sid)} == {"CONNECTED"}
    d2, sid2 = _new()
    d2.env("delete_kmsuser", d2.cluster_serial())
    assert _connect_call(d2, sid2).response.body == {}


def test_successful_attempt_connects():
    """TR-02: a connection attempt that completes successfully leaves the store CONNECTED."""
    d, sid = _new()
    _connect_call(d, sid)
    (out,) = _attempt_outcomes(d, sid)
    assert out.world.store(ids.parse_store_id(sid)).state is ConnectionState.CONNECTED
    d.settle()
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"


def test_failed_attempt_fails_with_one_code():
    """TR-03, CEC-00: every failing completion leads to FAILED with exactly one CloudHSM code."""
    d, sid = _new()
    d.env("delete_kmsuser", d.cluster_serial())
    d.env("network_fault_begins")
    _connect_call(d, sid)
    outs = _attempt_outcomes(d, sid)
    assert len(outs) >= 2
    for o in outs:
        s = o.world.store(ids.parse_store_id(sid))
        assert s.state is ConnectionState.FAILED
        assert s.error_code in aws_service.CLOUDHSM_ERROR_CODES


def _no_active_hsm(d):
    c = d.world.clusters[0]
    for h in c.hsms:
        d.env("delete_hsm", c.cluster_id, h.hsm_id)


def _cluster_not_active(d):
    c = d.world.clusters[0]
    d.world = d.world.with_cluster(attrs.evolve(c, state=ClusterState.UPDATE_IN_PROGRESS))


def _one_subnet_az(d):
    c = d.world.clusters[0]
    hsm_b = next(h for h in c.hsms if h.availability_zone == "us-east-1b")
    d.env("delete_hsm", c.cluster_id, hsm_b.hsm_id)
    d.env("delete_subnet", c.cluster_id, "us-east-1b")


def _broken_rules(d):
    d.env("break_security_group", d.cluster_serial())


QUICK_FAILURES = [
    (_cluster_not_active, NOT_ACTIVE, "INSUFFICIENT_CLOUDHSM_HSMS"),
    (_no_active_hsm, INVALID_CONFIG, "INSUFFICIENT_CLOUDHSM_HSMS"),
    (_one_subnet_az, INVALID_CONFIG, "SUBNET_NOT_FOUND"),
    (_broken_rules, INVALID_CONFIG, "NETWORK_ERRORS"),
]


@pytest.mark.parametrize("setup, error, code", QUICK_FAILURES, ids=lambda v: getattr(v, "__name__", v))
def test_quick_failures_leave_the_state_unchanged(setup, error, code):
    """TR-04, CONNECT-07, AMB-08, NET-05: a cluster-level problem (not active, no active HSM, subnets in
    fewer than two AZs, missing 2223-2225 rules) makes Connect either fail at once (state stays
    DISCONNECTED) or be accepted and end FAILED with the matching code; the reference takes the quick
    synchronous error."""
    d, sid = _new(profile=PERMISSIVE)
    setup(d)
    outs = d.possible("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    assert _summary(outs) == {(error, "DISCONNECTED"), (200, "CONNECTING")}
    ref = outcomes(d.world, outs[0].action, REFERENCE)
    assert [(o.response.error, o.world.stores[0].state.value) for o in ref] == [(error, "DISCONNECTED")]
    accepted = next(o for o in outs if o.response.ok)
    d.world = accepted.world
    d.settle(choose=code)
    assert d.describe(sid)["ConnectionErrorCode"] == code


def test_disconnect_of_connected_store_passes_disconnecting():
    """TR-05, DISC-03: Disconnect of a CONNECTED store answers 200 {} and the store goes DISCONNECTING,
    then DISCONNECTED."""
    d, sid = _new()
    d.connect(sid)
    out = d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert out.response.ok and out.response.body == {}
    assert d.store_state(sid) == "DISCONNECTING"
    d.settle()
    assert d.store_state(sid) == "DISCONNECTED"


def test_failed_is_left_only_by_disconnect():
    """TR-06, TR-09, CONNECT-04, CS-07: Connect on FAILED is refused and the store stays FAILED with
    its code; Disconnect clears the code and leads to DISCONNECTED, after which Connect answers 200."""
    d, sid = _new()
    d.env("network_fault_begins")
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "NETWORK_ERRORS"
    for _ in range(2):
        out = _connect_call(d, sid)
        assert out.response.error == INVALID_STATE
        assert d.describe(sid)["ConnectionState"] == "FAILED"
        assert d.describe(sid)["ConnectionErrorCode"] == "NETWORK_ERRORS"
    d.env("network_fault_ends")
    assert d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid).response.ok
    d.settle()
    entry = d.describe(sid)
    assert entry["ConnectionState"] == "DISCONNECTED" and "ConnectionErrorCode" not in entry
    assert _connect_call(d, sid).response.ok


def test_disconnect_accepted_while_connecting():
    """TR-07, AMB-06, DISC-02: Disconnect while CONNECTING answers 200 {}; the pending attempt is
    dropped (it can no longer complete) and the store ends DISCONNECTED."""
    d, sid = _new(profile=PERMISSIVE)
    _connect_call(d, sid)
    outs = d.possible("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert _summary(outs) == {(200, "DISCONNECTING")}
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert not _store(d, sid).attempt_in_flight
    assert all(e.event != "ConnectionAttemptCompletes" for e in internal_events(d.world))
    d.settle()
    assert d.store_state(sid) == "DISCONNECTED"


# --- ConnectCustomKeyStore ---------------------------------------------------------------------------


def test_connect_unknown_store():
    """CONNECT-01: an ID that names no store in the account is rejected with
    CustomKeyStoreNotFoundException; a missing or empty ID is a parameter error."""
    d, sid = _new(profile=PERMISSIVE)
    unknown = ids.store_id(4242)
    outs = d.possible("ConnectCustomKeyStore", CustomKeyStoreId=unknown)
    assert {o.response.error for o in outs} == {"CustomKeyStoreNotFoundException"}
    assert {o.response.error for o in d.possible("ConnectCustomKeyStore")} == {"ValidationError"}
    assert {o.response.error for o in d.possible("ConnectCustomKeyStore", CustomKeyStoreId="")} == {"ValidationError"}
    assert {o.response.error for o in d.possible("ConnectCustomKeyStore", CustomKeyStoreId="x" * 65)} == {
        "ValidationError"}


@pytest.mark.parametrize("reach, expected", [
    ("DISCONNECTING", {(INVALID_STATE, "DISCONNECTING")}),
    ("FAILED", {(INVALID_STATE, "FAILED")}),
    ("DISCONNECTED", {(200, "CONNECTING")}),
    ("CONNECTING", {(200, "CONNECTING"), (INVALID_STATE, "CONNECTING")}),
    ("CONNECTED", {(200, "CONNECTED"), (INVALID_STATE, "CONNECTED")}),
])
def test_connect_in_every_state(reach, expected):
    """CONNECT-03, AMB-02, AMB-03: Connect is refused (InvalidState, state unchanged) in DISCONNECTING and
    FAILED; accepted in DISCONNECTED; in CONNECTING and CONNECTED the documented set is {200 no-op,
    InvalidState}, never a drop to another state."""
    d, sid = _new(profile=PERMISSIVE)
    _reach(d, sid, reach)
    assert _summary(d.possible("ConnectCustomKeyStore", CustomKeyStoreId=sid)) == expected


def _reach(d, sid, state):
    saved = d.profile
    d.profile = REFERENCE
    if state == "FAILED":
        d.env("kmsuser_logs_in", d.cluster_serial())
        d.connect(sid)
    elif state in ("CONNECTING", "CONNECTED", "DISCONNECTING"):
        _connect_call(d, sid)
        if state != "CONNECTING":
            d.settle()
        if state == "DISCONNECTING":
            d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    d.profile = saved
    assert d.store_state(sid) == state


def test_connect_while_connecting_reference_is_a_noop():
    """AMB-02, CONNECT-03: the reference answers Connect while CONNECTING with 200 {}; no new attempt
    starts, and the in-flight attempt still completes normally."""
    d, sid = _new()
    _connect_call(d, sid)
    before = _store(d, sid)
    out = _connect_call(d, sid)
    assert out.response.ok and out.response.body == {}
    assert _store(d, sid) == before
    assert len([e for e in internal_events(d.world) if e.event == "ConnectionAttemptCompletes"]) == 1
    d.settle()
    assert d.store_state(sid) == "CONNECTED"


def test_connect_while_connected_reference_keeps_everything():
    """AMB-03, CONNECT-10: Connect on a CONNECTED store is not refused by the reference: 200 {}, the store
    stays CONNECTED, the password is not rotated again and key states do not change."""
    d, sid = _new()
    d.connect(sid)
    key = d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM").response.body["KeyMetadata"]["KeyId"]
    d.call("DisableKey", KeyId=key)
    world_before = d.world
    out = _connect_call(d, sid)
    assert out.response.ok and out.response.body == {}
    assert d.world == world_before
    assert d.call("DescribeKey", KeyId=key).response.body["KeyMetadata"]["KeyState"] == "Disabled"
    alternatives = [o for o in outcomes(world_before, out.action, PERMISSIVE) if not o.response.ok]
    assert [(o.response.error, o.alt) for o in alternatives] == [(INVALID_STATE, "AMB-03")]
    assert alternatives[0].world == world_before


def test_connection_steps_side_effects():
    """CONNECT-05, NET-01, NET-02, NET-04, AMB-01: a successful connection builds KMS's network plumbing (its
    security group and ENIs) and rotates kmsuser's password to a value KMS holds; the plumbing stays while the
    store is CONNECTED and is gone once the disconnect completes."""
    d, sid = _new(zones=3)
    _connect_call(d, sid)
    assert not _store(d, sid).network_plumbing  # only a successful attempt builds it
    d.settle()
    store = _store(d, sid)
    cluster = d.world.clusters[0]
    assert store.network_plumbing
    assert isinstance(cluster.kmsuser.password, Secret)
    assert store.password == cluster.kmsuser.password
    d.disconnect(sid)
    assert not _store(d, sid).network_plumbing


@pytest.mark.parametrize("zone", ["us-east-1a", "us-east-1b", "us-east-1c"])
def test_every_subnet_needs_a_free_address(zone):
    """NET-03, AMB-28, CEC-03: KMS needs a free address in every subnet of the cluster's subnet mapping (one
    ENI per subnet), including a subnet with no HSM in it; one full subnet fails the attempt with
    INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET."""
    d, sid = _new(zones=3)
    c = d.world.clusters[0]
    hsm_c = next(h for h in c.hsms if h.availability_zone == "us-east-1c")
    d.env("delete_hsm", c.cluster_id, hsm_c.hsm_id)
    d.env("exhaust_subnet", c.cluster_id, zone)
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET"


def test_disconnect_removes_network_plumbing():
    """NET-04, DISC-04: once the disconnect completes, KMS's security group and ENIs are gone: a subnet that
    held a KMS ENI can be deleted once its HSM is gone, which it could not while the store was CONNECTED."""
    d, sid = _new()
    d.connect(sid)
    c = d.world.clusters[0]
    hsm_b = next(h for h in c.hsms if h.availability_zone == "us-east-1b")
    d.env("delete_hsm", c.cluster_id, hsm_b.hsm_id)
    with pytest.raises(NotEnabled):  # a KMS ENI is still in the subnet
        d.env("delete_subnet", c.cluster_id, "us-east-1b")
    d.disconnect(sid)
    d.env("delete_subnet", c.cluster_id, "us-east-1b")
    assert not d.world.clusters[0].subnet("us-east-1b").exists


@pytest.mark.parametrize("condition", [
    "no_cluster", "no_active_hsm", "subnet_deleted", "subnet_full", "rules_broken", "network_fault",
    "internal_fault", "no_kmsuser", "kmsuser_logged_in", "kmsuser_locked", "wrong_password", "two_factor",
])
def test_connection_needs_every_condition(condition):
    """CONNECT-06: an attempt can end CONNECTED only when the cluster exists with an active HSM, every
    subnet exists with a free address, the network and KMS are healthy, kmsuser exists, is not logged in,
    not locked, without 2FA, and has the password KMS holds; break any one and no completion connects."""
    d, sid = _new(profile=PERMISSIVE, zones=3)
    _connect_call(d, sid)
    _break(d, condition)
    outs = _attempt_outcomes(d, sid)
    assert outs, condition
    assert all(o.world.store(ids.parse_store_id(sid)).state is ConnectionState.FAILED for o in outs)


def _delete_subnet_c(d):
    """Delete the third subnet (after its HSM: a subnet with an HSM cannot be deleted)."""
    c = d.world.clusters[0]
    hsm_c = next(h for h in c.hsms if h.availability_zone == "us-east-1c")
    d.env("delete_hsm", c.cluster_id, hsm_c.hsm_id)
    d.env("delete_subnet", c.cluster_id, "us-east-1c")


def _break(d, condition):
    c = d.world.clusters[0]
    cid = c.cluster_id
    if condition in ("no_cluster", "no_active_hsm"):
        for h in c.hsms:
            d.env("delete_hsm", cid, h.hsm_id)
        if condition == "no_cluster":
            d.env("delete_cluster", cid)
    elif condition == "subnet_deleted":
        _delete_subnet_c(d)
    elif condition == "subnet_full":
        d.env("exhaust_subnet", cid, "us-east-1a")
    elif condition == "rules_broken":
        d.env("break_security_group", cid)
    elif condition == "network_fault":
        d.env("network_fault_begins")
    elif condition == "internal_fault":
        d.env("internal_fault_begins")
    elif condition == "no_kmsuser":
        d.env("delete_kmsuser", cid)
    elif condition == "kmsuser_logged_in":
        d.env("kmsuser_logs_in", cid)
    elif condition == "kmsuser_locked":
        d.env("kmsuser_locked_out", cid)
    elif condition == "wrong_password":
        d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    elif condition == "two_factor":
        d.env("kmsuser_enables_2fa", cid)


def test_one_active_hsm_is_enough_to_connect():
    """CONNECT-07, CL-03: for Connect the HSM minimum is one active HSM (not two)."""
    d, sid = _new(profile=PERMISSIVE)
    c = d.world.clusters[0]
    d.env("delete_hsm", c.cluster_id, c.hsms[1].hsm_id)
    assert _summary(d.possible("ConnectCustomKeyStore", CustomKeyStoreId=sid)) == {(200, "CONNECTING")}
    d.profile = REFERENCE
    assert d.connect(sid) == "CONNECTED"


def test_missing_cluster_is_not_a_connect_exception():
    """CONNECT-08, CEC-01: Connect never raises CloudHsmClusterNotFoundException (it is not in its error
    list); a missing cluster is accepted with 200 and the attempt ends FAILED with CLUSTER_NOT_FOUND."""
    assert "CloudHsmClusterNotFoundException" not in aws_service.errors_of("ConnectCustomKeyStore")
    d, sid = _new(profile=PERMISSIVE)
    _break(d, "no_cluster")
    assert _summary(d.possible("ConnectCustomKeyStore", CustomKeyStoreId=sid)) == {(200, "CONNECTING")}
    _connect_call(d, sid)
    assert {o.world.stores[0].error_code for o in _attempt_outcomes(d, sid)} == {"CLUSTER_NOT_FOUND"}


def test_connecting_has_no_time_bound():
    """CONNECT-09, AMB-22, CS-05: CONNECTING lasts as long as the attempt has not completed; reads and
    unrelated events never time it out, only the internal completion ends it."""
    d, sid = _new()
    _connect_call(d, sid)
    for _ in range(25):
        d.describe(sid)
    d.env("network_fault_begins")
    d.env("network_fault_ends")
    assert d.store_state(sid) == "CONNECTING"
    assert _store(d, sid).attempt_in_flight
    d.settle()
    assert d.store_state(sid) == "CONNECTED"


def test_each_connect_rotates_the_kmsuser_password():
    """CONNECT-11, DISC-07: each successful connection gives kmsuser a fresh password only KMS knows; no
    person can log in with the old one, yet Disconnect then Connect works without any Update."""
    d, sid = _new()
    cid = d.cluster_serial()
    d.connect(sid)
    first = _store(d, sid).password
    assert isinstance(first, Secret) and first != KMSUSER_PASSWORD
    d.disconnect(sid)
    with pytest.raises(NotEnabled):
        d.env("kmsuser_logs_in", cid)
    assert d.connect(sid) == "CONNECTED"
    second = _store(d, sid).password
    assert isinstance(second, Secret) and second != first
    assert d.world.cluster(cid).kmsuser.password == second


def test_kms_holds_the_kmsuser_session_while_connected():
    """KU-05: while the store is CONNECTED nobody can log in as kmsuser, change or lock its password, or
    delete it; after Disconnect a crypto officer can change the password again."""
    d, sid = _new()
    cid = d.cluster_serial()
    d.connect(sid)
    for event, args in [("kmsuser_logs_in", ()), ("change_kmsuser_password", ("n3wPassw0rd",)),
                        ("kmsuser_locked_out", ()), ("delete_kmsuser", ()), ("kmsuser_enables_2fa", ())]:
        with pytest.raises(NotEnabled):
            d.env(event, cid, *args)
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    assert d.world.cluster(cid).kmsuser.password == "n3wPassw0rd"


def test_subnet_address_accounting():
    """NET-03: the connection needs one address in each subnet: one free address per subnet is enough (two are
    only preferable), none is not (INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET)."""
    d, sid = _new()
    c = d.world.clusters[0]
    d.world = d.world.with_cluster(attrs.evolve(c, subnets=tuple(attrs.evolve(s, free_addresses=1)
                                                                 for s in c.subnets)))
    assert d.connect(sid) == "CONNECTED"
    d.disconnect(sid)
    d.env("exhaust_subnet", c.cluster_id, "us-east-1b")
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET"


def test_deleted_subnet_breaks_later_connects():
    """NET-06, CEC-07: after a private subnet of the cluster is deleted, every connect ends FAILED with
    SUBNET_NOT_FOUND."""
    d, sid = _new(zones=3)
    _delete_subnet_c(d)
    for _ in range(2):
        d.connect(sid)
        assert d.describe(sid)["ConnectionErrorCode"] == "SUBNET_NOT_FOUND"
        d.disconnect(sid)


def test_poll_until_settled():
    """AMB-30, T-02, TR-01: right after Connect's 200 a client polls Describe until the state is no longer
    CONNECTING and asserts the eventual state, not the first read."""
    d, sid = _new()
    _connect_call(d, sid)
    for _ in range(10):
        state = d.describe(sid)["ConnectionState"]
        if state != "CONNECTING":
            break
        pending = internal_events(d.world)
        d.internal(pending[0])
    assert state == "CONNECTED"


def test_describe_may_lag_one_step_after_connect():
    """AMB-30, T-02: under PERMISSIVE, a Describe right after Connect's 200 may still read DISCONNECTED."""
    d, sid = _new(profile=PERMISSIVE)
    d.world = next(o for o in d.possible("ConnectCustomKeyStore", CustomKeyStoreId=sid) if o.response.ok).world
    seen = {o.response.body["CustomKeyStores"][0]["ConnectionState"]
            for o in d.possible("DescribeCustomKeyStores", CustomKeyStoreId=sid)}
    assert seen == {"CONNECTING", "DISCONNECTED"}
