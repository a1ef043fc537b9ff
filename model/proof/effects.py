"""The named effects of :mod:`ckspec.model.effects`, on a symbolic state.

Each twin writes the next value of the variables its concrete effect changes (every other
variable keeps its value). Creation takes the lowest free slot (stores, keys and clusters
are interchangeable, so this loses no behaviour) and is possible only while the scope has
room: the returned condition. Tests hold each twin to ``FACT_CHANGES`` (the declared
meaning on facts) with the solver, and to the concrete effect through the agreement tests.
"""

from __future__ import annotations

from collections.abc import Callable

import z3

from .readers import View
from .state import CODE, CONN, KSTATE, NO_CODE, State

#: (pre-state, post-state being built, view) -> the condition under which the scope has room
SymbolicEffect = Callable[[State, State, View], z3.BoolRef]
SYMBOLIC_EFFECTS: dict[str, SymbolicEffect] = {}
TRUE = z3.BoolVal(True)


def effect(fn: SymbolicEffect) -> SymbolicEffect:
    SYMBOLIC_EFFECTS[fn.__name__] = fn
    return fn


def _on_cluster_of(pre: State, post: State, i: int, field: str, value: Callable[[int], z3.ExprRef]) -> None:
    """Set ``field`` of store i's cluster (whichever slot it is) to ``value(c)``."""
    for c in range(pre.scope.clusters):
        post.set(field, (c,), z3.If(pre.get("cluster", i) == c, value(c), post.get(field, c)))


@effect
def start_attempt(pre: State, post: State, view: View) -> z3.BoolRef:
    post.set("attempt", (view.slot,), z3.BoolVal(True))
    return TRUE


@effect
def end_attempt(pre: State, post: State, view: View) -> z3.BoolRef:
    post.set("attempt", (view.slot,), z3.BoolVal(False))
    return TRUE


@effect
def catch_up_reads(pre: State, post: State, view: View) -> z3.BoolRef:
    post.set("lag", (view.slot,), z3.BoolVal(False))
    return TRUE


@effect
def rotate_kmsuser_password(pre: State, post: State, view: View) -> z3.BoolRef:
    """CONNECT-11: the next KMS-generated password, -(secrets + 1), on both sides."""
    i = view.slot
    secret = -(pre["secrets"] + 1)
    post.set("secrets", (), pre["secrets"] + 1)
    post.set("password", (i,), secret)
    _on_cluster_of(pre, post, i, "user_password", lambda c: secret)
    _on_cluster_of(pre, post, i, "failed_before", lambda c: z3.BoolVal(False))
    return TRUE


@effect
def lock_out_kmsuser(pre: State, post: State, view: View) -> z3.BoolRef:
    _on_cluster_of(pre, post, view.slot, "locked", lambda c: z3.BoolVal(True))
    return TRUE


@effect
def record_failed_login(pre: State, post: State, view: View) -> z3.BoolRef:
    _on_cluster_of(pre, post, view.slot, "failed_before", lambda c: z3.BoolVal(True))
    return TRUE


@effect
def apply_update(pre: State, post: State, view: View) -> z3.BoolRef:
    i, r = view.slot, view.request
    post.set("name", (i,), z3.If(r.facts["req_name"], r.name, pre.get("name", i)))
    post.set("password", (i,), z3.If(r.facts["req_password"], r.password, pre.get("password", i)))
    post.set("cluster", (i,), z3.If(r.facts["req_cluster"], r.cluster, pre.get("cluster", i)))
    return TRUE


def lowest_free(exists: list[z3.BoolRef]) -> list[z3.BoolRef]:
    """For each slot: it is the lowest slot that is free."""
    return [z3.And(z3.Not(exists[n]), *exists[:n]) for n in range(len(exists))]


@effect
def create_store(pre: State, post: State, view: View) -> z3.BoolRef:
    r = view.request
    chosen = lowest_free([pre.store_exists(i) for i in range(pre.scope.stores)])
    new = {"st": CONN["DISCONNECTED"], "code": CODE[NO_CODE], "attempt": z3.BoolVal(False),
           "lag": z3.BoolVal(False), "name": r.name, "cluster": r.cluster, "anchor": r.anchor,
           "password": r.password}
    for i in range(pre.scope.stores):
        for field, value in new.items():
            post.set(field, (i,), z3.If(chosen[i], value, post.get(field, i)))
    return z3.Or(chosen)


@effect
def delete_store(pre: State, post: State, view: View) -> z3.BoolRef:
    i = view.slot
    post.set("st", (i,), CONN["ABSENT"])
    post.set("code", (i,), CODE[NO_CODE])
    post.set("attempt", (i,), z3.BoolVal(False))
    post.set("lag", (i,), z3.BoolVal(False))
    return TRUE


@effect
def create_key(pre: State, post: State, view: View) -> z3.BoolRef:
    """KEY-06: a new key id, whose backing key exists only in the store's cluster."""
    i = view.slot
    chosen = lowest_free([pre.key_exists(k) for k in range(pre.scope.keys)])
    for k in range(pre.scope.keys):
        post.set("ks", (k,), z3.If(chosen[k], KSTATE["Enabled"], post.get("ks", k)))
        post.set("key_store", (k,), z3.If(chosen[k], z3.IntVal(i), post.get("key_store", k)))
        for c in range(pre.scope.clusters):
            post.set("material", (k, c), z3.If(chosen[k], pre.get("cluster", i) == c, post.get("material", k, c)))
    return z3.Or(chosen)


@effect
def set_pending_window(pre: State, post: State, view: View) -> z3.BoolRef:
    return TRUE  # the waiting period is not part of the symbolic state: no fact reads it


@effect
def clear_pending_window(pre: State, post: State, view: View) -> z3.BoolRef:
    return TRUE


@effect
def delete_backing_key(pre: State, post: State, view: View) -> z3.BoolRef:
    k = view.slot
    for i in range(pre.scope.stores):
        for c in range(pre.scope.clusters):
            here = z3.And(pre.get("key_store", k) == i, pre.store_exists(i), pre.get("cluster", i) == c)
            post.set("material", (k, c), z3.If(here, z3.BoolVal(False), post.get("material", k, c)))
    return TRUE


@effect
def delete_key(pre: State, post: State, view: View) -> z3.BoolRef:
    post.set("ks", (view.slot,), KSTATE["ABSENT"])
    return TRUE
