"""Seeded bugs as edits of the transition table: one catalogue for the proofs and the conformance run.

Each :class:`TableEdit` changes a few rows of :data:`~ckspec.model.transitions.OPERATIONS` the
way a plausible implementation bug would, and is named after the rule it breaks
(``CONNECT-03-connect-accepted-on-failed``). The same name works everywhere:
``ckspec prove --mutation NAME`` proves the edited table (an edit that names a property,
``breaks``, must give that property a counterexample; the tests hold it to that),
``ckspec check --target mutant:NAME`` runs the reference target on the edited table, and
``ckspec mutants`` shows for each whether the proofs and the conformance run caught it.

Bugs a table edit cannot express (a response that leaves out a field, a scheduler that
completes work at once) are response or scheduler wrappers in
:mod:`ckspec.conformance.mutants`, in the same catalogue there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import attrs

from .guards import ALWAYS, All, AnyOf, Fact, Guard, Not
from .transitions import OPERATIONS, Branch, Check, Operation

Table = dict[str, Operation]
Edit = Callable[[Table], Table]


@attrs.frozen
class TableEdit:
    """One seeded bug as a table edit."""

    name: str
    #: the rule the bug breaks (the one a conformance failure must lead with)
    rule: str
    #: the catalog group it belongs to (state machine, error codes, Describe, ...)
    group: str
    summary: str
    edit: Edit = attrs.field(repr=False)
    #: the proof property the edit breaks, if the proofs can see it
    breaks: str | None = None

    @property
    def doc(self) -> str:
        return self.summary

    def apply(self, table: Mapping[str, Operation] | None = None) -> Table:
        """The edited copy of ``table`` (default: the model's)."""
        return self.edit(dict(OPERATIONS if table is None else table))


# --- the edits, as small combinators over rows ---------------------------------------------------

def _rows(op: str, checks: Callable[[Iterable[Check]], Iterable[Check]] | None = None,
          branches: Callable[[Iterable[Branch]], Iterable[Branch]] | None = None) -> Edit:
    def edit(table: Table) -> Table:
        current = table[op]
        table[op] = attrs.evolve(current, checks=tuple(checks(current.checks)) if checks else current.checks,
                                 branches=tuple(branches(current.branches)) if branches else current.branches)
        return table
    return edit


def _both(*edits: Edit) -> Edit:
    def edit(table: Table) -> Table:
        for e in edits:
            table = e(table)
        return table
    return edit


def _is(check: Check, error: str | None, rule: str | None) -> bool:
    return (error is None or check.error == error) and (rule is None or check.rules[0] == rule)


def drop_check(op: str, *, error: str | None = None, rule: str | None = None) -> Edit:
    """The implementation never makes this check."""
    return _rows(op, checks=lambda cs: (c for c in cs if not _is(c, error, rule)))


def recode_check(op: str, rule: str, error: str) -> Edit:
    """The check is made but answers with the wrong error shape."""
    return _rows(op, checks=lambda cs: (attrs.evolve(c, error=error) if c.rules[0] == rule else c for c in cs))


def narrow_check(op: str, rule: str, without: Iterable[str]) -> Edit:
    """The check forgets some of the states it applies in."""
    gone = frozenset(without)
    return _rows(op, checks=lambda cs: (attrs.evolve(c, states=c.states - gone) if c.rules[0] == rule else c
                                        for c in cs))


def guard_check(op: str, rule: str, when: Guard) -> Edit:
    """The check tests something narrower than it should."""
    return _rows(op, checks=lambda cs: (attrs.evolve(c, when=when) if c.rules[0] == rule else c for c in cs))


def widen_branch(op: str, branch: str, states: Iterable[str]) -> Edit:
    """The branch also applies in states it must not."""
    more = frozenset(states)
    return _rows(op, branches=lambda bs: (attrs.evolve(b, states=b.states | more) if b.name == branch else b
                                          for b in bs))


def change_branch(op: str, branch: str, **changes: object) -> Edit:
    """The branch leads somewhere else (another state, error code or set of effects)."""
    return _rows(op, branches=lambda bs: (attrs.evolve(b, **changes) if b.name == branch else b for b in bs))


def drop_effect(op: str, branch: str, effect: str) -> Edit:
    return _rows(op, branches=lambda bs: (attrs.evolve(b, effects=tuple(e for e in b.effects if e != effect))
                                          if b.name == branch else b for b in bs))


def drop_branches(op: str, state: str) -> Edit:
    return _rows(op, branches=lambda bs: (b for b in bs if state not in b.states))


def add_branch(op: str, branch: Branch) -> Edit:
    return _rows(op, branches=lambda bs: (*bs, branch))


def without_fact(guard: Guard, name: str) -> Guard:
    """The guard with one fact replaced by 'true' (that check is skipped)."""
    if isinstance(guard, Fact):
        return ALWAYS if guard.name == name else guard
    if isinstance(guard, Not):
        inner = without_fact(guard.inner, name)
        return ALWAYS if inner is ALWAYS and guard.inner != inner else Not(inner)
    if isinstance(guard, All):
        return All(tuple(without_fact(p, name) for p in guard.parts))
    if isinstance(guard, AnyOf):
        return AnyOf(tuple(without_fact(p, name) for p in guard.parts))
    return guard


def branch_ignores(op: str, branch: str, fact: str) -> Edit:
    """The branch no longer tests ``fact``."""
    return _rows(op, branches=lambda bs: (attrs.evolve(b, when=without_fact(b.when, fact)) if b.name == branch else b
                                          for b in bs))


def check_ignores(op: str, rule: str, fact: str) -> Edit:
    """The check no longer tests ``fact``."""
    return _rows(op, checks=lambda cs: (attrs.evolve(c, when=without_fact(c.when, fact)) if c.rules[0] == rule else c
                                        for c in cs))


# --- the catalogue ------------------------------------------------------------------------------

_CONNECT, _DISC, _CREATE, _UPDATE, _DELETE = ("ConnectCustomKeyStore", "DisconnectCustomKeyStore",
                                              "CreateCustomKeyStore", "UpdateCustomKeyStore", "DeleteCustomKeyStore")
_ATTEMPT = "ConnectionAttemptCompletes"
_INVALID_STATE = "CustomKeyStoreInvalidStateException"
#: every state of an existing store (a check narrowed by them applies only to a missing one)
_STORE_STATES = frozenset({"CONNECTED", "CONNECTING", "DISCONNECTED", "DISCONNECTING", "FAILED"})


def _recode_attempt(code: str, to: str) -> Edit:
    return change_branch(_ATTEMPT, f"attempt fails: {code}", error_code=to)


TABLE_EDITS: tuple[TableEdit, ...] = (
    # the connection state machine
    TableEdit("CONNECT-03-connect-accepted-on-failed", "CONNECT-03", "state machine",
              "ConnectCustomKeyStore on a FAILED store is accepted and starts connecting (TR-09)",
              _both(narrow_check(_CONNECT, "CONNECT-03", {"FAILED"}), widen_branch(_CONNECT, "start connecting",
                                                                                   {"FAILED"})),
              "P-FAILED-EXIT"),
    TableEdit("CONNECT-03-connect-accepted-while-disconnecting", "CONNECT-03", "state machine",
              "ConnectCustomKeyStore on a DISCONNECTING store is accepted and starts connecting",
              _both(narrow_check(_CONNECT, "CONNECT-03", {"DISCONNECTING"}),
                    widen_branch(_CONNECT, "start connecting", {"DISCONNECTING"}))),
    TableEdit("CONNECT-06-connected-without-active-hsm", "CONNECT-06", "state machine",
              "a connection attempt succeeds although the cluster has no active HSM",
              _both(branch_ignores(_ATTEMPT, "attempt succeeds", "hsm_ge1"),
                    _rows(_ATTEMPT, branches=lambda bs: (b for b in bs
                                                         if b.name != "attempt fails: INSUFFICIENT_CLOUDHSM_HSMS"))),
              "P-ENTRY-CONNECTED"),
    TableEdit("CONNECT-11-kmsuser-password-not-rotated", "CONNECT-11", "state machine",
              "a successful connect leaves kmsuser's password as it was (people can still log in as kmsuser)",
              drop_effect(_ATTEMPT, "attempt succeeds", "rotate_kmsuser_password")),
    TableEdit("TR-03-failure-lands-in-disconnected", "TR-03", "state machine",
              "a connection attempt with the wrong kmsuser password ends DISCONNECTED without an error code, not "
              "FAILED", change_branch(_ATTEMPT, "attempt fails: INVALID_CREDENTIALS", target="DISCONNECTED",
                                      error_code=None),
              "P-ONLY-USER-DISCONNECTS"),
    TableEdit("TR-05-disconnect-skips-disconnecting", "TR-05", "asynchrony",
              "DisconnectCustomKeyStore lands in DISCONNECTED at once (the store is never seen DISCONNECTING)",
              change_branch(_DISC, "disconnect", target="DISCONNECTED")),
    TableEdit("TR-06-failed-is-a-trap", "TR-06", "state machine",
              "DisconnectCustomKeyStore is refused on a FAILED store, so nothing leaves FAILED",
              _both(drop_branches(_DISC, "FAILED"),
                    _rows(_DISC, checks=lambda cs: (attrs.evolve(c, states=c.states | {"FAILED"})
                                                    if c.rules[0] == "DISC-02" else c for c in cs))),
              "P-RECOVERABLE"),
    TableEdit("TR-07-disconnect-refused-while-connecting", "TR-07", "asynchrony",
              "DisconnectCustomKeyStore is refused while a connection attempt is under way",
              _both(drop_branches(_DISC, "CONNECTING"),
                    _rows(_DISC, checks=lambda cs: (attrs.evolve(c, states=c.states | {"CONNECTING"})
                                                    if c.rules[0] == "DISC-02" else c for c in cs)))),
    TableEdit("DISC-02-disconnect-accepted-when-disconnected", "DISC-02", "state machine",
              "DisconnectCustomKeyStore of a DISCONNECTED store answers 200 instead of "
              "CustomKeyStoreInvalidStateException",
              _both(narrow_check(_DISC, "DISC-02", {"DISCONNECTED"}),
                    add_branch(_DISC, Branch("already disconnected", frozenset({"DISCONNECTED"}), ("DISC-02",))))),
    TableEdit("DISC-01-wrong-error-for-missing-store", "DISC-01", "error codes",
              "Disconnect of a missing store answers NotFoundException instead of CustomKeyStoreNotFoundException",
              recode_check(_DISC, "DISC-01", "NotFoundException")),
    TableEdit("CONNECT-01-wrong-error-for-missing-store", "CONNECT-01", "error codes",
              "Connect of a missing store answers NotFoundException instead of CustomKeyStoreNotFoundException",
              recode_check(_CONNECT, "CONNECT-01", "NotFoundException")),
    # connection error codes
    TableEdit("CS-07-failure-without-code", "CS-07", "error codes",
              "a connection attempt that fails on the network leaves no ConnectionErrorCode",
              _recode_attempt("NETWORK_ERRORS", None), "P-ERRORCODE-IFF-FAILED"),
    TableEdit("CEC-05-wrong-password-reported-as-internal-error", "CEC-05", "error codes",
              "an attempt with the wrong kmsuser password ends FAILED with INTERNAL_ERROR, not INVALID_CREDENTIALS",
              _recode_attempt("INVALID_CREDENTIALS", "INTERNAL_ERROR")),
    TableEdit("CEC-06-network-errors-reported-as-internal-error", "CEC-06", "error codes",
              "an attempt that fails on the network ends FAILED with INTERNAL_ERROR, not NETWORK_ERRORS",
              _recode_attempt("NETWORK_ERRORS", "INTERNAL_ERROR")),
    TableEdit("CEC-02-too-few-hsms-reported-as-internal-error", "CEC-02", "error codes",
              "an attempt on a cluster without an active HSM ends FAILED with INTERNAL_ERROR, not "
              "INSUFFICIENT_CLOUDHSM_HSMS", _recode_attempt("INSUFFICIENT_CLOUDHSM_HSMS", "INTERNAL_ERROR")),
    TableEdit("CEC-10-missing-kmsuser-reported-as-invalid-credentials", "CEC-10", "error codes",
              "an attempt on a cluster without kmsuser ends FAILED with INVALID_CREDENTIALS, not USER_NOT_FOUND",
              _recode_attempt("USER_NOT_FOUND", "INVALID_CREDENTIALS")),
    TableEdit("CEC-09-logged-in-kmsuser-reported-as-locked-out", "CEC-09", "error codes",
              "an attempt while kmsuser is logged in ends FAILED with USER_LOCKED_OUT, not USER_LOGGED_IN",
              _recode_attempt("USER_LOGGED_IN", "USER_LOCKED_OUT")),
    TableEdit("CEC-08-locked-out-kmsuser-reported-as-invalid-credentials", "CEC-08", "error codes",
              "an attempt while kmsuser is locked out ends FAILED with INVALID_CREDENTIALS, not USER_LOCKED_OUT",
              _recode_attempt("USER_LOCKED_OUT", "INVALID_CREDENTIALS")),
    # kmsuser on each HSM
    TableEdit("KU-14-connects-although-an-hsm-lacks-kmsuser", "KU-14", "kmsuser",
              "a connection attempt succeeds although an active HSM has no kmsuser (KMS logs in only where it "
              "finds one)",
              _both(branch_ignores(_ATTEMPT, "attempt succeeds", "kmsuser_on_every_hsm"),
                    _rows(_ATTEMPT, branches=lambda bs: (
                        b for b in bs if b.name != "attempt fails: USER_NOT_FOUND, kmsuser missing on an HSM"))),
              "P-ENTRY-CONNECTED"),
    # Create
    TableEdit("CREATE-03-store-name-not-unique", "CREATE-03", "Create",
              "CreateCustomKeyStore accepts a name another store already has",
              drop_check(_CREATE, error="CustomKeyStoreNameInUseException"), "P-UNIQUE"),
    TableEdit("CREATE-09-quota-not-enforced", "CREATE-09", "quota",
              "CreateCustomKeyStore ignores the quota of 10 stores",
              drop_check(_CREATE, error="LimitExceededException"), "P-UNIQUE"),
    TableEdit("CREATE-06-cluster-shared-by-two-stores", "CREATE-06", "Create",
              "CreateCustomKeyStore accepts a cluster that already backs another store",
              drop_check(_CREATE, error="CloudHsmClusterInUseException")),
    TableEdit("CREATE-04-missing-cluster-accepted", "CREATE-04", "Create",
              "CreateCustomKeyStore accepts a cluster ID that names no cluster",
              drop_check(_CREATE, error="CloudHsmClusterNotFoundException")),
    TableEdit("CREATE-07-trust-anchor-not-checked", "CREATE-07", "Create",
              "CreateCustomKeyStore accepts a trust anchor that is not the cluster's",
              drop_check(_CREATE, error="IncorrectTrustAnchorException")),
    TableEdit("CREATE-08-cluster-configuration-not-checked", "CREATE-08", "Create",
              "CreateCustomKeyStore accepts a cluster without two active HSMs in two Availability Zones",
              drop_check(_CREATE, error="CloudHsmClusterInvalidConfigurationException")),
    TableEdit("CREATE-10-exact-retry-refused", "CREATE-10", "Create",
              "an exact retry of CreateCustomKeyStore answers CustomKeyStoreNameInUseException instead of the "
              "store's ID", check_ignores(_CREATE, "CREATE-03", "idempotent_match")),
    # Update
    TableEdit("UPDATE-03-cluster-update-while-connected", "UPDATE-03", "Update",
              "UpdateCustomKeyStore moves a CONNECTED store to another cluster",
              guard_check(_UPDATE, "UPDATE-03", Fact("req_password")), "P-UPDATE-SAFE"),
    TableEdit("UPDATE-03-password-update-while-connected", "UPDATE-03", "Update",
              "UpdateCustomKeyStore changes the kmsuser password of a CONNECTED store",
              guard_check(_UPDATE, "UPDATE-03", Fact("req_cluster"))),
    TableEdit("UPDATE-07-unrelated-cluster-accepted", "UPDATE-07", "Update",
              "UpdateCustomKeyStore accepts a cluster of another certificate lineage",
              drop_check(_UPDATE, error="CloudHsmClusterNotRelatedException"), "P-UPDATE-SAFE"),
    TableEdit("UPDATE-04-update-without-state-check", "UPDATE-04", "Update",
              "UpdateCustomKeyStore is accepted while the store is CONNECTING, DISCONNECTING or FAILED",
              _both(drop_check(_UPDATE, rule="UPDATE-04"),
                    widen_branch(_UPDATE, "update", {"CONNECTING", "DISCONNECTING", "FAILED"}))),
    TableEdit("UPDATE-06-rename-to-a-taken-name", "UPDATE-06", "Update",
              "UpdateCustomKeyStore renames a store to a name another store has",
              drop_check(_UPDATE, rule="UPDATE-06")),
    TableEdit("UPDATE-05-wrong-error-for-missing-store", "UPDATE-05", "error codes",
              "Update of a missing store answers NotFoundException instead of CustomKeyStoreNotFoundException",
              recode_check(_UPDATE, "UPDATE-05", "NotFoundException")),
    # Delete
    TableEdit("DELETE-02-delete-allowed-with-keys", "DELETE-02", "Delete",
              "DeleteCustomKeyStore deletes a store that still holds keys",
              drop_check(_DELETE, error="CustomKeyStoreHasCMKsException"), "P-NO-ORPHAN-KEYS"),
    TableEdit("DELETE-01-delete-while-connected-accepted", "DELETE-01", "Delete",
              "DeleteCustomKeyStore deletes a CONNECTED store",
              _both(narrow_check(_DELETE, "DELETE-01", {"CONNECTED"}), widen_branch(_DELETE, "delete",
                                                                                    {"CONNECTED"}))),
    TableEdit("DELETE-03-wrong-error-for-missing-store", "DELETE-03", "error codes",
              "Delete of a missing store answers CustomKeyStoreInvalidStateException instead of "
              "CustomKeyStoreNotFoundException", recode_check(_DELETE, "DELETE-03", _INVALID_STATE)),
    # keys in the store, and their deletion
    TableEdit("KEY-02-create-key-in-disconnected-store", "KEY-02", "keys",
              "CreateKey succeeds in a DISCONNECTED store",
              _both(narrow_check("CreateKey", "KEY-02", {"DISCONNECTED"}),
                    widen_branch("CreateKey", "create key", {"DISCONNECTED"})),
              "P-KEY-ENTRY"),
    TableEdit("KEY-03-create-key-with-one-az", "KEY-03", "keys",
              "CreateKey succeeds without active HSMs in two Availability Zones",
              drop_check("CreateKey", rule="KEY-03"), "P-KEY-ENTRY"),
    TableEdit("KEY-04-wrong-error-for-missing-store", "KEY-04", "error codes",
              "CreateKey in a missing store answers NotFoundException instead of CustomKeyStoreNotFoundException",
              recode_check("CreateKey", "KEY-04", "NotFoundException")),
    TableEdit("KEY-05-asymmetric-key-accepted", "KEY-05", "keys",
              "CreateKey makes an asymmetric or HMAC key in a custom key store",
              _both(narrow_check("CreateKey", "KEY-05", _STORE_STATES), narrow_check("CreateKey", "AMB-19", _STORE_STATES))),
    TableEdit("KS-06-crypto-while-disconnected", "KS-06", "keys",
              "Encrypt works with a key whose store is not CONNECTED",
              _rows("Encrypt", checks=lambda cs: (c for c in cs if c.rules[0] != "KS-06" or "PendingDeletion" in c.states)),
              "P-UNAVAILABLE"),
    TableEdit("CRYPTO-01-encrypt-with-disabled-key", "CRYPTO-01", "keys",
              "Encrypt works with a Disabled key",
              _both(drop_check("Encrypt", error="DisabledException"), widen_branch("Encrypt", "Encrypt", {"Disabled"}))),
    TableEdit("DK-02-deletion-scheduled-twice", "DK-02", "deletion windows",
              "ScheduleKeyDeletion of a key already pending deletion is accepted",
              _both(drop_check("ScheduleKeyDeletion", rule="DK-02"),
                    widen_branch("ScheduleKeyDeletion", "schedule deletion", {"PendingDeletion"}))),
    TableEdit("DK-01-deletion-window-not-validated", "DK-01", "deletion windows",
              "ScheduleKeyDeletion accepts a waiting period outside 7 to 30 days",
              drop_check("ScheduleKeyDeletion", error="ValidationError")),
    TableEdit("RAND-02-random-from-disconnected-store", "RAND-02", "keys",
              "GenerateRandom with a CustomKeyStoreId answers bytes while the store is DISCONNECTED",
              _both(narrow_check("GenerateRandom", "RAND-02", {"DISCONNECTED"}),
                    widen_branch("GenerateRandom", "random bytes from the cluster", {"DISCONNECTED"}))),
    # Describe and paging
    TableEdit("DESC-04-unknown-marker-accepted", "DESC-04", "Describe",
              "DescribeCustomKeyStores accepts a Marker it never issued and lists from the start",
              drop_check("DescribeCustomKeyStores", error="InvalidMarkerException")),
    TableEdit("DESC-03-unknown-filter-lists-nothing", "DESC-03", "Describe",
              "DescribeCustomKeyStores with a name or ID that matches no store answers an empty list instead of "
              "CustomKeyStoreNotFoundException", drop_check("DescribeCustomKeyStores", rule="DESC-03")),
    TableEdit("DESC-02-both-filters-accepted", "DESC-02", "Describe",
              "DescribeCustomKeyStores with both CustomKeyStoreId and CustomKeyStoreName answers 200",
              drop_check("DescribeCustomKeyStores", rule="DESC-02")),
)
TABLE_EDIT = {m.name: m for m in TABLE_EDITS}


def mutated(name: str) -> Table:
    """The model's table with the named seeded bug in it."""
    return TABLE_EDIT[name].apply()


__all__ = ["TABLE_EDIT", "TABLE_EDITS", "Table", "TableEdit", "mutated"]
