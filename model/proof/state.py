"""The symbolic state: one account's worth of solver variables for a bounded number of slots.

A :class:`SymbolicScope` fixes how many key stores, clusters and KMS keys the proofs speak
about; the proofs then hold for *any number of steps* over that many objects. A
:class:`State` is one copy of every variable (the state at one step of a trace). Its
fields are the projection of a concrete :class:`~ckspec.model.world.World` that the
transition table's facts need, and nothing more:

* per store slot: connection state (``ABSENT`` when the slot holds no store), error code,
  attempt in flight, lagging reads, name, cluster slot, trust anchor (as the lineage its
  certificate belongs to) and the kmsuser password KMS holds;
* per cluster slot: whether it exists, its lineage, whether it has a trust anchor, the
  cluster facts (active, HSMs, subnets, security group, sessions) and its kmsuser;
* per key slot: its own state (``ABSENT`` when the slot holds no key), its store slot,
  and in which clusters its backing key exists;
* the account: network and KMS faults, the quota, and the count of KMS-generated passwords.

Names, passwords and trust anchors are integers: only their equality matters to the rules.
A password a person chose is ``>= 0``; the n-th password KMS generated (CONNECT-11) is ``-n``.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import z3

from ..aws_service import ConnectionErrorCode, ConnectionState
from ..transitions import KEY_PRESENT
from ..world import ABSENT

CONN_STATES = (ABSENT, *(s.value for s in ConnectionState))
NO_CODE = "NONE"
CODES = (NO_CODE, *(c.value for c in ConnectionErrorCode))
KEY_STATES = (ABSENT, *sorted(KEY_PRESENT))

Conn, _conn = z3.EnumSort("ConnState", list(CONN_STATES))
Code, _code = z3.EnumSort("ErrorCode", list(CODES))
KState, _kstate = z3.EnumSort("KeyState", list(KEY_STATES))
CONN = dict(zip(CONN_STATES, _conn))
CODE = dict(zip(CODES, _code))
KSTATE = dict(zip(KEY_STATES, _kstate))
ENUMS = {"conn": (Conn, CONN), "code": (Code, CODE), "kstate": (KState, KSTATE)}


@attrs.frozen
class SymbolicScope:
    """How many objects of each kind the symbolic state holds."""

    stores: int = 2
    clusters: int = 2
    keys: int = 2

    def __attrs_post_init__(self) -> None:
        for name in ("stores", "clusters", "keys"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 8:
                raise ValueError(f"proof scope: {name} must be a whole number from 1 to 8, got {value!r}")

    def describe(self) -> str:
        return f"{self.stores} stores, {self.clusters} clusters, {self.keys} keys, any number of steps"


#: the scope the proofs use unless told otherwise (issue 3 asks for at least 2, 2, 2)
DEFAULT_SCOPE = SymbolicScope()


@attrs.frozen
class Field:
    """One kind of variable: ``owner`` says which slots it exists for."""

    name: str
    owner: str  # "account", "store", "cluster", "key" or "material" (key x cluster)
    sort: str  # "bool", "int", or an ENUMS key
    doc: str


FIELDS: tuple[Field, ...] = (
    Field("network_ok", "account", "bool", "no transient network fault (CEC-06)"),
    Field("kms_ok", "account", "bool", "no transient KMS internal fault (CEC-04)"),
    Field("quota", "account", "int", "the custom key store quota (Q-01)"),
    Field("secrets", "account", "int", "how many kmsuser passwords KMS has generated (CONNECT-11)"),
    Field("st", "store", "conn", "the store's ConnectionState, or ABSENT"),
    Field("code", "store", "code", "the store's ConnectionErrorCode, or NONE"),
    Field("attempt", "store", "bool", "a connection attempt is in flight (TR-01)"),
    Field("lag", "store", "bool", "reads may still show the state before the last call (AMB-30)"),
    Field("name", "store", "int", "the store's name"),
    Field("cluster", "store", "int", "the slot of the store's cluster"),
    Field("anchor", "store", "int", "the lineage of the store's trust anchor certificate"),
    Field("password", "store", "int", "the kmsuser password KMS holds"),
    Field("exists", "cluster", "bool", "the cluster exists"),
    Field("lineage", "cluster", "int", "the cluster certificate lineage (CL-05)"),
    Field("initialized", "cluster", "bool", "the cluster has its trust anchor (CL-06)"),
    Field("active", "cluster", "bool", "the cluster is in an active ClusterState"),
    Field("hsm_ge1", "cluster", "bool", "at least one active HSM"),
    Field("hsm_2az", "cluster", "bool", "active HSMs in at least two AZs"),
    Field("subnets_2az", "cluster", "bool", "existing subnets in at least two AZs"),
    Field("sg_intact", "cluster", "bool", "the security group keeps its 2223-2225 rules"),
    Field("subnets_exist", "cluster", "bool", "every subnet still exists"),
    Field("subnets_free", "cluster", "bool", "every existing subnet has a free address"),
    Field("sessions_free", "cluster", "bool", "a PKCS #11 session is free"),
    Field("user", "cluster", "bool", "kmsuser exists"),
    Field("logged_in", "cluster", "bool", "someone is logged in as kmsuser"),
    Field("locked", "cluster", "bool", "kmsuser is locked out"),
    Field("failed_before", "cluster", "bool", "a wrong-password login since the last password change"),
    Field("two_factor", "cluster", "bool", "kmsuser uses two-factor authentication"),
    Field("user_password", "cluster", "int", "kmsuser's current password"),
    Field("user_all", "cluster", "bool", "every active HSM holds kmsuser (KU-11, KU-14)"),
    Field("ks", "key", "kstate", "the key's own state, or ABSENT"),
    Field("key_store", "key", "int", "the slot of the key's store"),
    Field("material", "material", "bool", "the key's backing AES key exists in the cluster"),
)
FIELD = {f.name: f for f in FIELDS}
CLUSTER_FACT_FIELDS = ("active", "hsm_ge1", "hsm_2az", "subnets_2az", "sg_intact", "subnets_exist", "subnets_free",
                       "sessions_free")
USER_FIELDS = ("logged_in", "locked", "failed_before", "two_factor", "user_password", "user_all")


def slots(scope: SymbolicScope, field: Field) -> Iterator[tuple[int, ...]]:
    if field.owner == "account":
        yield ()
    elif field.owner == "store":
        yield from ((i,) for i in range(scope.stores))
    elif field.owner == "cluster":
        yield from ((c,) for c in range(scope.clusters))
    elif field.owner == "key":
        yield from ((k,) for k in range(scope.keys))
    else:
        yield from ((k, c) for k in range(scope.keys) for c in range(scope.clusters))


def var_name(field: str, index: tuple[int, ...]) -> str:
    return ".".join((field, *map(str, index)))


def _const(name: str, sort: str) -> z3.ExprRef:
    if sort == "bool":
        return z3.Bool(name)
    if sort == "int":
        return z3.Int(name)
    return z3.Const(name, ENUMS[sort][0])


class State:
    """One copy of every variable of a scope (``terms`` maps variable names to solver terms)."""

    def __init__(self, scope: SymbolicScope, terms: dict[str, z3.ExprRef]) -> None:
        self.scope = scope
        self.terms = terms

    @classmethod
    def fresh(cls, scope: SymbolicScope, tag: str) -> State:
        terms = {}
        for field in FIELDS:
            for index in slots(scope, field):
                name = var_name(field.name, index)
                terms[name] = _const(f"{name}@{tag}", field.sort)
        return cls(scope, terms)

    def __getitem__(self, key: str) -> z3.ExprRef:
        return self.terms[key]

    def get(self, field: str, *index: int) -> z3.ExprRef:
        return self.terms[var_name(field, index)]

    def copy(self) -> State:
        return State(self.scope, dict(self.terms))

    def set(self, field: str, index: tuple[int, ...], value: z3.ExprRef) -> None:
        self.terms[var_name(field, index)] = value

    # convenient views -------------------------------------------------------------------
    def store_exists(self, i: int) -> z3.BoolRef:
        return self.get("st", i) != CONN[ABSENT]

    def key_exists(self, k: int) -> z3.BoolRef:
        return self.get("ks", k) != KSTATE[ABSENT]

    def of_cluster(self, slot: z3.ExprRef, field: str, default: z3.ExprRef | None = None) -> z3.ExprRef:
        """``field`` of the cluster in ``slot`` (a solver term), ``default`` outside the scope."""
        n = self.scope.clusters
        result = default if default is not None else self.get(field, n - 1)
        for c in reversed(range(n - 1 if default is None else n)):
            result = z3.If(slot == c, self.get(field, c), result)
        return result

    def of_store(self, slot: z3.ExprRef, field: str) -> z3.ExprRef:
        n = self.scope.stores
        result = self.get(field, n - 1)
        for i in reversed(range(n - 1)):
            result = z3.If(slot == i, self.get(field, i), result)
        return result


def well_formed(s: State) -> z3.BoolRef:
    """What every state of the model satisfies by construction: slot references stay in the
    scope, two AZs of HSMs include one, passwords are people's or KMS's, the quota is >= 0."""
    scope = s.scope
    parts = [s["quota"] >= 0, s["secrets"] >= 0]
    for i in range(scope.stores):
        parts.append(z3.Implies(s.store_exists(i), z3.And(s.get("cluster", i) >= 0,
                                                          s.get("cluster", i) < scope.clusters,
                                                          s.get("password", i) >= -s["secrets"])))
    for c in range(scope.clusters):
        parts.append(z3.Implies(s.get("exists", c), z3.And(
            z3.Implies(s.get("hsm_2az", c), s.get("hsm_ge1", c)),
            s.get("user_password", c) >= -s["secrets"])))
    for k in range(scope.keys):
        parts.append(z3.Implies(s.key_exists(k), z3.And(s.get("key_store", k) >= 0,
                                                        s.get("key_store", k) < scope.stores)))
    return z3.And(parts)


def meaningful(s: State, name: str) -> z3.BoolRef:
    """When a variable means something: fields of an absent store, cluster, key or kmsuser do
    not (the concrete world has no such object), so comparisons and traces skip them."""
    field, *index = name.split(".")
    index = tuple(int(x) for x in index)
    owner = FIELD[field].owner
    if owner == "account" or field in ("st", "exists", "ks"):
        return z3.BoolVal(True)
    if owner == "store":
        return s.store_exists(index[0])
    if owner == "cluster":
        if field in USER_FIELDS:
            return z3.And(s.get("exists", *index), s.get("user", *index))
        return s.get("exists", *index)
    if owner == "key":
        return s.key_exists(index[0])
    k, c = index
    return z3.And(s.key_exists(k), s.get("exists", c))
