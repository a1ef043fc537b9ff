"""The properties ckspec proves about its model, each with an ID, a statement and its rules.

The statements are written here, independently of the transition table: they say what the
documentation promises, in terms of the symbolic state and the facts, and the prover checks
the table against them. Kinds:

* ``invariant``: a statement about every reachable state, proved inductive for any number
  of steps (with the supporting lemmas below, and each other, as the strengthening);
* ``consequence``: a statement about every reachable state (and any request) that follows
  from the inductive invariants;
* ``step``: a statement about every transition between reachable states;
* ``recovery``: from every reachable state the user has a move that brings the stores closer
  to a goal, measured by a rank that bounds the number of moves (see :mod:`.recovery`).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import z3

from ..profiles import REFERENCE
from ..responses import KEY_STATE_SHOWN
from .readers import READERS, Request, View
from .relation import Encoding, fires, guard_term, in_states
from .state import CODE, CONN, KSTATE, NO_CODE, State, well_formed

StateFormula = Callable[[Encoding, State, Request], z3.BoolRef]
StepFormula = Callable[[Encoding, State, State, z3.ArithRef], z3.BoolRef]


@attrs.frozen
class Property:
    id: str
    statement: str
    rules: tuple[str, ...]
    kind: str  # "invariant", "consequence", "step" or "recovery"
    expected: str = "holds"  # or "violated"
    state: StateFormula | None = None
    step: StepFormula | None = None


def _read(enc: Encoding, s: State, fact: str, i: int, request: Request | None = None) -> z3.BoolRef:
    return READERS[fact](View(s, request or Request("unused"), enc.profile, "store", i))


def _stores(enc: Encoding) -> range:
    return range(enc.scope.stores)


def _acts(enc: Encoding, act: z3.ArithRef, operation: str, slot: int | None = None,
          branch: str | None = None) -> z3.BoolRef:
    return z3.Or([act == a.index for a in enc.actions if a.operation == operation
                  and (slot is None or a.slot == slot) and (branch is None or a.branch == branch)])


def _st(s: State, i: int, *names: str) -> z3.BoolRef:
    return z3.Or([s.get("st", i) == CONN[n] for n in names])


# --- the properties ------------------------------------------------------------------------------


def _entry_connected(enc: Encoding, s: State, t: State, act: z3.ArithRef) -> z3.BoolRef:
    facts = ("cluster_exists", "cluster_active", "hsm_ge1", "kmsuser_exists", "kmsuser_on_every_hsm",
             "password_matches", "subnets_exist", "subnets_free")
    return z3.And([z3.Implies(z3.And(z3.Not(_st(s, i, "CONNECTED")), _st(t, i, "CONNECTED")), z3.And(
        *(_read(enc, s, f, i) for f in facts),
        z3.Not(_read(enc, s, "kmsuser_logged_in", i)), z3.Not(_read(enc, s, "kmsuser_locked", i))))
        for i in _stores(enc)])


def _failed_exit(enc: Encoding, s: State, t: State, act: z3.ArithRef) -> z3.BoolRef:
    return z3.And([z3.Implies(z3.And(_st(s, i, "FAILED"), z3.Not(_st(t, i, "FAILED"))), z3.And(
        _st(t, i, "DISCONNECTING", "DISCONNECTED"), _acts(enc, act, "DisconnectCustomKeyStore", i)))
        for i in _stores(enc)])


def _code_iff_failed(enc: Encoding, s: State, request: Request) -> z3.BoolRef:
    return z3.And([(s.get("code", i) != CODE[NO_CODE]) == _st(s, i, "FAILED") for i in _stores(enc)])


def _store_of_key_connected_with_2az(enc: Encoding, s: State, j: z3.ArithRef) -> z3.BoolRef:
    return z3.Or([z3.And(j == i, _st(s, i, "CONNECTED"), _read(enc, s, "hsm_2az", i)) for i in _stores(enc)])


def _key_entry(enc: Encoding, s: State, t: State, act: z3.ArithRef) -> z3.BoolRef:
    return z3.And([z3.Implies(z3.And(z3.Not(s.key_exists(k)), t.key_exists(k)),
                              _store_of_key_connected_with_2az(enc, s, t.get("key_store", k)))
                   for k in range(enc.scope.keys)])


def _keys_have_stores(enc: Encoding, s: State, request: Request) -> z3.BoolRef:
    return z3.And([z3.Implies(s.key_exists(k), z3.Or([z3.And(s.get("key_store", k) == i, s.store_exists(i))
                                                        for i in _stores(enc)]))
                   for k in range(enc.scope.keys)])


def _stores_with_keys_stay(enc: Encoding, s: State, t: State, act: z3.ArithRef) -> z3.BoolRef:
    return z3.And([z3.Implies(z3.And(s.store_exists(i), _read(enc, s, "store_has_keys", i)), t.store_exists(i))
                   for i in _stores(enc)])


def _unique(enc: Encoding, s: State, request: Request) -> z3.BoolRef:
    parts = []
    for i in _stores(enc):
        for j in range(i + 1, enc.scope.stores):
            both = z3.And(s.store_exists(i), s.store_exists(j))
            # one conjunct per aspect: the prover keeps the ones that stay inductive apart
            parts += [z3.Implies(both, s.get(aspect, i) != s.get(aspect, j)) for aspect in ("name", "cluster", "anchor")]
    parts.append(z3.Sum([z3.If(s.store_exists(i), 1, 0) for i in _stores(enc)]) <= s["quota"])
    return z3.And(parts)


#: the operations that use a key for cryptography (CRYPTO-01)
CRYPTO_OPERATIONS = ("Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
                     "GenerateDataKeyPair")


def _unavailable(enc: Encoding, s: State, request: Request) -> z3.BoolRef:
    """KS-02: a key not PendingDeletion whose store is not CONNECTED reads Unavailable: the key
    state KMS shows is Unavailable, and no cryptographic operation succeeds with it."""
    parts = []
    for k in range(enc.scope.keys):
        view = View(s, request, enc.profile, "key", k)
        store_not_connected = z3.Not(READERS["store_connected"](view))
        usable = z3.Or([s.get("ks", k) == KSTATE[n] for n in ("Enabled", "Disabled")])
        shown_unavailable = _shown(view, "Unavailable")
        succeeds = [fires(enc.operations[name], b, view, enc.profile)
                    for name in CRYPTO_OPERATIONS if name in enc.operations
                    for b in enc.operations[name].branches]
        parts.append(z3.Implies(z3.And(s.key_exists(k), usable, store_not_connected),
                                z3.And(shown_unavailable, z3.Not(z3.Or(succeeds)))))
    return z3.And(parts)


def _shown(view: View, wanted: str) -> z3.BoolRef:
    """The first row of the shown-key-state table (KEY_STATE_SHOWN) that applies says ``wanted``."""
    result = z3.BoolVal(False)
    for states, guard, shown in reversed(KEY_STATE_SHOWN):
        applies = z3.And(in_states(view, states), guard_term(guard, view))
        says = z3.BoolVal(shown == wanted) if shown is not None else z3.Or(
            [view.state.get("ks", view.slot) == KSTATE[wanted]] if wanted in KSTATE else [z3.BoolVal(False)])
        result = z3.If(applies, says, result)
    return result


def _update_safe(enc: Encoding, s: State, t: State, act: z3.ArithRef) -> z3.BoolRef:
    parts = []
    for i in _stores(enc):
        both = z3.And(s.store_exists(i), t.store_exists(i))
        update = z3.And(_st(s, i, "DISCONNECTED"), _acts(enc, act, "UpdateCustomKeyStore", i))
        new = t.get("cluster", i)
        same_lineage = z3.And(t.of_cluster(new, "exists", z3.BoolVal(False)),
                              t.of_cluster(new, "lineage", z3.IntVal(0)) == s.get("anchor", i))
        rotation = _acts(enc, act, "ConnectionAttemptCompletes", i, "attempt succeeds")
        parts.append(z3.Implies(both, z3.And(
            z3.Implies(new != s.get("cluster", i), z3.And(update, same_lineage)),
            z3.Implies(t.get("password", i) != s.get("password", i), z3.Or(update, rotation)))))
    return z3.And(parts)


def _only_user_disconnects(enc: Encoding, s: State, t: State, act: z3.ArithRef) -> z3.BoolRef:
    parts = []
    for i in _stores(enc):
        disconnect = _acts(enc, act, "DisconnectCustomKeyStore", i)
        parts.append(z3.Implies(z3.And(z3.Not(_st(s, i, "DISCONNECTED")), _st(t, i, "DISCONNECTED")), z3.Or(
            z3.And(_st(s, i, "ABSENT"), _acts(enc, act, "CreateCustomKeyStore")),
            disconnect,
            z3.And(_st(s, i, "DISCONNECTING"), _acts(enc, act, "DisconnectCompletes", i)))))
        parts.append(z3.Implies(z3.And(z3.Not(_st(s, i, "DISCONNECTING")), _st(t, i, "DISCONNECTING")), disconnect))
    return z3.And(parts)


def _connected_has_hsm(enc: Encoding, s: State, request: Request) -> z3.BoolRef:
    return z3.And([z3.Implies(_st(s, i, "CONNECTED"), z3.And(_read(enc, s, "cluster_exists", i),
                                                             _read(enc, s, "hsm_ge1", i)))
                   for i in _stores(enc)])


PROPERTIES: tuple[Property, ...] = (
    Property("P-ENTRY-CONNECTED",
             "a store enters CONNECTED only when its cluster exists and is active with an ACTIVE HSM, kmsuser is on "
             "every active HSM, is not logged in or locked out and has the password KMS holds on each, and every "
             "subnet exists with a free address",
             ("CONNECT-06", "TR-02", "CEC-01", "CEC-02", "CEC-03", "CEC-05", "CEC-07", "CEC-08", "CEC-09",
              "CEC-10", "AMB-09", "AMB-10", "KU-14"), "step", step=_entry_connected),
    Property("P-FAILED-EXIT", "no transition takes a FAILED store to CONNECTING or CONNECTED; DisconnectCustomKeyStore "
             "is the only way out of FAILED", ("CONNECT-04", "TR-06", "TR-09", "AMB-05"), "step", step=_failed_exit),
    Property("P-ERRORCODE-IFF-FAILED", "a store has a ConnectionErrorCode exactly when it is FAILED",
             ("CS-07", "TR-03", "TR-06", "CEC-00"), "invariant", state=_code_iff_failed),
    Property("P-KEY-ENTRY", "a KMS key is created only in a CONNECTED store whose cluster has ACTIVE HSMs in two AZs",
             ("KEY-02", "KEY-03", "CS-08", "CL-03"), "step", step=_key_entry),
    Property("P-NO-ORPHAN-KEYS", "a store that holds KMS keys is never deleted, and no KMS key refers to a missing store",
             ("DELETE-02", "DK-08", "DELETE-06"), "invariant", state=_keys_have_stores, step=_stores_with_keys_stay),
    Property("P-UNIQUE", "store names are unique, no two stores share a cluster or a cluster lineage, and the number "
             "of stores never exceeds the quota", ("CREATE-03", "CREATE-06", "CREATE-09", "UPDATE-06", "UPDATE-07",
                                                   "CL-05", "Q-01"), "invariant", state=_unique),
    Property("P-UNAVAILABLE", "a KMS key that is not PendingDeletion reads Unavailable, and no cryptographic operation "
             "succeeds with it, whenever its store is not CONNECTED", ("KS-02", "CS-08", "DISC-05", "DISC-06", "KS-06"),
             "consequence", state=_unavailable),
    Property("P-UPDATE-SAFE", "the password and the cluster of a store change only by an Update while DISCONNECTED "
             "(or by KMS's own rotation on connect), and the cluster only to one of the same lineage",
             ("UPDATE-03", "UPDATE-07", "AMB-15", "CONNECT-11", "CL-05"), "step", step=_update_safe),
    Property("P-ONLY-USER-DISCONNECTS", "no environment or internal event moves a store into DISCONNECTED or "
             "DISCONNECTING; only creation or an explicit DisconnectCustomKeyStore (and its completion) does",
             ("CS-03", "TR-05", "TR-08", "DISC-03", "AMB-31"), "step", step=_only_user_disconnects),
    Property("P-RECOVERABLE", "from every reachable state the user can bring every store to DISCONNECTED in at most "
             "2 moves per store, and, once the environment is healthy, to CONNECTED in at most 4 moves per store",
             ("DISC-03", "TR-05", "TR-06", "TR-07", "CONNECT-04", "CONNECT-06", "AMB-05", "AMB-06"), "recovery"),
    Property("N-CONNECTED-HAS-HSM", "a CONNECTED store's cluster always has an active HSM (false: the docs let a store "
             "stay CONNECTED when its HSMs are deleted afterwards)", ("TR-08", "CS-04", "CRYPTO-02"), "invariant",
             expected="violated", state=_connected_has_hsm),
)
PROPERTY = {p.id: p for p in PROPERTIES}


@attrs.frozen
class Lemma:
    id: str
    statement: str
    state: StateFormula


def _attempt_iff_connecting(enc: Encoding, s: State, request: Request) -> z3.BoolRef:
    return z3.And([s.get("attempt", i) == _st(s, i, "CONNECTING") for i in _stores(enc)])


def _anchor_is_lineage(enc: Encoding, s: State, request: Request) -> z3.BoolRef:
    return z3.And([z3.Implies(z3.And(s.store_exists(i), _read(enc, s, "cluster_exists", i)),
                              s.of_cluster(s.get("cluster", i), "lineage", z3.IntVal(0)) == s.get("anchor", i))
                   for i in _stores(enc)])


#: supporting invariants: the strengthening that makes the properties inductive
LEMMAS: tuple[Lemma, ...] = (
    Lemma("L-WELL-FORMED", "slot references stay in the scope; passwords are people's or KMS's",
          lambda enc, s, r: well_formed(s)),
    Lemma("L-ATTEMPT", "a connection attempt is in flight exactly while the store is CONNECTING (TR-01, AMB-06)",
          _attempt_iff_connecting),
    Lemma("L-ANCHOR", "a store's trust anchor belongs to the lineage of its cluster, while the cluster exists "
          "(CREATE-07, UPDATE-07)", _anchor_is_lineage),
)

__all__ = ["LEMMAS", "PROPERTIES", "PROPERTY", "REFERENCE", "Lemma", "Property"]
