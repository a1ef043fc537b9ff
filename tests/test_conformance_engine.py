"""The conformance engine against the reference target: no false alarms, asynchrony and eventual
consistency (TR-01, AMB-30, T-02), bounded polling (CONNECT-09), unsupported operations, ID mapping."""

from __future__ import annotations

import pytest

from ckspec.conformance import (Inconclusive, Nonconformance, ReferenceTarget, Reply, Session, TargetSpec, check,
                                load_target, password, unsupported_signature)
from ckspec.conformance.engine import CheckOptions
from ckspec.model import identifiers as ids


def _session(target: str = "reference", **options) -> tuple[Session, str]:
    """A session with the starting account and one store on the first cluster."""
    s = Session.open(target, **options)
    s.setup()
    cluster = s.world.clusters[0]
    s.call("CreateCustomKeyStore", CustomKeyStoreName="store-a", CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
           TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password(0))
    return s, ids.store_id(s.world.stores[0].store_id)


@pytest.mark.parametrize("target", ["reference", "reference:random", "reference:free"])
def test_reference_target_is_conformant(target):
    """No false alarms: the model behind the adapter, with fixed or random delays, random documented
    choices (AMB-02, AMB-05, ...), reads that lag (AMB-30) and a free-running clock, passes."""
    result = check(load_target(target), CheckOptions(examples=120, steps=60, seed=3))
    assert result.verdict == "conformant", [f.message for f in result.failures] + result.inconclusive[:1]
    assert result.failures == [] and result.inconclusive == []
    assert result.steps > 1000
    # the run went places: CONNECTED reached, a connection attempt failed, keys were created
    edges = {(a, b) for a, b, _ in result.coverage.transitions}
    assert ("CONNECTING", "CONNECTED") in edges and ("CONNECTING", "FAILED") in edges
    assert any(op == "CreateKey" and out.startswith("200") for _, op, out in result.coverage.cells)
    # swarm testing reaches the rare sequences: a kmsuser lockout (CEC-08, AMB-25), a restore from
    # backup (CL-05), paging through stores (DESC-04)
    assert result.coverage.sequences["FAILED with USER_LOCKED_OUT"] and result.coverage.rules["CEC-08"]
    assert result.coverage.environment[("restore_backup", True)]
    assert result.coverage.sequences["paged"]


def test_a_read_right_after_connect_may_lag_but_not_jump_ahead():
    """TR-01, AMB-30: right after Connect a Describe shows DISCONNECTED (lagging) or CONNECTING; the
    reference target lags. With the engine controlling the clock, CONNECTED before time passes is a
    failure (TR-01, CONNECT-02: Connect does not wait for the outcome)."""
    s, store = _session()
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    lagging = s.call("DescribeCustomKeyStores", CustomKeyStoreId=store)
    assert lagging.body["CustomKeyStores"][0]["ConnectionState"] == "DISCONNECTED"
    s.settle()
    assert s.call("DescribeCustomKeyStores").body["CustomKeyStores"][0]["ConnectionState"] == "CONNECTED"

    sync, store = _session("mutant:TR-01")
    sync.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    with pytest.raises(Nonconformance) as caught:
        sync.call("DescribeCustomKeyStores")
    # the read is what the model shows once the attempt has succeeded: the target is ahead of the
    # model, and the broken rule is the one that makes Connect asynchronous (TR-01); the rules of
    # the transition it jumped to are context, not blamed
    failure = caught.value.failure
    assert failure.rules[0] == "TR-01" and "TR-02" in failure.context and "TR-02" not in failure.rules


def test_with_a_real_clock_a_fast_connect_is_one_of_the_possible_worlds():
    """TR-01: when work may complete between any two calls, a Connect that is already CONNECTED at the
    next Describe is allowed; the checker keeps both worlds until an observation decides."""
    s, store = _session("mutant:TR-01")
    s.capabilities = type(s.capabilities)(operations=s.capabilities.operations,
                                          environment=s.capabilities.environment, controlled_clock=False,
                                          real_setup=s.capabilities.real_setup)
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    assert len(s.worlds.worlds) == 1
    s.call("DescribeCustomKeyStores")
    assert {w.store(w.stores[0].store_id).state.value for w in s.worlds.worlds} == {"CONNECTED"}


def test_target_identifiers_are_mapped_to_the_models():
    """The reference target hands out its own store, cluster and key IDs; the engine maps them."""
    s, store = _session()
    target_store = s.binding.to_target[store]
    assert target_store != store and target_store.startswith("cks-")
    assert s.binding.to_target[ids.cluster_id(1)] != ids.cluster_id(1)
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    s.settle()
    s.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")
    key = ids.key_id(s.world.keys[0].key_id)
    assert s.binding.to_target[key] != key
    assert s.call("DescribeKey", KeyId=key).body["KeyMetadata"]["KeyId"] == s.binding.to_target[key]


class StuckTarget(ReferenceTarget):
    """Connection attempts never complete (CONNECT-09: they may take about 20 minutes)."""

    def complete(self, world, event):
        return world if event.event == "ConnectionAttemptCompletes" else super().complete(world, event)


def test_polling_out_of_budget_is_inconclusive_not_a_failure():
    """CONNECT-09: a Connect that does not finish within the polling budget makes the example
    inconclusive; the run's verdict is inconclusive, never non-conformant."""
    s = Session(StuckTarget(), poll_budget=3)
    s.setup()
    cluster = s.world.clusters[0]
    s.call("CreateCustomKeyStore", CustomKeyStoreName="store-a", CloudHsmClusterId=ids.cluster_id(1),
           TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password(0))
    s.call("ConnectCustomKeyStore", CustomKeyStoreId=ids.store_id(s.world.stores[0].store_id))
    with pytest.raises(Inconclusive, match="3 polls"):
        s.settle()
    result = check(TargetSpec("stuck", StuckTarget), CheckOptions(examples=60, steps=40, seed=3, poll_budget=3))
    assert result.verdict == "inconclusive" and result.failures == [] and result.inconclusive


class PartialTarget(ReferenceTarget):
    """No KMS keys: CreateKey raises NotImplementedError (moto in-process), GenerateRandom answers 501."""

    def call(self, operation, params):
        if operation == "CreateKey":
            raise NotImplementedError(operation)
        if operation == "GenerateRandom":
            return Reply(501, "InternalFailure", "not implemented")
        return super().call(operation, params)


def test_not_implemented_is_unsupported_not_a_failure():
    """The four "not implemented" signatures are classified as unsupported, distinct from pass and fail;
    the engine stops generating what the target lacks; rules only those operations encode (KEY-02)
    are reported unsupported."""
    assert unsupported_signature(exc=NotImplementedError()) == "NotImplementedError"
    assert unsupported_signature(Reply(501, "InternalFailure")) == "HTTP 501 InternalFailure"
    local_kms = Reply(501, "UnsupportedOperationException")
    assert unsupported_signature(local_kms) == "HTTP 501 UnsupportedOperationException"
    moto_server = Reply(500, "500", "<html><body>Internal</body></html>")
    assert unsupported_signature(moto_server) == "HTTP 500 with an HTML body"
    assert unsupported_signature(Reply(400, "InvalidAction", "Unknown action")) == "HTTP 400 InvalidAction"
    assert unsupported_signature(Reply(400, "UnsupportedOperationException", "KS-09")) is None  # a model answer
    assert unsupported_signature(Reply(500, "KMSInternalException", "CEC-04: ...")) is None

    result = check(TargetSpec("partial", PartialTarget), CheckOptions(examples=150, steps=60, seed=5))
    assert result.verdict == "conformant", [f.message for f in result.failures]
    assert result.unsupported["CreateKey"] == "NotImplementedError"
    assert "CreateKey" in result.unsupported
    statuses = {r["id"]: r["status"] for r in result.rule_statuses()}
    assert statuses["KEY-02"] == "unsupported"
    assert statuses["CONNECT-03"] == "pass"


def test_an_example_never_sees_another_examples_target():
    """Each example gets a fresh target (isolation, also what pytest-xdist shards rely on)."""
    a, b = load_target("reference").make(1), load_target("reference").make(1)
    assert a is not b and a.world is not None and a.world == b.world


class PositionalMarkers(ReferenceTarget):
    """Pagination markers are positions ("1", "2", ...), reused by every listing, as many services do."""

    def call(self, operation, params):
        if operation == "DescribeCustomKeyStores" and "Marker" in params:
            params = {**params, "Marker": self._markers.get(params["Marker"], "no-such-marker")}
        reply = super().call(operation, params)
        body = reply.body or {}
        if "NextMarker" in body:
            position = str(len(body["CustomKeyStores"]) + int(self._last.get(params.get("Marker"), 0)))
            self._markers[position] = body["NextMarker"]
            self._last[body["NextMarker"]] = position
            reply = Reply(reply.status, reply.error, reply.message, {**body, "NextMarker": position})
        return reply

    def __init__(self, seed=0):
        super().__init__(seed)
        self._markers, self._last = {}, {}


def test_pagination_markers_are_not_identifiers():
    """DESC-04: a target may hand out the same marker for a different page later; that is conformant."""
    s = Session(PositionalMarkers())
    s.setup()
    for i, cluster in enumerate(s.world.clusters[:3]):
        s.call("CreateCustomKeyStore", CustomKeyStoreName=f"store-{i}", CloudHsmClusterId=ids.cluster_id(
            cluster.cluster_id), TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password(0))
    s.paginate(limit=1)
    s.call("DeleteCustomKeyStore", CustomKeyStoreId=ids.store_id(s.world.stores[0].store_id))
    s.paginate(limit=1)  # marker "1" now means "after the second store"
    assert s.coverage.sequences["paged"] == 3


def test_a_run_in_which_no_step_ran_is_inconclusive_not_conformant():
    """Only the starting account was built: nothing was tested (a tiny run against moto did this)."""
    from ckspec.conformance.engine import RunResult

    result = RunResult(target="t", seed=0)
    result.examples = 2
    assert result.verdict == "inconclusive"
    assert "no step ran in 2 example(s)" in result.verdict_reasons()[0]
    result.steps = 1
    assert result.verdict == "inconclusive" and "no CreateCustomKeyStore was tried" in result.verdict_reasons()[0]
    result.coverage.cells[("absent", "CreateCustomKeyStore", "200 OK")] += 1
    assert result.verdict == "conformant"
