"""The Z3 proofs: every property as expected on the model, and each one can fail.

P-ENTRY-CONNECTED (CONNECT-06), P-FAILED-EXIT (TR-09, CONNECT-04), P-ERRORCODE-IFF-FAILED
(CS-07), P-KEY-ENTRY (KEY-02, KEY-03), P-NO-ORPHAN-KEYS (DELETE-02), P-UNIQUE (CREATE-03,
CREATE-06, CREATE-09), P-UNAVAILABLE (KS-02), P-UPDATE-SAFE (UPDATE-03, UPDATE-07),
P-ONLY-USER-DISCONNECTS (CS-03, TR-08), P-RECOVERABLE (DISC-03, TR-06), and the expected
counterexample N-CONNECTED-HAS-HSM (TR-08).
"""

from __future__ import annotations

import pytest
import z3
from ckspec.model import Driver, healthy_account
from ckspec.model.effects import FACT_CHANGES
from ckspec.model.profiles import LEGACY, PERMISSIVE, REFERENCE
from ckspec.model.proof import MUTATIONS, PROPERTIES, SymbolicScope, mutated, prove
from ckspec.model.proof.properties import LEMMAS
from ckspec.model.proof.readers import READERS, Request, View
from ckspec.model.proof.relation import Encoding, fires, post_state
from ckspec.model.proof.state import State


@pytest.fixture(scope="module")
def report():
    return prove()


def test_every_property_is_as_expected(report):
    assert report.ok, [(r.property.id, r.result, r.how) for r in report.results if not r.as_expected]
    assert {r.property.id for r in report.results} == {p.id for p in PROPERTIES}
    assert all(inductive for _, _, inductive in report.lemmas)


def test_the_encoding_is_not_vacuous(report):
    """A relation that allowed nothing would prove every safety property: BMC reaches every
    connection state, every CloudHSM error code and every key state."""
    assert len(report.reachable) == 5 + 10 + 3 and not report.vacuous
    assert dict(report.reachable)["store CONNECTED"] == 3  # Create, Connect, the attempt succeeds


def test_a_table_that_allows_nothing_is_caught_as_vacuous():
    import attrs

    from ckspec.model.transitions import OPERATIONS

    frozen = {name: attrs.evolve(op, branches=()) for name, op in OPERATIONS.items()}
    report = prove(operations=frozen)
    assert not report.ok and "store CONNECTED" in report.vacuous


def test_the_issue_properties_are_all_there():
    wanted = {"P-ENTRY-CONNECTED", "P-FAILED-EXIT", "P-ERRORCODE-IFF-FAILED", "P-KEY-ENTRY", "P-NO-ORPHAN-KEYS",
              "P-UNIQUE", "P-UNAVAILABLE", "P-UPDATE-SAFE", "P-ONLY-USER-DISCONNECTS", "P-RECOVERABLE",
              "N-CONNECTED-HAS-HSM"}
    assert wanted <= {p.id for p in PROPERTIES}
    for p in PROPERTIES:
        assert p.rules and p.statement and p.expected in ("holds", "violated")


def test_safety_is_proved_unbounded_not_by_bmc(report):
    for r in report.results:
        if r.property.expected == "holds":
            assert r.result == "proved" and r.counterexample is None
            assert "inductive" in r.how or "rank" in r.how, r.how


def test_connected_without_hsm_counterexample_is_connect_then_lose_the_hsms(report):
    """TR-08: the store stays CONNECTED when its HSMs go afterwards; Z3 finds exactly that."""
    r = next(r for r in report.results if r.property.id == "N-CONNECTED-HAS-HSM")
    assert r.result == "violated"
    trace = r.counterexample
    actions = [s.action for s in trace.steps]
    assert actions[1].startswith("CreateCustomKeyStore")
    assert any(a.startswith("ConnectCustomKeyStore") for a in actions)
    assert any("attempt succeeds" in a for a in actions)
    assert actions[-1].startswith("environment:") and "hsm_ge1 becomes false" in actions[-1]
    final = trace.steps[-1].state
    assert "CONNECTED" in final.values()
    text = trace.text()
    assert "counterexample to N-CONNECTED-HAS-HSM" in text and "step 4" in text


def test_the_counterexample_happens_in_the_executable_model():
    """The same story, replayed on the executor: connect, delete both HSMs, still CONNECTED."""
    d = Driver(healthy_account(1))
    store = d.create_store()
    d.connect(store)
    cluster = d.world.clusters[0]
    for hsm in cluster.hsms:
        d.env("delete_hsm", cluster.cluster_id, hsm.hsm_id)
    assert d.store_state(store) == "CONNECTED" and not d.world.clusters[0].hsms


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_each_mutation_breaks_its_property_with_a_counterexample(mutation):
    result = prove(operations=mutated(mutation.name), only=[mutation.breaks])
    [r] = result.results
    assert r.result == "violated", (mutation.name, r.result, r.how)
    assert r.counterexample is not None and r.counterexample.property == mutation.breaks
    assert r.counterexample.text().startswith(f"counterexample to {mutation.breaks}")
    itf = r.counterexample.itf()
    assert itf["states"][0]["#meta"]["index"] == 0 and len(itf["states"]) == len(r.counterexample.steps)


def test_the_one_answer_profiles_prove_too():
    """The relation mirrors choose() for one-answer profiles (AMB-07); LEGACY differs only in AMB-14."""
    assert prove(profile=REFERENCE).ok
    assert prove(profile=LEGACY, only=["P-UPDATE-SAFE", "P-RECOVERABLE", "P-UNIQUE"]).ok


def test_a_bigger_scope_proves_the_same():
    report = prove(SymbolicScope(stores=3, clusters=3, keys=2), only=["P-UNIQUE", "P-NO-ORPHAN-KEYS",
                                                                       "N-CONNECTED-HAS-HSM"])
    assert report.ok and report.scope.stores == 3


def test_depth_zero_finds_no_counterexample_and_says_unknown():
    report = prove(only=["N-CONNECTED-HAS-HSM"], depth=2)
    [r] = report.results
    assert r.result == "unknown" and not report.ok and "within 2 steps" in r.how


def test_scope_bounds_are_checked():
    with pytest.raises(ValueError, match="stores must be a whole number from 1 to 8"):
        SymbolicScope(stores=0)


# --- the symbolic effects mean what FACT_CHANGES declares -------------------------------------

SUBJECT_FACTS = ("cluster_exists", "cluster_active", "hsm_ge1", "hsm_2az", "subnets_2az", "sg_intact",
                 "subnets_exist", "subnets_free", "kmsuser_exists", "kmsuser_logged_in", "kmsuser_locked",
                 "kmsuser_failed_before", "kmsuser_2fa", "password_matches", "network_ok", "kms_ok",
                 "store_has_keys", "attempt_in_flight", "sessions_free", "material_present", "reads_lag")


def test_symbolic_effects_change_exactly_the_declared_facts():
    """CONNECT-11, AMB-25, DK-04: for every branch, with the solver: after its symbolic effects,
    each fact FACT_CHANGES declares takes its value and every other subject fact keeps its own."""
    enc = Encoding()
    s = State.fresh(enc.scope, "e")
    request = Request("e")
    solver = z3.Solver()
    solver.add(*(lem.state(enc, s, request) for lem in LEMMAS), request.well_formed(s))
    checked = 0
    for op in enc.operations.values():
        for branch in op.branches:
            if not branch.effects or {"create_store", "delete_store", "delete_key"} & set(branch.effects):
                continue
            declared: dict[str, bool | None] = {}
            for name in branch.effects:
                declared.update(FACT_CHANGES[name])
            slot = None if op.subject in ("new_store", "account") else 0
            view = View(s, request, PERMISSIVE, op.subject, slot)
            post, room = post_state(op, branch, view)
            after = View(post, request, PERMISSIVE, op.subject, slot)
            for fact in SUBJECT_FACTS:
                if fact == "reads_lag" and branch.target is not None:
                    continue  # AMB-30: the row's target sets it
                if fact == "material_present" and op.subject != "key":
                    continue
                want = declared.get(fact, "same") if fact in declared else "same"
                if want is None:
                    continue
                expected = READERS[fact](view) if want == "same" else z3.BoolVal(want)
                bad = z3.And(fires(op, branch, view, PERMISSIVE), room, READERS[fact](after) != expected)
                assert solver.check(bad) == z3.unsat, (op.name, branch.name, fact)
                checked += 1
    assert checked > 100
