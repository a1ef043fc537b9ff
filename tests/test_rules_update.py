"""Behaviour of UpdateCustomKeyStore for CloudHSM key stores (UPDATE, AMB-14/15/34/35/37)."""

from __future__ import annotations

import pytest

from ckspec.model import aws_service
from ckspec.model import identifiers as ids
from ckspec.model.profiles import LEGACY, PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, healthy_account

INVALID_STATE = "CustomKeyStoreInvalidStateException"


def _errors(outs):
    return {o.response.error for o in outs}


def _store(d, sid):
    return d.world.store(ids.parse_store_id(sid))




def _restored(d, source_index=0):
    """A cluster restored from a backup of cluster ``source_index`` with two active HSMs; returns its ID string."""
    cid = d.world.clusters[source_index].cluster_id
    d.env("backup_cluster", cid)
    d.env("restore_backup", d.world.backups[-1].backup_id)
    new = d.world.clusters[-1].cluster_id
    d.env("create_hsm", new, "us-east-1a")
    d.env("create_hsm", new, "us-east-1b")
    return ids.cluster_id(new)


def test_several_changes_in_one_call_and_an_empty_body():
    """UPDATE-01, DESC-06, KU-04: name, password and cluster can change in one call; the response is {} and the
    new values show only through Describe, never the password."""
    d = Driver(healthy_account())
    sid = d.create_store()
    new_cluster = _restored(d)
    out = d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="renamed",
                 KeyStorePassword="N3wSecretPw", CloudHsmClusterId=new_cluster)
    assert out.response.ok and out.response.body == {}
    entry = d.describe(sid)
    assert entry["CustomKeyStoreName"] == "renamed" and entry["CloudHsmClusterId"] == new_cluster
    assert "N3wSecretPw" not in repr(entry)
    assert _store(d, sid).password == "N3wSecretPw"


def test_rename_while_connected():
    """UPDATE-02, AMB-14: renaming is allowed while CONNECTED (current API) and while DISCONNECTED; the store
    keeps its connection state."""
    d = Driver(healthy_account())
    sid = d.create_store()
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="one").response.ok
    d.connect(sid)
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="two").response.ok
    entry = d.describe(sid)
    assert (entry["CustomKeyStoreName"], entry["ConnectionState"]) == ("two", "CONNECTED")


@pytest.mark.parametrize("change", ["password", "cluster"])
def test_password_and_cluster_need_disconnected(change):
    """UPDATE-03: changing KeyStorePassword or CloudHsmClusterId while CONNECTED is refused with
    CustomKeyStoreInvalidStateException and nothing changes."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    params = {"KeyStorePassword": "N3wSecretPw"} if change == "password" else {"CloudHsmClusterId": _restored(d)}
    d.reach(sid, "CONNECTED")
    outs = d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, **params)
    assert _errors(outs) == {INVALID_STATE}
    assert all(o.world == d.world for o in outs)


@pytest.mark.parametrize("state", ["CONNECTING", "DISCONNECTING", "FAILED"])
@pytest.mark.parametrize("params", [{"NewCustomKeyStoreName": "other"}, {"KeyStorePassword": "N3wSecretPw"}])
def test_no_update_in_transient_or_failed_states(state, params):
    """UPDATE-04: in CONNECTING, DISCONNECTING and FAILED every update is refused, renames included, and the
    store is unchanged."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    d.reach(sid, state)
    outs = d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, **params)
    assert _errors(outs) == {INVALID_STATE}
    assert all(o.world == d.world for o in outs)


def test_update_unknown_store():
    """UPDATE-05: an unknown store ID is rejected with CustomKeyStoreNotFoundException."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    d.create_store()
    outs = d.possible("UpdateCustomKeyStore", CustomKeyStoreId=ids.store_id(555), NewCustomKeyStoreName="x")
    assert _errors(outs) == {"CustomKeyStoreNotFoundException"}


def test_new_name_must_be_free():
    """UPDATE-06: a name used by another store is rejected with CustomKeyStoreNameInUseException."""
    d = Driver(healthy_account(clusters=2), profile=PERMISSIVE)
    sid = d.create_store(0, name="a")
    d.create_store(1, name="b")
    assert _errors(d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="b")) == {
        "CustomKeyStoreNameInUseException"}


def test_related_clusters_only():
    """UPDATE-07, CL-05, CREATE-13: a new cluster must share the store's cluster certificate: a cluster restored
    from a backup of the current one, or a sibling restored from the same backup, is accepted; an unrelated
    cluster is rejected with CloudHsmClusterNotRelatedException."""
    d = Driver(healthy_account(clusters=2), profile=REFERENCE)
    sid = d.create_store(0)
    first = _restored(d, 0)
    d.env("restore_backup", d.world.backups[-1].backup_id)  # a sibling from the same backup
    sibling = d.world.clusters[-1].cluster_id
    d.env("create_hsm", sibling, "us-east-1a")
    d.env("create_hsm", sibling, "us-east-1b")
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=first).response.ok
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid,
                  CloudHsmClusterId=ids.cluster_id(sibling)).response.ok
    unrelated = ids.cluster_id(d.world.clusters[1].cluster_id)
    out = d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=unrelated)
    assert out.response.error == "CloudHsmClusterNotRelatedException"
    assert d.describe(sid)["CloudHsmClusterId"] == ids.cluster_id(sibling)


def test_related_cluster_after_the_original_is_deleted():
    """UPDATE-07, CEC-01: after the original cluster is deleted, a cluster restored from its backup is still
    recognised as related (through the trust anchor)."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.env("backup_cluster", cid)
    for h in d.world.cluster(cid).hsms:
        d.env("delete_hsm", cid, h.hsm_id)
    d.env("delete_cluster", cid)
    d.env("restore_backup", d.world.backups[0].backup_id)
    new = d.world.clusters[-1].cluster_id
    d.env("create_hsm", new, "us-east-1a")
    d.env("create_hsm", new, "us-east-1b")
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=ids.cluster_id(new)).response.ok


def test_replacement_cluster_requirements():
    """UPDATE-08, CL-03: the replacement cluster must exist (CloudHsmClusterNotFoundException), be active
    (CloudHsmClusterNotActiveException) and have two active HSMs in different AZs
    (CloudHsmClusterInvalidConfigurationException)."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    cid = d.cluster_serial()
    assert _errors(d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid,
                              CloudHsmClusterId=ids.cluster_id(999))) == {"CloudHsmClusterNotFoundException"}
    d.env("backup_cluster", cid)
    d.env("restore_backup", d.world.backups[0].backup_id)
    new = d.world.clusters[-1].cluster_id
    target = ids.cluster_id(new)
    inactive = _errors(d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=target))
    assert "CloudHsmClusterNotActiveException" in inactive and None not in inactive
    d.env("create_hsm", new, "us-east-1a")
    assert _errors(d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=target)) == {
        "CloudHsmClusterInvalidConfigurationException"}
    d.env("create_hsm", new, "us-east-1b")
    assert _errors(d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=target)) == {None}


def test_password_update_is_only_recorded():
    """UPDATE-09, KU-04: a new KeyStorePassword is only recorded by KMS: Update answers 200 and the cluster's
    kmsuser password is unchanged; a wrong value surfaces at the next Connect as INVALID_CREDENTIALS."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    before = d.world.cluster(cid)
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="Wr0ngValue").response.ok
    assert d.world.cluster(cid) == before
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "INVALID_CREDENTIALS"


def test_update_never_connects():
    """UPDATE-10: after any update made while DISCONNECTED the store stays DISCONNECTED with nothing pending."""
    from ckspec.model.executor import internal_events

    d = Driver(healthy_account())
    sid = d.create_store()
    d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="n", KeyStorePassword="N3wSecretPw",
           CloudHsmClusterId=ids.cluster_id(d.cluster_serial()))
    assert d.store_state(sid) == "DISCONNECTED"
    assert internal_events(d.world) == ()


def test_trust_anchor_and_type_cannot_change():
    """UPDATE-11: Update has no TrustAnchorCertificate or CustomKeyStoreType parameter (ValidationError), and
    IncorrectTrustAnchorException is not among its errors."""
    assert "IncorrectTrustAnchorException" not in aws_service.errors_of("UpdateCustomKeyStore")
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    for extra in ({"TrustAnchorCertificate": "x"}, {"CustomKeyStoreType": "AWS_CLOUDHSM"}):
        assert _errors(d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, **extra)) == {"ValidationError"}


def test_mixed_update_while_connected_is_atomic():
    """AMB-15: a rename plus a password change while CONNECTED is rejected whole with InvalidState; the name
    is not changed either."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store(name="original")
    d.reach(sid, "CONNECTED")
    outs = d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="new",
                      KeyStorePassword="N3wSecretPw")
    assert _errors(outs) == {INVALID_STATE}
    assert all(o.world.stores[0].name == "original" for o in outs)


def test_update_to_current_values():
    """AMB-34: updating to the current name or the current cluster ID succeeds and changes nothing."""
    d = Driver(healthy_account())
    sid = d.create_store(name="same")
    before = d.world
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="same").response.ok
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid,
                  CloudHsmClusterId=ids.cluster_id(d.cluster_serial())).response.ok
    assert d.world == before


def test_legacy_profile_refuses_renames_while_connected():
    """AMB-35, AMB-14: the legacy profile (pre-2022 documentation) refuses every update unless DISCONNECTED,
    renames included; the reference profile follows the current text."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.connect(sid)
    world = d.world
    legacy = Driver(world, profile=LEGACY)
    assert legacy.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="x").response.error == \
        INVALID_STATE
    assert legacy.world == world
    assert Driver(world).call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="x").response.ok


def test_password_only_update_ignores_the_cluster():
    """AMB-37: a password-only Update does not contact the cluster: it succeeds even when the cluster has been
    deleted or is broken."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    sid = d.create_store()
    cid = d.cluster_serial()
    d.env("break_security_group", cid)
    for h in d.world.cluster(cid).hsms:
        d.env("delete_hsm", cid, h.hsm_id)
    assert _errors(d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="N3wSecretPw")) == {None}
    d.env("delete_cluster", cid)
    assert _errors(d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="N3wSecretPw")) == {None}


def test_several_violations_allow_each_error():
    """AMB-07, UPDATE-04, UPDATE-06: an Update with a taken name while FAILED may answer either violated
    precondition; the reference takes the state error first."""
    d = Driver(healthy_account(clusters=2), profile=PERMISSIVE)
    sid = d.create_store(0, name="a")
    d.create_store(1, name="b")
    d.reach(sid, "FAILED")
    outs = d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="b")
    assert _errors(outs) == {INVALID_STATE, "CustomKeyStoreNameInUseException"}
    d.profile = REFERENCE
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="b").response.error == \
        INVALID_STATE
