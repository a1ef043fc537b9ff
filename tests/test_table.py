"""The transition table itself: consistency checks that need no scenario."""

from __future__ import annotations

import inspect
import itertools

import pytest

from ckspec.model import aws_service
from ckspec.model.actions import SECRET_EVENTS
from ckspec.model.effects import EFFECTS
from ckspec.model.environment import EVENTS
from ckspec.model.facts import FACTS
from ckspec.model.guards import holds_under
from ckspec.model.responses import RESPONSES
from ckspec.model.transitions import (CALLS, CONNECTION_ATTEMPT_COMPLETES, CONNECTION_SUCCEEDS, OPERATIONS,
                                      VALIDATION_ERROR, Branch)
from ckspec.model.world import ABSENT


def test_every_guard_uses_known_facts_and_every_row_known_effects_and_responses():
    """CS-01: the table speaks only of facts, effects and responses the model defines."""
    for op in OPERATIONS.values():
        for row in op.rows:
            assert row.when.atoms() <= set(FACTS), (op.name, row)
            if isinstance(row, Branch):
                assert set(row.effects) <= set(EFFECTS), (op.name, row.name)
                assert op.kind == "internal" or row.response in RESPONSES, (op.name, row.name)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_table_errors_are_in_botocores_list(name):
    """ERR-01: every error row of an operation names an error botocore lists for it (or ValidationError, AMB-18)."""
    allowed = aws_service.errors_of(name) | {VALIDATION_ERROR}
    assert {c.error for c in CALLS[name].checks} <= allowed


def test_every_operation_name_is_a_kms_operation():
    """ERR-01: the calls the model covers are KMS operations botocore knows."""
    assert set(CALLS) <= aws_service.operation_names()


def test_connection_attempt_ends_in_exactly_one_way_or_fails_with_a_code():
    """CONNECT-06, TR-02, TR-03, AMB-07: for every assignment of the facts a completion reads, the attempt either
    succeeds (and then no failure branch holds) or at least one failure branch with a CloudHSM code holds."""
    op = CONNECTION_ATTEMPT_COMPLETES
    atoms = sorted(set().union(*(b.when.atoms() for b in op.branches)))
    failures = [b for b in op.branches if b.error_code]
    success = [b for b in op.branches if not b.error_code]
    assert len(success) == 1
    assert {b.error_code for b in failures} == set(aws_service.CLOUDHSM_ERROR_CODES)
    for values in itertools.product((False, True), repeat=len(atoms)):
        env = dict(zip(atoms, values))
        if not env["attempt_in_flight"]:
            continue
        ok = holds_under(success[0].when, env)
        failing = [b for b in failures if holds_under(b.when, env)]
        assert ok != bool(failing), env


def test_success_guard_is_the_documented_entry_condition():
    """CONNECT-06: the success guard requires every documented condition (P-ENTRY-CONNECTED's premise)."""
    assert CONNECTION_SUCCEEDS.atoms() >= {
        "cluster_exists", "cluster_active", "hsm_ge1", "kmsuser_exists", "kmsuser_logged_in", "password_matches",
        "subnets_exist", "subnets_free"}


def test_rows_only_name_states_of_their_subject():
    """CS-01: store rows use ConnectionState values (or ABSENT); key rows use the key's own states."""
    store_states = {s.value for s in aws_service.ConnectionState} | {ABSENT}
    key_states = {"Enabled", "Disabled", "PendingDeletion", ABSENT}
    for op in OPERATIONS.values():
        allowed = key_states if op.subject == "key" else store_states
        for row in op.rows:
            assert row.states <= allowed, (op.name, row)
            if isinstance(row, Branch) and row.target is not None:
                assert row.target in allowed, (op.name, row.name)


def test_alternatives_name_an_ambiguity():
    """AMB-07: an outcome the reference profile sets aside is always justified by a named ambiguity."""
    for op in OPERATIONS.values():
        for row in op.rows:
            if row.alt is not None:
                assert row.alt.startswith("AMB-") and row.alt in row.rules, (op.name, row)


def test_secret_events_are_exactly_the_ones_taking_a_password():
    """KU-04: environment events that take a kmsuser password are the ones whose arguments are redacted."""
    import ckspec.model.environment as env

    taking = {name for name in EVENTS if "password" in inspect.signature(getattr(env, name)).parameters}
    assert taking == SECRET_EVENTS


def test_branch_names_are_unique_within_an_operation():
    """Outcomes name the row that produced them, so a row's name must single it out."""
    for op in OPERATIONS.values():
        names = [b.name for b in op.branches]
        assert len(names) == len(set(names)), op.name
