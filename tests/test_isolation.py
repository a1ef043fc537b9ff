"""Isolation on a shared account (conformance/isolation.py) and the lenient worlds of a faked
starting account (conformance/faked.py), unit by unit."""

from __future__ import annotations

import pytest

from ckspec.conformance import Session
from ckspec.conformance.checker import Inconclusive
from ckspec.conformance.faked import favourable
from ckspec.conformance.isolation import MAX_NAME_LENGTH, NamePrefix
from ckspec.conformance.wire import BotoTarget
from ckspec.model import Call
from ckspec.model import identifiers as ids
from foreign_emulators import Kms, serving


def test_names_are_prefixed_going_out_and_unprefixed_coming_back():
    names = NamePrefix("ckspec-abc-1-")
    assert names.outbound({"CustomKeyStoreName": "a", "NewCustomKeyStoreName": "b", "Limit": 1}) == {
        "CustomKeyStoreName": "ckspec-abc-1-a", "NewCustomKeyStoreName": "ckspec-abc-1-b", "Limit": 1}
    body = {"CustomKeyStores": [{"CustomKeyStoreName": "ckspec-abc-1-a"}, {"CustomKeyStoreName": "theirs"}]}
    assert names.view(body) == {"CustomKeyStores": [{"CustomKeyStoreName": "a"}]}


def test_an_empty_name_goes_out_as_it_is():
    """CREATE-01: the target's own answer to an empty name is what is checked."""
    assert NamePrefix("p-").outbound({"CustomKeyStoreName": ""}) == {"CustomKeyStoreName": ""}


def test_a_name_the_prefix_pushes_past_the_limit_is_inconclusive_not_a_failure():
    names = NamePrefix("ckspec-abc-1-")
    names.outbound({"CustomKeyStoreName": "n" * (MAX_NAME_LENGTH - len("ckspec-abc-1-"))})  # still fits
    with pytest.raises(Inconclusive, match="prefix isolation"):
        names.outbound({"CustomKeyStoreName": "n" * MAX_NAME_LENGTH})
    too_long = "n" * (MAX_NAME_LENGTH + 1)  # refused by any target, prefixed or not
    assert names.outbound({"CustomKeyStoreName": too_long})["CustomKeyStoreName"].endswith(too_long)


def test_an_example_on_a_shared_account_starts_with_the_quota_others_leave():
    """CREATE-09: four stores of someone else's leave the example six."""
    kms = Kms(bugs=frozenset())
    for i in range(4):
        kms.stores[f"cks-other{i}"] = {"CustomKeyStoreId": f"cks-other{i}", "CustomKeyStoreName": f"other-{i}",
                                       "CloudHsmClusterId": "cluster-abcdefghijk", "TrustAnchorCertificate": "x",
                                       "ConnectionState": "DISCONNECTED", "password": "p", "CreationDate": 0,
                                       "CustomKeyStoreType": "AWS_CLOUDHSM"}
    with serving(kms) as url:
        target = BotoTarget(0, endpoint_url=url)
        try:
            assert target.isolation.kind == "prefix"
            assert target.capabilities.quota == 6
        finally:
            target.close()


def _started() -> Session:
    session = Session.open("reference")
    session.setup()
    return session


def test_a_cluster_only_a_request_names_is_made_ready_with_the_request_s_anchor_and_password():
    world = _started().world
    unknown = ids.cluster_id(999)
    call = Call.of("CreateCustomKeyStore", CustomKeyStoreName="s", CloudHsmClusterId=unknown,
                   TrustAnchorCertificate="anchor", KeyStorePassword="secret-1")
    made = favourable(world, call).cluster(999)
    assert made is not None and made.trust_anchor == "anchor" and made.kmsuser.password == "secret-1"
    assert made.state == world.clusters[0].state and len(made.hsms) == len(world.clusters[0].hsms)
    assert made.lineage not in {c.lineage for c in world.clusters}  # related to no store's cluster (CL-05)
    assert world.cluster(999) is None  # the strict world is untouched


def test_each_store_s_kmsuser_holds_the_store_s_password_in_a_favourable_world():
    session = _started()
    cluster = session.world.clusters[0]
    session.call("CreateCustomKeyStore", CustomKeyStoreName="s", CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
                 TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword="different-password")
    world = session.world
    store = world.stores[0]
    assert world.cluster(store.cluster_id).kmsuser.password != store.password  # CEC-05 would follow
    lenient = favourable(world, Call.of("ConnectCustomKeyStore", CustomKeyStoreId=ids.store_id(store.store_id)))
    assert lenient.cluster(store.cluster_id).kmsuser.password == store.password


def test_the_cluster_an_update_moves_to_shares_the_store_s_lineage():
    session = _started()
    first, second = session.world.clusters[:2]
    session.call("CreateCustomKeyStore", CustomKeyStoreName="s", CloudHsmClusterId=ids.cluster_id(first.cluster_id),
                 TrustAnchorCertificate=first.trust_anchor, KeyStorePassword="password-0")
    store = session.world.stores[0]
    call = Call.of("UpdateCustomKeyStore", CustomKeyStoreId=ids.store_id(store.store_id),
                   CloudHsmClusterId=ids.cluster_id(second.cluster_id))
    assert favourable(session.world, call).cluster(second.cluster_id).lineage == first.lineage


def test_the_prefix_has_one_length_whatever_ran_before():
    """A seed draws the same run in a fresh process and after a thousand examples (name_room)."""
    from ckspec.conformance import isolation

    lengths = {len(isolation.next_prefix()) for _ in range(1200)}
    assert len(lengths) == 1
