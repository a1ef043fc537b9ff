"""The moto targets: moto in process (a fresh mock_aws account per example) and moto's server
(127.0.0.1, a free port, one per run, reset per example, always stopped)."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import pytest
from ckspec.conformance import Session, load_target
from ckspec.conformance.session import setup_steps
from ckspec.main import main
from moto.core.models import botocore_stubber


def _server_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if "_server_entry" in t.name]


def _refused(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_moto_in_process_is_reachable_and_stopped_on_close():
    """A KMS call reaches moto (a missing key: NotFoundException); close() stops mock_aws, so boto3
    is no longer intercepted; the next target starts with an empty account."""
    spec = load_target("moto")
    target = spec.make(0)
    assert botocore_stubber.enabled
    reply = target.call("DescribeKey", {"KeyId": "00000000-0000-4000-8000-000000000000"})
    assert reply.error == "NotFoundException"
    key = target.call("CreateKey", {}).body["KeyMetadata"]["KeyId"]
    target.close()
    assert not botocore_stubber.enabled
    again = spec.make(1)
    try:
        assert again.call("DescribeKey", {"KeyId": key}).error == "NotFoundException"
    finally:
        again.close()


def test_the_starting_account_is_built_with_moto_and_fakes_what_moto_lacks():
    """CreateCluster is moto's; CreateHsm and InitializeCluster (not implemented by moto) and
    activation and kmsuser (no API at all) are faked for the starting account only, then answered
    as not implemented, so they are never generated as steps."""
    session = Session.open("moto")
    try:
        session.setup()
        target = session.target
        assert dict(target.faked) == {"create_hsm": 6, "initialize_cluster": 3, "activate_cluster": 3,
                                      "create_kmsuser": 3}
        assert len(setup_steps()) == sum(target.faked.values()) + 3  # three real CreateCluster calls
        cluster = session.binding.to_target["cluster-aaaaaaaaaab"]
        assert not cluster.startswith("cluster-")  # moto's IDs are UUIDs (CREATE-01, see the page)
        assert session.env("create_hsm", "cluster-aaaaaaaaaab", "us-east-1a") is False
        assert session.env("activate_cluster", "cluster-aaaaaaaaaab") is False
        assert {"create_hsm", "activate_cluster"} <= set(session.unsupported)
        # CL-07: a cluster with (faked) HSMs is not deleted
        assert session.env("delete_cluster", "cluster-aaaaaaaaaab") is False
    finally:
        session.close()


def test_a_check_of_moto_is_not_green_without_the_custom_key_store_lifecycle(capsys):
    """moto has no CreateCustomKeyStore (NotImplementedError, unambiguous): whatever else passes, the run
    tested no key store, so it is inconclusive (exit 4) and says why (issue 10 §1)."""
    assert main(["check", "--target", "moto", "--examples", "2", "--steps", "5", "--no-save", "--no-shrink",
                 "--seed", "1"]) == 4
    out = capsys.readouterr().out
    assert "core lifecycle operations unsupported" in out and "CreateCustomKeyStore" in out


def test_moto_server_binds_the_loopback_resets_per_example_and_stops():
    """One server per run on 127.0.0.1 and a free port; each example starts from an empty account;
    closing the target spec stops the server (the port refuses connections, the thread is gone)."""
    spec = load_target("moto-server")
    with spec:
        first = spec.make(0)
        endpoint = spec.factory.server.endpoint
        parts = urlsplit(endpoint)
        assert parts.hostname == "127.0.0.1" and parts.port and not _refused(endpoint)
        key = first.call("CreateKey", {}).body["KeyMetadata"]["KeyId"]
        first.close()
        second = spec.make(1)
        assert spec.factory.server.endpoint == endpoint  # the same server
        assert second.call("DescribeKey", {"KeyId": key}).error == "NotFoundException"  # reset
        assert second.call("CreateCustomKeyStore", {}).status == 500  # not implemented: HTTP 500, HTML
        second.close()
    assert _refused(endpoint) and not _server_threads()


def test_moto_server_stops_when_the_run_fails():
    spec = load_target("moto-server")
    with pytest.raises(RuntimeError), spec:
        spec.make(0)
        endpoint = spec.factory.server.endpoint
        raise RuntimeError("the run broke")
    assert _refused(endpoint) and not _server_threads()


def test_the_commands_stop_moto_server_even_when_interrupted(monkeypatch, capsys):
    """The commands stop the server they started: ckspec check after a normal run, ckspec scorecard
    after an interrupt in the middle of its run (exit 130)."""
    assert main(["check", "--target", "moto-server", "--examples", "2", "--steps", "5", "--no-save",
                 "--no-shrink"]) in (1, 4)  # never 0: moto lacks the custom key store lifecycle
    assert not _server_threads()

    import ckspec.conformance.scorecard as scorecard_module

    def interrupted(spec, options, progress=None, **_keywords):
        spec.make(0).close()
        assert _server_threads()
        raise KeyboardInterrupt

    monkeypatch.setattr(scorecard_module, "scorecard", interrupted)
    assert main(["scorecard", "--target", "moto-server", "--examples", "2"]) == 130
    assert not _server_threads()
    capsys.readouterr()
