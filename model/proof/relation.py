"""The transition relation, derived from the transition table.

Every row of :data:`~ckspec.model.transitions.OPERATIONS` becomes solver terms here and
nowhere else: a Branch that can change the state becomes one *symbolic action* per subject
slot, enabled when its states and guard hold and no blocking Check holds (for a one-answer
profile: when :func:`~ckspec.model.executor.choose` would pick it), and its post-state is
the row's target and error code applied after the row's effects (as the executor does).
Checks never change the state, so every error answer is the *stutter* action; so are reads.

Environment events are one action too, ``environment``: it may change anything about
clusters, kmsuser, the network and KMS faults, and the backing keys a cluster holds
(they can only disappear from an existing cluster), and nothing about key stores or KMS
keys (CS-03, TR-08, AMB-31). That over-approximates every event of
:mod:`ckspec.model.environment` (an agreement test checks each against it), so what is
proved with it holds for the model.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import z3

from ..aws_service import input_members
from ..guards import Guard
from ..profiles import PERMISSIVE, Profile
from ..transitions import OPERATIONS, Branch, Check, Operation
from ..world import ABSENT
from .effects import SYMBOLIC_EFFECTS
from .readers import READERS, Request, View
from .state import (
    CODE,
    CONN,
    DEFAULT_SCOPE,
    FIELD,
    KSTATE,
    NO_CODE,
    State,
    SymbolicScope,
    well_formed,
)

STUTTER, ENVIRONMENT = 0, 1


class EncodingError(ValueError):
    """The table uses something the symbolic encoding cannot read (a fact or effect without a twin)."""


@attrs.frozen
class SymbolicAction:
    index: int
    operation: str
    kind: str  # "call", "internal", "environment" or "stutter"
    branch: str
    subject: str
    slot: int | None
    rules: tuple[str, ...] = ()
    alt: str | None = None
    target: str | None = None

    @property
    def label(self) -> str:
        if self.kind in ("environment", "stutter"):
            return self.branch
        where = "" if self.slot is None else f"({self.subject} {self.slot})"
        return f"{self.operation}{where}: {self.branch}"


def _changes_state(branch: Branch) -> bool:
    return branch.target is not None or bool(branch.effects)


def subject_slots(op: Operation, scope: SymbolicScope) -> tuple[int | None, ...]:
    if op.subject == "store":
        return tuple(range(scope.stores))
    if op.subject == "key":
        return tuple(range(scope.keys))
    return (None,)


def subject_state(view: View) -> z3.ExprRef | str:
    """The subject's state term (a store's ConnectionState, a key's own state), or ABSENT."""
    if view.subject == "store":
        return view.state.get("st", view.slot)
    if view.subject == "key":
        return view.state.get("ks", view.slot)
    return ABSENT


def in_states(view: View, states: frozenset[str]) -> z3.BoolRef:
    current = subject_state(view)
    if isinstance(current, str):
        return z3.BoolVal(current in states)
    values = KSTATE if view.subject == "key" else CONN
    return z3.Or([current == values[s] for s in sorted(states) if s in values])


def guard_term(guard: Guard, view: View) -> z3.BoolRef:
    def fact(name: str) -> z3.BoolRef:
        reader = READERS.get(name)
        if reader is None:
            raise EncodingError(f"the fact {name!r} has no symbolic reader in ckspec.model.proof.readers")
        return reader(view)

    return guard.fold(fact, z3.Not, lambda parts: z3.And(parts) if parts else z3.BoolVal(True),
                      lambda parts: z3.Or(parts) if parts else z3.BoolVal(False))


def matched(row: Check | Branch, view: View) -> z3.BoolRef:
    return z3.And(in_states(view, row.states), guard_term(row.when, view))


def fires(op: Operation, branch: Branch, view: View, profile: Profile) -> z3.BoolRef:
    """When the executor would apply ``branch``: mirrors ``matching_rows`` and ``choose``."""
    blocked = z3.Or([matched(c, view) for c in op.checks if c.blocking])
    mine = matched(branch, view)
    if not profile.single:
        return z3.And(z3.Not(blocked), mine)
    before = op.branches[:op.branches.index(branch)]
    primary_rows = [r for r in op.rows if r.alt is None]
    some_primary = z3.Or([matched(r, view) for r in primary_rows])
    if branch.alt is None:
        as_primary = z3.And(z3.Not(z3.Or([matched(c, view) for c in op.checks if c.alt is None])),
                            z3.Not(z3.Or([matched(b, view) for b in before if b.alt is None])))
    else:
        as_primary = z3.BoolVal(False)
    only_alternatives = z3.And(z3.Not(z3.Or([matched(c, view) for c in op.checks])),
                               z3.Not(z3.Or([matched(b, view) for b in before])))
    return z3.And(z3.Not(blocked), mine, z3.If(some_primary, as_primary, only_alternatives))


def post_state(op: Operation, branch: Branch, view: View) -> tuple[State, z3.BoolRef]:
    """The state after ``branch`` (effects, then the row's target and code) and the condition
    that the scope has room for what it creates."""
    pre = view.state
    post = pre.copy()
    room = []
    for name in branch.effects:
        twin = SYMBOLIC_EFFECTS.get(name)
        if twin is None:
            raise EncodingError(f"the effect {name!r} has no symbolic twin in ckspec.model.proof.effects")
        room.append(twin(pre, post, view))
    if branch.target is not None and branch.target != ABSENT:
        if op.subject == "store":
            i = view.slot
            target = CONN[branch.target]
            code = (branch.error_code if branch.target == "FAILED" else None) or NO_CODE
            post.set("st", (i,), target)
            post.set("code", (i,), CODE[code])
            moved = pre.get("st", i) != target
            post.set("lag", (i,), moved if op.kind == "call" else z3.BoolVal(False))
        elif op.subject == "key":
            post.set("ks", (view.slot,), KSTATE[branch.target])
    return post, z3.And(room) if room else z3.BoolVal(True)


def actions_of(operations: Mapping[str, Operation], scope: SymbolicScope) -> tuple[SymbolicAction, ...]:
    found = [SymbolicAction(STUTTER, "stutter", "stutter", "nothing changes (an error answer, or a read)", "", None),
             SymbolicAction(ENVIRONMENT, "environment", "environment", "the environment changes", "", None)]
    for op in operations.values():
        for branch in op.branches:
            if not _changes_state(branch):
                continue
            for slot in subject_slots(op, scope):
                found.append(SymbolicAction(len(found), op.name, op.kind, branch.name, op.subject, slot,
                                            branch.rules, branch.alt, branch.target))
    return tuple(found)


#: the variables the environment may change
ENVIRONMENT_OWNERS = ("cluster", "material")
ENVIRONMENT_ACCOUNT = ("network_ok", "kms_ok")


def _environment_may_change(name: str) -> bool:
    field = name.split(".")[0]
    return FIELD[field].owner in ENVIRONMENT_OWNERS or field in ENVIRONMENT_ACCOUNT


def environment_step(s: State, t: State) -> z3.BoolRef:
    """What an environment event may do (see the module doc)."""
    scope = s.scope
    parts = [well_formed(t)]
    for c in range(scope.clusters):
        stays = z3.And(s.get("exists", c), t.get("exists", c))
        parts.append(z3.Implies(stays, z3.And(
            t.get("lineage", c) == s.get("lineage", c),
            z3.Implies(s.get("initialized", c), t.get("initialized", c)),
            *(z3.Implies(t.get("material", k, c), s.get("material", k, c)) for k in range(scope.keys)))))
        # CL-07: a cluster is deleted only once its HSMs are gone
        parts.append(z3.Implies(z3.And(s.get("exists", c), z3.Not(t.get("exists", c))), z3.Not(s.get("hsm_ge1", c))))
        # cluster IDs are never reused: a slot a store still names holds no new cluster
        born = z3.And(z3.Not(s.get("exists", c)), t.get("exists", c))
        parts.append(z3.Implies(born, z3.And([z3.Or(z3.Not(s.store_exists(i)), s.get("cluster", i) != c)
                                              for i in range(scope.stores)])))
    return z3.And(parts)


def request_shape(op: Operation, request: Request) -> list[z3.BoolRef]:
    """What botocore's input shape of the operation says about its request (AMB-18: a call
    that breaks it never reaches the table): which name it carries, that it names its store."""
    if op.kind != "call":
        return []
    members, required = input_members(op.name)
    parts = []
    if op.subject_param == "CustomKeyStoreId":
        parts.append(request.facts["req_store"])  # the request names this store
    parts.append(request.has_password == request.facts["req_password"])  # KeyStorePassword is present
    if "TrustAnchorCertificate" not in members:
        parts.append(z3.Not(request.has_anchor))
    if "NewCustomKeyStoreName" in members:
        parts.append(request.has_name == request.facts["req_name"])
    elif "CustomKeyStoreName" in required:
        parts.append(request.has_name)
    return parts


def environment_changes(s: State, t: State) -> z3.ArithRef:
    """How many things an environment step changes: variables that mean something before and
    after, and clusters appearing or going (for short, readable counterexamples)."""
    from .state import meaningful

    count = []
    for name in s.terms:
        if not _environment_may_change(name):
            continue
        if name.startswith("exists."):
            count.append(z3.If(s[name] != t[name], 1, 0))
        else:
            count.append(z3.If(z3.And(meaningful(s, name), meaningful(t, name), s[name] != t[name]), 1, 0))
    return z3.Sum(count)


class Encoding:
    """The table of one set of operations, one profile and one scope, as solver terms."""

    def __init__(self, scope: SymbolicScope = DEFAULT_SCOPE, profile: Profile = PERMISSIVE,
                 operations: Mapping[str, Operation] | None = None) -> None:
        self.scope = scope
        self.profile = profile
        self.operations = dict(OPERATIONS if operations is None else operations)
        self.actions = actions_of(self.operations, scope)

    def step(self, s: State, t: State, tag: str) -> tuple[z3.BoolRef, z3.ArithRef, Request]:
        """The constraint that ``t`` follows ``s`` by one action, the action variable, the request."""
        act = z3.Int(f"act@{tag}")
        request = Request(tag)
        parts = [act >= 0, act < len(self.actions), request.well_formed(s)]
        chains: dict[str, list[tuple[int, z3.ExprRef]]] = {name: [] for name in s.terms}
        for action in self.actions[ENVIRONMENT + 1:]:
            enabled, post = self.transition(action, s, request)
            parts.append(z3.Implies(act == action.index, enabled))
            for name, term in post.terms.items():
                if term is not s.terms[name]:
                    chains[name].append((action.index, term))
        for name, options in chains.items():
            value = s.terms[name]
            for index, term in reversed(options):
                value = z3.If(act == index, term, value)
            same = t.terms[name] == value
            parts.append(z3.Or(act == ENVIRONMENT, same) if _environment_may_change(name) else same)
        parts.append(z3.Implies(act == ENVIRONMENT, environment_step(s, t)))
        return z3.And(parts), act, request

    def transition(self, action: SymbolicAction, s: State, request: Request) -> tuple[z3.BoolRef, State]:
        """When a table action can happen in ``s`` with ``request`` (its row fires, the request
        has the operation's shape, the scope has room), and the state it leads to."""
        op = self.operations[action.operation]
        branch = next(b for b in op.branches if b.name == action.branch)
        view = View(s, request, self.profile, op.subject, action.slot)
        post, room = post_state(op, branch, view)
        return z3.And(fires(op, branch, view, self.profile), room, *request_shape(op, request)), post

    def initial(self, s: State) -> z3.BoolRef:
        """An account with no key stores and no KMS keys, any clusters, before KMS generated a password."""
        scope = self.scope
        parts = [well_formed(s), s["secrets"] == 0, s["quota"] >= 1]
        for i in range(scope.stores):
            parts += [s.get("st", i) == CONN[ABSENT], s.get("code", i) == CODE[NO_CODE],
                      z3.Not(s.get("attempt", i)), z3.Not(s.get("lag", i))]
        for c in range(scope.clusters):
            parts.append(s.get("user_password", c) >= 0)
        parts += [s.get("ks", k) == KSTATE[ABSENT] for k in range(scope.keys)]
        return z3.And(parts)

    def action(self, index: int) -> SymbolicAction:
        return self.actions[index]
