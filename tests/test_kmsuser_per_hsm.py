"""kmsuser lives on each HSM (issue 11 §3, KU-11 to KU-14).

CloudHSM does not synchronise users across the HSMs of a cluster (KU-11); an HSM that joins
while kmsuser is being created, or that a create or password change misses, holds its own
copy or none (KU-12) until a crypto officer synchronises it (KU-13). KMS logs in to every
active HSM, so one HSM without kmsuser fails the connection with USER_NOT_FOUND (KU-14).

The real case: a CloudFormation automation for CloudHSM key stores (aws-samples, issue 12 of
aws-cloudhsm-cloudformation-template) created kmsuser on the first HSM while the second one
was being added; the stack failed at ConnectCustomKeyStore with USER_NOT_FOUND, and the
maintainers found kmsuser on one HSM and not on the other.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from ckspec.conformance.control import ControlClient
from ckspec.emulator import EmulatorServer, ServeOptions
from ckspec.main import main
from ckspec.model import PERMISSIVE
from ckspec.model.actions import Environment
from ckspec.model.executor import NotEnabled, internal_events, outcomes
from ckspec.model.explorer import canonical_key
from ckspec.model.mutations import TABLE_EDIT
from ckspec.model.scenarios import KMSUSER_PASSWORD, Driver, healthy_account
from ckspec.model.world import AVAILABILITY_ZONES, OwnCopy

ZONE_A, ZONE_B = AVAILABILITY_ZONES[:2]
NEW_PASSWORD = "n3wPassw0rd"


def _one_hsm_account() -> Driver:
    """An ACTIVE cluster with one HSM (zone a) and kmsuser; zone b's subnet is free for another."""
    d = Driver(healthy_account())
    cid = d.cluster_serial()
    second = d.world.cluster(cid).hsms[1].hsm_id
    d.env("delete_hsm", cid, second)
    return d


def _code(d: Driver, sid: str) -> str | None:
    return d.describe(sid).get("ConnectionErrorCode")


def _connect_codes(d: Driver, sid: str, profile=PERMISSIVE) -> set[str | None]:
    """Every ConnectionErrorCode the attempt may end with (None: it connects)."""
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=sid)
    found = set()
    for event in internal_events(d.world):
        if event.event == "ConnectionAttemptCompletes":
            for outcome in outcomes(d.world, event, profile):
                store = outcome.world.stores[0]
                found.add(store.error_code)
    return found


def test_the_real_stack_an_hsm_added_without_kmsuser_fails_user_not_found():
    """KU-12, KU-14, CEC-10: kmsuser on the first HSM, the second HSM added from a backup taken before
    kmsuser existed: the connection fails with USER_NOT_FOUND, and with nothing else, under every
    profile; after a sync of that HSM (KU-13) Disconnect and Connect succeed."""
    d = _one_hsm_account()
    cid = d.cluster_serial()
    d.env("create_hsm_from_older_backup", cid, ZONE_B)
    cluster = d.world.cluster(cid)
    first, added = cluster.hsms
    assert cluster.kmsuser_on(first) is not None and cluster.kmsuser_on(added) is None
    sid = d.create_store()
    assert _connect_codes(Driver(d.world), sid, PERMISSIVE) == {"USER_NOT_FOUND"}
    d.connect(sid)
    assert d.describe(sid)["ConnectionState"] == "FAILED" and _code(d, sid) == "USER_NOT_FOUND"
    d.env("sync_kmsuser", cid, added.hsm_id)
    assert d.world.cluster(cid).kmsuser_in_sync
    d.disconnect(sid)
    d.connect(sid)
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"


def test_created_while_one_hsm_was_unavailable():
    """KU-11, KU-14: kmsuser created while one HSM was unavailable is on the other only: USER_NOT_FOUND;
    deleting the HSM that lacks it also clears the failure (KMS logs in to active HSMs only)."""
    d = Driver(healthy_account())
    cid = d.cluster_serial()
    d.env("delete_kmsuser", cid)
    missed = d.world.cluster(cid).hsms[1].hsm_id
    d.env("create_kmsuser_missing_hsm", cid, missed, KMSUSER_PASSWORD)
    sid = d.create_store()
    d.connect(sid)
    assert _code(d, sid) == "USER_NOT_FOUND"
    d.disconnect(sid)
    d.env("delete_hsm", cid, missed)
    d.connect(sid)
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"


def test_a_password_change_that_misses_an_hsm_fails_invalid_credentials_either_way():
    """KU-11, KU-12, KU-14, CEC-05: the change reached one HSM; whichever password KMS holds, one HSM
    refuses it: INVALID_CREDENTIALS. Resynchronising the HSM (KU-13) fixes it."""
    d = Driver(healthy_account())
    cid = d.cluster_serial()
    missed = d.world.cluster(cid).hsms[0].hsm_id
    sid = d.create_store()
    d.env("change_kmsuser_password_misses_hsm", cid, missed, NEW_PASSWORD)
    assert d.world.cluster(cid).hsm(missed).own_kmsuser.user.password == KMSUSER_PASSWORD
    for held in (KMSUSER_PASSWORD, NEW_PASSWORD):
        assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword=held).response.ok
        assert _connect_codes(Driver(d.world), sid, PERMISSIVE) == {"INVALID_CREDENTIALS"}
    d.env("sync_kmsuser", cid, missed)
    d.connect(sid)
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"


def test_lockout_and_login_are_per_hsm():
    """KU-12, KU-14, CEC-08, CEC-09: a password reset that misses an HSM leaves kmsuser locked out there
    (USER_LOCKED_OUT); a logout that reaches the other HSMs only leaves a session there (USER_LOGGED_IN)."""
    d = Driver(healthy_account())
    cid = d.cluster_serial()
    missed = d.world.cluster(cid).hsms[1].hsm_id
    sid = d.create_store(KeyStorePassword=NEW_PASSWORD)
    d.env("kmsuser_locked_out", cid)
    d.env("change_kmsuser_password_misses_hsm", cid, missed, NEW_PASSWORD)
    assert not d.world.cluster(cid).kmsuser.locked_out
    assert _connect_codes(Driver(d.world), sid, PERMISSIVE) == {"USER_LOCKED_OUT"}

    d = Driver(healthy_account())
    cid = d.cluster_serial()
    sid = d.create_store(KeyStorePassword=NEW_PASSWORD)
    d.env("kmsuser_logs_in", cid)
    d.env("change_kmsuser_password_misses_hsm", cid, missed := d.world.cluster(cid).hsms[1].hsm_id, NEW_PASSWORD)
    d.env("kmsuser_logs_out", cid)
    assert not d.world.cluster(cid).kmsuser.logged_in
    assert "USER_LOGGED_IN" in _connect_codes(Driver(d.world), sid, PERMISSIVE)
    d.env("sync_kmsuser", cid, missed)
    d.connect(sid)
    assert d.describe(sid)["ConnectionState"] == "CONNECTED"


def test_a_successful_connect_rotates_the_password_on_every_hsm():
    """CONNECT-11, KU-14: after the sync and a connect, every HSM holds the one KMS-generated password."""
    d = _one_hsm_account()
    cid = d.cluster_serial()
    d.env("create_hsm_from_older_backup", cid, ZONE_B)
    d.env("sync_kmsuser", cid, d.world.cluster(cid).hsms[1].hsm_id)
    sid = d.create_store()
    d.connect(sid)
    cluster = d.world.cluster(cid)
    passwords = {cluster.kmsuser_on(h).password for h in cluster.hsms}
    assert len(passwords) == 1 and passwords != {KMSUSER_PASSWORD}


def test_the_events_refuse_what_cannot_happen():
    """KU-05, KU-11, KU-12: no partial create of an existing kmsuser or on a one-HSM cluster, no partial
    password change while KMS holds the session, no HSM without kmsuser when there is no kmsuser to
    miss, no sync of an HSM in sync; delete_kmsuser removes every copy."""
    d = _one_hsm_account()
    cid = d.cluster_serial()
    only = d.world.cluster(cid).hsms[0].hsm_id
    for event, args in (("create_kmsuser_missing_hsm", (cid, only, NEW_PASSWORD)),
                        ("change_kmsuser_password_misses_hsm", (cid, only, NEW_PASSWORD)),
                        ("sync_kmsuser", (cid, only))):
        with pytest.raises(NotEnabled):
            d.env(event, *args)
    d.env("create_hsm_from_older_backup", cid, ZONE_B)
    d.env("delete_kmsuser", cid)
    assert d.world.cluster(cid).kmsuser_in_sync and d.world.cluster(cid).kmsuser is None
    with pytest.raises(NotEnabled):
        d.env("create_hsm_from_older_backup", cid, ZONE_A)
    d = Driver(healthy_account())
    cid = d.cluster_serial()
    sid = d.create_store()
    d.connect(sid)
    with pytest.raises(NotEnabled):
        d.env("change_kmsuser_password_misses_hsm", cid, d.world.cluster(cid).hsms[0].hsm_id, NEW_PASSWORD)


def test_an_hsm_out_of_sync_is_a_fault_and_its_password_is_redacted():
    """KU-04, KU-12: an HSM out of sync counts against the fault budget, and the events that take a
    password never show it."""
    from ckspec.model.environment import faults

    d = Driver(healthy_account())
    cid = d.cluster_serial()
    hsm = d.world.cluster(cid).hsms[0].hsm_id
    before = faults(d.world)
    d.env("change_kmsuser_password_misses_hsm", cid, hsm, NEW_PASSWORD)
    assert faults(d.world) == before + 1
    assert NEW_PASSWORD not in repr(Environment("change_kmsuser_password_misses_hsm", (cid, hsm, NEW_PASSWORD)))
    assert KMSUSER_PASSWORD not in repr(d.world) and NEW_PASSWORD not in repr(d.world)


def test_the_explorer_tells_an_hsm_out_of_sync_from_one_in_sync():
    """KU-12: the canonical key keeps each HSM's own copy (else states would merge that connect differently)."""
    d = _one_hsm_account()
    cid = d.cluster_serial()
    synced = d.env("create_hsm", cid, ZONE_B).world
    d = _one_hsm_account()
    stale = d.env("create_hsm_from_older_backup", cid, ZONE_B).world
    assert canonical_key(synced) != canonical_key(stale)
    assert stale.cluster(cid).hsms[1].own_kmsuser == OwnCopy(None)


def test_the_seeded_bug_is_caught_by_the_proofs_and_the_conformance_run(capsys):
    """KU-14: the seeded bug (connect succeeds although an HSM lacks kmsuser) gives P-ENTRY-CONNECTED a
    counterexample, and the default conformance run kills it, naming KU-14 first."""
    name = "KU-14-connects-although-an-hsm-lacks-kmsuser"
    assert TABLE_EDIT[name].breaks == "P-ENTRY-CONNECTED"
    assert main(["prove", "--mutation", name]) != 0
    out = capsys.readouterr().out
    assert "counterexample to P-ENTRY-CONNECTED" in out and "kmsuser missing on an HSM" in out
    assert main(["mutants", name, "--no-proofs", "--json"]) == 0
    import json

    row = json.loads(capsys.readouterr().out)["mutants"][0]
    assert row["killed"] and row["named_first"], row


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(ServeOptions(clock="manual", read_timeout=0.5), idle_timeout=120) as running:
        yield running


def test_serve_reproduces_the_real_stack(server):
    """KU-12, KU-13, KU-14 against `ckspec serve`: kmsuser on one HSM of two, ConnectCustomKeyStore, and
    the store ends FAILED with USER_NOT_FOUND; the test-control sync repairs it; the password never
    appears in a control answer."""
    control = ControlClient(server.url)
    control.reset()
    kms = boto3.client("kms", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="t",
                       aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}))
    _, cluster = control.environment("create_cluster", (2,))
    _, first = control.environment("create_hsm", (cluster, "us-east-1a"))
    _, anchor = control.environment("initialize_cluster", (cluster,))
    control.environment("activate_cluster", (cluster,))
    answer = control.environment("create_kmsuser", (cluster, "Password0"))
    assert "Password0" not in repr(answer)
    applied, second = control.environment("create_hsm_from_older_backup", (cluster, "us-east-1b"))
    assert applied and second.startswith("hsm-")
    store = kms.create_custom_key_store(CustomKeyStoreName="stack", CloudHsmClusterId=cluster,
                                        TrustAnchorCertificate=anchor, KeyStorePassword="Password0")["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    control.wait(600)
    entry = kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]
    assert (entry["ConnectionState"], entry.get("ConnectionErrorCode")) == ("FAILED", "USER_NOT_FOUND")
    assert control.environment("sync_kmsuser", (cluster, first)) == (False, None)  # already in sync
    assert control.environment("sync_kmsuser", (cluster, second)) == (True, None)
    kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    control.wait(600)
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    control.wait(600)
    entry = kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]
    assert entry["ConnectionState"] == "CONNECTED"
