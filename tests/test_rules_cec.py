"""The ten CloudHSM ConnectionErrorCodes: how each arises and how the documented fix (spec table 1.2)
brings the store back to CONNECTED (CEC-00..CEC-11, with the ambiguities about them)."""

from __future__ import annotations

import attrs
import pytest

from ckspec.model import aws_service
from ckspec.model import identifiers as ids
from ckspec.model.actions import Internal
from ckspec.model.aws_service import ClusterState, HsmState
from ckspec.model.environment import EVENTS
from ckspec.model.executor import NotEnabled, outcomes
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import KMSUSER_PASSWORD, Driver, healthy_account
from ckspec.model.transitions import OPERATIONS

INVALID_STATE = "CustomKeyStoreInvalidStateException"
TEN_CODES = {
    "CLUSTER_NOT_FOUND", "INSUFFICIENT_CLOUDHSM_HSMS", "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET", "INTERNAL_ERROR",
    "INVALID_CREDENTIALS", "NETWORK_ERRORS", "SUBNET_NOT_FOUND", "USER_LOCKED_OUT", "USER_LOGGED_IN", "USER_NOT_FOUND",
}


def _new(zones=2, profile=REFERENCE):
    d = Driver(healthy_account(zones=zones), profile=profile)
    return d, d.create_store(), d.cluster_serial()


def _failed_with(d, sid, code):
    """The store is FAILED with ``code``, and Connect is refused until it is disconnected (TR-09)."""
    entry = d.describe(sid)
    assert entry["ConnectionState"] == "FAILED"
    assert entry["ConnectionErrorCode"] == code
    assert d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid).response.error == INVALID_STATE
    assert d.describe(sid)["ConnectionErrorCode"] == code


def _connected(d, sid):
    entry = d.describe(sid)
    assert entry["ConnectionState"] == "CONNECTED"
    assert "ConnectionErrorCode" not in entry


def _update(d, sid, **params):
    out = d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, **params)
    assert out.response.ok, out.response
    assert d.store_state(sid) == "DISCONNECTED"  # UPDATE-10


def _restore_into_new_cluster(d, backup_index=-1):
    """Create a cluster from a backup and give it two active HSMs in two AZs (CL-05); return its ID."""
    backup = d.world.backups[backup_index]
    d.env("restore_backup", backup.backup_id)
    new = d.world.clusters[-1].cluster_id
    for zone in ("us-east-1a", "us-east-1b"):
        d.env("create_hsm", new, zone)
    assert d.world.cluster(new).state is ClusterState.ACTIVE
    return new


def _delete_cluster(d, cid):
    for h in d.world.cluster(cid).hsms:
        d.env("delete_hsm", cid, h.hsm_id)
    d.env("delete_cluster", cid)


def test_only_the_ten_cloudhsm_codes():
    """CEC-00: a CloudHSM store reports only the ten non-XKS codes of botocore's ConnectionErrorCodeType,
    and every failing completion of a connection attempt sets one of them."""
    assert set(aws_service.CLOUDHSM_ERROR_CODES) == TEN_CODES
    codes = {b.error_code for b in OPERATIONS["ConnectionAttemptCompletes"].branches if b.error_code}
    assert codes == TEN_CODES


def test_cluster_not_found_fix():
    """CEC-01, AMB-31, CONNECT-08, TR-08: a deleted cluster leaves a CONNECTED store CONNECTED; the next
    connect cycle ends FAILED/CLUSTER_NOT_FOUND and stays so without an Update; the fix (restore from a
    recent backup, Disconnect, Update CloudHsmClusterId, Connect) reconnects."""
    d, sid, cid = _new()
    assert d.connect(sid) == "CONNECTED"
    d.env("backup_cluster", cid)  # most recent backup: holds the password KMS rotated
    _delete_cluster(d, cid)
    _connected(d, sid)
    d.disconnect(sid)
    d.connect(sid)
    _failed_with(d, sid, "CLUSTER_NOT_FOUND")
    d.disconnect(sid)
    d.connect(sid)  # no Update: same failure
    _failed_with(d, sid, "CLUSTER_NOT_FOUND")
    new = _restore_into_new_cluster(d)
    d.disconnect(sid)
    _update(d, sid, CloudHsmClusterId=ids.cluster_id(new))
    assert d.describe(sid)["CloudHsmClusterId"] == ids.cluster_id(new)
    d.connect(sid)
    _connected(d, sid)


def test_insufficient_hsms_fix():
    """CEC-02, CL-03: all HSMs deleted while the attempt runs ends FAILED/INSUFFICIENT_CLOUDHSM_HSMS; adding
    one HSM, Disconnect and Connect reconnects without any Update."""
    d, sid, cid = _new()
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    for h in d.world.cluster(cid).hsms:
        d.env("delete_hsm", cid, h.hsm_id)
    d.settle()
    _failed_with(d, sid, "INSUFFICIENT_CLOUDHSM_HSMS")
    d.env("create_hsm", cid, "us-east-1a")
    d.disconnect(sid)
    d.connect(sid)
    _connected(d, sid)


def test_insufficient_free_addresses_fix_by_freeing():
    """CEC-03, NET-03: a cluster subnet without a free address ends FAILED/INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET;
    freeing addresses, Disconnect and Connect reconnects without any Update."""
    d, sid, cid = _new()
    d.env("exhaust_subnet", cid, "us-east-1a")
    d.connect(sid)
    _failed_with(d, sid, "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET")
    d.env("free_subnet", cid, "us-east-1a")
    d.disconnect(sid)
    d.connect(sid)
    _connected(d, sid)


def test_insufficient_free_addresses_fix_by_restoring():
    """CEC-03, UPDATE-07: the other fix restores the cluster from a backup into roomier subnets, then
    Disconnect, Update CloudHsmClusterId and Connect."""
    d, sid, cid = _new()
    d.env("exhaust_subnet", cid, "us-east-1b")
    d.connect(sid)
    _failed_with(d, sid, "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET")
    d.env("backup_cluster", cid)
    new = _restore_into_new_cluster(d)
    d.disconnect(sid)
    _update(d, sid, CloudHsmClusterId=ids.cluster_id(new))
    d.connect(sid)
    _connected(d, sid)


def test_internal_error_fix():
    """CEC-04: a KMS internal fault during the attempt ends FAILED/INTERNAL_ERROR; the fix is a retry:
    Disconnect, then Connect again, with no Update."""
    d, sid, cid = _new()
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    d.env("internal_fault_begins")
    d.settle()
    d.env("internal_fault_ends")  # while it lasts, even Describe may answer KMSInternalException
    _failed_with(d, sid, "INTERNAL_ERROR")
    d.disconnect(sid)
    d.connect(sid)
    _connected(d, sid)


def test_internal_fault_is_also_a_synchronous_kms_internal_exception():
    """CEC-04: while a KMS internal fault lasts, a call may also fail at once with KMSInternalException
    (next to its normal outcome); the reference answers with the exception and changes nothing."""
    d, sid, cid = _new(profile=PERMISSIVE)
    d.env("internal_fault_begins")
    outs = d.possible("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    assert {o.response.error for o in outs} == {"KMSInternalException", None}
    d.profile = REFERENCE
    before = d.world
    assert d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid).response.error == "KMSInternalException"
    assert d.world == before


def test_invalid_credentials_fix():
    """CEC-05, KU-08, UPDATE-09: a password changed in the cluster while disconnected makes every connect
    end FAILED/INVALID_CREDENTIALS until KMS is told; Disconnect, Update KeyStorePassword, Connect fixes it."""
    d, sid, cid = _new()
    d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    for _ in range(3):
        d.connect(sid)
        _failed_with(d, sid, "INVALID_CREDENTIALS")
        d.disconnect(sid)
    _update(d, sid, KeyStorePassword="n3wPassw0rd")
    d.connect(sid)
    _connected(d, sid)


def test_read_the_code_before_disconnecting():
    """AMB-11, CS-07: the code is read while FAILED; once disconnected (as the credentials procedure says to
    do first) Describe no longer shows it."""
    d, sid, cid = _new()
    d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid)
    assert "ConnectionErrorCode" not in d.describe(sid)
    d.settle()
    assert "ConnectionErrorCode" not in d.describe(sid)


def test_network_errors_fix():
    """CEC-06: a network fault ends FAILED/NETWORK_ERRORS; once it passes, Disconnect and Connect reconnect
    without any Update."""
    d, sid, cid = _new()
    d.env("network_fault_begins")
    d.connect(sid)
    _failed_with(d, sid, "NETWORK_ERRORS")
    d.env("network_fault_ends")
    d.disconnect(sid)
    d.connect(sid)
    _connected(d, sid)


def test_subnet_not_found_fix():
    """CEC-07, NET-06, CL-04: a deleted cluster subnet ends FAILED/SUBNET_NOT_FOUND on every connect (the
    subnet cannot come back); the fix restores a cluster from a backup (new subnets), Disconnect, Update
    the cluster ID, Connect."""
    d, sid, cid = _new(zones=3)
    hsm_c = next(h for h in d.world.cluster(cid).hsms if h.availability_zone == "us-east-1c")
    d.env("delete_hsm", cid, hsm_c.hsm_id)
    d.env("delete_subnet", cid, "us-east-1c")
    d.connect(sid)
    _failed_with(d, sid, "SUBNET_NOT_FOUND")
    d.disconnect(sid)
    d.connect(sid)
    _failed_with(d, sid, "SUBNET_NOT_FOUND")
    d.env("backup_cluster", cid)
    new = _restore_into_new_cluster(d)
    assert all(s.exists for s in d.world.cluster(new).subnets)
    assert not d.world.cluster(cid).subnet("us-east-1c").exists
    d.disconnect(sid)
    _update(d, sid, CloudHsmClusterId=ids.cluster_id(new))
    d.connect(sid)
    _connected(d, sid)


def test_user_locked_out_fix():
    """CEC-08, KU-07: a locked kmsuser ends FAILED/USER_LOCKED_OUT, even after KMS is told the right password;
    only a crypto officer's password change unlocks it: Disconnect, CO resets, Update KeyStorePassword,
    Connect."""
    d, sid, cid = _new()
    d.env("kmsuser_locked_out", cid)
    d.connect(sid)
    _failed_with(d, sid, "USER_LOCKED_OUT")
    d.disconnect(sid)
    _update(d, sid, KeyStorePassword=KMSUSER_PASSWORD)
    d.connect(sid)
    _failed_with(d, sid, "USER_LOCKED_OUT")
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    assert not d.world.cluster(cid).kmsuser.locked_out
    _update(d, sid, KeyStorePassword="n3wPassw0rd")
    d.connect(sid)
    _connected(d, sid)


def test_user_logged_in_fix():
    """CEC-09, KU-06: kmsuser logged in ends FAILED/USER_LOGGED_IN; logging out, Disconnect and Connect
    reconnect with no Update when the password was not changed."""
    d, sid, cid = _new()
    d.env("kmsuser_logs_in", cid)
    d.connect(sid)
    _failed_with(d, sid, "USER_LOGGED_IN")
    d.disconnect(sid)
    d.connect(sid)
    _failed_with(d, sid, "USER_LOGGED_IN")  # still logged in
    d.env("kmsuser_logs_out", cid)
    d.disconnect(sid)
    d.connect(sid)
    _connected(d, sid)


def test_user_logged_in_after_password_change_fix():
    """CEC-09, AMB-07, KU-09: if kmsuser's password was changed to log in, the failure may be named
    USER_LOGGED_IN or INVALID_CREDENTIALS (reference: USER_LOGGED_IN, the earlier connection step); the fix
    adds Update KeyStorePassword after logging out."""
    d, sid, cid = _new(profile=PERMISSIVE)
    d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    d.env("kmsuser_logs_in", cid)
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    event = Internal("ConnectionAttemptCompletes", ids.parse_store_id(sid))
    assert {o.world.stores[0].error_code for o in outcomes(d.world, event, PERMISSIVE)} == {
        "USER_LOGGED_IN", "INVALID_CREDENTIALS"}
    d.profile = REFERENCE
    d.settle()
    _failed_with(d, sid, "USER_LOGGED_IN")
    d.env("kmsuser_logs_out", cid)
    d.disconnect(sid)
    _update(d, sid, KeyStorePassword="n3wPassw0rd")
    d.connect(sid)
    _connected(d, sid)


def test_user_not_found_fix():
    """CEC-10, KU-01, KU-02: with no kmsuser CU the connect ends FAILED/USER_NOT_FOUND; creating kmsuser
    alone is not enough (KMS holds another password: INVALID_CREDENTIALS); Disconnect, Update
    KeyStorePassword, Connect reconnects."""
    d, sid, cid = _new()
    d.env("delete_kmsuser", cid)
    d.connect(sid)
    _failed_with(d, sid, "USER_NOT_FOUND")
    d.env("create_kmsuser", cid, "Fr3shPassw0rd")
    d.disconnect(sid)
    d.connect(sid)
    _failed_with(d, sid, "INVALID_CREDENTIALS")
    d.disconnect(sid)
    _update(d, sid, KeyStorePassword="Fr3shPassw0rd")
    d.connect(sid)
    _connected(d, sid)


def test_stale_backup_gives_invalid_credentials():
    """CEC-11, CL-05, UPDATE-07: a cluster restored from a backup taken before KMS rotated the password holds
    the old kmsuser password, so after Update CloudHsmClusterId the connect ends INVALID_CREDENTIALS;
    telling KMS the password as of the backup fixes it."""
    d, sid, cid = _new()
    d.env("backup_cluster", cid)  # before the first connect: kmsuser's password as the user set it
    d.connect(sid)
    _delete_cluster(d, cid)
    d.disconnect(sid)
    new = _restore_into_new_cluster(d)
    _update(d, sid, CloudHsmClusterId=ids.cluster_id(new))
    d.connect(sid)
    _failed_with(d, sid, "INVALID_CREDENTIALS")
    d.disconnect(sid)
    _update(d, sid, KeyStorePassword=KMSUSER_PASSWORD)
    d.connect(sid)
    _connected(d, sid)


# --- ambiguities about the codes -------------------------------------------------------------------


def test_no_active_hsm_means_zero_hsms_in_state_active():
    """AMB-09, CL-02: HSMs that exist but are not ACTIVE do not count: the attempt ends
    INSUFFICIENT_CLOUDHSM_HSMS."""
    d, sid, cid = _new()
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    c = d.world.cluster(cid)
    d.world = d.world.with_cluster(attrs.evolve(c, hsms=tuple(attrs.evolve(h, state=HsmState.DEGRADED)
                                                              for h in c.hsms)))
    assert d.world.cluster(cid).hsms
    d.settle()
    _failed_with(d, sid, "INSUFFICIENT_CLOUDHSM_HSMS")


def _degrade(d, cid):
    c = d.world.cluster(cid)
    d.world = d.world.with_cluster(attrs.evolve(c, state=ClusterState.DEGRADED))


def test_degraded_cluster_is_not_active_by_default():
    """AMB-10, CL-01, CONNECT-07, AMB-08: only ClusterState ACTIVE counts as active: Connect to a DEGRADED
    cluster either fails at once with CloudHsmClusterNotActiveException or is accepted and ends
    INSUFFICIENT_CLOUDHSM_HSMS."""
    d, sid, cid = _new(profile=PERMISSIVE)
    _degrade(d, cid)
    outs = d.possible("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    assert {(o.response.error, o.world.stores[0].state.value) for o in outs} == {
        ("CloudHsmClusterNotActiveException", "DISCONNECTED"), (None, "CONNECTING")}
    d.world = next(o for o in outs if o.response.ok).world
    d.settle()
    _failed_with(d, sid, "INSUFFICIENT_CLOUDHSM_HSMS")


def test_active_cluster_states_are_configurable():
    """AMB-10: the set of cluster states that count as active is a profile setting; a profile that counts
    DEGRADED as active connects to a DEGRADED cluster."""
    lenient = attrs.evolve(REFERENCE, name="lenient", active_cluster_states=frozenset({"ACTIVE", "DEGRADED"}))
    d, sid, cid = _new(profile=lenient)
    _degrade(d, cid)
    assert d.connect(sid) == "CONNECTED"


def test_lockout_arithmetic():
    """AMB-25, KU-07, CEC-05, CEC-08: the first wrong-password connect reports INVALID_CREDENTIALS only;
    later ones may report INVALID_CREDENTIALS or USER_LOCKED_OUT (reference: INVALID_CREDENTIALS); once
    USER_LOCKED_OUT appears it persists, even with the right password, until a CO resets the password."""
    d, sid, cid = _new()
    d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    event = Internal("ConnectionAttemptCompletes", ids.parse_store_id(sid))
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    assert {o.world.stores[0].error_code for o in outcomes(d.world, event, PERMISSIVE)} == {"INVALID_CREDENTIALS"}
    d.settle()
    d.disconnect(sid)
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    second = outcomes(d.world, event, PERMISSIVE)
    assert {(o.world.stores[0].error_code, o.alt) for o in second} == {
        ("INVALID_CREDENTIALS", None), ("USER_LOCKED_OUT", "AMB-25")}
    assert [o.world.stores[0].error_code for o in outcomes(d.world, event, REFERENCE)] == ["INVALID_CREDENTIALS"]
    d.settle(choose="USER_LOCKED_OUT")
    _failed_with(d, sid, "USER_LOCKED_OUT")
    assert d.world.cluster(cid).kmsuser.locked_out
    d.disconnect(sid)
    _update(d, sid, KeyStorePassword="n3wPassw0rd")
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    assert {o.world.stores[0].error_code for o in outcomes(d.world, event, PERMISSIVE)} == {"USER_LOCKED_OUT"}
    d.settle()
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "An0therPass")
    _update(d, sid, KeyStorePassword="An0therPass")
    d.connect(sid)
    _connected(d, sid)


def test_two_factor_kmsuser():
    """AMB-26, KU-03: a kmsuser with 2FA makes the connect fail with INVALID_CREDENTIALS or INTERNAL_ERROR
    (reference: INVALID_CREDENTIALS); 2FA cannot be removed, so even a correct password fails until kmsuser
    is deleted and recreated."""
    d, sid, cid = _new()
    d.env("kmsuser_enables_2fa", cid)
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    event = Internal("ConnectionAttemptCompletes", ids.parse_store_id(sid))
    assert {o.world.stores[0].error_code for o in outcomes(d.world, event, PERMISSIVE)} == {
        "INVALID_CREDENTIALS", "INTERNAL_ERROR"}
    d.settle()
    _failed_with(d, sid, "INVALID_CREDENTIALS")
    assert [name for name in EVENTS if "2fa" in name] == ["kmsuser_enables_2fa"]  # no way to remove it
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "n3wPassw0rd")
    _update(d, sid, KeyStorePassword="n3wPassw0rd")
    d.connect(sid)
    assert d.describe(sid)["ConnectionState"] == "FAILED"
    d.disconnect(sid)
    d.env("delete_kmsuser", cid)
    d.env("create_kmsuser", cid, "Fr3shPassw0rd")
    _update(d, sid, KeyStorePassword="Fr3shPassw0rd")
    d.connect(sid)
    _connected(d, sid)


def test_password_with_special_characters():
    """AMB-27, KU-04: Create and Update accept any 7-32 characters, but CloudHSM cannot hold a non-alphanumeric
    kmsuser password, so a Connect with such a password ends INVALID_CREDENTIALS."""
    d = Driver(healthy_account())
    odd = "p@ss-w0rd!"
    sid = d.create_store(KeyStorePassword=odd)
    cid = d.cluster_serial()
    with pytest.raises(NotEnabled):
        d.env("change_kmsuser_password", cid, odd)
    d.connect(sid)
    _failed_with(d, sid, "INVALID_CREDENTIALS")
    d.disconnect(sid)
    _update(d, sid, KeyStorePassword="another$one")
    d.connect(sid)
    _failed_with(d, sid, "INVALID_CREDENTIALS")
