"""Failure and recovery paths found by search (model/recovery.py) against spec sections 1.2 and 2.4."""

from __future__ import annotations

import pytest

from ckspec.model import recovery
from ckspec.model.aws_service import CLOUDHSM_ERROR_CODES
from ckspec.model.executor import outcomes
from ckspec.model.profiles import PERMISSIVE
from ckspec.model.scenarios import KMSUSER_PASSWORD

CODES = pytest.mark.parametrize("code", CLOUDHSM_ERROR_CODES)

#: Spec 1.2, "User fix": the environment repair each recovery must contain.
REPAIRS = {
    "CLUSTER_NOT_FOUND": "restore_backup",
    "SUBNET_NOT_FOUND": "restore_backup",
    "INSUFFICIENT_CLOUDHSM_HSMS": "create_hsm",
    "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET": "free_subnet",
    "USER_LOCKED_OUT": "change_kmsuser_password",
    "USER_LOGGED_IN": "kmsuser_logs_out",
    "USER_NOT_FOUND": "create_kmsuser",
    "NETWORK_ERRORS": "",
    "INTERNAL_ERROR": "",
    "INVALID_CREDENTIALS": "",
}


def _updates(steps, member):
    return [s for s in steps if s.action.startswith("UpdateCustomKeyStore(") and f"{member}=" in s.action]


@CODES
def test_failure_path_ends_failed_with_the_code(code):
    """CEC-00, TR-03, CS-06: the failure path ends with the attempt failing: FAILED with this code."""
    steps = recovery.failure_path(code)
    assert steps[-1].action.startswith("ConnectionAttemptCompletes(")
    assert (steps[-1].state, steps[-1].error_code) == ("FAILED", code)
    assert all(s.state != "FAILED" for s in steps[:-1])


@CODES
def test_recovery_starts_with_disconnect(code):
    """TR-09, TR-06, CONNECT-04: FAILED is left only by DisconnectCustomKeyStore, so every fix starts there."""
    first = recovery.recovery_path(code)[0]
    assert first.action.startswith("DisconnectCustomKeyStore(")
    assert first.response == "200 OK"
    assert first.error_code is None


@CODES
def test_recovery_ends_connected_without_errors(code):
    """TR-01, TR-02, CONNECT-06: the recovery reconnects, and no step of it is refused."""
    steps = recovery.recovery_path(code)
    assert steps[-1].state == "CONNECTED"
    assert steps[-2].action.startswith("ConnectCustomKeyStore(")
    assert all(s.response in ("200 OK", "-") for s in steps)
    assert all(s.state != "FAILED" for s in steps)


@pytest.mark.parametrize("code", ["CLUSTER_NOT_FOUND", "SUBNET_NOT_FOUND"])
def test_cluster_codes_need_a_restored_cluster(code):
    """CEC-01, CEC-07, UPDATE-07, CL-05: restore from a backup, then Update CloudHsmClusterId."""
    steps = recovery.recovery_path(code)
    restore = next(i for i, s in enumerate(steps) if s.action.startswith("restore_backup("))
    update = _updates(steps, "CloudHsmClusterId")
    assert update and steps.index(update[0]) > restore


@pytest.mark.parametrize("code", ["INVALID_CREDENTIALS", "USER_LOCKED_OUT", "USER_NOT_FOUND"])
def test_credential_codes_need_a_new_keystore_password(code):
    """CEC-05, CEC-08, CEC-10, KU-04, CONNECT-11: KMS's rotated password is unknown, so tell KMS the new one."""
    assert _updates(recovery.recovery_path(code), "KeyStorePassword")


def test_user_logged_in_updates_the_password_only_if_it_was_changed():
    """CEC-09, KU-09, CONNECT-11: logging in needed a password people know; KMS must then be told it."""
    changed = any(s.action.startswith("change_kmsuser_password(") for s in recovery.failure_path("USER_LOGGED_IN"))
    assert bool(_updates(recovery.recovery_path("USER_LOGGED_IN"), "KeyStorePassword")) == changed


@pytest.mark.parametrize("code", ["INTERNAL_ERROR", "NETWORK_ERRORS", "INSUFFICIENT_CLOUDHSM_HSMS",
                                  "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET"])
def test_transient_and_capacity_codes_need_no_update(code):
    """CEC-02, CEC-03, CEC-04, CEC-06: Disconnect, repair or wait, Connect; no UpdateCustomKeyStore."""
    assert not [s for s in recovery.recovery_path(code) if s.action.startswith("UpdateCustomKeyStore(")]


@CODES
def test_recovery_contains_the_documented_repair(code):
    """CEC-01..CEC-10 (spec 1.2 "User fix"): the environment repair the guide names is in the path."""
    if REPAIRS[code]:
        assert any(s.action.startswith(REPAIRS[code] + "(") for s in recovery.recovery_path(code))


@CODES
def test_paths_replay_in_the_model(code):
    """TR-01..TR-09: each step is an outcome the executor gives for its action in the world before it."""
    world, _ = recovery.start()
    failure, repair = recovery.search(code)
    for outcome in failure + repair:
        assert outcome in outcomes(world, outcome.action, PERMISSIVE)
        world = outcome.world
    assert all(o.alt is None for o in repair)


@CODES
def test_no_password_is_printed(code):
    """KU-04, DESC-05: a KeyStorePassword or kmsuser password never appears in a step."""
    secrets = {KMSUSER_PASSWORD, *recovery.FAILURE_SCOPE.passwords, *recovery.RECOVERY_SCOPE.passwords}
    text = repr(recovery.failure_path(code) + recovery.recovery_path(code))
    assert not [p for p in secrets if p in text]


def test_unknown_code_is_refused():
    """CEC-00: only the ten CloudHSM codes have paths."""
    with pytest.raises(ValueError, match="XKS_PROXY_TIMED_OUT"):
        recovery.search("XKS_PROXY_TIMED_OUT")
