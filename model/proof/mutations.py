"""Deliberately broken copies of the transition table: proofs that can fail.

Each mutation changes a few rows of :data:`~ckspec.model.transitions.OPERATIONS` the way a
plausible implementation bug would, and names the property that must then fail. The tests
prove every mutated table and check that exactly that property gets a counterexample;
``ckspec prove --mutation NAME`` shows it.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ..guards import Fact, Guard
from ..transitions import OPERATIONS, Branch, Check, Operation

Table = dict[str, Operation]


@attrs.frozen
class Mutation:
    name: str
    breaks: str
    doc: str
    apply: Callable[[Table], Table]


def _edit(table: Table, op: str, checks=None, branches=None) -> Table:
    new = dict(table)
    current = new[op]
    new[op] = attrs.evolve(current, checks=tuple(checks(current.checks)) if checks else current.checks,
                           branches=tuple(branches(current.branches)) if branches else current.branches)
    return new


def _without_fact(guard: Guard, name: str) -> Guard:
    """The guard with one fact replaced by 'true' (that check is skipped)."""
    from ..guards import ALWAYS, All, AnyOf, Not

    if isinstance(guard, Fact):
        return ALWAYS if guard.name == name else guard
    if isinstance(guard, Not):
        return Not(_without_fact(guard.inner, name))
    if isinstance(guard, All):
        return All(tuple(_without_fact(p, name) for p in guard.parts))
    if isinstance(guard, AnyOf):
        return AnyOf(tuple(_without_fact(p, name) for p in guard.parts))
    return guard


def connect_from_failed(table: Table) -> Table:
    return _edit(table, "ConnectCustomKeyStore",
                 checks=lambda cs: (attrs.evolve(c, states=c.states - {"FAILED"}) for c in cs),
                 branches=lambda bs: (attrs.evolve(b, states=b.states | {"FAILED"}) if b.name == "start connecting"
                                      else b for b in bs))


def connect_without_hsm(table: Table) -> Table:
    return _edit(table, "ConnectionAttemptCompletes", branches=lambda bs: (
        attrs.evolve(b, when=_without_fact(b.when, "hsm_ge1")) if b.name == "attempt succeeds" else b for b in bs))


def delete_with_keys(table: Table) -> Table:
    return _edit(table, "DeleteCustomKeyStore",
                 checks=lambda cs: (c for c in cs if c.error != "CustomKeyStoreHasCMKsException"))


def update_cluster_while_connected(table: Table) -> Table:
    return _edit(table, "UpdateCustomKeyStore", checks=lambda cs: (
        attrs.evolve(c, when=Fact("req_password")) if c.rules[0] == "UPDATE-03" else c for c in cs))


def update_to_unrelated_cluster(table: Table) -> Table:
    return _edit(table, "UpdateCustomKeyStore",
                 checks=lambda cs: (c for c in cs if c.error != "CloudHsmClusterNotRelatedException"))


def failure_without_code(table: Table) -> Table:
    return _edit(table, "ConnectionAttemptCompletes", branches=lambda bs: (
        attrs.evolve(b, error_code=None) if b.name == "attempt fails: NETWORK_ERRORS" else b for b in bs))


def key_in_disconnected_store(table: Table) -> Table:
    return _edit(table, "CreateKey", checks=lambda cs: (c for c in cs if c.rules[0] != "KEY-02"),
                 branches=lambda bs: (attrs.evolve(b, states=b.states | {"DISCONNECTED"}) for b in bs))


def key_with_one_az(table: Table) -> Table:
    return _edit(table, "CreateKey", checks=lambda cs: (c for c in cs if c.rules[0] != "KEY-03"))


def names_not_unique(table: Table) -> Table:
    return _edit(table, "CreateCustomKeyStore",
                 checks=lambda cs: (c for c in cs if c.error != "CustomKeyStoreNameInUseException"))


def quota_not_enforced(table: Table) -> Table:
    return _edit(table, "CreateCustomKeyStore", checks=lambda cs: (c for c in cs if c.error != "LimitExceededException"))


def crypto_while_disconnected(table: Table) -> Table:
    return _edit(table, "Encrypt", checks=lambda cs: (c for c in cs if c.rules[0] != "KS-06"
                                                      or "PendingDeletion" in c.states))


def failure_disconnects(table: Table) -> Table:
    return _edit(table, "ConnectionAttemptCompletes", branches=lambda bs: (
        attrs.evolve(b, target="DISCONNECTED", error_code=None) if b.name == "attempt fails: CLUSTER_NOT_FOUND"
        else b for b in bs))


def failed_is_a_trap(table: Table) -> Table:
    return _edit(table, "DisconnectCustomKeyStore", branches=lambda bs: (b for b in bs if "FAILED" not in b.states))


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("connect-from-failed", "P-FAILED-EXIT", "ConnectCustomKeyStore accepted on a FAILED store (TR-09)",
             connect_from_failed),
    Mutation("connect-without-hsm", "P-ENTRY-CONNECTED", "a connection attempt succeeds with no active HSM "
             "(CONNECT-06)", connect_without_hsm),
    Mutation("delete-with-keys", "P-NO-ORPHAN-KEYS", "DeleteCustomKeyStore allowed while the store holds keys "
             "(DELETE-02)", delete_with_keys),
    Mutation("update-cluster-while-connected", "P-UPDATE-SAFE", "UpdateCustomKeyStore changes the cluster of a "
             "CONNECTED store (UPDATE-03)", update_cluster_while_connected),
    Mutation("update-to-unrelated-cluster", "P-UPDATE-SAFE", "UpdateCustomKeyStore accepts a cluster of another "
             "lineage (UPDATE-07)", update_to_unrelated_cluster),
    Mutation("failure-without-code", "P-ERRORCODE-IFF-FAILED", "a failed attempt leaves no ConnectionErrorCode "
             "(CS-07)", failure_without_code),
    Mutation("key-in-disconnected-store", "P-KEY-ENTRY", "CreateKey succeeds in a DISCONNECTED store (KEY-02)",
             key_in_disconnected_store),
    Mutation("key-with-one-az", "P-KEY-ENTRY", "CreateKey succeeds without active HSMs in two AZs (KEY-03)",
             key_with_one_az),
    Mutation("names-not-unique", "P-UNIQUE", "CreateCustomKeyStore accepts a name in use (CREATE-03)",
             names_not_unique),
    Mutation("quota-not-enforced", "P-UNIQUE", "CreateCustomKeyStore ignores the quota (CREATE-09)",
             quota_not_enforced),
    Mutation("crypto-while-disconnected", "P-UNAVAILABLE", "Encrypt works with a key whose store is not CONNECTED "
             "(KS-02)", crypto_while_disconnected),
    Mutation("failure-disconnects", "P-ONLY-USER-DISCONNECTS", "a failed attempt lands in DISCONNECTED instead of "
             "FAILED (TR-03)", failure_disconnects),
    Mutation("failed-is-a-trap", "P-RECOVERABLE", "DisconnectCustomKeyStore refused on a FAILED store, so nothing "
             "leaves FAILED (TR-06)", failed_is_a_trap),
)
MUTATION = {m.name: m for m in MUTATIONS}


def mutated(name: str) -> Table:
    return MUTATION[name].apply(dict(OPERATIONS))


__all__ = ["MUTATION", "MUTATIONS", "Branch", "Check", "Mutation", "mutated"]
