"""The diagnosis: the broken rule named first, the differing member in full, the path apart (issue 10 section 2)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ckspec.conformance import Nonconformance, ReferenceTarget, Session, load_target, password
from ckspec.conformance.adapter import Reply
from ckspec.conformance.diagnosis import MemberDifference, member_differences
from ckspec.conformance.engine import CheckOptions, check
from ckspec.conformance.identity import Binding
from ckspec.conformance.reports import failure_lines, html_report, junit_xml
from ckspec.conformance.scorecard import ScorecardOptions, blamed, scorecard
from ckspec.conformance.targets import TargetSpec
from ckspec.model import Response
from ckspec.model import identifiers as ids

def _session(target) -> tuple[Session, str]:
    """The starting account and one store on the first cluster, on ``target`` (an instance)."""
    s = Session(target)
    s.setup()
    cluster = s.world.clusters[0]
    s.call("CreateCustomKeyStore", CustomKeyStoreName="store-a", CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
           TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password(0))
    return s, ids.store_id(s.world.stores[0].store_id)


def _edit_entries(response: Response, edit) -> Response:
    entries = [edit(dict(e)) for e in response.body["CustomKeyStores"]]
    return Response.success({**response.body, "CustomKeyStores": entries})


class OmitsOnceConnected(ReferenceTarget):
    """DESC-05 broken after an asynchronous change: a CONNECTED store's entry lacks ``member``."""

    member = "CloudHsmClusterId"

    def perform(self, world, call):
        world, response = super().perform(world, call)
        if call.operation == "DescribeCustomKeyStores" and response.ok:
            response = _edit_entries(response, lambda e: {k: v for k, v in e.items() if not (
                k == self.member and e["ConnectionState"] == "CONNECTED")})
        return world, response


class OmitsTypeOnceConnected(OmitsOnceConnected):
    """The older DescribeCustomKeyStores shape (AMB-38): no CustomKeyStoreType once CONNECTED."""

    member = "CustomKeyStoreType"


class AnchorWithNewline(ReferenceTarget):
    """Describe shows the trust anchor with a trailing newline added."""

    def call(self, operation, params):
        reply = super().call(operation, params)
        if operation == "DescribeCustomKeyStores" and reply.ok:
            entries = [{**e, "TrustAnchorCertificate": e["TrustAnchorCertificate"] + "\n"}
                       for e in reply.body["CustomKeyStores"]]
            return Reply(reply.status, None, reply.message, {**reply.body, "CustomKeyStores": entries})
        return reply


class InvalidStateIs409(ReferenceTarget):
    """ERR-02 broken: CustomKeyStoreInvalidStateException answered with HTTP 409 instead of 400."""

    def call(self, operation, params):
        reply = super().call(operation, params)
        if reply.error == "CustomKeyStoreInvalidStateException":
            return Reply(409, reply.error, reply.message, reply.body)
        return reply


def test_a_long_or_multi_line_value_is_shown_in_full_with_a_diff():
    """Values are repr'd in full (a trailing newline shows) and long or multi-line ones get a unified diff."""
    [diff] = member_differences({"Description": "x" * 100}, {"Description": "x" * 100 + "\n"}, Binding())
    text = diff.render()
    assert "'" + "x" * 100 + "\\n'" in text and "..." not in text
    assert "--- expected Description" in text and "+++ observed Description" in text
    assert MemberDifference("A", "'a'", None).render() == "A: missing (expected 'a')"
    assert MemberDifference("A", None, "'a'").render() == "A: expected absent, observed 'a'"


def test_every_differing_member_is_listed_not_only_the_first():
    diffs = member_differences({"A": 1, "B": {"C": 2, "D": 3}}, {"A": 1, "B": {"C": 5}, "E": 1}, Binding())
    assert [(d.path, d.expected, d.observed) for d in diffs] == [("B.C", "2", "5"), ("B.D", "3", None)]


def test_a_member_missing_after_an_asynchronous_change_is_the_difference_shown():
    """Once the store connects, its entry lacks CloudHsmClusterId: the closest world is the
    connected one, the detail names CloudHsmClusterId (not a ConnectionState of another
    candidate world), and DESC-05 is blamed; the connection's own rules are context."""
    s, store = _session(OmitsOnceConnected(0))
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    with pytest.raises(Nonconformance) as caught:
        s.settle()
    failure = caught.value.failure
    assert failure.rules[0] == "DESC-05", failure.message
    assert failure.detail.startswith("CustomKeyStores[0].CloudHsmClusterId: missing (expected 'cluster-")
    assert "TR-02" in failure.context and "TR-02" not in failure.contradicted


def test_a_live_target_of_the_older_describe_shape_conforms():
    """AMB-38: the checker takes an entry without CustomKeyStoreType (AWS's shape before external key
    stores) as an AWS_CLOUDHSM entry, as trace check does."""
    s, store = _session(OmitsTypeOnceConnected(0))
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    s.settle()  # raises Nonconformance if no world explains the answers
    s.call("DescribeCustomKeyStores", CustomKeyStoreId=store)
    assert s.world.stores[0].state.value == "CONNECTED"


def test_trust_anchors_that_differ_by_a_trailing_newline_do_not_print_alike():
    s = Session(AnchorWithNewline(0))
    s.setup()
    cluster = s.world.clusters[0]
    s.call("CreateCustomKeyStore", CustomKeyStoreName="store-a", CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
           TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password(0))
    with pytest.raises(Nonconformance) as caught:
        s.call("DescribeCustomKeyStores")
    detail = caught.value.failure.detail
    expected, observed = detail.split("\n")[0].split(": expected ", 1)[1].split(", observed ")
    assert observed == expected[:-1] + "\\n'", detail  # the trailing newline shows
    assert "+-----END CERTIFICATE-----\\n" in detail.splitlines(), detail  # the diff's changed line


def test_a_wrong_http_status_is_blamed_on_err_02_alone():
    """The shape name is right, the status is not: ERR-02 is the broken rule and the only one
    contradicted (the row's DISC-02 was honoured)."""
    s, store = _session(InvalidStateIs409(0))
    with pytest.raises(Nonconformance) as caught:
        s.call("DisconnectCustomKeyStore", CustomKeyStoreId=store)
    failure = caught.value.failure
    assert failure.rules[0] == "ERR-02" and failure.contradicted == ("ERR-02",)
    assert "HTTP 400" in failure.message and "409" in failure.detail


def test_a_scorecard_fails_the_contradicted_rule_and_not_the_rows_that_cite_the_step():
    """An HTTP 409 status bug fails ERR-02 (it read pass while unrelated rules failed), and nothing else."""
    card = scorecard(TargetSpec("status-409", InvalidStateIs409), ScorecardOptions(examples=30, steps=30))
    statuses = {r.id: r.status for r in card.rules()}
    assert card.failures and {blamed(f) for f in card.failures} == {"ERR-02"}
    assert statuses["ERR-02"] == "fail"
    assert [r for r, v in statuses.items() if v == "fail"] == ["ERR-02"]


def test_a_rule_contradicted_but_not_blamed_first_still_fails():
    """TR-06 broken (a stale ConnectionErrorCode after Disconnect) is blamed on TR-06, and the same
    answer contradicts CS-07 (the code only in FAILED): both read fail, nothing else does."""
    card = scorecard(load_target("mutant:TR-06-error-code-kept-after-disconnect"), ScorecardOptions(examples=60, steps=40, minimise=False))
    statuses = {r.id: r.status for r in card.rules()}
    assert {blamed(f) for f in card.failures} == {"TR-06"}
    assert all("CS-07" in f.contradicted for f in card.failures)
    assert statuses["TR-06"] == statuses["CS-07"] == "fail"
    assert sum(v == "fail" for v in statuses.values()) == 2


def test_the_path_is_context_and_reports_lead_with_the_broken_rule():
    """CEC-05 broken (wrong password reported as INTERNAL_ERROR): the broken rule is CEC-05, not
    the TR-03 every failed attempt cites; the reports show the broken rule (with its documentation),
    then the difference, then the context."""
    result = check(load_target("mutant:CEC-05"), CheckOptions(examples=300, steps=100, seed=0, shrink=False))
    failure = result.failures[0]
    assert failure.broken == "CEC-05" and "TR-03" in failure.context and "TR-03" not in failure.contradicted
    assert "ConnectionErrorCode: expected 'INVALID_CREDENTIALS', observed 'INTERNAL_ERROR'" in failure.detail
    lines = failure_lines(failure)
    cited = [line for line in lines[1:] if line.startswith("  documented: ")]
    assert lines[0].startswith("broken rule: CEC-05: INVALID_CREDENTIALS") and cited  # its sources, then
    assert lines[1 + len(cited)].startswith("difference: ")
    assert lines[-1].startswith("context")
    page = html_report(result)
    assert page.index("<th>broken rule</th>") < page.index("<th>difference</th>") < page.index("<th>context")
    statuses = {r["id"]: r["status"] for r in result.rule_statuses()}
    assert statuses["CEC-05"] == "fail" and statuses["TR-03"] != "fail"
    suite = ET.fromstring(junit_xml(result).split("\n", 1)[1])
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert "CEC-05" in failed and "TR-03" not in failed
    node = next(c for c in suite.iter("testcase") if c.get("name") == "CEC-05").find("failure")
    assert node.text.startswith("broken rule: CEC-05")


class GarbledEntries(ReferenceTarget):
    """Describe answers entries that are not structures at all."""

    def call(self, operation, params):
        reply = super().call(operation, params)
        if operation == "DescribeCustomKeyStores" and reply.ok:
            return Reply(200, None, "", {"CustomKeyStores": ["not-an-entry"], "Truncated": False})
        return reply


def test_a_garbled_reply_is_still_a_diagnosed_failure_not_a_crash():
    s, _ = _session(GarbledEntries(0))
    with pytest.raises(Nonconformance) as caught:
        s.call("DescribeCustomKeyStores")
    failure = caught.value.failure
    assert failure.rules[0].startswith("DESC-") and "CustomKeyStores[0]" in failure.detail


def test_an_effect_nobody_saw_is_blamed_when_its_absence_explains_the_answer():
    """CONNECT-11 broken (kmsuser's password never rotated): after a connect and a disconnect, an
    idempotent Create retry (CREATE-10) with the original password succeeds where the model, whose connect rotated the store's
    password, says the name is in use. The answer is the model's in a world where the rotation
    never happened: CONNECT-11 is blamed, not the CREATE-03 row the answer contradicts."""
    s = Session.open("mutant:CONNECT-11")
    s.setup()
    cluster = s.world.clusters[0]
    request = dict(CustomKeyStoreName="store-a", CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
                   TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password(0))
    s.call("CreateCustomKeyStore", **request)
    store = ids.store_id(s.world.stores[0].store_id)
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    s.settle()
    s.call("DisconnectCustomKeyStore", CustomKeyStoreId=store)
    s.settle()
    with pytest.raises(Nonconformance) as caught:
        s.call("CreateCustomKeyStore", **request)
    failure = caught.value.failure
    assert failure.rules[0] == "CONNECT-11", failure.message
    assert "rotate_kmsuser_password" in failure.message
