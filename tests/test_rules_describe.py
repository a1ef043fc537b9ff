"""Behaviour of DescribeCustomKeyStores: filters, pagination, entry fields (DESC, AMB-17)."""

from __future__ import annotations

import pytest

from ckspec.model import identifiers as ids
from ckspec.model.profiles import PERMISSIVE, REFERENCE
from ckspec.model.scenarios import Driver, healthy_account

ENTRY_FIELDS = {"CustomKeyStoreId", "CustomKeyStoreName", "CloudHsmClusterId", "TrustAnchorCertificate",
                "ConnectionState", "CreationDate", "CustomKeyStoreType"}


def _errors(outs):
    return {o.response.error for o in outs}


def _account(n, profile=REFERENCE):
    d = Driver(healthy_account(clusters=n), profile=profile)
    return d, [d.create_store(i, name=f"store-{i}") for i in range(n)]


def test_empty_account_lists_nothing():
    """DESC-01: with no store, Describe without a filter answers 200 with an empty list, not an error."""
    d = Driver(healthy_account(), profile=PERMISSIVE)
    outs = d.possible("DescribeCustomKeyStores")
    assert [o.response.body["CustomKeyStores"] for o in outs] == [[]]
    assert all(o.response.ok for o in outs)


def test_no_filter_lists_every_store():
    """DESC-01: without a filter every store of the account is listed, in every connection state."""
    d, sids = _account(3)
    d.connect(sids[1])
    body = d.call("DescribeCustomKeyStores").response.body
    assert [e["CustomKeyStoreId"] for e in body["CustomKeyStores"]] == sids
    assert body["Truncated"] is False and "NextMarker" not in body


def test_filter_by_id_or_by_name():
    """DESC-02: the caller may filter by CustomKeyStoreId or by CustomKeyStoreName; each returns just that store."""
    d, sids = _account(3)
    by_id = d.call("DescribeCustomKeyStores", CustomKeyStoreId=sids[2]).response.body["CustomKeyStores"]
    by_name = d.call("DescribeCustomKeyStores", CustomKeyStoreName="store-1").response.body["CustomKeyStores"]
    assert [e["CustomKeyStoreId"] for e in by_id] == [sids[2]]
    assert [e["CustomKeyStoreId"] for e in by_name] == [sids[1]]


def test_both_filters_are_rejected():
    """DESC-02, AMB-17: both filters together are a validation-class client error (4xx, not a success), even
    when both match the same store; neither filter takes precedence."""
    d, sids = _account(2, profile=PERMISSIVE)
    for name in ("store-0", "store-1", "nope"):
        outs = d.possible("DescribeCustomKeyStores", CustomKeyStoreId=sids[0], CustomKeyStoreName=name)
        assert _errors(outs) == {"ValidationError"}
        assert all(400 <= o.response.status < 500 for o in outs)


def test_filter_matching_nothing_is_an_error():
    """DESC-03: a filter by ID or by name that matches no store answers CustomKeyStoreNotFoundException."""
    d, _ = _account(1, profile=PERMISSIVE)
    assert _errors(d.possible("DescribeCustomKeyStores", CustomKeyStoreId=ids.store_id(999))) == {
        "CustomKeyStoreNotFoundException"}
    assert _errors(d.possible("DescribeCustomKeyStores", CustomKeyStoreName="missing")) == {
        "CustomKeyStoreNotFoundException"}


def test_pagination():
    """DESC-04: Limit bounds the page (possibly fewer items); a cut-short page has Truncated=true and a
    NextMarker, which passed back as Marker continues the listing until Truncated=false."""
    d, sids = _account(5)
    seen, marker, pages = [], None, 0
    while True:
        params = {"Limit": 2} | ({"Marker": marker} if marker else {})
        body = d.call("DescribeCustomKeyStores", **params).response.body
        pages += 1
        assert len(body["CustomKeyStores"]) <= 2
        seen += [e["CustomKeyStoreId"] for e in body["CustomKeyStores"]]
        if not body["Truncated"]:
            assert "NextMarker" not in body
            break
        marker = body["NextMarker"]
    assert seen == sids and pages == 3


def test_pages_may_be_shorter_than_limit():
    """DESC-04: KMS may return fewer items than Limit: every non-empty prefix up to Limit is a documented page,
    each truncated one carrying NextMarker; the reference returns a full page."""
    d, sids = _account(4, profile=PERMISSIVE)
    outs = d.possible("DescribeCustomKeyStores", Limit=3)
    sizes = sorted(len(o.response.body["CustomKeyStores"]) for o in outs)
    assert sizes == [1, 2, 3]
    assert all(o.response.body["Truncated"] and "NextMarker" in o.response.body for o in outs)
    d.profile = REFERENCE
    assert len(d.call("DescribeCustomKeyStores", Limit=3).response.body["CustomKeyStores"]) == 3


def test_bad_marker_and_limit():
    """DESC-04, AMB-18: a Marker this service did not issue is InvalidMarkerException; Limit outside 1..1000 is
    a ValidationError, while 1 and 1000 are accepted."""
    d, _ = _account(2, profile=PERMISSIVE)
    assert _errors(d.possible("DescribeCustomKeyStores", Marker="not-a-marker")) == {"InvalidMarkerException"}
    for limit in (0, 1001):
        assert _errors(d.possible("DescribeCustomKeyStores", Limit=limit)) == {"ValidationError"}
    for limit in (1, 1000):
        assert _errors(d.possible("DescribeCustomKeyStores", Limit=limit)) == {None}


def test_entry_fields():
    """DESC-05, KU-04, CS-07: a CloudHSM entry has exactly the ID, name, cluster ID, trust anchor, connection
    state, creation date and type AWS_CLOUDHSM; ConnectionErrorCode only when FAILED; no XksProxyConfiguration
    and never the password."""
    d = Driver(healthy_account(clusters=2, password="Tr1ckyPassword"))
    sid = d.create_store(0, KeyStorePassword="Tr1ckyPassword")
    entry = d.describe(sid)
    assert set(entry) == ENTRY_FIELDS
    assert entry["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    assert entry["TrustAnchorCertificate"] == d.world.clusters[0].trust_anchor
    assert "Tr1ckyPassword" not in repr(entry)
    d.env("network_fault_begins")
    d.connect(sid)
    d.env("network_fault_ends")
    assert set(d.describe(sid)) == ENTRY_FIELDS | {"ConnectionErrorCode"}


def test_describe_shows_asynchronous_results_and_updates():
    """DESC-06: Describe is where the outcome of Connect/Disconnect and the result of Update show."""
    d, (sid,) = _account(1)
    assert d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid).response.body == {}
    d.settle()
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="renamed").response.body == {}
    assert d.describe(sid)["CustomKeyStoreName"] == "renamed"
    assert d.call("DisconnectCustomKeyStore", CustomKeyStoreId=sid).response.body == {}
    d.settle()
    assert d.describe(sid)["ConnectionState"] == "DISCONNECTED"


@pytest.mark.parametrize("params", [{"CustomKeyStoreId": ""}, {"CustomKeyStoreName": ""}, {"Marker": ""},
                                    {"Unknown": 1}])
def test_describe_parameter_validation(params):
    """AMB-18, DESC-02: empty filters or Marker and unknown parameters are ValidationError."""
    d, _ = _account(1, profile=PERMISSIVE)
    assert _errors(d.possible("DescribeCustomKeyStores", **params)) == {"ValidationError"}


@pytest.mark.parametrize("status, error, accepted", [
    (400, "ValidationException", True),
    (400, "InvalidRequestException", True),   # AMB-17: any non-success 4xx, whatever its name
    (409, "ConflictException", True),
    (500, "KMSInternalException", False),      # a 5xx is not the client error the catalog allows
])
def test_checker_holds_both_filters_to_any_client_error(status, error, accepted):
    """AMB-17's clause is the checker's exact contract: tests assert only a non-success 4xx."""
    from ckspec.conformance.adapter import Reply
    from ckspec.conformance.checker import Nonconformance, PossibleWorlds
    from ckspec.conformance.identity import Binding
    from ckspec.model import Call

    d, sids = _account(1, profile=PERMISSIVE)
    worlds, binding = PossibleWorlds(d.world), Binding()
    binding.bind(sids[0], sids[0])
    call = Call("DescribeCustomKeyStores", {"CustomKeyStoreId": sids[0], "CustomKeyStoreName": "store-0"})
    reply = Reply(status=status, error=error)
    if accepted:
        worlds.observe_call(call, reply, binding)
    else:
        with pytest.raises(Nonconformance) as caught:
            worlds.observe_call(call, reply, binding)
        assert "AMB-17" in caught.value.failure.rules


def test_checker_rejects_a_success_for_both_filters():
    """DESC-02: a success for both filters is a failure, never within AMB-17's contract."""
    from ckspec.conformance.adapter import Reply
    from ckspec.conformance.checker import Nonconformance, PossibleWorlds
    from ckspec.conformance.identity import Binding
    from ckspec.model import Call

    d, sids = _account(1, profile=PERMISSIVE)
    worlds, binding = PossibleWorlds(d.world), Binding()
    binding.bind(sids[0], sids[0])
    call = Call("DescribeCustomKeyStores", {"CustomKeyStoreId": sids[0], "CustomKeyStoreName": "store-0"})
    with pytest.raises(Nonconformance) as caught:
        worlds.observe_call(call, Reply(body={"CustomKeyStores": [], "Truncated": False}), binding)
    assert caught.value.failure.rules[0] in ("DESC-02", "AMB-17")
