"""The boto3 adapter over the real wire: the conformance suite against ckspec serve, what the
adapter detects about an endpoint, and that a bug behind the wire is still caught."""

from __future__ import annotations


import pytest

from ckspec.conformance import load_target
from ckspec.conformance.adapter import SETUP_CONTROLS
from ckspec.conformance.engine import CheckOptions, check
from ckspec.conformance.mutants import MUTANTS
from ckspec.conformance.wire import BotoTarget
from ckspec.emulator import serving
from ckspec.model.environment import EVENTS
from stub_endpoint import JsonHandler, loopback_server


def test_the_conformance_suite_passes_over_the_wire_against_ckspec_serve():
    with serving(clock="manual") as endpoint:
        result = check(load_target(endpoint), CheckOptions(examples=30, steps=60, seed=11, failures_dir=None))
    assert result.verdict == "conformant", [f.message for f in result.failures]
    assert not result.unsupported
    # the environment went through CloudHSM v2 and the test-control extension, not fakes
    exercised = {rule for rule, count in result.coverage.rules.items() if count}
    assert {"CONNECT-06", "CEC-05", "KU-07"} & exercised
    assert result.steps > 30 * 20


def test_random_documented_choices_on_a_real_clock_also_conform():
    with serving(clock="real", connect_delay=0.05, lag=0.02, choices="random", seed=4) as endpoint:
        result = check(load_target(endpoint),
                       CheckOptions(examples=12, steps=40, seed=2, failures_dir=None, poll_interval=0.05))
    assert result.verdict == "conformant", [f.message for f in result.failures]


def test_what_the_adapter_detects_about_ckspec_serve():
    with serving(clock="manual") as endpoint:
        target = BotoTarget(endpoint_url=endpoint)
        assert target.has_cloudhsm and target.info is not None
        assert target.capabilities.controlled_clock and target.capabilities.environment == frozenset(EVENTS)
        without_control = BotoTarget(endpoint_url=endpoint, control=False)
        assert not without_control.capabilities.controlled_clock
        # CloudHSM v2 for clusters and HSMs, thin fakes for what only the CloudHSM CLI does
        assert without_control.capabilities.environment == SETUP_CONTROLS | {
            "delete_hsm", "delete_cluster", "restore_backup"}
    with serving(clock="real") as endpoint:
        assert not BotoTarget(endpoint_url=endpoint).capabilities.controlled_clock


def test_the_environment_goes_through_cloudhsm_v2():
    with serving(clock="manual") as endpoint:
        target = BotoTarget(endpoint_url=endpoint)
        cluster = target.environment("create_cluster", (2,))
        assert cluster.applied and cluster.created.startswith("cluster-")
        hsm = target.environment("create_hsm", (cluster.created, "us-east-1b"))
        assert hsm.applied and hsm.created.startswith("hsm-")
        anchor = target.environment("initialize_cluster", (cluster.created,))
        assert anchor.applied and "BEGIN CERTIFICATE" in anchor.created
        shown = target.cloudhsm.describe_clusters(Filters={"clusterIds": [cluster.created]})["Clusters"][0]
        assert [h["HsmId"] for h in shown["Hsms"]] == [hsm.created]
        assert shown["State"] in ("INITIALIZING", "INITIALIZED")
        # an HSM in a zone without a subnet of the cluster is refused, not an error (the model agrees)
        assert not target.environment("create_hsm", (cluster.created, "us-east-1c")).applied


def test_a_bug_behind_the_wire_is_caught(monkeypatch):
    import ckspec.emulator.account as account

    monkeypatch.setattr(account, "ReferenceTarget", MUTANTS["CONNECT-03-connect-accepted-on-failed"])
    with serving(clock="manual") as endpoint:
        result = check(load_target(endpoint), CheckOptions(examples=200, steps=60, seed=0, failures_dir=None,
                                                           shrink=False))
    assert result.verdict == "non-conformant"
    assert "CONNECT-03" in result.failures[0].rules
    assert "Session.open('http://127.0.0.1:" in result.failures[0].program


class _NotImplemented(JsonHandler):
    """An endpoint that implements nothing, as LocalStack answers what it lacks: HTTP 501."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer(501, {"__type": "NotImplemented", "message": "not yet"})

    do_GET = do_POST  # noqa: N815


@pytest.fixture
def not_implemented_endpoint():
    with loopback_server(_NotImplemented) as url:
        yield url


def test_an_endpoint_that_implements_nothing_is_unsupported_not_failing(not_implemented_endpoint):
    target = BotoTarget(endpoint_url=not_implemented_endpoint)
    assert not target.has_cloudhsm and target.info is None
    with pytest.raises(NotImplementedError):
        target.environment("delete_hsm", ("cluster-x", "hsm-x"))
    reply = target.call("DescribeCustomKeyStores", {})
    assert (reply.status, reply.error) == (501, "NotImplemented")


def test_an_unreachable_endpoint_is_reported_as_such(capsys):
    from ckspec.main import main

    with serving() as endpoint:
        pass  # stopped: nothing listens there any more
    assert main(["check", "--target", endpoint, "--examples", "1"]) == 3
    assert "unreachable" in capsys.readouterr().err


def test_the_serve_target_starts_ckspec_serve_for_the_run_and_stops_it():
    import socket

    with load_target("serve") as spec:
        result = check(spec, CheckOptions(examples=8, steps=40, seed=5, failures_dir=None))
        url = spec.factory.server.url
        assert url.startswith("http://127.0.0.1:")
    assert result.verdict == "conformant" and result.steps > 0
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # stopped with the run: nothing listens there any more
