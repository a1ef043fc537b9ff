"""The prover: induction for any number of steps, BMC for counterexamples, ranks for recovery.

1. The lemmas and the expected-true invariants are the candidate invariant. Candidates that
   do not hold initially or are not preserved by every transition (assuming all candidates
   before it) are dropped until the rest is inductive (Houdini's algorithm). What remains
   holds in every reachable state, for any number of steps.
2. Invariants that remain are *proved*; consequences and step properties are proved when
   no transition (or state) that satisfies the inductive invariant violates them.
3. Recovery is proved with ranks: from every state of the inductive invariant, some user
   move (or internal completion) strictly lowers a rank that is 0 exactly at the goal, so
   the goal is at most ``rank`` moves away.
4. Whatever is not proved is searched for a counterexample by bounded model checking from
   the initial states, up to ``depth`` steps. A counterexample is *violated*; no proof and no
   counterexample is *unknown*.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import attrs
import z3

from ..aws_service import CLOUDHSM_ERROR_CODES
from ..profiles import PERMISSIVE, Profile
from ..transitions import Operation
from .properties import LEMMAS, PROPERTIES, Lemma, Property
from .readers import READERS, REQUEST_FACTS, Request, View
from .relation import ENVIRONMENT, Encoding, environment_changes
from .state import (
    CODE,
    CONN,
    CONN_STATES,
    DEFAULT_SCOPE,
    KEY_STATES,
    KSTATE,
    State,
    SymbolicScope,
)
from .traces import Trace, from_model

DEFAULT_DEPTH = 8


@attrs.frozen
class Result:
    property: Property
    result: str  # "proved", "violated" or "unknown"
    seconds: float
    counterexample: Trace | None = None
    how: str = ""

    @property
    def as_expected(self) -> bool:
        return self.result == ("proved" if self.property.expected == "holds" else "violated")

    def as_dict(self) -> dict:
        out = {"id": self.property.id, "statement": self.property.statement, "expected": self.property.expected,
               "result": self.result, "seconds": round(self.seconds, 4), "rules": list(self.property.rules),
               "kind": self.property.kind, "how": self.how}
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample.as_dict()
        return out


@attrs.frozen
class Report:
    scope: SymbolicScope
    profile: str
    depth: int
    results: tuple[Result, ...]
    lemmas: tuple[tuple[str, str, bool], ...]
    seconds: float
    #: sanity (non-vacuity): each connection state, error code and key state, and the steps
    #: BMC needed to reach it (None: not reached within the depth)
    reachable: tuple[tuple[str, int | None], ...] = ()

    @property
    def vacuous(self) -> list[str]:
        return [what for what, steps in self.reachable if steps is None]

    @property
    def ok(self) -> bool:
        return all(r.as_expected for r in self.results) and not self.vacuous

    def as_dict(self) -> dict:
        return {"scope": attrs.asdict(self.scope) | {"text": self.scope.describe()}, "profile": self.profile,
                "bmc_depth": self.depth, "ok": self.ok, "seconds": round(self.seconds, 4),
                "lemmas": [{"id": i, "statement": s, "inductive": ok} for i, s, ok in self.lemmas],
                "reachable": [{"what": w, "steps": n} for w, n in self.reachable],
                "properties": [r.as_dict() for r in self.results]}


class _Unrolling:
    """Initial states and ``k`` steps of the relation, extended on demand (BMC)."""

    def __init__(self, enc: Encoding) -> None:
        self.enc = enc
        self.solver = z3.Solver()
        self.states = [State.fresh(enc.scope, "b0")]
        self.acts: list[z3.ArithRef] = []
        self.requests: list[Request] = []
        self.solver.add(enc.initial(self.states[0]))
        self._searches = 0

    def extend(self, k: int) -> None:
        while len(self.acts) < k:
            n = len(self.acts)
            nxt = State.fresh(self.enc.scope, f"b{n + 1}")
            constraint, act, request = self.enc.step(self.states[n], nxt, f"b{n}")
            self.solver.add(constraint)
            self.states.append(nxt)
            self.acts.append(act)
            self.requests.append(request)

    def search(self, bad_at: Callable[[_Unrolling, int], z3.BoolRef], depth: int,
               smallest: bool = True) -> tuple[z3.ModelRef, int] | None:
        self._searches += 1
        for k in range(depth + 1):
            self.extend(k)
            flag = z3.Bool(f"bad@{self._searches}@{k}")
            self.solver.add(z3.Implies(flag, bad_at(self, k)))
            if self.solver.check(flag) == z3.sat:
                return (self._smallest_environment(flag, k) if smallest else self.solver.model()), k
        return None

    def _smallest_environment(self, flag: z3.BoolRef, k: int) -> z3.ModelRef:
        """Among counterexamples of this length, one whose environment steps change little."""
        model = self.solver.model()
        changes = z3.Sum([z3.If(self.acts[n] == ENVIRONMENT, environment_changes(self.states[n], self.states[n + 1]), 0)
                          for n in range(k)]) if k else z3.IntVal(0)
        for bound in (0, 1, 2, 4, 8):
            small = z3.Bool(f"small@{self._searches}@{k}@{bound}")
            self.solver.add(z3.Implies(small, changes <= bound))
            if self.solver.check(flag, small) == z3.sat:
                return self.solver.model()
        return model


def _state_bad(p_state, enc: Encoding) -> Callable[[_Unrolling, int], z3.BoolRef]:
    def bad(u: _Unrolling, k: int) -> z3.BoolRef:
        return z3.Not(p_state(enc, u.states[k], Request(f"q{k}")))
    return bad


def _step_bad(p_step, enc: Encoding) -> Callable[[_Unrolling, int], z3.BoolRef]:
    def bad(u: _Unrolling, k: int) -> z3.BoolRef:
        if k == 0:
            return z3.BoolVal(False)
        return z3.Not(p_step(enc, u.states[k - 1], u.states[k], u.acts[k - 1]))
    return bad


def prove(scope: SymbolicScope = DEFAULT_SCOPE, profile: Profile = PERMISSIVE,
          operations: Mapping[str, Operation] | None = None, only: Iterable[str] | None = None,
          depth: int = DEFAULT_DEPTH, lemmas: tuple[Lemma, ...] = LEMMAS,
          properties: tuple[Property, ...] = PROPERTIES, check_reachability: bool | None = None) -> Report:
    started = time.perf_counter()
    enc = Encoding(scope, profile, operations)
    wanted = set(only) if only is not None else None
    chosen = tuple(p for p in properties if wanted is None or p.id in wanted)
    s, t = State.fresh(scope, "s"), State.fresh(scope, "t")
    step, act, request = enc.step(s, t, "s")
    solver = z3.Solver()
    solver.add(step)

    # 1. Houdini: the largest inductive subset of the candidates ---------------------------------
    candidates: list[tuple[str, Callable]] = [(lem.id, lem.state) for lem in lemmas]
    candidates += [(p.id, p.state) for p in properties if p.kind == "invariant" and p.expected == "holds"]
    survived, inductive, timings = _houdini(enc, candidates, solver, s, t, request)
    lemma_status = tuple((lem.id, lem.statement, lem.id in survived) for lem in lemmas)

    # 2. each property against the inductive invariant; 4. counterexamples ----------------------
    unrolling = _Unrolling(enc)
    results = []
    for prop in chosen:
        t0 = time.perf_counter() - timings.get(prop.id, 0.0)
        if prop.kind == "recovery":
            results.append(_recovery(prop, enc, solver, inductive, s, unrolling, depth, t0))
            continue
        proved = _relative(prop, enc, solver, inductive, s, t, act, request, survived)
        if proved:
            results.append(Result(prop, "proved", time.perf_counter() - t0, how=_how(prop)))
            continue
        bads = []
        if prop.state is not None:
            bads.append(_state_bad(prop.state, enc))
        if prop.step is not None:
            bads.append(_step_bad(prop.step, enc))
        found = None
        for bad in bads:
            found = unrolling.search(bad, depth)
            if found:
                break
        if found:
            model, k = found
            trace = from_model(model, enc, unrolling.states[:k + 1], unrolling.acts[:k], prop.id)
            results.append(Result(prop, "violated", time.perf_counter() - t0, trace, f"counterexample in {k} steps"))
        else:
            results.append(Result(prop, "unknown", time.perf_counter() - t0,
                                  how=f"not inductive, and no counterexample within {depth} steps"))
    if check_reachability is None:
        check_reachability = only is None  # a selection of properties asks for those only
    reachable = _reachability(enc, unrolling, depth) if check_reachability else ()
    return Report(scope, profile.name, depth, tuple(results), lemma_status, time.perf_counter() - started, reachable)


def _reachability(enc: Encoding, unrolling: _Unrolling, depth: int) -> tuple[tuple[str, int | None], ...]:
    """Every connection state, error code and key state is reachable: the encoding is not
    vacuous (a relation that allowed nothing would make every safety property 'proved')."""
    targets: list[tuple[str, Callable[[State], z3.BoolRef]]] = []
    for name in CONN_STATES[1:]:
        targets.append((f"store {name}", lambda s, n=name: z3.Or([s.get("st", i) == CONN[n]
                                                                  for i in range(s.scope.stores)])))
    for code in sorted(CLOUDHSM_ERROR_CODES):
        targets.append((f"code {code}", lambda s, c=code: z3.Or([s.get("code", i) == CODE[c]
                                                                 for i in range(s.scope.stores)])))
    for name in KEY_STATES[1:]:
        targets.append((f"key {name}", lambda s, n=name: z3.Or([s.get("ks", k) == KSTATE[n]
                                                                for k in range(s.scope.keys)])))
    out = []
    for what, goal in targets:
        found = unrolling.search(lambda u, k, g=goal: g(u.states[k]), depth, smallest=False)
        out.append((what, found[1] if found else None))
    return tuple(out)


def _houdini(enc: Encoding, candidates: list[tuple[str, Callable]], solver: z3.Solver, s: State, t: State,
             request: Request) -> tuple[set[str], list[z3.BoolRef], dict[str, float]]:
    """Drop the candidate conjuncts that fail initially or are not preserved (assuming all the
    others) until the rest is inductive. Each candidate is split into its conjuncts, so one
    false conjunct does not take the rest with it. Returns the candidates that survived whole,
    the assumption literals of the inductive conjuncts (asserted in ``solver``), and the time
    spent on each candidate."""
    initial = z3.Solver()
    s0 = State.fresh(enc.scope, "i")
    initial.add(enc.initial(s0))
    timings: dict[str, float] = {}
    sizes: dict[str, int] = {}
    active: dict[tuple[str, int], tuple[z3.BoolRef, z3.BoolRef]] = {}
    for cid, formula in candidates:
        t0 = time.perf_counter()
        now, then = _split(formula(enc, s, request)), _split(formula(enc, t, request))
        initially = _split(formula(enc, s0, Request("i")))
        for n, (a, b, c) in enumerate(zip(now, then, initially)):
            here, there = z3.Bool(f"assume:{cid}:{n}"), z3.Bool(f"refute:{cid}:{n}")
            solver.add(z3.Implies(here, a), z3.Implies(there, z3.Not(b)))
            if initial.check(z3.Not(c)) == z3.unsat:
                active[(cid, n)] = (here, there)
        sizes[cid] = len(now)
        timings[cid] = time.perf_counter() - t0
    changed = True
    while changed:
        changed = False
        for key in list(active):
            t0 = time.perf_counter()
            preserved = solver.check(*[h for h, _ in active.values()], active[key][1]) == z3.unsat
            timings[key[0]] += time.perf_counter() - t0
            if not preserved:
                del active[key]
                changed = True
    survived = {cid for cid, size in sizes.items() if all((cid, n) in active for n in range(size))}
    return survived, [h for h, _ in active.values()], timings


def _split(formula: z3.BoolRef) -> list[z3.BoolRef]:
    """The conjuncts of a formula (nested conjunctions flattened)."""
    if z3.is_and(formula):
        return [part for child in formula.children() for part in _split(child)]
    return [formula]


def _how(prop: Property) -> str:
    return {"invariant": "inductive invariant", "consequence": "follows from the inductive invariant",
            "step": "holds for every transition from a state of the inductive invariant"}.get(prop.kind, "")


def _relative(prop, enc, solver, inductive, s, t, act, request, active) -> bool:
    if prop.kind == "invariant":
        if prop.id not in active:
            return False
        if prop.step is None:
            return True
    checks = []
    if prop.state is not None and prop.kind == "consequence":
        checks.append(z3.Not(prop.state(enc, s, request)))
    if prop.step is not None:
        checks.append(z3.Not(prop.step(enc, s, t, act)))
    for bad in checks:
        flag = z3.Bool(f"relative:{prop.id}:{checks.index(bad)}")
        solver.add(z3.Implies(flag, bad))
        if solver.check(*inductive, flag) != z3.unsat:
            return False
    return True


# --- recovery ------------------------------------------------------------------------------------

RECOVERY_OPERATIONS = ("DisconnectCustomKeyStore", "DisconnectCompletes", "ConnectCustomKeyStore",
                       "ConnectionAttemptCompletes")
HEALTHY_FACTS = ("cluster_exists", "cluster_active", "hsm_ge1", "subnets_exist", "subnets_free", "subnets_2az", "sg_intact",
                 "kmsuser_exists", "kmsuser_on_every_hsm", "password_matches")
UNHEALTHY_FACTS = ("kmsuser_logged_in", "kmsuser_locked", "kmsuser_2fa")


def plain_request(request: Request) -> z3.BoolRef:
    """A request that names its store and nothing else (what Connect and Disconnect send)."""
    return z3.And(*(request.facts[n] == (n == "req_store") for n in REQUEST_FACTS),
                  z3.Not(request.has_name), z3.Not(request.has_anchor), z3.Not(request.has_password))


def _moves(enc: Encoding, s: State, request: Request) -> list[tuple[z3.BoolRef, State]]:
    return [enc.transition(action, s, request) for action in enc.actions if action.operation in RECOVERY_OPERATIONS]


def _rank(s: State, weights: dict[str, int]) -> z3.ArithRef:
    total = []
    for i in range(s.scope.stores):
        term = z3.IntVal(0)
        for name, w in weights.items():
            term = z3.If(s.get("st", i) == CONN[name], w, term)
        total.append(term)
    return z3.Sum(total)


DOWN = {"DISCONNECTING": 1, "CONNECTED": 2, "CONNECTING": 2, "FAILED": 2}
UP = {"CONNECTING": 1, "DISCONNECTED": 2, "DISCONNECTING": 3, "FAILED": 4}


def healthy(enc: Encoding, s: State, request: Request) -> z3.BoolRef:
    """The environment lets every store connect: every condition of CONNECT-06, and those of the
    quick checks of CONNECT-07 (subnets in two AZs), which a one-answer profile reports as an
    error whenever they fail (AMB-08), so a cluster with subnets in one AZ never connects there."""
    parts = [s["network_ok"], s["kms_ok"]]
    for i in range(s.scope.stores):
        view = View(s, request, enc.profile, "store", i)
        facts = [READERS[f](view) for f in HEALTHY_FACTS] + [z3.Not(READERS[f](view)) for f in UNHEALTHY_FACTS]
        parts.append(z3.Implies(s.store_exists(i), z3.And(facts)))
    return z3.And(parts)


def _stuck(enc: Encoding, s: State, request: Request, goal: str) -> z3.BoolRef:
    """No recovery move lowers the rank, though the goal is not reached."""
    weights = DOWN if goal == "down" else UP
    rank = _rank(s, weights)
    better = []
    for enabled, post in _moves(enc, s, request):
        keeps = healthy(enc, post, request) if goal == "up" else z3.BoolVal(True)
        better.append(z3.And(enabled, _rank(post, weights) < rank, keeps))
    premise = [plain_request(request), rank > 0, s["kms_ok"]]
    if goal == "up":
        premise.append(healthy(enc, s, request))
    return z3.And(*premise, z3.Not(z3.Or(better)))


def _recovery(prop: Property, enc: Encoding, solver: z3.Solver, inductive, s: State, unrolling: _Unrolling,
              depth: int, t0: float) -> Result:
    for goal, what in (("down", "DISCONNECTED"), ("up", "CONNECTED (healthy environment)")):
        request = Request(f"recover-{goal}")
        flag = z3.Bool(f"stuck:{goal}")
        solver.add(z3.Implies(flag, _stuck(enc, s, request, goal)))
        if solver.check(*inductive, flag) == z3.unsat:
            continue
        found = unrolling.search(lambda u, k, g=goal: _stuck(enc, u.states[k], Request(f"r{g}{k}"), g), depth)
        if found:
            model, k = found
            trace = from_model(model, enc, unrolling.states[:k + 1], unrolling.acts[:k], prop.id,
                               note=f"no user move brings the stores closer to {what}")
            return Result(prop, "violated", time.perf_counter() - t0, trace, f"stuck state reached in {k} steps")
        return Result(prop, "unknown", time.perf_counter() - t0,
                      how=f"no rank argument towards {what}, and no stuck state within {depth} steps")
    n = enc.scope.stores
    return Result(prop, "proved", time.perf_counter() - t0,
                  how=f"rank: DISCONNECTED within {2 * n} moves, CONNECTED within {4 * n} moves for {n} stores "
                      f"(no KMS internal fault while moving)")
