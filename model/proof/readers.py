"""The facts of :mod:`ckspec.model.facts`, read off a symbolic state.

Each concrete fact reader has a symbolic twin here with the same name; the transition
table's guards are folded (``Guard.fold``) into solver terms through them, so the table
itself is never restated. The agreement tests hold the twins to the concrete readers on
random worlds: a reader that drifts shows up as a successor one side allows and the other
does not.

Facts about the request alone (which parameters are present, whether a marker parses, ...)
are request variables: free in proofs (any request), and pinned to the concrete reader's
answer when a concrete call is checked.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import z3

from ..profiles import Profile
from .state import CONN, KSTATE, State

#: facts about the request parameters only (read by the concrete readers, never by the state)
REQUEST_FACTS = (
    "malformed_arn", "ciphertext_invalid", "ciphertext_key_mismatch", "window_out_of_range", "req_store", "req_name",
    "req_password", "req_cluster", "cloudhsm_request", "key_request_forbidden", "outside_custom_key_stores",
    "both_filters", "filter_given", "marker_given", "marker_valid", "filter_matches",
)


class Request:
    """One step's request: the values a call names, and the request-only facts."""

    def __init__(self, tag: str) -> None:
        self.name = z3.Int(f"rq.name@{tag}")
        self.has_name = z3.Bool(f"rq.has_name@{tag}")
        self.cluster = z3.Int(f"rq.cluster@{tag}")
        self.anchor = z3.Int(f"rq.anchor@{tag}")
        self.has_anchor = z3.Bool(f"rq.has_anchor@{tag}")
        self.password = z3.Int(f"rq.password@{tag}")
        self.has_password = z3.Bool(f"rq.has_password@{tag}")
        self.facts = {name: z3.Bool(f"rq.{name}@{tag}") for name in REQUEST_FACTS}

    def variables(self) -> dict[str, z3.ExprRef]:
        return {"rq.name": self.name, "rq.has_name": self.has_name, "rq.cluster": self.cluster,
                "rq.anchor": self.anchor, "rq.has_anchor": self.has_anchor, "rq.password": self.password,
                "rq.has_password": self.has_password,
                **{f"rq.{n}": v for n, v in self.facts.items()}}

    def well_formed(self, s: State) -> z3.BoolRef:
        """A person's password is >= 0; a named cluster is a slot of the scope."""
        return z3.And(self.password >= 0, self.cluster >= 0, self.cluster < s.scope.clusters)


@attrs.frozen
class View:
    """What a guard is evaluated against: a state, a request, a profile and the subject."""

    state: State
    request: Request
    profile: Profile
    subject: str  # "store", "key", "new_store" or "account"
    slot: int | None = None


Reader = Callable[[View, int], z3.BoolRef]
#: readers of facts about a store (slot i): keys read them through their store
STORE_READERS: dict[str, Reader] = {}
#: every reader by fact name, taking a view
READERS: dict[str, Callable[[View], z3.BoolRef]] = {}


def store_fact(fn: Reader) -> Reader:
    STORE_READERS[fn.__name__] = fn
    READERS[fn.__name__] = _through_subject(fn)
    return fn


def fact(fn: Callable[[View], z3.BoolRef]) -> Callable[[View], z3.BoolRef]:
    READERS[fn.__name__] = fn
    return fn


def _through_subject(fn: Reader) -> Callable[[View], z3.BoolRef]:
    def read(view: View) -> z3.BoolRef:
        s = view.state
        if view.subject == "store":
            return fn(view, view.slot)
        if view.subject == "key":
            store = s.get("key_store", view.slot)
            return z3.Or([z3.And(store == i, fn(view, i)) for i in range(s.scope.stores)])
        return fn(view, None)  # no subject store: as the concrete readers with ctx.store None

    read.__name__ = fn.__name__
    return read


def _cluster(view: View, i: int | None, field: str) -> z3.BoolRef:
    """``field`` of store i's cluster, False when the store or its cluster does not exist."""
    if i is None:
        return z3.BoolVal(False)
    s = view.state
    slot = s.get("cluster", i)
    return z3.And(s.of_cluster(slot, "exists", z3.BoolVal(False)), s.of_cluster(slot, field, z3.BoolVal(False)))


def _user(view: View, i: int | None, field: str) -> z3.BoolRef:
    return z3.And(_cluster(view, i, "user"), _cluster(view, i, field))


@store_fact
def cluster_exists(view: View, i: int | None) -> z3.BoolRef:
    return _cluster(view, i, "exists")


for _name in ("cluster_active", "hsm_ge1", "hsm_2az", "subnets_2az", "sg_intact", "subnets_exist", "subnets_free"):
    def _reader(view: View, i: int | None, field: str = _name.replace("cluster_", "")) -> z3.BoolRef:
        return _cluster(view, i, field)

    _reader.__name__ = _name
    store_fact(_reader)


@store_fact
def sessions_free(view: View, i: int | None) -> z3.BoolRef:
    if i is None:
        return z3.BoolVal(True)  # as the concrete reader: no cluster, no exhausted sessions
    return z3.Or(z3.Not(cluster_exists(view, i)), _cluster(view, i, "sessions_free"))


@store_fact
def kmsuser_exists(view: View, i: int | None) -> z3.BoolRef:
    return _cluster(view, i, "user")


@store_fact
def kmsuser_on_every_hsm(view: View, i: int | None) -> z3.BoolRef:
    """KU-14: every active HSM holds kmsuser (implies that one does)."""
    return _user(view, i, "user_all")


@store_fact
def kmsuser_logged_in(view: View, i: int | None) -> z3.BoolRef:
    return _user(view, i, "logged_in")


@store_fact
def kmsuser_locked(view: View, i: int | None) -> z3.BoolRef:
    return _user(view, i, "locked")


@store_fact
def kmsuser_failed_before(view: View, i: int | None) -> z3.BoolRef:
    return _user(view, i, "failed_before")


@store_fact
def kmsuser_2fa(view: View, i: int | None) -> z3.BoolRef:
    return _user(view, i, "two_factor")


@store_fact
def password_matches(view: View, i: int | None) -> z3.BoolRef:
    if i is None:
        return z3.BoolVal(False)
    s = view.state
    held = s.of_cluster(s.get("cluster", i), "user_password", z3.IntVal(0))
    return z3.And(kmsuser_exists(view, i), held == s.get("password", i))


@store_fact
def store_has_keys(view: View, i: int | None) -> z3.BoolRef:
    if i is None:
        return z3.BoolVal(False)
    s = view.state
    return z3.Or([z3.And(s.key_exists(k), s.get("key_store", k) == i) for k in range(s.scope.keys)])


@store_fact
def attempt_in_flight(view: View, i: int | None) -> z3.BoolRef:
    return z3.BoolVal(False) if i is None else z3.And(view.state.store_exists(i), view.state.get("attempt", i))


@store_fact
def reads_lag(view: View, i: int | None) -> z3.BoolRef:
    return z3.BoolVal(False) if i is None else z3.And(view.state.store_exists(i), view.state.get("lag", i))


@store_fact
def store_connected(view: View, i: int | None) -> z3.BoolRef:
    return z3.BoolVal(False) if i is None else view.state.get("st", i) == CONN["CONNECTED"]


@fact
def network_ok(view: View) -> z3.BoolRef:
    return view.state["network_ok"]


@fact
def kms_ok(view: View) -> z3.BoolRef:
    return view.state["kms_ok"]


@fact
def material_present(view: View) -> z3.BoolRef:
    s = view.state
    if view.subject != "key":
        return z3.BoolVal(False)
    k = view.slot
    parts = []
    for i in range(s.scope.stores):
        for c in range(s.scope.clusters):
            parts.append(z3.And(s.key_exists(k), s.get("key_store", k) == i, s.store_exists(i),
                                s.get("cluster", i) == c, s.get("exists", c), s.get("material", k, c)))
    return z3.Or(parts)


@fact
def rename_allowed_connected(view: View) -> z3.BoolRef:
    return z3.BoolVal(view.profile.rename_while_connected)


# --- facts about the request and the world -----------------------------------------------------


def _own(view: View) -> int | None:
    return view.slot if view.subject == "store" else None


@fact
def name_taken(view: View) -> z3.BoolRef:
    s, r = view.state, view.request
    own = _own(view)
    others = [z3.And(s.store_exists(j), s.get("name", j) == r.name) for j in range(s.scope.stores) if j != own]
    return z3.And(r.has_name, z3.Or(others))


def _target(view: View, field: str) -> z3.BoolRef:
    s = view.state
    return s.of_cluster(view.request.cluster, field, z3.BoolVal(False))


@fact
def target_exists(view: View) -> z3.BoolRef:
    return _target(view, "exists")


@fact
def target_active(view: View) -> z3.BoolRef:
    return z3.And(target_exists(view), _target(view, "active"))


@fact
def target_config_ok(view: View) -> z3.BoolRef:
    return z3.And(target_exists(view), _target(view, "subnets_2az"), _target(view, "sg_intact"),
                  _target(view, "hsm_2az"))


@fact
def target_related(view: View) -> z3.BoolRef:
    s, r = view.state, view.request
    i = _own(view)
    if i is None:
        return z3.BoolVal(False)
    lineage = s.of_cluster(r.cluster, "lineage", z3.IntVal(0))
    current = s.get("cluster", i)
    return z3.And(target_exists(view), z3.If(
        s.of_cluster(current, "exists", z3.BoolVal(False)),
        lineage == s.of_cluster(current, "lineage", z3.IntVal(0)),
        lineage == s.get("anchor", i)))


@fact
def target_in_use(view: View) -> z3.BoolRef:
    s, r = view.state, view.request
    lineage = s.of_cluster(r.cluster, "lineage", z3.IntVal(0))
    users = [z3.And(s.store_exists(j), z3.Or(s.get("cluster", j) == r.cluster, s.get("anchor", j) == lineage))
             for j in range(s.scope.stores)]
    return z3.And(target_exists(view), z3.Or(users))


@fact
def trust_anchor_matches(view: View) -> z3.BoolRef:
    s, r = view.state, view.request
    return z3.And(r.has_anchor, target_exists(view), _target(view, "initialized"),
                  r.anchor == s.of_cluster(r.cluster, "lineage", z3.IntVal(0)))


@fact
def quota_reached(view: View) -> z3.BoolRef:
    s = view.state
    count = z3.Sum([z3.If(s.store_exists(i), 1, 0) for i in range(s.scope.stores)])
    return count >= s["quota"]


@fact
def idempotent_match(view: View) -> z3.BoolRef:
    s, r = view.state, view.request
    given = z3.And(r.has_name, r.has_anchor, r.has_password)
    return z3.Or([z3.And(given, s.get("st", j) == CONN["DISCONNECTED"], s.get("name", j) == r.name,
                         s.get("cluster", j) == r.cluster, s.get("anchor", j) == r.anchor,
                         s.get("password", j) == r.password) for j in range(s.scope.stores)])


def _request_fact(name: str) -> None:
    def read(view: View) -> z3.BoolRef:
        return view.request.facts[name]

    read.__name__ = name
    READERS[name] = read


for _name in REQUEST_FACTS:
    _request_fact(_name)


def key_state_is(view: View, *names: str) -> z3.BoolRef:
    return z3.Or([view.state.get("ks", view.slot) == KSTATE[n] for n in names])
