"""The solver's transition relation and the executor agree, both ways, on random worlds.

For random concrete worlds and actions: every successor the executor produces satisfies
the Z3 relation (forward), and every successor the solver allows for the action's operation
and subject is one the executor produces (backward, enumerated). Environment events are
checked forward only: the relation over-approximates them on purpose (see relation.py).
This is what keeps the encoding from drifting away from the table, the readers from the
facts and the symbolic effects from the effects.
"""

from __future__ import annotations

import random
from functools import cache

import z3
from ckspec.model import (
    LEGACY,
    PERMISSIVE,
    REFERENCE,
    Call,
    Driver,
    Environment,
    Internal,
    create_request,
    healthy_account,
    outcomes,
)
from ckspec.model import identifiers as ids
from ckspec.model.moves import moves
from ckspec.model.proof.abstraction import (
    Codec,
    Slots,
    operation_of,
    pin,
    request_cluster,
    request_values,
    subject_slot,
    values,
)
from ckspec.model.proof.relation import ENVIRONMENT, STUTTER, Encoding
from ckspec.model.proof.state import State, meaningful
from ckspec.model.scope import Scope
from ckspec.model.world import ABSENT
from hypothesis import given, settings
from hypothesis import strategies as st

SCOPE = Scope(stores=2, clusters=3, keys=2, faults=2, backups=1)
PROFILES = {"permissive": PERMISSIVE, "reference": REFERENCE, "legacy": LEGACY}


@cache
def _relation(stores: int, clusters: int, keys: int, profile: str):
    from ckspec.model.proof.state import SymbolicScope

    enc = Encoding(SymbolicScope(stores, clusters, keys), PROFILES[profile])
    s, t = State.fresh(enc.scope, "s"), State.fresh(enc.scope, "t")
    constraint, act, request = enc.step(s, t, "x")
    solver = z3.Solver()
    solver.add(constraint)
    return enc, s, t, act, request, solver


def _extra_calls(world):
    """Requests the move generator does not make: errors and corner cases worth agreeing on."""
    out = []
    if world.clusters:
        c = world.clusters[-1]
        out.append(Call.of("CreateCustomKeyStore", CustomKeyStoreName="store-a", CloudHsmClusterId=ids.cluster_id(c.cluster_id),
                           TrustAnchorCertificate="-----BEGIN CERTIFICATE-----\nforeign\n-----END CERTIFICATE-----",
                           KeyStorePassword="kmsPassw0rd"))
        out.append(Call.of("CreateCustomKeyStore", CustomKeyStoreName="store-c",
                           CloudHsmClusterId=ids.cluster_id(c.cluster_id + 1000),
                           TrustAnchorCertificate=ids.trust_anchor(c.lineage), KeyStorePassword="kmsPassw0rd"))
    for s in world.stores:
        sid = ids.store_id(s.store_id)
        out.append(Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="store-b",
                           KeyStorePassword="n3wPassw0rd"))
        out.append(Call.of("Encrypt", KeyId=ids.key_id(world.keys[0].key_id), Plaintext=b"x") if world.keys
                   else Call.of("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=8))
    out.append(Call.of("DescribeCustomKeyStores"))
    return out


def _actions(world):
    return [*moves(world, SCOPE), *_extra_calls(world)]


def _assignment(model, state: State) -> dict:
    out = {}
    for name, term in state.terms.items():
        if z3.is_true(model.eval(meaningful(state, name), model_completion=True)):
            v = model.eval(term, model_completion=True)
            out[name] = True if z3.is_true(v) else False if z3.is_false(v) else (
                v.as_long() if z3.is_int_value(v) else str(v))
    return out


def _check(world, action, profile_name: str) -> int:
    """Check one action both ways; return how many solver successors were compared."""
    profile = PROFILES[profile_name]
    found = outcomes(world, action, profile)
    worlds = [world, *(o.world for o in found)]
    slots = Slots(worlds, extra_clusters=[c for c in [request_cluster(action)] if c is not None])
    codec = Codec()
    sc = slots.scope
    enc, s, t, act, request, solver = _relation(sc.stores, sc.clusters, sc.keys, profile_name)
    before = values(world, slots, codec, profile)
    if isinstance(action, Environment):
        allowed = [ENVIRONMENT, STUTTER]
        req = z3.BoolVal(True)
        subject = None
        changed = [o.world for o in found]
    else:
        subject = subject_slot(world, action, slots, profile)
        op = operation_of(action)
        allowed = [STUTTER] + [a.index for a in enc.actions if a.operation == op.name and a.slot == subject]
        req = request_values(world, action, slots, codec, profile, request)
        changed = [o.world for o in found if o.response is None or o.response.ok]
    # forward: every executor successor is allowed by the relation
    for successor in (o.world for o in found):
        solver.push()
        solver.add(pin(s, before), pin(t, values(successor, slots, codec, profile)), req,
                   z3.Or([act == a for a in allowed]))
        assert solver.check() == z3.sat, f"the solver forbids an executor outcome of {action!r} ({profile_name})"
        solver.pop()
    if isinstance(action, Environment):
        return 0
    # backward: every successor the solver allows is an executor successor
    expected = [values(w, slots, codec, profile) for w in changed] + [before]
    compared = 0
    for a in allowed[1:]:
        solver.push()
        solver.add(pin(s, before), req, act == a)
        if solver.check() == z3.sat:
            got = _assignment(solver.model(), t)
            assert got in expected, (
                f"the solver allows {enc.action(a).label} on {action!r} ({profile_name}), the executor does not:\n"
                f"{sorted(set(got.items()) - set(expected[0].items()))}")
            compared += 1
        solver.pop()
    return compared


def _start(rng: random.Random):
    d = Driver(healthy_account(2))
    if rng.random() < 0.7:
        store = d.create_store()
        if rng.random() < 0.7:
            d.connect(store)
            if rng.random() < 0.6:
                d.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")
    return d.world


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), profile=st.sampled_from(sorted(PROFILES)))
def test_executor_and_solver_agree_on_random_walks(seed, profile):
    """Every table row, fact and effect: the executor's successors and the solver's are the same."""
    rng = random.Random(seed)
    world = _start(rng)
    for _ in range(6):
        actions = _actions(world)
        for action in rng.sample(actions, min(5, len(actions))):
            _check(world, action, profile)
        found = outcomes(world, rng.choice(actions), PERMISSIVE)
        if found:
            world = rng.choice(found).world


def test_agreement_covers_every_state_changing_row():
    """The agreement is not vacuous: along the failure and recovery paths of every error code
    (found by search, model/recovery.py) and a key's life, the backward check compares the
    successors of every state-changing row of the table."""
    from ckspec.model import recovery
    from ckspec.model.aws_service import CLOUDHSM_ERROR_CODES

    seen: set[str] = set()

    def check_along(world, path):
        for outcome in path:
            for action in {outcome.action, *internal_now(world)}:
                if _check(world, action, "permissive"):
                    seen.update(o.label for o in outcomes(world, action, PERMISSIVE)
                                if o.response is None or o.response.ok)
            world = outcome.world
        return world

    def internal_now(world):
        from ckspec.model import internal_events

        return internal_events(world)

    for code in sorted(CLOUDHSM_ERROR_CODES):
        failure, recovering = recovery.search(code)
        world = check_along(recovery.start()[0], failure)
        check_along(world, recovering)
    state = {"world": healthy_account(2)}

    def do(action, pick=0):
        world = state["world"]
        for a in (action, *internal_now(world)):
            if _check(world, a, "permissive"):
                seen.update(o.label for o in outcomes(world, a, PERMISSIVE) if o.response is None or o.response.ok)
        state["world"] = outcomes(world, action, REFERENCE)[pick].world
        return state["world"]

    world = do(Call.of("CreateCustomKeyStore", **create_request(state["world"])))
    serial = world.stores[-1].store_id
    store = ids.store_id(serial)
    for action in (Call.of("ConnectCustomKeyStore", CustomKeyStoreId=store),
                   Call.of("DisconnectCustomKeyStore", CustomKeyStoreId=store),  # abandons the attempt
                   Internal("DisconnectCompletes", serial),
                   Call.of("ConnectCustomKeyStore", CustomKeyStoreId=store),
                   Internal("ConnectionAttemptCompletes", serial),
                   Call.of("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")):
        world = do(action)
    key = world.keys[-1].key_id
    kid = ids.key_id(key)
    for action in (Call.of("ScheduleKeyDeletion", KeyId=kid), Call.of("CancelKeyDeletion", KeyId=kid),
                   Call.of("DisableKey", KeyId=kid), Call.of("EnableKey", KeyId=kid),
                   Call.of("UpdateCustomKeyStore", CustomKeyStoreId=store, NewCustomKeyStoreName="renamed"),
                   Call.of("ScheduleKeyDeletion", KeyId=kid),
                   Call.of("DisconnectCustomKeyStore", CustomKeyStoreId=store),
                   Internal("DisconnectCompletes", serial),
                   Internal("KeyDeletionCompletes", key),  # the store is not connected: orphaned backing key
                   Environment("kmsuser_enables_2fa", (world.stores[-1].cluster_id,)),
                   # KU-12, KU-14: an HSM without kmsuser joins
                   Environment("create_hsm_from_older_backup", (world.stores[-1].cluster_id, "us-east-1a")),
                   Call.of("ConnectCustomKeyStore", CustomKeyStoreId=store),
                   Internal("ConnectionAttemptCompletes", serial),
                   Call.of("DisconnectCustomKeyStore", CustomKeyStoreId=store),
                   Internal("DisconnectCompletes", serial),
                   Call.of("UpdateCustomKeyStore", CustomKeyStoreId=store, KeyStorePassword="n3wPassw0rd"),
                   Call.of("DeleteCustomKeyStore", CustomKeyStoreId=store)):
        world = do(action)
    assert not world.stores
    enc = _relation(2, 3, 2, "permissive")[0]
    rows = {f"{a.operation}: {a.branch}" for a in enc.actions[ENVIRONMENT + 1:]}
    # documented alternatives the paths do not take are still checked by the random walks
    missing = sorted(r for r in rows - seen if not any(a.alt for a in enc.actions
                                                        if f"{a.operation}: {a.branch}" == r))
    assert not missing, missing


def test_the_relation_rejects_what_the_executor_rejects():
    """A concrete counter-check: Connect on a FAILED store has no successor but the stutter."""
    d = Driver(healthy_account(1))
    store = d.create_store()
    d.env("delete_kmsuser", d.cluster_serial())
    d.connect(store)
    assert d.store_state(store) == "FAILED"
    world = d.world
    action = Call.of("ConnectCustomKeyStore", CustomKeyStoreId=store)
    slots = Slots([world])
    enc, s, _t, act, request, solver = _relation(slots.scope.stores, slots.scope.clusters, slots.scope.keys,
                                                "permissive")
    codec = Codec()
    solver.push()
    slot = subject_slot(world, action, slots, PERMISSIVE)
    connects = [a.index for a in enc.actions if a.operation == "ConnectCustomKeyStore" and a.slot == slot]
    assert slot != ABSENT and connects
    solver.add(pin(s, values(world, slots, codec, PERMISSIVE)),
               request_values(world, action, slots, codec, PERMISSIVE, request), z3.Or([act == a for a in connects]))
    assert solver.check() == z3.unsat
    solver.pop()


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_symbolic_readers_agree_with_the_fact_readers(seed):
    """Every fact's symbolic twin (readers.py) reads the same value as the concrete reader
    (facts.py), for the subject and request of random calls, including facts that only
    read-only rows use (which the successor comparison above cannot see)."""
    from ckspec.model.executor import subject_context
    from ckspec.model.proof.readers import READERS, View

    rng = random.Random(seed)
    world = _start(rng)
    for _ in range(5):
        actions = [a for a in _actions(world) if isinstance(a, Call)]
        for action in rng.sample(actions, min(4, len(actions))):
            slots = Slots([world], extra_clusters=[c for c in [request_cluster(action)] if c is not None])
            codec = Codec()
            sc = slots.scope
            _enc, s, _t, _act, request, solver = _relation(sc.stores, sc.clusters, sc.keys, "permissive")
            op = operation_of(action)
            subject = subject_slot(world, action, slots, PERMISSIVE)
            if subject == ABSENT:
                continue
            ctx = subject_context(world, action, PERMISSIVE)
            view = View(s, request, PERMISSIVE, op.subject, subject)
            solver.push()
            solver.add(pin(s, values(world, slots, codec, PERMISSIVE)),
                       request_values(world, action, slots, codec, PERMISSIVE, request))
            assert solver.check() == z3.sat
            model = solver.model()
            for name, reader in READERS.items():
                symbolic = z3.is_true(model.eval(reader(view), model_completion=True))
                assert symbolic == bool(ctx.fact(name)), (name, action)
            solver.pop()
        found = outcomes(world, rng.choice(_actions(world)), PERMISSIVE)
        if found:
            world = rng.choice(found).world
