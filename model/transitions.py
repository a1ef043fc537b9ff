"""The transition rules of the custom key store lifecycle: the model's single definition.

Every KMS operation and every internal event is an :class:`Operation`: a list of
:class:`Check` rows (error outcomes) and :class:`Branch` rows (successful or asynchronous
outcomes). Each row says in which states of its subject it applies (a key store's
ConnectionState, or a KMS key's own state; ``ABSENT`` when the subject does not exist),
a guard over named facts (:mod:`ckspec.model.facts`), what it does (target state,
connection error code, named effects, response) and the rule IDs that justify it.

The executor, the explorer, the diagram renderer and the consistency tests all read this
table; nothing else in the project restates it.

How a call resolves (see :func:`ckspec.model.executor.outcomes`):

* every Check whose states and guard hold contributes its error to the outcome set;
* if any of those Checks is *blocking*, no Branch applies; otherwise every Branch whose
  states and guard hold contributes its outcome too. Non-blocking checks model errors
  the documentation allows *next to* success (AMB-08 quick failures, transient faults);
* rows carrying ``alt="AMB-nn"`` are documented alternatives that the ``reference``
  profile sets aside; it then picks the lowest-ranked Check, else the first Branch (AMB-07).
"""

from __future__ import annotations

from typing import Callable, Iterable

import attrs

from .aws_service import ConnectionState as S
from .aws_service import errors_of
from .guards import ALWAYS, Fact, Guard, compile_guard
from .world import ABSENT

# --- ranks: the conventional order of checks, used only as the reference tie-breaker (AMB-07) --
VALIDATION, NOT_FOUND, STATE, PRECONDITION, INTERNAL = range(5)

# --- error shape names (each must be in botocore's list for the operation; tested) --------------
STORE_NOT_FOUND = "CustomKeyStoreNotFoundException"
INVALID_STATE = "CustomKeyStoreInvalidStateException"
NAME_IN_USE = "CustomKeyStoreNameInUseException"
HAS_CMKS = "CustomKeyStoreHasCMKsException"
CLUSTER_NOT_FOUND = "CloudHsmClusterNotFoundException"
CLUSTER_NOT_ACTIVE = "CloudHsmClusterNotActiveException"
CLUSTER_INVALID_CONFIG = "CloudHsmClusterInvalidConfigurationException"
CLUSTER_IN_USE = "CloudHsmClusterInUseException"
CLUSTER_NOT_RELATED = "CloudHsmClusterNotRelatedException"
INCORRECT_TRUST_ANCHOR = "IncorrectTrustAnchorException"
LIMIT_EXCEEDED = "LimitExceededException"
INVALID_MARKER = "InvalidMarkerException"
KMS_INTERNAL = "KMSInternalException"
KEY_NOT_FOUND = "NotFoundException"
INVALID_ARN = "InvalidArnException"
KMS_INVALID_STATE = "KMSInvalidStateException"
DISABLED = "DisabledException"
UNSUPPORTED = "UnsupportedOperationException"
DEPENDENCY_TIMEOUT = "DependencyTimeoutException"
INVALID_CIPHERTEXT = "InvalidCiphertextException"
INCORRECT_KEY = "IncorrectKeyException"
VALIDATION_ERROR = "ValidationError"

# --- state sets ---------------------------------------------------------------------------------
PRESENT = frozenset(s.value for s in S)
EVERY = PRESENT | {ABSENT}
KEY_PRESENT = frozenset({"Enabled", "Disabled", "PendingDeletion"})
KEY_EVERY = KEY_PRESENT | {ABSENT}


def states(*names: str) -> frozenset[str]:
    return frozenset(getattr(n, "value", n) for n in names)


def F(name: str) -> Guard:
    return Fact(name)


_COMPILED = attrs.Factory(lambda row: compile_guard(row.when), takes_self=True)


@attrs.frozen
class Check:
    """An error outcome: when its states and guard hold, ``error`` is a possible response."""

    error: str
    states: frozenset[str]
    rules: tuple[str, ...]
    why: str
    when: Guard = ALWAYS
    rank: int = PRECONDITION
    blocking: bool = True
    alt: str | None = None
    #: the guard compiled for the executor (derived from ``when``; not part of the row's identity)
    test: Callable[..., bool] = attrs.field(init=False, eq=False, repr=False, default=_COMPILED)


@attrs.frozen
class Branch:
    """A non-error outcome (or an internal event's result)."""

    name: str
    states: frozenset[str]
    rules: tuple[str, ...]
    when: Guard = ALWAYS
    #: the subject's next state (None: unchanged)
    target: str | None = None
    #: the ConnectionErrorCode set with a FAILED target
    error_code: str | None = None
    effects: tuple[str, ...] = ()
    response: str = "empty"
    alt: str | None = None
    test: Callable[..., bool] = attrs.field(init=False, eq=False, repr=False, default=_COMPILED)


@attrs.frozen
class Operation:
    name: str
    #: "store", "new_store", "key" or "account": what the rows' states refer to
    subject: str
    #: "call" (a KMS API operation) or "internal" (an event the caller sees only through reads)
    kind: str
    checks: tuple[Check, ...]
    branches: tuple[Branch, ...]
    #: the parameter naming the subject (a store id, a key id) in a call
    subject_param: str | None = None

    @property
    def rows(self) -> tuple[Check | Branch, ...]:
        return self.checks + self.branches


def internal_fault(rules: Iterable[str] = ("CEC-04",), on: frozenset[str] = PRESENT) -> Check:
    """KMSInternalException, possible next to success while a KMS internal fault lasts."""
    return Check(KMS_INTERNAL, on, tuple(rules), "KMS had an internal error", ~F("kms_ok"),
                 rank=INTERNAL, blocking=False)


def store_not_found(rules: tuple[str, ...]) -> Check:
    return Check(STORE_NOT_FOUND, states(ABSENT), rules, "no custom key store has this ID in the account and Region",
                 rank=NOT_FOUND)


def key_lookup(operation: str, rule: str) -> tuple[Check, ...]:
    """NotFoundException for an unknown key; a malformed key ARN is InvalidArnException where
    botocore lists that error for the operation, and NotFoundException elsewhere."""
    if INVALID_ARN not in errors_of(operation):
        return (Check(KEY_NOT_FOUND, states(ABSENT), (rule,), "no KMS key has this ID", rank=NOT_FOUND),)
    return (
        Check(KEY_NOT_FOUND, states(ABSENT), (rule,), "no KMS key has this ID", ~F("malformed_arn"), rank=NOT_FOUND),
        Check(INVALID_ARN, KEY_EVERY, (rule,), "the key ARN is malformed", F("malformed_arn"), rank=VALIDATION),
    )


# ================================================================================================
# Key store operations
# ================================================================================================

CONNECTION_CLUSTER_CHECKS = (
    # CONNECT-07 / TR-04: quick synchronous failures; AMB-08: the same conditions may instead be
    # accepted and surface asynchronously as FAILED, so they do not block acceptance.
    Check(CLUSTER_NOT_ACTIVE, states(S.DISCONNECTED), ("CONNECT-07", "TR-04", "AMB-08", "AMB-10"),
          "the associated cluster is not active", F("cluster_exists") & ~F("cluster_active"), blocking=False),
    Check(CLUSTER_INVALID_CONFIG, states(S.DISCONNECTED), ("CONNECT-07", "TR-04", "CL-03", "NET-05", "AMB-08"),
          "the associated cluster has no active HSM, lacks subnets in two AZs, or lost its 2223-2225 rules",
          F("cluster_exists") & (~F("hsm_ge1") | ~F("sg_intact") | ~F("subnets_2az")), blocking=False),
)

CONNECT = Operation(
    "ConnectCustomKeyStore", "store", "call", subject_param="CustomKeyStoreId",
    checks=(
        store_not_found(("CONNECT-01",)),
        Check(INVALID_STATE, states(S.DISCONNECTING, S.FAILED), ("CONNECT-03", "CONNECT-04", "TR-09", "TR-06"),
              "ConnectCustomKeyStore is refused while the store is {state}; a FAILED store must be disconnected first",
              rank=STATE),
        Check(INVALID_STATE, states(S.CONNECTING), ("AMB-02",),
              "the shared connection-state section requires DISCONNECTED to connect",
              rank=STATE, blocking=False, alt="AMB-02"),
        Check(INVALID_STATE, states(S.CONNECTED), ("AMB-03", "CONNECT-10"),
              "the shared connection-state section requires DISCONNECTED to connect",
              rank=STATE, blocking=False, alt="AMB-03"),
        *CONNECTION_CLUSTER_CHECKS,
        internal_fault(),
    ),
    branches=(
        Branch("start connecting", states(S.DISCONNECTED),
               ("TR-01", "CONNECT-02", "CONNECT-05", "CONNECT-08", "CONNECT-09", "CS-05", "AMB-22", "AMB-30", "T-01"),
               target=S.CONNECTING, effects=("start_attempt",)),
        Branch("already connecting", states(S.CONNECTING), ("AMB-02", "CONNECT-03")),
        Branch("already connected", states(S.CONNECTED), ("AMB-03", "CONNECT-10", "CONNECT-03")),
    ),
)

# The conditions of CONNECT-06 (and the fault conditions of CEC-04/CEC-06) under which a
# connection attempt succeeds. P-ENTRY-CONNECTED is about exactly this guard.
CONNECTION_SUCCEEDS = (
    F("cluster_exists") & F("cluster_active") & F("hsm_ge1") & F("subnets_exist") & F("subnets_free")
    & F("sg_intact") & F("network_ok") & F("kms_ok") & F("kmsuser_exists") & F("kmsuser_on_every_hsm")
    & ~F("kmsuser_logged_in") & ~F("kmsuser_locked") & F("password_matches") & ~F("kmsuser_2fa")
)

_EXISTS = F("cluster_exists")
_USER = F("kmsuser_exists")

# Failure branches in the order of the connection steps of CONNECT-05 (locate the cluster,
# build the network plumbing, connect, log in); the reference profile takes the first that
# holds, the permissive one keeps every one that holds (AMB-07).
CONNECTION_FAILURES = (
    ("CLUSTER_NOT_FOUND", ~_EXISTS, ("CEC-01", "CONNECT-08", "AMB-31"), (), None),
    ("SUBNET_NOT_FOUND", _EXISTS & ~F("subnets_exist"), ("CEC-07", "NET-06", "AMB-08"), (), None),
    ("INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET", _EXISTS & ~F("subnets_free"), ("CEC-03", "NET-03", "AMB-28"), (), None),
    ("NETWORK_ERRORS", ~F("network_ok") | (_EXISTS & ~F("sg_intact")), ("CEC-06", "AMB-08"), (), None),
    ("INSUFFICIENT_CLOUDHSM_HSMS", _EXISTS & (~F("hsm_ge1") | ~F("cluster_active")),
     ("CEC-02", "AMB-09", "AMB-10", "AMB-08"), (), None),
    ("USER_NOT_FOUND", _EXISTS & ~_USER, ("CEC-10", "KU-01", "KU-02"), (), None),
    # KU-14: KMS logs in to every active HSM; one without kmsuser fails the attempt (KU-11, KU-12)
    ("USER_NOT_FOUND, kmsuser missing on an HSM", _USER & ~F("kmsuser_on_every_hsm"),
     ("KU-14", "CEC-10", "KU-11", "KU-12"), (), None),
    ("USER_LOGGED_IN", _USER & F("kmsuser_logged_in"), ("CEC-09", "KU-06"), (), None),
    ("USER_LOCKED_OUT", _USER & F("kmsuser_locked"), ("CEC-08", "KU-07"), (), None),
    ("USER_LOCKED_OUT, this login locks kmsuser",
     _USER & ~F("kmsuser_locked") & ~F("password_matches") & F("kmsuser_failed_before"),
     ("CEC-08", "KU-07", "AMB-25"), ("lock_out_kmsuser",), "AMB-25"),
    ("INVALID_CREDENTIALS", _USER & ~F("kmsuser_locked") & ~F("password_matches"),
     ("CEC-05", "KU-08", "CEC-11", "AMB-25", "AMB-27", "UPDATE-09", "KU-02"), ("record_failed_login",), None),
    ("INVALID_CREDENTIALS, two-factor kmsuser", _USER & F("kmsuser_2fa"), ("KU-03", "AMB-26"), (), None),
    ("INTERNAL_ERROR", ~F("kms_ok"), ("CEC-04",), (), None),
    ("INTERNAL_ERROR, two-factor kmsuser", _USER & F("kmsuser_2fa"), ("KU-03", "AMB-26"), (), "AMB-26"),
)

CONNECTION_ATTEMPT_COMPLETES = Operation(
    "ConnectionAttemptCompletes", "store", "internal",
    checks=(),
    branches=(
        *(
            Branch(f"attempt fails: {label}", states(S.CONNECTING), ("TR-03", "CS-06", "CEC-00", *rules),
                   when=F("attempt_in_flight") & guard, target=S.FAILED, error_code=label.split(",")[0],
                   effects=("end_attempt", *effects), alt=alt)
            for label, guard, rules, effects, alt in CONNECTION_FAILURES
        ),
        Branch("attempt succeeds", states(S.CONNECTING),
               ("TR-02", "CONNECT-05", "CONNECT-06", "CONNECT-11", "CS-04", "KU-05", "KU-14", "KS-04", "NET-01",
                "NET-02", "NET-03", "AMB-01", "AMB-28", "AMB-32", "CL-02", "DISC-07"),
               when=F("attempt_in_flight") & CONNECTION_SUCCEEDS, target=S.CONNECTED,
               effects=("end_attempt", "rotate_kmsuser_password")),
    ),
)

DISCONNECT = Operation(
    "DisconnectCustomKeyStore", "store", "call", subject_param="CustomKeyStoreId",
    checks=(
        store_not_found(("DISC-01",)),
        Check(INVALID_STATE, states(S.DISCONNECTED, S.DISCONNECTING), ("DISC-02",),
              "DisconnectCustomKeyStore is refused while the store is {state}", rank=STATE),
        internal_fault(("CEC-04", "DISC-03")),
    ),
    branches=(
        Branch("disconnect", states(S.CONNECTED), ("TR-05", "DISC-03", "DISC-04", "DISC-05", "DISC-06", "DISC-07",
                                                   "KS-02", "AMB-12", "CS-03", "T-01"),
               target=S.DISCONNECTING),
        Branch("abandon the connection attempt", states(S.CONNECTING), ("TR-07", "AMB-06"),
               target=S.DISCONNECTING, effects=("end_attempt",)),
        Branch("clear the failure", states(S.FAILED), ("TR-06", "CONNECT-04", "AMB-05", "AMB-11", "CS-07"),
               target=S.DISCONNECTING),
        Branch("clear the failure at once", states(S.FAILED), ("TR-06", "AMB-05", "AMB-11", "CS-07"),
               target=S.DISCONNECTED, alt="AMB-05"),
    ),
)

DISCONNECT_COMPLETES = Operation(
    "DisconnectCompletes", "store", "internal",
    checks=(),
    branches=(
        Branch("disconnect completes", states(S.DISCONNECTING), ("TR-05", "DISC-03", "DISC-04", "NET-04", "AMB-04"),
               target=S.DISCONNECTED),
    ),
)

_CHANGES_SECRET_OR_CLUSTER = F("req_password") | F("req_cluster")
_TARGET = F("req_cluster") & F("target_exists")

UPDATE = Operation(
    "UpdateCustomKeyStore", "store", "call", subject_param="CustomKeyStoreId",
    checks=(
        store_not_found(("UPDATE-05",)),
        Check(INVALID_STATE, states(S.CONNECTING, S.DISCONNECTING, S.FAILED), ("UPDATE-04", "AMB-07"),
              "UpdateCustomKeyStore is refused while the store is {state}", rank=STATE),
        Check(INVALID_STATE, states(S.CONNECTED), ("UPDATE-03", "AMB-15"),
              "the password and the cluster ID can change only while the store is DISCONNECTED; nothing was changed",
              _CHANGES_SECRET_OR_CLUSTER, rank=STATE),
        Check(INVALID_STATE, states(S.CONNECTED), ("AMB-14", "AMB-35"),
              "this profile renames only DISCONNECTED stores", F("req_name") & ~F("rename_allowed_connected"),
              rank=STATE),
        # AMB-14: the current CLI example and an AWS sample refuse the rename of a CONNECTED CloudHSM
        # store; next to the API's success this is a documented alternative (permissive keeps both)
        Check(INVALID_STATE, states(S.CONNECTED), ("AMB-14",),
              "a CloudHSM key store must be disconnected before it is renamed",
              F("req_name") & F("rename_allowed_connected"), rank=STATE, blocking=False, alt="AMB-14"),
        Check(NAME_IN_USE, PRESENT, ("UPDATE-06", "AMB-07"), "another custom key store already has this name",
              F("name_taken")),
        Check(CLUSTER_NOT_FOUND, PRESENT, ("UPDATE-08",), "the new cluster ID names no cluster",
              F("req_cluster") & ~F("target_exists")),
        Check(CLUSTER_NOT_RELATED, PRESENT, ("UPDATE-07", "CREATE-13", "CL-05"),
              "the new cluster does not share the store's cluster certificate", _TARGET & ~F("target_related")),
        Check(CLUSTER_NOT_ACTIVE, PRESENT, ("UPDATE-08",), "the new cluster is not active",
              _TARGET & ~F("target_active")),
        Check(CLUSTER_INVALID_CONFIG, PRESENT, ("UPDATE-08", "CL-03", "NET-05"),
              "the new cluster lacks two active HSMs in different AZs, subnets in two AZs, or its 2223-2225 rules",
              _TARGET & ~F("target_config_ok")),
        internal_fault(),
    ),
    branches=(
        Branch("update", states(S.DISCONNECTED, S.CONNECTED),
               ("UPDATE-01", "UPDATE-02", "UPDATE-09", "UPDATE-10", "UPDATE-11", "KU-04", "AMB-34", "AMB-37",
                "CEC-01", "CEC-05", "CEC-07", "CEC-08", "KU-09"),
               effects=("apply_update",)),
    ),
)

DELETE = Operation(
    "DeleteCustomKeyStore", "store", "call", subject_param="CustomKeyStoreId",
    checks=(
        store_not_found(("DELETE-03",)),
        Check(INVALID_STATE, PRESENT - {S.DISCONNECTED.value}, ("DELETE-01", "AMB-07"),
              "DeleteCustomKeyStore needs a DISCONNECTED store; it is {state}", rank=STATE),
        Check(HAS_CMKS, PRESENT, ("DELETE-02", "DK-08", "DELETE-06"),
              "the store still holds KMS keys (PendingDeletion included)", F("store_has_keys")),
        internal_fault(),
    ),
    branches=(
        Branch("delete", states(S.DISCONNECTED), ("DELETE-04", "DELETE-05"), target=ABSENT,
               effects=("delete_store",)),
    ),
)

_FRESH = ~F("idempotent_match")

CREATE = Operation(
    "CreateCustomKeyStore", "new_store", "call",
    checks=(
        Check(VALIDATION_ERROR, states(ABSENT), ("CREATE-01", "AMB-18"),
              "a CloudHSM key store needs CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword, and "
              "takes no XksProxy parameters", ~F("cloudhsm_request"), rank=VALIDATION),
        Check(LIMIT_EXCEEDED, states(ABSENT), ("CREATE-09", "Q-01", "Q-02", "AMB-24"),
              "the account already has as many custom key stores as its quota", F("quota_reached") & _FRESH),
        Check(NAME_IN_USE, states(ABSENT), ("CREATE-03", "AMB-16"), "another custom key store already has this name",
              F("name_taken") & _FRESH),
        Check(CLUSTER_NOT_FOUND, states(ABSENT), ("CREATE-04",), "the cluster ID names no cluster",
              ~F("target_exists") & _FRESH),
        Check(CLUSTER_IN_USE, states(ABSENT), ("CREATE-06", "CL-05", "AMB-16"),
              "the cluster, or a cluster with the same cluster certificate, already backs a key store",
              F("target_exists") & F("target_in_use") & _FRESH),
        Check(CLUSTER_NOT_ACTIVE, states(ABSENT), ("CREATE-05", "CL-01"), "the cluster is not active",
              F("target_exists") & ~F("target_active") & _FRESH),
        Check(INCORRECT_TRUST_ANCHOR, states(ABSENT), ("CREATE-07", "CL-06"),
              "the trust anchor is not the cluster's customerCA certificate",
              F("target_exists") & ~F("trust_anchor_matches") & _FRESH),
        Check(CLUSTER_INVALID_CONFIG, states(ABSENT), ("CREATE-08", "CL-03", "NET-05"),
              "the cluster lacks two active HSMs in different AZs, subnets in two AZs, or its 2223-2225 rules",
              F("target_exists") & ~F("target_config_ok") & _FRESH),
        internal_fault(on=states(ABSENT)),
    ),
    branches=(
        Branch("create", states(ABSENT), ("CREATE-02", "CS-02", "KU-02", "CREATE-12", "CREATE-13"),
               when=_FRESH, target=S.DISCONNECTED, effects=("create_store",), response="store_id"),
        Branch("idempotent retry", states(ABSENT), ("CREATE-10", "AMB-16"), when=F("idempotent_match"),
               response="store_id"),
    ),
)

DESCRIBE = Operation(
    "DescribeCustomKeyStores", "account", "call",
    checks=(
        Check(VALIDATION_ERROR, EVERY, ("DESC-02", "AMB-17"),
              "filter by CustomKeyStoreId or by CustomKeyStoreName, not both", F("both_filters"), rank=VALIDATION),
        Check(INVALID_MARKER, EVERY, ("DESC-04",), "the Marker is not a NextMarker this service issued",
              F("marker_given") & ~F("marker_valid"), rank=VALIDATION),
        Check(STORE_NOT_FOUND, EVERY, ("DESC-03",), "no custom key store matches the filter",
              F("filter_given") & ~F("filter_matches") & ~F("both_filters"), rank=NOT_FOUND),
        internal_fault(on=EVERY),
    ),
    branches=(
        Branch("list", EVERY, ("DESC-01", "DESC-04", "DESC-05", "DESC-06", "CS-01", "CS-07", "AMB-11", "T-02",
                               "AMB-38"),
               response="describe_page"),
    ),
)

# ================================================================================================
# KMS keys in a CloudHSM key store
# ================================================================================================

CREATE_KEY = Operation(
    "CreateKey", "store", "call", subject_param="CustomKeyStoreId",
    checks=(
        Check(VALIDATION_ERROR, EVERY, ("KEY-01",),
              "ckspec models only KMS keys in CloudHSM key stores (Origin=AWS_CLOUDHSM with CustomKeyStoreId)",
              F("outside_custom_key_stores"), rank=VALIDATION),
        Check(UNSUPPORTED, EVERY, ("KEY-05", "KEY-01", "AMB-19"),
              "a CloudHSM key store holds only single-Region SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys "
              "with Origin=AWS_CLOUDHSM", F("key_request_forbidden") & ~F("outside_custom_key_stores"),
              rank=VALIDATION),
        Check(VALIDATION_ERROR, EVERY, ("AMB-19",), "forbidden custom key store key type",
              F("key_request_forbidden") & ~F("outside_custom_key_stores"), rank=VALIDATION, alt="AMB-19"),
        Check(INVALID_STATE, PRESENT - {S.CONNECTED.value}, ("AMB-19",), "forbidden key type in a store that is {state}",
              F("key_request_forbidden") & ~F("outside_custom_key_stores"), rank=STATE, alt="AMB-19"),
        Check(STORE_NOT_FOUND, states(ABSENT), ("KEY-04",), "no custom key store has this ID",
              F("req_store") & ~F("key_request_forbidden"), rank=NOT_FOUND),
        Check(INVALID_STATE, PRESENT - {S.CONNECTED.value}, ("KEY-02", "CS-08", "DISC-06"),
              "keys can be created only in a CONNECTED store; it is {state}", rank=STATE),
        Check(CLUSTER_INVALID_CONFIG, states(S.CONNECTED), ("KEY-03", "CL-03", "CRYPTO-02"),
              "the cluster needs at least two active HSMs in different AZs to create a key", ~F("hsm_2az")),
        Check(CLUSTER_INVALID_CONFIG, states(S.CONNECTED), ("NET-05",),
              "the cluster security group lost its TCP 2223-2225 rules", ~F("sg_intact")),
        Check(DEPENDENCY_TIMEOUT, states(S.CONNECTED), ("KEY-06", "CRYPTO-03"),
              "KMS cannot reach the cluster to create the backing key", ~F("network_ok") | ~F("sg_intact")),
        Check(KMS_INTERNAL, states(S.CONNECTED), ("KEY-06", "CRYPTO-03"),
              "KMS cannot reach the cluster to create the backing key", ~F("network_ok") | ~F("sg_intact")),
        internal_fault(on=EVERY),
    ),
    branches=(
        Branch("create key", states(S.CONNECTED), ("KEY-01", "KEY-06", "KEY-07", "KS-11", "CS-08"),
               effects=("create_key",), response="key_metadata"),
    ),
)

_KEY_CALL = dict(subject="key", kind="call", subject_param="KeyId")

DESCRIBE_KEY = Operation(
    "DescribeKey", **_KEY_CALL,
    checks=(*key_lookup("DescribeKey", "KS-12"), internal_fault(on=KEY_EVERY)),
    branches=(
        Branch("describe", KEY_PRESENT, ("KS-12", "KS-01", "KS-02", "KS-03", "KS-07", "KS-10", "KS-11", "DISC-05",
                                         "AMB-12", "KEY-07"), response="key_metadata"),
        Branch("describe as before the last Connect or Disconnect", KEY_PRESENT, ("AMB-12", "AMB-30", "T-02"),
               when=F("reads_lag"), response="key_metadata_lagging", alt="AMB-12"),
        Branch("describe as Unavailable", states("Enabled", "Disabled"), ("AMB-13", "KS-10"),
               when=F("store_connected") & ~F("material_present"), response="key_metadata_unavailable",
               alt="AMB-13"),
    ),
)


def _key_state_change(name: str, target: str, rules: tuple[str, ...]) -> Operation:
    return Operation(
        name, **_KEY_CALL,
        checks=(
            *key_lookup(name, "KS-07"),
            Check(KMS_INVALID_STATE, states("PendingDeletion"), ("DK-02", "KS-03"),
                  f"{name} is not allowed on a key pending deletion"),
            internal_fault(on=KEY_EVERY),
        ),
        branches=(Branch(name, states("Enabled", "Disabled"), rules, target=target),),
    )


ENABLE_KEY = _key_state_change("EnableKey", "Enabled", ("KS-05", "DISC-06", "KS-04"))
DISABLE_KEY = _key_state_change("DisableKey", "Disabled", ("KS-05", "DISC-06", "KS-04"))

SCHEDULE_KEY_DELETION = Operation(
    "ScheduleKeyDeletion", **_KEY_CALL,
    checks=(
        *key_lookup("ScheduleKeyDeletion", "DK-01"),
        Check(VALIDATION_ERROR, KEY_EVERY, ("DK-01", "AMB-36"), "the waiting period must be 7 to 30 days",
              F("window_out_of_range"), rank=VALIDATION),
        Check(KMS_INVALID_STATE, states("PendingDeletion"), ("DK-02",), "the key is already pending deletion"),
        internal_fault(on=KEY_EVERY),
    ),
    branches=(
        Branch("schedule deletion", states("Enabled", "Disabled"), ("DK-01", "DK-03", "KS-03", "KS-07", "DELETE-06"),
               target="PendingDeletion", effects=("set_pending_window",), response="schedule_deletion"),
    ),
)

CANCEL_KEY_DELETION = Operation(
    "CancelKeyDeletion", **_KEY_CALL,
    checks=(
        *key_lookup("CancelKeyDeletion", "DK-06"),
        Check(KMS_INVALID_STATE, states("Enabled", "Disabled"), ("DK-06", "KS-08"),
              "only a key pending deletion can have its deletion cancelled"),
        internal_fault(on=KEY_EVERY),
    ),
    branches=(
        Branch("cancel deletion", states("PendingDeletion"), ("DK-06", "AMB-20", "KS-03"), target="Disabled",
               effects=("clear_pending_window",), response="key_id"),
    ),
)

KEY_DELETION_COMPLETES = Operation(
    "KeyDeletionCompletes", "key", "internal",
    checks=(),
    branches=(
        Branch("key deleted, backing key deleted", states("PendingDeletion"), ("DK-04", "DK-05", "DK-07", "KU-10"),
               when=F("store_connected") & F("cluster_exists") & F("hsm_ge1") & F("network_ok"), target=ABSENT,
               effects=("delete_backing_key", "delete_key")),
        Branch("key deleted, backing key orphaned", states("PendingDeletion"), ("DK-04", "DK-07"),
               when=~(F("store_connected") & F("cluster_exists") & F("hsm_ge1") & F("network_ok")), target=ABSENT,
               effects=("delete_key",)),
    ),
)

# Cryptographic use: CRYPTO-01 lists what must hold; KS-06 covers keys that are Unavailable.
_CRYPTO_CHECKS = (
    Check(KMS_INVALID_STATE, states("PendingDeletion"), ("KS-06",), "the key is pending deletion", rank=STATE),
    Check(KMS_INVALID_STATE, states("Enabled", "Disabled"), ("KS-06", "KS-02", "CS-08", "DISC-05", "DISC-06"),
          "the key is Unavailable because its custom key store is not connected", ~F("store_connected"),
          rank=STATE),
    Check(DISABLED, states("Disabled"), ("CRYPTO-01",), "the key is disabled", F("store_connected"), rank=STATE),
    Check(KMS_INVALID_STATE, states("Enabled"), ("CRYPTO-01", "CRYPTO-02", "CS-04", "TR-08", "AMB-13", "AMB-31",
                                                 "KS-10"),
          "the key's CloudHSM cluster has no active HSM or no longer holds the backing key",
          F("store_connected") & (~F("cluster_exists") | ~F("hsm_ge1") | ~F("material_present"))),
    Check(KMS_INVALID_STATE, states("Enabled"), ("CRYPTO-03", "AMB-21"), "KMS cannot communicate with the CloudHSM cluster",
          F("store_connected") & (~F("network_ok") | ~F("sg_intact"))),
    Check(KMS_INTERNAL, states("Enabled"), ("CRYPTO-04",), "the CloudHSM cluster has no free PKCS #11 session; retry",
          F("store_connected") & ~F("sessions_free")),
    internal_fault(on=KEY_EVERY),
)


def _crypto(name: str, response: str, rules: tuple[str, ...], extra: tuple[Check, ...] = (),
            subject_param: str | None = "KeyId") -> Operation:
    return Operation(
        name, "key", "call", subject_param=subject_param,
        checks=(*extra, *key_lookup(name, "CRYPTO-01"), *_CRYPTO_CHECKS),
        branches=(Branch(name, states("Enabled"), rules, response=response),),
    )


ENCRYPT = _crypto("Encrypt", "ciphertext", ("CRYPTO-01", "CS-04"))
GENERATE_DATA_KEY = _crypto("GenerateDataKey", "data_key", ("CRYPTO-01", "AMB-23"))
GENERATE_DATA_KEY_WITHOUT_PLAINTEXT = _crypto("GenerateDataKeyWithoutPlaintext", "data_key_without_plaintext",
                                              ("CRYPTO-01", "AMB-23"))
DECRYPT = _crypto(
    "Decrypt", "plaintext", ("CRYPTO-01",), subject_param=None,
    extra=(
        Check(INVALID_CIPHERTEXT, KEY_EVERY, ("CRYPTO-01",), "the ciphertext was not produced by this service",
              F("ciphertext_invalid"), rank=VALIDATION),
        Check(INCORRECT_KEY, KEY_EVERY, ("CRYPTO-01",), "the ciphertext was encrypted under another key",
              F("ciphertext_key_mismatch") & ~F("ciphertext_invalid"), rank=VALIDATION),
    ),
)


def _unsupported(name: str, rules: tuple[str, ...], why: str) -> Operation:
    return Operation(
        name, **_KEY_CALL,
        checks=(*key_lookup(name, rules[0]), Check(UNSUPPORTED, KEY_PRESENT, rules, why, rank=VALIDATION)),
        branches=(),
    )


GENERATE_DATA_KEY_PAIR = _unsupported("GenerateDataKeyPair", ("CRYPTO-06", "AMB-23"),
                                      "keys in a custom key store cannot generate data key pairs")
ENABLE_KEY_ROTATION = _unsupported("EnableKeyRotation", ("KS-09",),
                                   "keys in a custom key store do not support automatic rotation")
GET_KEY_ROTATION_STATUS = _unsupported("GetKeyRotationStatus", ("KS-09",),
                                       "keys in a custom key store do not support rotation")
GET_PARAMETERS_FOR_IMPORT = _unsupported("GetParametersForImport", ("KS-09",),
                                         "keys in a custom key store do not support imported key material")

GENERATE_RANDOM = Operation(
    "GenerateRandom", "store", "call", subject_param="CustomKeyStoreId",
    checks=(
        Check(STORE_NOT_FOUND, states(ABSENT), ("RAND-03",), "no custom key store has this ID", F("req_store"),
              rank=NOT_FOUND),
        Check(INVALID_STATE, PRESENT - {S.CONNECTED.value}, ("RAND-02",),
              "GenerateRandom needs the custom key store to be CONNECTED; it is {state}", rank=STATE),
        Check(KMS_INTERNAL, states(S.CONNECTED), ("AMB-33",), "the cluster has no active HSM",
              ~F("cluster_exists") | ~F("hsm_ge1")),
        Check(DEPENDENCY_TIMEOUT, states(S.CONNECTED), ("AMB-33",), "the cluster has no active HSM",
              ~F("cluster_exists") | ~F("hsm_ge1"), alt="AMB-33"),
        Check(DEPENDENCY_TIMEOUT, states(S.CONNECTED), ("CRYPTO-03",), "KMS cannot communicate with the cluster",
              ~F("network_ok") | ~F("sg_intact")),
        internal_fault(on=EVERY),
    ),
    branches=(
        Branch("random bytes from the cluster", states(S.CONNECTED), ("RAND-01",), response="random"),
        Branch("random bytes from KMS", states(ABSENT), ("RAND-01",), when=~F("req_store"), response="random"),
    ),
)

#: Every operation and internal event, by name.
OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        CREATE, CONNECT, DISCONNECT, UPDATE, DELETE, DESCRIBE,
        CREATE_KEY, DESCRIBE_KEY, ENABLE_KEY, DISABLE_KEY, SCHEDULE_KEY_DELETION, CANCEL_KEY_DELETION,
        ENCRYPT, DECRYPT, GENERATE_DATA_KEY, GENERATE_DATA_KEY_WITHOUT_PLAINTEXT, GENERATE_DATA_KEY_PAIR,
        ENABLE_KEY_ROTATION, GET_KEY_ROTATION_STATUS, GET_PARAMETERS_FOR_IMPORT, GENERATE_RANDOM,
        CONNECTION_ATTEMPT_COMPLETES, DISCONNECT_COMPLETES, KEY_DELETION_COMPLETES,
    )
}

# AMB-30, T-02: reads may lag a call's state change; this event is the moment they catch up.
READS_CATCH_UP = Operation(
    "ReadsCatchUp", "store", "internal",
    checks=(),
    branches=(Branch("reads catch up", PRESENT, ("AMB-30", "AMB-12", "T-02"), when=F("reads_lag"),
                     effects=("catch_up_reads",)),),
)
OPERATIONS[READS_CATCH_UP.name] = READS_CATCH_UP

CALLS = {n: op for n, op in OPERATIONS.items() if op.kind == "call"}
INTERNAL_EVENTS = {n: op for n, op in OPERATIONS.items() if op.kind == "internal"}
