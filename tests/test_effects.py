"""The effects' declared meaning on facts (FACT_CHANGES) agrees with what they do to worlds."""

from __future__ import annotations

import random

from ckspec.model import PERMISSIVE, Call, Internal, healthy_account, outcomes
from ckspec.model import identifiers as ids
from ckspec.model.effects import EFFECTS, FACT_CHANGES
from ckspec.model.executor import subject_context
from ckspec.model.facts import Context
from ckspec.model.moves import moves
from ckspec.model.scope import Scope
from ckspec.model.transitions import OPERATIONS

SCOPE = Scope(stores=2, clusters=3, keys=2, faults=2, backups=1)
#: facts about the subject store, its cluster and kmsuser, and the world (request-independent)
SUBJECT_FACTS = ("cluster_exists", "cluster_active", "hsm_ge1", "hsm_2az", "subnets_2az", "sg_intact",
                 "subnets_exist", "subnets_free", "kmsuser_exists", "kmsuser_on_every_hsm", "kmsuser_logged_in", "kmsuser_locked",
                 "kmsuser_failed_before", "kmsuser_2fa", "password_matches", "network_ok", "kms_ok",
                 "store_has_keys", "attempt_in_flight", "sessions_free", "material_present", "reads_lag")
#: facts that follow the subject's state, which the row's target sets (AMB-30: a call that moves
#: a store leaves reads lagging)
STATE_FACTS = {"store_connected", "reads_lag"}


def test_every_effect_has_a_declared_meaning():
    assert set(FACT_CHANGES) == set(EFFECTS)
    assert all(set(c) <= set(SUBJECT_FACTS) for c in FACT_CHANGES.values())


def _after(world, before: Context) -> Context:
    store = world.store(before.store.store_id) if before.store else None
    key = world.key(before.key.key_id) if before.key else None
    return Context(world, before.profile, before.params, store=store, key=key)


def _start():
    from ckspec.model import Driver

    d = Driver(healthy_account(2))
    store = d.create_store()
    d.connect(store)
    d.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")
    return d.world


def test_effects_change_only_the_facts_they_declare():
    """CONNECT-11, AMB-25, DK-04: on random worlds, every branch outcome changes exactly what its effects declare,
    and every effect (but creating and deleting, whose subject appears or goes) is seen doing so."""
    covered: set[str] = set()
    for seed in range(10):
        _walk(random.Random(seed), _start(), covered)
    # AMB-25: the lockout branch needs a wrong password tried once already
    from ckspec.model import Driver

    d = Driver(healthy_account())
    store = d.create_store()
    d.env("change_kmsuser_password", d.cluster_serial(), "n3wPassw0rd")
    d.connect(store)
    d.disconnect(store)
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    _check(d.world, Internal("ConnectionAttemptCompletes", d.world.stores[0].store_id), covered)
    # CONNECT-11: a plain successful attempt (random walks need not pass through one)
    d = Driver(healthy_account())
    store = d.create_store()
    d.call("ConnectCustomKeyStore", CustomKeyStoreId=store)
    _check(d.world, Internal("ConnectionAttemptCompletes", d.world.stores[0].store_id), covered)
    assert covered >= set(EFFECTS) - {"create_store", "delete_store", "delete_key", "delete_backing_key"}, (
        set(EFFECTS) - covered)


def _walk(rng, world, covered):
    for _ in range(100):
        actions = list(moves(world, SCOPE))
        for action in actions:
            _check(world, action, covered)
        found = outcomes(world, rng.choice(actions), PERMISSIVE)
        if found:
            world = rng.choice(found).world


def _check(world, action, covered):
    if isinstance(action, (Call, Internal)):
        op = OPERATIONS[action.operation if isinstance(action, Call) else action.event]
        before = subject_context(world, action, PERMISSIVE)
        if before.store is None:
            return
        for outcome in outcomes(world, action, PERMISSIVE):
            branch = next((b for b in op.branches if outcome.label == f"{op.name}: {b.name}"), None)
            if branch is None or branch.target == "ABSENT":
                continue
            after = _after(outcome.world, before)
            if after.store is None or (before.key is not None and after.key is None):
                continue
            declared: dict[str, bool | None] = {}
            for name in branch.effects:
                declared.update(FACT_CHANGES[name])
            for fact in SUBJECT_FACTS:
                if fact in STATE_FACTS and branch.target is not None:
                    continue
                was, now = before.fact(fact), after.fact(fact)
                if fact in declared:
                    if declared[fact] is not None:
                        assert now == declared[fact], (outcome.label, fact)
                else:
                    assert now == was, (outcome.label, fact, ids.store_id(before.store.store_id))
            covered.update(branch.effects)
