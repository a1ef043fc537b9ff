"""Transport faults are not behaviour (issue 10 §1): the fault proxy, the classifier, and
``ckspec check`` against ``ckspec serve`` through the proxy in every fault mode: never
non-conformant, never a false green, never a traceback or Hypothesis Flaky, faults counted."""

from __future__ import annotations

import http.client
import json
import socket
import time

import attrs
import botocore.exceptions
import pytest
import urllib3.exceptions

from ckspec.conformance.adapter import Reply
from ckspec.conformance.engine import CORE_OPERATIONS, RunResult
from ckspec.conformance.fault_proxy import MODES, FaultPlan, FaultProxy
from ckspec.conformance.fault_proxy import main as proxy_main
from ckspec.conformance.transport import (REPEATS, FaultRecord, NotImplementedEvidence, TransportFault,
                                          classify_answer, classify_exception, redact)
from ckspec.conformance.wire import BotoTarget
from ckspec.emulator import serving
from ckspec.main import main

#: the kind of transport fault each proxy mode must be reported as
KIND = {"drop": {"connection closed", "connection reset"}, "reset": {"connection reset", "connection closed"},
        "delay": {"read timeout"}, "truncate": {"truncated body"}, "corrupt": {"garbled body"},
        "html500": {"server error"}, "throttle": {"throttled"}}


# --- the proxy ---------------------------------------------------------------------------------------

def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes, dict[str, str]]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", "/_ckspec")
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def endpoint():
    with serving(clock="manual") as url:
        yield url


def test_each_mode_spoils_the_answer_as_it_says(endpoint):
    status, body, _ = _get(endpoint)
    assert status == 200 and json.loads(body)["protocol"] == "ckspec-test-control"
    seen = {}
    for mode in MODES:
        with FaultProxy(endpoint, modes=(mode,), rate=1.0, seed=3, delay=0.6) as proxy:
            assert proxy.url.startswith("http://127.0.0.1:")
            try:
                seen[mode] = _get(proxy.url, timeout=0.3)[:2]
            except (socket.timeout, TimeoutError):
                seen[mode] = "timeout"
            except http.client.IncompleteRead:
                seen[mode] = "incomplete"
            except (ConnectionResetError, http.client.RemoteDisconnected) as exc:
                seen[mode] = type(exc).__name__
            assert proxy.faults == {mode: 1} and proxy.requests == 1
    assert seen["drop"] in ("RemoteDisconnected", "ConnectionResetError")
    assert seen["reset"] == "ConnectionResetError"
    assert seen["delay"] == "timeout" and seen["truncate"] == "incomplete"
    status, body = seen["corrupt"]
    assert status == 200 and pytest.raises(ValueError, json.loads, body)
    assert seen["html500"][0] == 500 and seen["html500"][1].startswith(b"<!doctype html>")
    assert seen["throttle"][0] == 400 and json.loads(seen["throttle"][1])["__type"] == "ThrottlingException"


def test_the_faults_follow_from_the_seed_and_stop_at_the_budget(endpoint):
    def run(seed: int, budget: int | None) -> list[int]:
        with FaultProxy(endpoint, modes=("html500", "throttle"), rate=0.3, seed=seed, budget=budget) as proxy:
            return [_get(proxy.url)[0] for _ in range(40)]

    first = run(5, None)
    assert first == run(5, None) and first != run(6, None)
    assert 0 < sum(s != 200 for s in first) < 40
    assert sum(s != 200 for s in run(5, 2)) == 2


def test_the_proxy_stops_by_itself_and_refuses_bad_plans(endpoint, capsys):
    proxy = FaultProxy(endpoint, rate=0.0, lifetime=0.3).start()
    port = int(proxy.url.rpartition(":")[2])
    time.sleep(0.8)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(ValueError, match="fault modes"):
        FaultPlan(modes=("explode",))
    with pytest.raises(ValueError, match="rate"):
        FaultPlan(rate=2.0)
    with pytest.raises(ValueError, match="upstream"):
        FaultProxy("ftp://somewhere")
    assert proxy_main([endpoint, "--modes", "explode"]) == 2
    assert "fault_proxy: fault modes must be some of" in capsys.readouterr().err
    assert proxy_main([endpoint, "--rate", "0.5", "--lifetime", "0.2"]) == 0
    assert "fault proxy stopped: 0 requests" in capsys.readouterr().out


# --- the classifier ----------------------------------------------------------------------------------

JSON = {"Content-Type": "application/x-amz-json-1.1"}


@pytest.mark.parametrize("status,headers,body,kind", [
    (200, {**JSON, "Content-Length": "40"}, b'{"CustomKeyStores":[', "truncated body"),
    (200, JSON, b"&#~~CustomKeyStores':[]}", "garbled body"),
    (200, JSON, b"[1, 2]", "garbled body"),
    (500, {"Content-Type": "text/html"}, b"<!doctype html><title>500</title>", "server error"),
    (502, {}, b"Bad Gateway", "server error"),
    (500, JSON, b'{"__type":"InternalFailure","message":"oops"}', "server error"),
    (400, JSON, b'{"__type":"ThrottlingException","message":"Rate exceeded"}', "throttled"),
    (500, JSON, b'{"__type":"KMSInternalException","message":"x"}', None),  # documented (CEC-04)
    (503, JSON, b'{"__type":"DependencyTimeoutException","message":"x"}', None),  # documented
    (400, JSON, b'{"__type":"CustomKeyStoreInvalidStateException","message":"x"}', None),
    (200, JSON, b'{"CustomKeyStores":[],"Truncated":false}', None),
    (200, JSON, b"", None),
    (501, JSON, b'{"__type":"NotImplemented","message":"not yet"}', None),  # not implemented: unambiguous
    (500, JSON, b'{"__type":"UnknownOperationException"}', None),
])
def test_answers_are_classified(status, headers, body, kind):
    assert classify_answer(status, headers, body) == kind


def test_exceptions_are_classified():
    closed = botocore.exceptions.ConnectionClosedError(endpoint_url="http://127.0.0.1:1")
    reset = botocore.exceptions.ConnectionClosedError(endpoint_url="http://127.0.0.1:1")
    reset.__context__ = urllib3.exceptions.ProtocolError("Connection aborted.")
    reset.__context__.__context__ = ConnectionResetError(104, "Connection reset by peer")
    assert classify_exception(closed) == "connection closed"
    assert classify_exception(reset) == "connection reset"
    assert classify_exception(botocore.exceptions.ReadTimeoutError(endpoint_url="x")) == "read timeout"
    assert classify_exception(http.client.IncompleteRead(b"{")) == "truncated body"
    assert classify_exception(http.client.RemoteDisconnected("gone")) == "connection closed"
    assert classify_exception(ValueError("a bug")) is None
    assert classify_exception(botocore.exceptions.ParamValidationError(report="x")) is None


def test_raw_answers_keep_no_password():
    raw = '{"KeyStorePassword": "Psecret123", "Other": 1, "password":"p2"} Psecret999'
    kept = redact(raw, ["Psecret999"])
    assert "Psecret" not in kept and "p2" not in kept and '"Other": 1' in kept
    assert len(redact("x" * 1000)) < 320


def test_one_html_500_proves_nothing_three_with_no_other_answer_do():
    evidence = NotImplementedEvidence()
    signature = "HTTP 500 with an HTML body"
    assert [evidence.conclusive("CreateCustomKeyStore", signature) for _ in range(REPEATS)] == [False] * (
        REPEATS - 1) + [True]
    evidence.answered("ConnectCustomKeyStore")
    assert not any(evidence.conclusive("ConnectCustomKeyStore", signature) for _ in range(5))
    assert NotImplementedEvidence(trusted=True).conclusive("DeleteCustomKeyStore", signature)


def test_a_mutating_call_is_not_retried_a_read_only_one_is(endpoint):
    """Once the adapter is made, every request is reset until the budget runs out: a read-only
    call is retried through two faults, a mutating one ends at its first."""
    with FaultProxy(endpoint, modes=("reset",), rate=0.0, seed=1) as proxy:
        target = BotoTarget(0, endpoint_url=proxy.url, control=False)
        proxy.plan = attrs.evolve(proxy.plan, rate=1.0, budget=2)
        assert target.call("DescribeCustomKeyStores", {}).ok
        assert [(r.kind, r.operation) for r in target.faults] == [("connection reset", "DescribeCustomKeyStores")] * 2
        proxy.plan = attrs.evolve(proxy.plan, budget=3)
        with pytest.raises(TransportFault) as caught:
            target.call("CreateKey", {})
        assert caught.value.kind == "connection reset" and caught.value.record.operation == "CreateKey"
        assert proxy.faults["reset"] == 3  # not retried: its outcome is unknown
        assert target.call("DescribeCustomKeyStores", {}).ok  # the budget is spent


def test_verdicts_with_faults_and_unsupported_core_operations():
    clean = RunResult("t", 0, examples=4, steps=20)
    clean.coverage.cells[("absent", "CreateCustomKeyStore", "200 OK")] = 1
    assert clean.verdict == "conformant"
    faulted = RunResult("t", 0, examples=4, steps=5)
    faulted.coverage.cells[("absent", "CreateCustomKeyStore", "200 OK")] = 1
    faulted.abandoned["read timeout"] = 3
    faulted.transport_faults["read timeout"] = 5
    assert faulted.verdict == "conformant"  # from the one example that completed
    faulted.abandoned["read timeout"] = 4
    assert faulted.verdict == "inconclusive" and "every example" in faulted.verdict_reasons()[0]
    lacking = RunResult("t", 0, examples=4, unsupported={"CreateCustomKeyStore": "HTTP 501 NotImplemented"})
    assert lacking.verdict == "inconclusive" and "CreateCustomKeyStore" in lacking.verdict_reasons()[0]
    assert "CreateCustomKeyStore" in CORE_OPERATIONS
    assert isinstance(TransportFault(FaultRecord("throttled", "X"), Reply(500, "500")).reply, Reply)


# --- ckspec check through the proxy ------------------------------------------------------------------

def _check_through(endpoint: str, tmp_path, capsys, modes: tuple[str, ...], rate: float, seed: int,
                   examples: int = 6) -> tuple[int, dict, str, FaultProxy]:
    report = tmp_path / f"{'-'.join(modes)}-{seed}.json"
    with FaultProxy(endpoint, modes=modes, rate=rate, seed=seed, delay=1.3) as proxy:
        code = main(["check", "--target", proxy.url, "--examples", str(examples), "--steps", "15", "--seed",
                     str(seed), "--no-save", "--request-timeout", "1", "--json", str(report)])
    out = capsys.readouterr()
    return code, json.loads(report.read_text()), out.out + out.err, proxy


@pytest.mark.parametrize("mode", MODES)
def test_check_through_the_fault_proxy_blames_nothing_on_the_target(mode, endpoint, tmp_path, capsys):
    code, report, output, proxy = _check_through(endpoint, tmp_path, capsys, (mode,), 0.04, seed=7)
    assert code in (0, 4), output
    assert "Traceback" not in output and "Flaky" not in output and "FAILURE" not in output
    assert not report["failures"]
    faults = report["transport_faults"]
    assert sum(proxy.faults.values()) > 0, "the proxy injected nothing: raise the rate"
    assert 0 < faults["total"] <= sum(proxy.faults.values()) and set(faults["by_kind"]) <= KIND[mode]
    assert faults["total"] == sum(faults["by_kind"].values())
    assert report["abandoned_examples"]["total"] == sum(report["abandoned_examples"]["by_kind"].values())
    assert all(s["kind"] in KIND[mode] and "KeyStorePassword\": \"P" not in s["raw"] for s in faults["samples"])
    assert "transport faults (not the target's behaviour)" in output
    if code == 0:  # a green run tested the core lifecycle
        assert not set(report["unsupported"]) & set(CORE_OPERATIONS) and report["verdict"] == "conformant"


def test_a_persistent_html_500_is_unsupported_and_the_run_not_green(endpoint, tmp_path, capsys):
    """Every answer an HTML 500: each KMS operation is unsupported once it repeats, the core lifecycle
    among them, so the run is inconclusive (exit 4), not conformant."""
    code, report, output, _ = _check_through(endpoint, tmp_path, capsys, ("html500",), 1.0, seed=1, examples=3)
    assert code == 4, output
    assert "CreateCustomKeyStore" in report["unsupported"] and "DescribeCustomKeyStores" in report["unsupported"]
    assert any("core lifecycle operations unsupported" in r for r in report["verdict_reasons"])
    assert "Traceback" not in output


def test_all_modes_at_once_on_two_seeds(endpoint, tmp_path, capsys):
    for seed in (1, 2):
        code, report, output, _ = _check_through(endpoint, tmp_path, capsys, MODES, 0.05, seed=seed)
        assert code in (0, 4) and not report["failures"], output
        assert report["transport_faults"]["total"] > 0


def test_every_report_counts_faults_and_abandoned_examples():
    from ckspec.conformance.reports import as_json, html_report, junit_xml

    result = RunResult("http://127.0.0.1:1", 3, examples=5, steps=40)
    result.coverage.cells[("absent", "CreateCustomKeyStore", "200 OK")] = 1
    result.transport_faults.update({"read timeout": 4, "connection reset": 2})
    result.abandoned["read timeout"] = 1
    result.fault_samples.append(FaultRecord("connection reset", "CreateKey", redact('{"KeyStorePassword":"Pxyz"}')))
    result.stopped_early = "generation stopped after 5 of 9 examples: ..."
    document = as_json(result)
    assert document["transport_faults"]["total"] == 6 and document["abandoned_examples"] == {
        "total": 1, "by_kind": {"read timeout": 1}}
    assert document["transport_faults"]["samples"][0]["operation"] == "CreateKey"
    assert document["verdict"] == "conformant" and document["stopped_early"]
    junit = junit_xml(result)
    assert 'name="transport faults"' in junit and "read timeout x4" in junit
    assert 'name="abandoned_examples" value="1"' in junit
    page = html_report(result)
    assert "Transport faults" in page and "connection reset x2" in page and "Pxyz" not in page + junit + str(document)


def test_generation_starts_again_when_a_fault_made_an_example_unrepeatable(monkeypatch):
    """Hypothesis gives up on an example a fault cut short: the examples left run on the next seed,
    at most RESTARTS times, and then the run says it stopped early."""
    from ckspec.conformance import engine

    seeds = []

    def generate(run, options, seed, examples, unrepeatable):
        seeds.append((seed, examples))
        run.result.examples += 2
        return unrepeatable

    for unrepeatable, restarts in ((False, 0), (True, engine.RESTARTS)):
        seeds.clear()
        run = engine._Run(None, engine.CheckOptions(examples=20), RunResult("t", 0), None)
        monkeypatch.setattr(engine, "_generate", lambda *a, u=unrepeatable: generate(*a, u))
        engine._hypothesis(run, run.options, 40)
        assert run.result.restarts == restarts
        assert seeds == [(40 + i, 20 - 2 * i) for i in range(restarts + 1)]
        assert (run.result.stopped_early is not None) == unrepeatable
