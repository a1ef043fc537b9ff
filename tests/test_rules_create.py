"""Behaviour of CreateCustomKeyStore for CloudHSM key stores, the quota and the cluster facts it relies on
(CREATE, Q, CL, AMB-16/24)."""

from __future__ import annotations

import attrs
import pytest

from ckspec.model import identifiers as ids
from ckspec.model.aws_service import ClusterState
from ckspec.model.executor import NotEnabled
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import KMSUSER_PASSWORD, Driver, create_request, healthy_account

NAME_IN_USE = "CustomKeyStoreNameInUseException"
CLUSTER_IN_USE = "CloudHsmClusterInUseException"
INVALID_CONFIG = "CloudHsmClusterInvalidConfigurationException"


def _errors(outs):
    return {o.response.error for o in outs}


def _create(d, **params):
    return d.possible("CreateCustomKeyStore", **params)


def test_create_parameters():
    """CREATE-01, AMB-18: CustomKeyStoreName 1-256, CloudHsmClusterId matching cluster-[2-7a-zA-Z]{11,16},
    TrustAnchorCertificate 1-5000 and KeyStorePassword 7-32 characters; CustomKeyStoreType, if given, is
    AWS_CLOUDHSM. Anything else is a ValidationError; the boundary values are accepted."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    good = create_request(d.world)
    assert _errors(_create(d, **good)) == {None}
    assert _errors(_create(d, **good, CustomKeyStoreType="AWS_CLOUDHSM")) == {None}
    assert _errors(_create(d, **{**good, "KeyStorePassword": "a" * 7})) == {None}
    assert _errors(_create(d, **{**good, "KeyStorePassword": "a" * 32})) == {None}
    assert _errors(_create(d, **{**good, "CustomKeyStoreName": "n" * 256})) == {None}
    bad = [
        {"KeyStorePassword": "a" * 6}, {"KeyStorePassword": "a" * 33}, {"CustomKeyStoreName": ""},
        {"CustomKeyStoreName": "n" * 257}, {"CloudHsmClusterId": "cluster-1234567890a"},
        {"CloudHsmClusterId": "clusterabcdefghijk"}, {"TrustAnchorCertificate": ""},
        {"TrustAnchorCertificate": "t" * 5001}, {"CustomKeyStoreType": "NOT_A_TYPE"},
    ]
    for change in bad:
        assert _errors(_create(d, **{**good, **change})) == {"ValidationError"}, change
    assert _errors(_create(d, **good, Bogus="x")) == {"ValidationError"}
    no_name = {k: v for k, v in good.items() if k != "CustomKeyStoreName"}
    assert _errors(_create(d, **no_name)) == {"ValidationError"}


def test_create_without_cloudhsm_parameters():
    """CREATE-01, AMB-18: a request that is not a complete CloudHSM request (an external key store type, or
    no cluster/trust anchor/password) is rejected; the reference answers ValidationError."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    external = {"CustomKeyStoreName": "x", "CustomKeyStoreType": "EXTERNAL_KEY_STORE"}
    for params in ({"CustomKeyStoreName": "x"}, external):
        outs = _create(d, **params)
        assert "ValidationError" in _errors(outs) and None not in _errors(outs)
        d.profile = REFERENCE
        assert d.call("CreateCustomKeyStore", **params).response.error == "ValidationError"
        d.profile = PERMISSIVE
    assert d.world.stores == ()


def test_create_returns_id_of_a_disconnected_store():
    """CREATE-02, CS-02, UPDATE-11: success returns {"CustomKeyStoreId": "cks-..."}; the store reads
    DISCONNECTED, type AWS_CLOUDHSM, and no call can change its type or trust anchor."""
    d = Driver(healthy_account())
    out = d.call("CreateCustomKeyStore", **create_request(d.world))
    assert out.response.ok and set(out.response.body) == {"CustomKeyStoreId"}
    sid = out.response.body["CustomKeyStoreId"]
    assert sid.startswith("cks-")
    entry = d.describe(sid)
    assert entry["ConnectionState"] == "DISCONNECTED" and entry["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    for change in ({"CustomKeyStoreType": "EXTERNAL_KEY_STORE"}, {"TrustAnchorCertificate": "x"}):
        assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, **change).response.error == "ValidationError"
    assert d.describe(sid) == entry


def test_name_must_be_unique():
    """CREATE-03: a name already used by another store in the account is rejected with
    CustomKeyStoreNameInUseException, even for another cluster."""
    d = Driver(healthy_account(clusters=2), profile=PERMISSIVE)
    d.create_store(0, name="shared")
    assert _errors(_create(d, **create_request(d.world, 1, name="shared"))) == {NAME_IN_USE}
    assert _errors(_create(d, **create_request(d.world, 1, name="other"))) == {None}


def test_cluster_must_exist():
    """CREATE-04: a cluster ID that names no cluster is rejected with CloudHsmClusterNotFoundException."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    params = {**create_request(d.world), "CloudHsmClusterId": ids.cluster_id(4000)}
    assert _errors(_create(d, **params)) == {"CloudHsmClusterNotFoundException"}


def test_cluster_must_be_active():
    """CREATE-05, CL-01, AMB-07: a cluster that is not ACTIVE (UNINITIALIZED, INITIALIZED, DEGRADED) is
    rejected with CloudHsmClusterNotActiveException (possibly next to other violated checks)."""
    d = Driver(_world_with_cluster_states(), profile=PERMISSIVE)
    for index, state in enumerate(d.world.clusters):
        params = create_request(d.world, index, name=f"s{index}")
        errors = _errors(_create(d, **params))
        if state.state is ClusterState.ACTIVE:
            assert errors == {None}
        else:
            assert "CloudHsmClusterNotActiveException" in errors and None not in errors, state.state
            d.profile = REFERENCE
            assert d.call("CreateCustomKeyStore", **params).response.error == "CloudHsmClusterNotActiveException"
            d.profile = PERMISSIVE


def _world_with_cluster_states():
    """A world with an ACTIVE cluster, a DEGRADED one and an INITIALIZED one (each two HSMs in two AZs)."""
    world = healthy_account(clusters=3)
    c1, c2 = world.clusters[1], world.clusters[2]
    world = world.with_cluster(attrs.evolve(c1, state=ClusterState.DEGRADED))
    return world.with_cluster(attrs.evolve(c2, state=ClusterState.INITIALIZED))


def test_one_store_per_cluster_lineage():
    """CREATE-06, CL-05: a cluster already backing a store, or any cluster restored from its backups (same
    cluster certificate), is rejected with CloudHsmClusterInUseException."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    d.create_store(name="first")
    cid = d.cluster_serial()
    assert _errors(_create(d, **create_request(d.world, 0, name="second"))) == {CLUSTER_IN_USE}
    d.env("backup_cluster", cid)
    d.env("restore_backup", d.world.backups[0].backup_id)
    restored = d.world.clusters[-1]
    assert restored.source_backup_id == d.world.backups[0].backup_id
    assert restored.trust_anchor == d.world.clusters[0].trust_anchor
    for zone in ("us-east-1a", "us-east-1b"):
        d.env("create_hsm", restored.cluster_id, zone)
    assert _errors(_create(d, **create_request(d.world, 1, name="second"))) == {CLUSTER_IN_USE}


def test_trust_anchor_must_be_the_clusters():
    """CREATE-07, CL-06: the trust anchor must be the cluster's own customerCA certificate from
    initialization; another cluster's certificate is rejected with IncorrectTrustAnchorException."""
    d = Driver(healthy_account(clusters=2), profile=PERMISSIVE)
    params = {**create_request(d.world, 0), "TrustAnchorCertificate": d.world.clusters[1].trust_anchor}
    assert _errors(_create(d, **params)) == {"IncorrectTrustAnchorException"}


def test_uninitialized_cluster_has_no_trust_anchor():
    """CL-06, CL-01, CREATE-07: before initialization a cluster has no trust anchor, so no certificate
    matches; initialize then activate leads to ACTIVE and a usable trust anchor."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    d.env("create_cluster", 2)
    new = d.world.clusters[-1].cluster_id
    assert d.world.cluster(new).state is ClusterState.UNINITIALIZED
    with pytest.raises(NotEnabled):  # initialization needs an HSM
        d.env("initialize_cluster", new)
    d.env("create_hsm", new, "us-east-1a")
    params = {"CustomKeyStoreName": "u", "CloudHsmClusterId": ids.cluster_id(new),
              "TrustAnchorCertificate": d.world.clusters[0].trust_anchor, "KeyStorePassword": KMSUSER_PASSWORD}
    assert "IncorrectTrustAnchorException" in _errors(_create(d, **params))
    d.env("initialize_cluster", new)
    d.env("activate_cluster", new)
    d.env("create_hsm", new, "us-east-1b")
    assert d.world.cluster(new).state is ClusterState.ACTIVE
    assert _errors(_create(d, **{**params, "TrustAnchorCertificate": d.world.cluster(new).trust_anchor})) == {None}


def _two_hsms_one_zone(d):
    c = d.world.clusters[0]
    d.env("delete_hsm", c.cluster_id, c.hsms[1].hsm_id)
    d.env("create_hsm", c.cluster_id, "us-east-1a")


def _one_hsm(d):
    c = d.world.clusters[0]
    d.env("delete_hsm", c.cluster_id, c.hsms[1].hsm_id)


def _rules_broken(d):
    d.env("break_security_group", d.cluster_serial())


def _one_subnet_zone(d):
    c = d.world.clusters[0]
    d.env("delete_hsm", c.cluster_id, c.hsms[1].hsm_id)
    d.env("delete_subnet", c.cluster_id, "us-east-1b")


@pytest.mark.parametrize("setup", [_two_hsms_one_zone, _one_hsm, _rules_broken, _one_subnet_zone],
                         ids=lambda f: f.__name__)
def test_cluster_configuration_requirements(setup):
    """CREATE-08, CL-03, NET-05: the cluster needs two ACTIVE HSMs in different AZs, subnets in two AZs and
    its 2223-2225 rules; otherwise CloudHsmClusterInvalidConfigurationException."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    setup(d)
    assert _errors(_create(d, **create_request(d.world))) == {INVALID_CONFIG}


def test_quota_of_ten():
    """CREATE-09, Q-01, AMB-24: the default quota is 10 stores; the 11th Create fails with
    LimitExceededException; stores count in every connection state."""
    d = Driver(healthy_account(clusters=11), profile=REFERENCE)
    assert d.world.quota == 10
    sids = [d.create_store(i, name=f"s{i}") for i in range(10)]
    d.connect(sids[0])
    d.env("network_fault_begins")
    d.connect(sids[1])
    d.env("network_fault_ends")
    d.profile = PERMISSIVE
    assert _errors(_create(d, **create_request(d.world, 10, name="s10"))) == {"LimitExceededException"}


def test_quota_is_a_parameter():
    """Q-02, AMB-24, Q-01: the quota is a parameter of the account; with quota 2 the third Create fails."""
    d = Driver(healthy_account(clusters=3, quota=2), profile=PERMISSIVE)
    d.create_store(0, name="a")
    d.create_store(1, name="b")
    assert _errors(_create(d, **create_request(d.world, 2, name="c"))) == {"LimitExceededException"}


def test_idempotent_retry_returns_the_existing_store():
    """CREATE-10, AMB-16: a Create identical to an existing DISCONNECTED store (name, cluster, trust anchor,
    password) returns that store's ID and creates nothing; the count stays the same, even at the quota."""
    d = Driver(healthy_account(quota=1), profile=PERMISSIVE)
    sid = d.create_store()
    outs = _create(d, **create_request(d.world))
    assert [o.response.body for o in outs] == [{"CustomKeyStoreId": sid}]
    assert all(o.world == d.world for o in outs)


@pytest.mark.parametrize("variation", ["password differs", "store connected", "store failed"])
def test_not_quite_idempotent_retry(variation):
    """AMB-16, CREATE-03, CREATE-06: if the password differs, or the matching store is not DISCONNECTED, the
    normal checks apply: CustomKeyStoreNameInUseException or CloudHsmClusterInUseException, nothing else."""
    d = Driver(healthy_account(), profile=REFERENCE)
    sid = d.create_store()
    params = create_request(d.world)
    if variation == "password differs":
        params["KeyStorePassword"] = "Different1"
    elif variation == "store connected":
        d.connect(sid)
    else:
        d.env("network_fault_begins")
        d.connect(sid)
        d.env("network_fault_ends")
    d.profile = PERMISSIVE
    assert _errors(_create(d, **params)) == {NAME_IN_USE, CLUSTER_IN_USE}
    assert len(d.world.stores) == 1


def test_create_does_not_check_kmsuser():
    """KU-02, CREATE-02: Create checks neither that kmsuser exists nor the password; both surface at the first
    Connect (USER_NOT_FOUND, INVALID_CREDENTIALS)."""
    d = Driver(healthy_account(clusters=2))
    d.env("delete_kmsuser", d.cluster_serial(0))
    s1 = d.create_store(0, name="no-user")
    s2 = d.create_store(1, name="wrong-password", KeyStorePassword="Wr0ngPassword")
    d.connect(s1)
    d.connect(s2)
    assert d.describe(s1)["ConnectionErrorCode"] == "USER_NOT_FOUND"
    assert d.describe(s2)["ConnectionErrorCode"] == "INVALID_CREDENTIALS"


def test_cluster_need_not_be_exclusive():
    """CREATE-12: KMS does not need exclusive use of the cluster: a cluster with a third HSM and key material
    of other applications backs a store, connects, and that material is left alone."""
    d = Driver(healthy_account(zones=3))
    c = d.world.clusters[0]
    d.world = d.world.with_cluster(attrs.evolve(c, key_material=frozenset({9001, 9002})))
    sid = d.create_store()
    assert d.connect(sid) == "CONNECTED"
    d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    assert {9001, 9002} < d.world.clusters[0].key_material


def test_association_is_permanent():
    """CREATE-13, UPDATE-07: after Create the store can move only to a related cluster; an unrelated cluster is
    rejected with CloudHsmClusterNotRelatedException and the store keeps its cluster."""
    d = Driver(healthy_account(clusters=2), profile=PERMISSIVE)
    sid = d.create_store(0)
    unrelated = ids.cluster_id(d.world.clusters[1].cluster_id)
    outs = d.possible("UpdateCustomKeyStore", CustomKeyStoreId=sid, CloudHsmClusterId=unrelated)
    assert _errors(outs) == {"CloudHsmClusterNotRelatedException"}
    assert d.describe(sid)["CloudHsmClusterId"] == ids.cluster_id(d.world.clusters[0].cluster_id)


def test_cluster_lifecycle_and_deletion():
    """CL-01, CL-07: a cluster goes UNINITIALIZED, INITIALIZED, ACTIVE; it can be deleted only after all its
    HSMs are deleted."""
    d = Driver(healthy_account())
    d.env("create_cluster", 2)
    new = d.world.clusters[-1].cluster_id
    seen = [d.world.cluster(new).state]
    d.env("create_hsm", new, "us-east-1a")
    d.env("initialize_cluster", new)
    seen.append(d.world.cluster(new).state)
    d.env("activate_cluster", new)
    seen.append(d.world.cluster(new).state)
    assert seen == [ClusterState.UNINITIALIZED, ClusterState.INITIALIZED, ClusterState.ACTIVE]
    with pytest.raises(NotEnabled):
        d.env("delete_cluster", new)
    d.env("delete_hsm", new, d.world.cluster(new).hsms[0].hsm_id)
    d.env("delete_cluster", new)
    assert d.world.cluster(new) is None


def test_restored_cluster_inherits_users_and_keys():
    """CL-05: a cluster created from a backup shows its SourceBackupId, has the source's cluster certificate
    lineage, is not initialized again (adding an HSM activates it) and inherits kmsuser and key material."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.connect(sid)
    d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    source = d.world.clusters[0]
    d.env("backup_cluster", source.cluster_id)
    backup = d.world.backups[0]
    d.env("restore_backup", backup.backup_id)
    restored = d.world.clusters[-1]
    assert restored.source_backup_id == backup.backup_id
    assert restored.lineage == source.lineage and restored.trust_anchor == source.trust_anchor
    assert restored.kmsuser.password == source.kmsuser.password
    assert restored.key_material == source.key_material
    with pytest.raises(NotEnabled):
        d.env("initialize_cluster", restored.cluster_id)
    d.env("create_hsm", restored.cluster_id, "us-east-1a")
    assert d.world.cluster(restored.cluster_id).state is ClusterState.ACTIVE
