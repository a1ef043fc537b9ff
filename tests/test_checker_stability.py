"""The checker's blind spots (issue 10 §4): members that change after first sight (DESC-05, KEY-07,
DK-01), passwords leaked in an encoding or under a member name (KU-04), a store stuck in
DISCONNECTING (TR-05, AMB-04), and a settle poll on a target that pages by one (DESC-04).

Each deviation is a small wrapper around the reference target; the reference itself stays conformant."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import quote

import pytest

from ckspec.conformance import Inconclusive, Nonconformance, Session, password
from ckspec.conformance.reference import ReferenceTarget
from ckspec.conformance.scorecard import ScorecardOptions, scorecard
from ckspec.conformance.session import _password_value
from ckspec.conformance.targets import TargetSpec
from ckspec.model import Call
from ckspec.model import identifiers as ids


def _store(s: Session, name: str = "store-a", cluster: int = 0) -> str:
    c = s.world.clusters[cluster]
    s.call("CreateCustomKeyStore", CustomKeyStoreName=name, CloudHsmClusterId=ids.cluster_id(c.cluster_id),
           TrustAnchorCertificate=c.trust_anchor, KeyStorePassword=password(0))
    return ids.store_id(s.world.stores[-1].store_id)


def _connected_key(s: Session) -> str:
    store = _store(s)
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    s.settle()
    s.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")
    return ids.key_id(s.world.keys[-1].key_id)


# --- stability from first sight -----------------------------------------------------------------------


class CreationDateDrifts(ReferenceTarget):
    """Each listing shows a store's CreationDate one second later than the last."""

    reads = 0

    def call(self, operation, params):
        reply = super().call(operation, params)
        if operation == "DescribeCustomKeyStores" and reply.ok:
            self.reads += 1
            for entry in reply.body["CustomKeyStores"]:
                entry["CreationDate"] = entry["CreationDate"] + dt.timedelta(seconds=self.reads)
        return reply


class DeletionDateDrifts(ReferenceTarget):
    """DescribeKey shows a scheduled DeletionDate a day later than ScheduleKeyDeletion said."""

    def call(self, operation, params):
        reply = super().call(operation, params)
        meta = (reply.body or {}).get("KeyMetadata") if reply.ok else None
        if operation == "DescribeKey" and meta and "DeletionDate" in meta:
            meta["DeletionDate"] = meta["DeletionDate"] + dt.timedelta(days=1)
        return reply


class KeyCreationDateDrifts(ReferenceTarget):
    def call(self, operation, params):
        reply = super().call(operation, params)
        if operation == "DescribeKey" and reply.ok:
            reply.body["KeyMetadata"]["CreationDate"] = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
        return reply


def test_a_store_creation_date_that_changes_fails_desc_05():
    """DESC-05: a store's CreationDate must stay what the target first showed; a second listing
    with another date is a failure naming the rule (before, only its presence was checked)."""
    s = Session(CreationDateDrifts())
    s.setup()
    _store(s)
    s.call("DescribeCustomKeyStores")  # first sight
    with pytest.raises(Nonconformance) as caught:
        s.call("DescribeCustomKeyStores")
    assert caught.value.failure.rules[0] == "DESC-05"
    assert "CreationDate changed" in str(caught.value)


def test_a_key_creation_date_that_changes_fails_key_07():
    """KEY-07: KeyMetadata's CreationDate is fixed from CreateKey on."""
    s = Session(KeyCreationDateDrifts())
    s.setup()
    key = _connected_key(s)
    with pytest.raises(Nonconformance) as caught:
        s.call("DescribeKey", KeyId=key)
    assert caught.value.failure.rules == ("KEY-07",)


def test_a_scheduled_deletion_date_that_moves_fails_dk_01_and_a_new_schedule_may_move_it():
    """DK-01: the DeletionDate ScheduleKeyDeletion returns holds while the deletion stays
    scheduled; after CancelKeyDeletion a new schedule sets a new one (no failure)."""
    ok = Session(ReferenceTarget())
    ok.setup()
    key = _connected_key(ok)
    ok.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)
    ok.call("CreateCustomKeyStore", CustomKeyStoreName="store-b", CloudHsmClusterId=ids.cluster_id(4),
            TrustAnchorCertificate=ok.world.clusters[1].trust_anchor, KeyStorePassword=password(0))
    ok.call("DescribeKey", KeyId=key)  # the world's clock moved on: the date did not
    ok.call("CancelKeyDeletion", KeyId=key)
    ok.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=30)
    ok.call("DescribeKey", KeyId=key)

    s = Session(DeletionDateDrifts())
    s.setup()
    key = _connected_key(s)
    s.call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)
    with pytest.raises(Nonconformance) as caught:
        s.call("DescribeKey", KeyId=key)
    assert caught.value.failure.rules == ("DK-01",)
    assert "DeletionDate" in str(caught.value)


# --- secrets in any encoding --------------------------------------------------------------------------


def _leaky(encode, member="Description"):
    class Leaky(ReferenceTarget):
        def call(self, operation, params):
            reply = super().call(operation, params)
            if operation == "DescribeCustomKeyStores" and reply.ok:
                for entry in reply.body["CustomKeyStores"]:
                    entry[member] = encode(_password_value(0))
            return reply
    return Leaky


ENCODINGS = {
    "verbatim": lambda p: f"kmsuser:{p}",
    "base64": lambda p: base64.b64encode(f"kmsuser:{p}".encode()).decode(),
    "base64 url-safe unpadded": lambda p: base64.urlsafe_b64encode(p.encode()).decode().rstrip("="),
    "hex": lambda p: p.encode().hex(),
    "HEX": lambda p: p.encode().hex().upper(),
    "URL-encoded": lambda p: "".join(f"%{b:02X}" for b in p.encode()),
    "partly URL-encoded": lambda p: "user%3D" + p[:3] + f"%{ord(p[3]):02X}" + quote(p[4:]),
    "bytes": lambda p: p.encode(),
}


@pytest.mark.parametrize("how", sorted(ENCODINGS))
def test_a_password_in_any_common_encoding_fails_ku_04_without_showing_it(how):
    """KU-04: a reply holding the kmsuser password verbatim, base64 (any alignment, URL-safe,
    unpadded), hex or URL-encoded is a failure; the message says where and how, never the value."""
    s = Session(_leaky(ENCODINGS[how])())
    s.setup()
    _store(s)
    with pytest.raises(Nonconformance) as caught:
        s.call("DescribeCustomKeyStores")
    failure = caught.value.failure
    assert failure.rules[0] == "KU-04"
    secret = _password_value(0)
    text = f"{caught.value} {failure.detail} {failure.observed}"
    for form in (secret, secret.encode().hex(), base64.b64encode(secret.encode()).decode()):
        assert form not in text


@pytest.mark.parametrize("member", ["KeyStorePassword", "password", "kmsuserPassword"])
def test_a_member_named_for_a_password_fails_ku_04_whatever_it_holds(member):
    """KU-04: a member whose name mentions a password is a leak even when its value is not the password."""
    s = Session(_leaky(lambda p: "********", member)())
    s.setup()
    _store(s)
    with pytest.raises(Nonconformance, match=f"KU-04.*member named '{member}'"):
        s.call("DescribeCustomKeyStores")


# --- a store stuck in DISCONNECTING -------------------------------------------------------------------


class DisconnectNeverEnds(ReferenceTarget):
    """A disconnect never completes: the store stays DISCONNECTING (AMB-04 says it ends)."""

    def complete(self, world, event):
        return world if event.event == "DisconnectCompletes" else super().complete(world, event)


def _disconnecting(s: Session) -> None:
    store = _store(s)
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    s.settle()
    s.call("DisconnectCustomKeyStore", CustomKeyStoreId=store)


def test_stuck_disconnecting_under_a_controlled_clock_fails_tr_05():
    """TR-05, AMB-04: under a controlled clock, a store still DISCONNECTING after the polls and a
    grace hour is a failure blamed on TR-05; the reference settles."""
    ok = Session(ReferenceTarget(), poll_budget=3)
    ok.setup()
    _disconnecting(ok)
    ok.settle()
    assert ok.world.stores[0].state.value == "DISCONNECTED"

    s = Session(DisconnectNeverEnds(), poll_budget=3)
    s.setup()
    _disconnecting(s)
    with pytest.raises(Nonconformance) as caught:
        s.settle()
    assert caught.value.failure.rules[:2] == ("TR-05", "AMB-04")
    assert "DISCONNECTING" in str(caught.value)


def test_stuck_disconnecting_on_a_real_clock_is_inconclusive_naming_amb_04_and_not_a_pass():
    """AMB-04: on a real clock ckspec cannot tell how long is too long: inconclusive, naming AMB-04,
    and the example no longer counts TR-05 as exercised, so a scorecard does not read it pass."""
    s = Session(DisconnectNeverEnds(controlled_clock=False), poll_budget=3, poll_interval=1.0)
    s.setup()
    _disconnecting(s)
    assert s.coverage.rules["TR-05"]
    with pytest.raises(Inconclusive, match="AMB-04"):
        s.settle()
    assert "TR-05" not in s.coverage.rules and "AMB-04" not in s.coverage.rules


class OnlyDisconnects(DisconnectNeverEnds):
    """Real clock, and every example goes straight to a disconnect that never ends."""

    def __init__(self, seed=0):
        super().__init__(seed, controlled_clock=False)


def test_scorecard_does_not_pass_tr_05_on_a_target_whose_disconnects_never_end():
    """AMB-04, TR-05: the scorecard of a real-clock target whose disconnects never end does not
    read TR-05 pass (the reference's does)."""
    options = ScorecardOptions(examples=40, steps=40, poll_budget=3, poll_interval=1.0, minimise=False)
    card = scorecard(TargetSpec("stuck-disconnect", OnlyDisconnects), options)
    verdicts = {r.id: r.status for r in card.rules()}
    assert any(reason.startswith("AMB-04") for reason in card.inconclusive)
    assert verdicts["TR-05"] != "pass" and verdicts["AMB-04"] != "pass"
    reference = scorecard(TargetSpec("reference", ReferenceTarget), options)
    assert {r.id: r.status for r in reference.rules()}["TR-05"] == "pass"


# --- a target that pages one store at a time ----------------------------------------------------------


class PagesByOne(ReferenceTarget):
    """DescribeCustomKeyStores without a Limit answers one store per page (allowed, DESC-04)."""

    def perform(self, world, call):
        if call.operation == "DescribeCustomKeyStores" and "Limit" not in call.kwargs and not (
                {"CustomKeyStoreId", "CustomKeyStoreName"} & set(call.kwargs)):
            call = Call.of(call.operation, {**call.kwargs, "Limit": 1})
        return super().perform(world, call)


def test_settle_follows_next_marker_on_a_target_that_pages_by_one():
    """DESC-04: the settle poll reads every page, so a second store's connection settles on a
    target that pages one store at a time (before, only the first page was read: inconclusive)."""
    s = Session(PagesByOne(), poll_budget=5)
    s.setup()
    first = _store(s, "store-a", 0)
    second = _store(s, "store-b", 1)
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=second)
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=first)
    s.settle()
    assert {st.state.value for st in s.world.stores} == {"CONNECTED"}
    assert s.coverage.rules["DESC-04"]


def test_the_reference_target_stays_conformant():
    from ckspec.conformance import CheckOptions, check

    for seed in (1, 2):
        result = check(TargetSpec("reference", ReferenceTarget), CheckOptions(examples=40, steps=40, seed=seed))
        assert result.verdict == "conformant", result.failures[:1]
