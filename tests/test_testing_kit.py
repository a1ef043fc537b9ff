"""ckspec.testing, the application teams' kit: emulated_aws points unmodified boto3 code at
ckspec serve and puts everything back; one typed method per environment event (checked
against the model's EVENTS); the ready account is the starting account's set-up steps."""

from __future__ import annotations

import inspect
import os
import socket
import time
from urllib.parse import urlsplit

import boto3
import pytest
from ckspec.conformance.session import setup_steps
from ckspec.conformance.steps import ENVIRONMENT_ARGUMENTS
from ckspec.model.environment import EVENTS
from ckspec.testing import (KIT_DEFAULTS, EnvironmentEvents, EventNotPossible, KitError, current, emulated_aws,
                            typed_methods)
from ckspec.testing.events import PARAMETER_NAMES
from ckspec.testing.serving import REMOVED_VARIABLES, SET_VARIABLES


def _refuses(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except OSError:
        return True
    return False


# --- one typed method per environment event ------------------------------------------------------


def test_every_environment_event_has_exactly_one_typed_method():
    methods = typed_methods()
    performed = sorted(methods.values())
    assert sorted(EVENTS) == performed, "an environment event without a typed method (or one with two)"


@pytest.mark.parametrize("method", sorted(typed_methods()))
def test_a_typed_method_takes_the_events_arguments_by_name(method):
    event = typed_methods()[method]
    parameters = list(inspect.signature(getattr(EnvironmentEvents, method)).parameters)[1:]
    assert parameters == [PARAMETER_NAMES[kind] for kind in ENVIRONMENT_ARGUMENTS[event]]
    assert getattr(EnvironmentEvents, method).__doc__, f"{method} has no docstring"


def test_a_method_for_an_unknown_event_cannot_be_declared():
    from ckspec.testing.events import performs

    with pytest.raises(ValueError, match="no environment event 'kmsuser_dances'"):
        performs("kmsuser_dances")


# --- emulated_aws ----------------------------------------------------------------------------------


def test_unmodified_boto3_reaches_the_emulator_and_the_environment_is_restored(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone-elses-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "https://kms.example.invalid")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    before = {name: os.environ.get(name) for name in SET_VARIABLES + REMOVED_VARIABLES}
    session = boto3.DEFAULT_SESSION
    with emulated_aws() as kit:
        assert os.environ["AWS_ENDPOINT_URL_KMS"] == kit.endpoint and "AWS_PROFILE" not in os.environ
        assert urlsplit(kit.endpoint).hostname == "127.0.0.1"
        assert boto3.client("kms").describe_custom_key_stores()["CustomKeyStores"] == []
        clusters = boto3.client("cloudhsmv2").describe_clusters()["Clusters"]
        assert clusters == []
        endpoint = kit.endpoint
    assert {name: os.environ.get(name) for name in SET_VARIABLES + REMOVED_VARIABLES} == before
    assert boto3.DEFAULT_SESSION is session
    assert _refuses(endpoint), "the server still listens after the block"


def test_the_server_stops_and_the_environment_returns_when_the_block_raises():
    before = dict(os.environ)
    with pytest.raises(ZeroDivisionError), emulated_aws() as kit:
        endpoint = kit.endpoint
        1 / 0
    assert dict(os.environ) == before
    assert _refuses(endpoint)


def test_blocks_nest_each_with_its_own_account():
    with emulated_aws() as outer:
        outer.ready_account()
        with emulated_aws() as inner:
            assert inner.endpoint != outer.endpoint and current() is inner
            assert boto3.client("cloudhsmv2").describe_clusters()["Clusters"] == []  # a fresh account
        assert current() is outer and os.environ["AWS_ENDPOINT_URL"] == outer.endpoint
        assert len(boto3.client("cloudhsmv2").describe_clusters()["Clusters"]) == 1
    with pytest.raises(KitError, match="no emulated_aws block is running"):
        current()


def test_the_decorator_runs_the_function_inside_a_block():
    seen = []

    @emulated_aws(clock="manual")
    def application_test(x):
        seen.append((current().options.clock, os.environ["AWS_ENDPOINT_URL"], x))
        return x * 2

    assert application_test(21) == 42
    clock, endpoint, _ = seen[0]
    assert clock == "manual" and _refuses(endpoint) and os.environ.get("AWS_ENDPOINT_URL") != endpoint


def test_bad_options_are_one_clear_error():
    with pytest.raises(KitError, match="connect_delay must be a finite number of seconds >= 0"):
        emulated_aws(connect_delay=-1)
    with pytest.raises(KitError, match="clock must be one of real, manual"):
        emulated_aws(clock="sundial")


def test_the_default_clock_connects_well_under_a_second():
    """T-01 with the kit's defaults: an application that polls sees CONNECTED quickly."""
    assert KIT_DEFAULTS["clock"] == "real" and KIT_DEFAULTS["connect_delay"] < 1
    with emulated_aws() as kit:
        account = kit.ready_account()
        kms = boto3.client("kms")
        store = kms.create_custom_key_store(**account.create_request())["CustomKeyStoreId"]
        started = time.monotonic()
        kms.connect_custom_key_store(CustomKeyStoreId=store)
        while kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]["ConnectionState"] \
                != "CONNECTED":
            assert time.monotonic() - started < 1.0, "the connect took a second or more"
            time.sleep(0.01)


def test_under_the_manual_clock_only_wait_moves_time():
    with emulated_aws(clock="manual") as kit:
        account = kit.ready_account()
        store = account.kms.create_custom_key_store(**account.create_request())["CustomKeyStoreId"]
        account.kms.connect_custom_key_store(CustomKeyStoreId=store)
        time.sleep(0.3)
        kit.wait(KIT_DEFAULTS["connect_delay"] + 1)
        assert account.kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0][
            "ConnectionState"] == "CONNECTED"


# --- the ready account -------------------------------------------------------------------------------


def test_the_ready_account_is_the_starting_accounts_first_cluster():
    recipe = [step.event for step in setup_steps(1)]
    assert recipe == ["create_cluster", "create_hsm", "initialize_cluster", "create_hsm", "activate_cluster",
                      "create_kmsuser"]
    with emulated_aws() as kit:
        account = kit.ready_account()
        cluster = account.cloudhsmv2.describe_clusters()["Clusters"][0]
        assert cluster["ClusterId"] == account.cluster_id and cluster["State"] == "ACTIVE"
        assert sorted(h["HsmId"] for h in cluster["Hsms"]) == sorted(account.hsm_ids)
        assert sorted(h["AvailabilityZone"] for h in cluster["Hsms"]) == ["us-east-1a", "us-east-1b"]
        assert account.trust_anchor.startswith("-----BEGIN CERTIFICATE-----")
        assert account.kmsuser_password not in repr(account) and account.trust_anchor not in repr(account)
        store = account.kms.create_custom_key_store(**account.create_request())["CustomKeyStoreId"]
        assert store.startswith("cks-")


def test_the_ready_account_in_another_region():
    with emulated_aws(region="eu-west-1") as kit:
        account = kit.ready_account()
        assert account.zones == ("eu-west-1a", "eu-west-1b")
        assert boto3.client("kms").meta.region_name == "eu-west-1"


# --- typed events against serve -----------------------------------------------------------------------


def test_a_refused_event_names_its_rules():
    with emulated_aws() as kit:
        account = kit.ready_account()
        with pytest.raises(EventNotPossible, match=r"delete_cluster: not possible .*\(CL-07, AMB-31, CEC-01\)"):
            kit.delete_cluster(account.cluster_id)  # it still has HSMs (CL-07)
        kit.log_in_kmsuser(account.cluster_id)
        with pytest.raises(EventNotPossible, match=r"log_in_kmsuser: .*KU-06"):
            kit.log_in_kmsuser(account.cluster_id)


def test_bad_arguments_are_refused_before_anything_is_sent():
    with emulated_aws() as kit:
        account = kit.ready_account()
        with pytest.raises(KitError, match=r"fill_subnet: zone must be an Availability Zone name .*CEC-03"):
            kit.fill_subnet(account.cluster_id, "the-big-one")
        with pytest.raises(KitError, match=r"log_in_kmsuser: cluster must be a cluster-\.\.\. ID .*CEC-09"):
            kit.log_in_kmsuser("hsm-aaaaaaaaaaa")
        with pytest.raises(KitError, match=r"create_cluster: zones must be a whole number from 1 to 3 .*CL-04"):
            kit.create_cluster(7)
        with pytest.raises(KitError, match=r"letters and digits only \(AMB-27, KU-04\)") as refused:
            kit.change_kmsuser_password(account.cluster_id, "not a password!")
        assert "not a password" not in str(refused.value)
        with pytest.raises(KitError, match="log_in_kmsuser: missing a required argument"):
            kit.log_in_kmsuser()
        with pytest.raises(KitError, match="refused it: .*ValidationException"):
            kit.perform("create_hsm", ("cluster-aaaaaaaaaab", 3))


def test_typed_events_change_what_boto3_sees():
    with emulated_aws() as kit:
        cluster = kit.create_cluster(3)
        hsm = kit.create_hsm(cluster, "us-east-1c")
        described = boto3.client("cloudhsmv2").describe_clusters()["Clusters"][0]
        assert described["ClusterId"] == cluster and [h["HsmId"] for h in described["Hsms"]] == [hsm]
        kit.delete_hsms(cluster)
        assert kit.hsms(cluster) == []
        with pytest.raises(EventNotPossible, match="has no HSM to delete"):
            kit.delete_hsms(cluster)
        kit.delete_cluster(cluster)
        with pytest.raises(KitError, match="no cluster"):
            kit.hsms(cluster)


# --- the fixtures --------------------------------------------------------------------------------------


def test_the_fixtures(ckspec_endpoint, ckspec_account, ckspec_emulator):
    assert ckspec_endpoint == ckspec_emulator.endpoint == os.environ["AWS_ENDPOINT_URL_KMS"]
    assert ckspec_account.kms.describe_custom_key_stores()["CustomKeyStores"] == []
    assert ckspec_emulator.options.connect_delay == KIT_DEFAULTS["connect_delay"]


@pytest.mark.ckspec_serve(clock="manual", lag=0)
def test_the_fixtures_take_options_from_a_marker(ckspec_emulator):
    assert (ckspec_emulator.options.clock, ckspec_emulator.options.lag) == ("manual", 0)


def test_the_pytest_plugin_loads_without_the_emulator():
    """The fixtures' plugin is loaded by every pytest run where ckspec is installed: it imports
    the emulator and the model only when a test uses a fixture."""
    import subprocess
    import sys

    code = "import sys, ckspec.testing.fixtures; print(sorted(m for m in sys.modules if m.startswith(('ckspec.emulator', 'ckspec.model'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_reset_disarms_a_pending_fault():
    with emulated_aws() as kit:
        kit.ready_account().fail_next_connect("INSUFFICIENT_CLOUDHSM_HSMS")
        kit.reset()
        account = kit.ready_account()  # the same identifiers again (seed 0)
        kms = account.kms
        store = kms.create_custom_key_store(**account.create_request())["CustomKeyStoreId"]
        kms.connect_custom_key_store(CustomKeyStoreId=store)
        kit.wait(1)
        assert len(kit.hsms(account.cluster_id)) == 2


def test_the_dependency_is_one_way():
    """The kit uses the emulator, the conformance engine and the model; none of them uses the kit."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for folder in ("model", "conformance", "emulator", "cli"):
        for source in (root / folder).rglob("*.py"):
            text = source.read_text()
            assert "ckspec.testing" not in text and "from ..testing" not in text, source
