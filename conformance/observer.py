"""Checking a recorded trace against the model, as an observer.

A recorded program did not start from an empty account, and while it ran the environment
(clusters, HSMs, kmsuser, subnets, faults) changed without the trace seeing it, and
asynchronous work completed whenever it did. The observer therefore keeps a set of
*beliefs*: model worlds that hold only what the trace has shown about key stores and keys
(existence, name, cluster, trust anchor, connection state and error code, the password
alias last set, keys), with placeholders for what it has not shown yet. Everything about
the environment is free at every step.

An observation is explained when some belief, some row of the transition table and some
environment lead to it. The rows are not restated here: for each call the executor's own
:func:`~ckspec.model.executor.matching_rows` is evaluated with every fact about the
environment (and about stores the trace has not shown) left open, which says which rows
*could* apply; for each such row the observer builds one concrete world in which its guard
holds (the facts are read back from that world with the model's own readers, so a world
that does not really give the row is never used) and lets the executor produce the
outcome, its response and the next world. Internal events (a connection attempt
completing, a disconnect ending, reads catching up, a key's deletion waiting period ending
once the trace's clock has run that long) may happen before any call, in any order.

The first observation no belief explains is reported with the rule IDs of the rows the
model allowed there. A few response invariants (CS-07's ConnectionErrorCode exactly when
FAILED, CEC-00's codes, KS-11) and botocore's output shapes, enums and error lists are
checked first, so that a malformed answer is named for what it is.

Scope: KMS calls about CloudHSM key stores and the keys in them. Other KMS calls (ordinary
keys, operations the model does not cover), external key stores, and CloudHSM v2 calls
are checked against botocore's shapes and error lists only.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from ckspec.model import (
    PERMISSIVE,
    Call,
    Internal,
    Outcome,
    World,
    internal_events,
    outcomes,
)
from ckspec.model import identifiers as ids
from ckspec.model.aws_service import (
    ClusterState,
    ConnectionState,
    ParameterError,
    check_output,
    cloudhsm,
    kms,
    validate_input,
)
from ckspec.model.executor import matching_rows, subject_context
from ckspec.model.facts import FACTS, Context, subject_state
from ckspec.model.responses import metadata, store_entry
from ckspec.model.transitions import (
    CALLS,
    CONNECTION_ATTEMPT_COMPLETES,
    INTERNAL_EVENTS,
    Operation,
)
from ckspec.model.world import (
    AVAILABILITY_ZONES,
    Cluster,
    Hsm,
    Key,
    KeyStore,
    KmsUser,
    Subnet,
)

from .adapter import Reply
from .checker import (
    Mismatch,
    Nonconformance,
    _call_mismatch,
    _response_difference,
    canonical,
    world_key,
)
from .identity import Binding
from .recorded import RecordedCall, RecordedTrace

# --- what the trace cannot see ----------------------------------------------------------------

#: Facts about the environment: free at every step (CS-03, TR-08: the environment never moves a
#: store, but it changes everything a later transition reads).
ENVIRONMENT_FACTS = frozenset({
    "cluster_exists", "cluster_active", "hsm_ge1", "hsm_2az", "subnets_2az", "sg_intact", "subnets_exist",
    "subnets_free", "kmsuser_exists", "kmsuser_logged_in", "kmsuser_locked", "kmsuser_failed_before", "kmsuser_2fa",
    "password_matches", "network_ok", "sessions_free", "kms_ok", "material_present", "target_exists",
    "target_active", "target_config_ok", "target_related", "trust_anchor_matches",
    # Q-02, AMB-24: the account's quota is not something the trace shows
    "quota_reached",
})
#: Facts that stores and keys the trace has not shown (yet) may make true.
UNSEEN_FACTS = frozenset({"name_taken", "target_in_use", "store_has_keys", "idempotent_match"})
#: Facts read off the request and off what the trace has shown (the belief itself).
SHOWN_FACTS = frozenset({
    "attempt_in_flight", "reads_lag", "store_connected", "malformed_arn", "ciphertext_invalid",
    "ciphertext_key_mismatch", "window_out_of_range", "req_store", "req_name", "req_password", "req_cluster",
    "rename_allowed_connected", "cloudhsm_request", "key_request_forbidden", "outside_custom_key_stores",
    "both_filters", "filter_given", "filter_matches", "marker_given", "marker_valid",
})
FREE_FACTS = ENVIRONMENT_FACTS | UNSEEN_FACTS

#: Placeholders for what the trace has not shown about a store.
UNSEEN_NAME = "\x00unseen name"
UNSEEN_ANCHOR = "\x00unseen trust anchor"
UNSEEN_PASSWORD = "\x00unseen password"
UNSEEN_CODE = "\x00unseen code"
#: A store whose cluster the trace has not shown is on cluster UNSEEN_CLUSTER + its serial.
UNSEEN_CLUSTER = 1 << 40
#: Serials of stores, keys, HSMs and lineages that exist only in one realised world.
PHANTOM = 1 << 41
_OTHER_PASSWORD = "\x00another password"

#: Errors that say the call had no effect and nothing about custom key stores: throttling
#: (CRYPTO-05) and authentication or authorisation (CONNECT-12, DISC-09, CREATE-15, ...).
NO_EFFECT_ERRORS = frozenset({
    "ThrottlingException", "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
    "IncompleteSignature", "InvalidClientTokenId", "ExpiredTokenException", "RequestExpired",
    "MissingAuthenticationToken", "NotAuthorized", "OptInRequired", "RequestLimitExceeded",
})
#: Answers after which nobody knows whether the call took effect.
UNKNOWN_EFFECT_ERRORS = frozenset({"InternalFailure", "ServiceUnavailable", "ServiceUnavailableException"})
#: botocore exceptions raised before anything was sent.
NOT_SENT = frozenset({"ParamValidationError", "NoCredentialsError", "PartialCredentialsError", "NoRegionError",
                      "UnknownServiceError", "InvalidConfigError", "UnknownParameterError"})
_VALIDATION = frozenset({"ValidationException", "ValidationError"})

#: CEC-00: the codes a connection attempt can end with, read off the table.
ATTEMPT_CODES = frozenset(b.error_code for b in CONNECTION_ATTEMPT_COMPLETES.branches if b.error_code)
SHORT_EVENTS = frozenset({"ConnectionAttemptCompletes", "DisconnectCompletes", "ReadsCatchUp"})
STATE_EVENTS = frozenset({"ConnectionAttemptCompletes", "DisconnectCompletes"})
MAX_BELIEFS = 4096
_ANCHOR = re.compile(re.escape(ids.trust_anchor(0)).replace("0", r"(\d+)", 1))


class Inconclusive(Exception):
    """Too many beliefs remain to decide within the observer's budget."""


@attrs.frozen
class Belief:
    """A model world holding what the trace has shown (stores and keys only; placeholders for
    the unseen), which stores may hold keys the trace has not shown, and whether every store of
    the account is in it (an unfiltered listing showed them all)."""

    world: World
    hidden_keys: frozenset[int] = frozenset()
    complete: bool = False

    @property
    def identity(self) -> tuple[Any, ...]:
        return (world_key(self.world), self.hidden_keys, self.complete)


@attrs.frozen
class ObservedFailure:
    """The first observation no belief explains."""

    index: int
    service: str
    operation: str
    time: str | None
    rules: tuple[str, ...]
    expected: tuple[str, ...]
    observed: str
    detail: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Verdict:
    calls: int
    checked: int
    skipped: int
    failure: ObservedFailure | None = None

    @property
    def conforms(self) -> bool:
        return self.failure is None


def check_trace(trace: RecordedTrace) -> Verdict:
    """Check every call of a recorded trace; stop at the first one no belief explains."""
    observer = Observer()
    for call in trace.calls:
        try:
            observer.observe(call)
        except Nonconformance as exc:
            m = exc.failure
            failure = ObservedFailure(call.index, call.service, call.operation, call.time, m.rules, m.expected,
                                      m.observed, m.detail, f"call {call.index} ({call.operation}): {m.message}")
            return Verdict(len(trace.calls), observer.checked, observer.skipped, failure)
    return Verdict(len(trace.calls), observer.checked, observer.skipped)


class Observer:
    """The beliefs consistent with a recorded trace so far."""

    def __init__(self) -> None:
        self.beliefs: tuple[Belief, ...] = (Belief(World()),)
        self.binding = Binding()
        #: the last model serial handed out (stores, clusters, lineages and keys share one counter)
        self.serial = 0
        #: store serials every belief has decided on (present with what was shown, or absent)
        self.decided: set[int] = set()
        #: key serial -> when its deletion waiting period can end at the earliest (DK-01, DK-04)
        self.deletion_due: dict[int, Any] = {}
        self.recent: tuple[Outcome, ...] = ()
        self.checked = 0
        self.skipped = 0
        self._explained: dict[tuple[Any, ...], tuple[Outcome, ...]] = {}

    # --- one observation ---------------------------------------------------------------------------
    def observe(self, call: RecordedCall) -> None:
        op = CALLS.get(call.operation) if call.service == "kms" else None
        if call.exception is not None:
            if op is not None and call.exception.type not in NOT_SENT:
                self._maybe_happened(call, op)
            self.skipped += 1
            return
        self._check_answer_shape(call, op)
        if call.error is not None and call.error.code in NO_EFFECT_ERRORS:
            self.skipped += 1
            return
        if op is None:
            self.skipped += 1
            return
        if call.error is not None and call.error.code in UNKNOWN_EFFECT_ERRORS:
            self._maybe_happened(call, op)
            self.skipped += 1
            return
        reply = self._reply(call)
        _check_invariants(call, reply)
        self._time_passes(call)
        model_call = self._model_call(call, op, reply)
        if model_call is None:
            self.skipped += 1
            return
        if op.name == "DescribeCustomKeyStores" and reply.ok:
            self._match_listing(call, model_call, reply)
        else:
            self._match(call, model_call, reply)
        self.checked += 1

    def _match_listing(self, call: RecordedCall, model_call: Call, reply: Reply) -> None:
        """A listing, in the model's order (the order of a whole listing is not documented); a page
        of a paginated listing entry by entry, each as a listing of that one store (DESC-04: the
        model's pages follow its own creation order, which the trace cannot know for stores it did
        not see created)."""
        entries = list(reply.body.get("CustomKeyStores", []))

        def serial(entry: Any) -> int:
            found = self.binding.to_model.get(entry.get("CustomKeyStoreId")) if isinstance(entry, dict) else None
            return ids.parse_store_id(found) or 0

        paged = "Limit" in model_call.kwargs or "Marker" in model_call.kwargs or reply.body.get("Truncated")
        if not paged or "CustomKeyStoreId" in model_call.kwargs:
            body = dict(reply.body, CustomKeyStores=sorted(entries, key=serial))
            self._match(call, model_call, Reply(reply.status, None, "", body))
            return
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("CustomKeyStoreId"), str):
                continue
            one = Call.of(model_call.operation, {"CustomKeyStoreId": ids.store_id(serial(entry))})
            self._match(call, one, Reply(200, None, "", {"CustomKeyStores": [entry], "Truncated": False}))

    def _reply(self, call: RecordedCall) -> Reply:
        if call.error is not None:
            return Reply(call.error.status or 0, call.error.code, call.error.message)
        return Reply(200, None, "", _normalised(call.operation, call.typed_response()))

    def _check_answer_shape(self, call: RecordedCall, op: Operation | None) -> None:
        """botocore's output shape and enums, and the operation's error list (ERR-01)."""
        service = "cloudhsmv2" if call.service == "cloudhsmv2" else "kms"
        if call.response is not None:
            # identifiers are opaque to an observer, and the documentation's own examples break
            # their patterns (the seed page's cluster-1a23b4cdefg): shapes and enums are checked
            problems = check_output(call.operation, call.typed_response(), service, patterns=False)
            if problems:
                rules = _branch_rules(op) if op is not None else ("ERR-01",)
                raise Nonconformance(Mismatch(rules, ("a body that fits botocore's output shape",), "200 OK",
                                              problems[0], f"{rules[0]}: the response does not fit botocore's "
                                                           f"{call.operation} output shape: {problems[0]}"))
        elif call.error is not None:
            model = cloudhsm() if service == "cloudhsmv2" else kms()
            listed = {e.name for e in model.operation_model(call.operation).error_shapes}
            known = listed | _VALIDATION | NO_EFFECT_ERRORS | UNKNOWN_EFFECT_ERRORS
            if call.error.code not in known:
                raise Nonconformance(Mismatch(
                    ("ERR-01",), tuple(sorted(listed)), call.error.code, "",
                    f"ERR-01: {call.operation} cannot return {call.error.code}: it is not in botocore's error list "
                    f"for the operation ({', '.join(sorted(listed))})"))

    # --- time --------------------------------------------------------------------------------------
    def _time_passes(self, call: RecordedCall) -> None:
        """Internal events may have happened, in any order (TR-01, AMB-04, AMB-30, T-02); a key's
        deletion only once the trace's clock has run its waiting period (DK-01, DK-04)."""
        now = call.started
        seen = {b.identity: b for b in self.beliefs}
        frontier = list(seen.values())
        taken: list[Outcome] = []
        while frontier:
            belief = frontier.pop()
            for event in internal_events(belief.world):
                if event.event not in SHORT_EVENTS and not self._deletion_may_end(event, now):
                    continue
                for outcome in self._explain(belief, event):
                    taken.append(outcome)
                    after = _project(_unshown_code(outcome.world, event), belief)
                    if after.identity not in seen:
                        if len(seen) >= MAX_BELIEFS:
                            raise Inconclusive(f"more than {MAX_BELIEFS} model worlds explain the trace so far")
                        seen[after.identity] = after
                        frontier.append(after)
        self.beliefs = tuple(seen.values())
        # the transitions that may have moved a store meanwhile (named first when a listing fails)
        self.recent = tuple(o for o in taken if o.action.event in STATE_EVENTS)

    def _deletion_may_end(self, event: Internal, now: Any) -> bool:
        due = self.deletion_due.get(event.subject)
        return event.event == "KeyDeletionCompletes" and (due is None or now is None or now >= due)

    # --- from the trace's identifiers to the model's ---------------------------------------------------
    def _fresh(self) -> int:
        self.serial += 1
        return self.serial

    def _bound(self, target: Any, model_of: Any) -> Any:
        found = self.binding.to_model.get(target)
        if found is None:
            found = model_of(self._fresh())
            self.binding.bind(found, target)
        return found

    def _store(self, target: str) -> int:
        return ids.parse_store_id(self._bound(target, ids.store_id))

    def _cluster(self, target: str) -> str:
        return self._bound(target, ids.cluster_id)

    def _anchor(self, target: str) -> str:
        return self._bound(target, ids.trust_anchor)

    def _key(self, target: str) -> str | None:
        """The model's key ID or ARN for a key the trace has shown in a custom key store, else None."""
        found = self.binding.to_model.get(target)
        if found is not None:
            return found
        prefix, _, key = target.rpartition("/")
        if prefix.startswith("arn:") and prefix.endswith(":key") and key in self.binding.to_model:
            return ids.key_arn(ids.parse_key_id(self.binding.to_model[key]))
        return None

    def _model_call(self, call: RecordedCall, op: Operation, reply: Reply) -> Call | None:
        """The call in the model's identifiers, after the beliefs have taken in what it shows about
        stores and keys they had not seen; None when it is outside the model's scope."""
        params = call.typed_request()
        if op.name == "CreateKey" and _reads(params, "outside_custom_key_stores"):
            return None  # an ordinary KMS key (KEY-01: the model is about keys in CloudHSM key stores)
        try:
            validate_input(op.name, params)
        except ParameterError:
            return Call.of(op.name, params)  # AMB-18: the model answers ValidationError, whatever the IDs
        if op.name == "DescribeCustomKeyStores" and reply.ok:
            self._adopt_listed(params, reply)
        if op.name == "DescribeKey" and reply.ok and isinstance(params.get("KeyId"), str):
            self._adopt_key(params["KeyId"], reply.body.get("KeyMetadata") or {})
        if reply.ok and isinstance(reply.body.get("KeyMetadata"), dict):
            self._fill_in_cluster(reply.body["KeyMetadata"])
        model: dict[str, Any] = {}
        for name, value in params.items():
            if name == "CustomKeyStoreId" and isinstance(value, str):
                model[name] = ids.store_id(self._store(value))
            elif name == "CloudHsmClusterId" and isinstance(value, str):
                model[name] = self._cluster(value)
            elif name == "TrustAnchorCertificate" and isinstance(value, str):
                model[name] = self._anchor(value)
            elif name == "KeyId" and isinstance(value, str):
                model[name] = self._key(value)
                if model[name] is None:
                    return None  # a key the trace never showed in a custom key store
            elif name == "CiphertextBlob" and isinstance(value, (bytes, bytearray)):
                model[name] = self.binding.to_model.get(bytes(value))
                if model[name] is None:
                    return None  # a ciphertext of a key the trace does not follow
            elif name == "Marker":
                model[name] = self.binding.to_model.get(value, value)
            else:
                model[name] = value
        if op.subject == "store" and "CustomKeyStoreId" in model and op.name != "DescribeCustomKeyStores":
            self._decide(ids.parse_store_id(model["CustomKeyStoreId"]))
        return Call.of(op.name, model)

    # --- stores and keys the trace had not shown -----------------------------------------------------
    def _decide(self, serial: int) -> None:
        """A store the beliefs have not decided on: absent, or present in any state with nothing known."""
        if serial in self.decided:
            return
        self.decided.add(serial)
        found = []
        for belief in self.beliefs:
            found.append(belief)
            if not belief.complete:
                found.extend(_with_store(belief, _unseen_store(serial, state)) for state in ConnectionState)
        self.beliefs = _distinct(found)

    def _adopt_listed(self, params: Mapping[str, Any], reply: Reply) -> None:
        """DESC-05: a listing shows stores; those not seen before join every belief as shown, and
        what the beliefs did not know about the others is filled in."""
        for entry in reply.body.get("CustomKeyStores", []):
            if not isinstance(entry, dict) or not isinstance(entry.get("CustomKeyStoreId"), str):
                continue
            serial = self._store(entry["CustomKeyStoreId"])
            shown = self._shown_store(serial, entry)
            if serial not in self.decided:
                self.decided.add(serial)
                self.beliefs = _distinct(_with_store(b, shown) for b in self.beliefs)
            else:
                self.beliefs = tuple(_fill_in(b, shown) for b in self.beliefs)

    def _fill_in_cluster(self, meta: Mapping[str, Any]) -> None:
        """KEY-07: KeyMetadata shows the cluster of the key's store."""
        store, cluster = meta.get("CustomKeyStoreId"), meta.get("CloudHsmClusterId")
        if not isinstance(store, str) or not isinstance(cluster, str) or store not in self.binding.to_model:
            return
        serial = self._store(store)
        beliefs = []
        for belief in self.beliefs:
            found = belief.world.store(serial)
            if found is not None and found.cluster_id == UNSEEN_CLUSTER + serial:
                found = attrs.evolve(found, cluster_id=ids.parse_cluster_id(self._cluster(cluster)))
                belief = attrs.evolve(belief, world=belief.world.with_store(found))
            beliefs.append(belief)
        self.beliefs = _distinct(beliefs)

    def _shown_store(self, serial: int, entry: Mapping[str, Any]) -> KeyStore:
        try:
            state = ConnectionState(entry.get("ConnectionState"))
        except ValueError:
            state = ConnectionState.FAILED
        cluster = entry.get("CloudHsmClusterId")
        anchor = entry.get("TrustAnchorCertificate")
        code = entry.get("ConnectionErrorCode")
        return KeyStore(
            serial,
            entry["CustomKeyStoreName"] if isinstance(entry.get("CustomKeyStoreName"), str) else UNSEEN_NAME,
            ids.parse_cluster_id(self._cluster(cluster)) if isinstance(cluster, str) else UNSEEN_CLUSTER + serial,
            self._anchor(anchor) if isinstance(anchor, str) else UNSEEN_ANCHOR,
            UNSEEN_PASSWORD, state=state,
            error_code=(code if code in ATTEMPT_CODES else UNSEEN_CODE) if state is ConnectionState.FAILED else None,
            attempt_in_flight=state is ConnectionState.CONNECTING)

    def _adopt_key(self, target: str, meta: Mapping[str, Any]) -> None:
        """KEY-07: DescribeKey shows a key of a custom key store the trace had not seen."""
        if self._key(target) is not None or not isinstance(meta.get("CustomKeyStoreId"), str) \
                or not isinstance(meta.get("KeyId"), str):
            return
        serial = ids.parse_key_id(self._bound(meta["KeyId"], ids.key_id))
        if target != meta["KeyId"] and target.startswith("arn:") and target not in self.binding.to_model:
            self.binding.bind(ids.key_arn(serial), target)
        if isinstance(meta.get("Arn"), str) and meta["Arn"] not in self.binding.to_model:
            self.binding.bind(ids.key_arn(serial), meta["Arn"])
        store = self._store(meta["CustomKeyStoreId"])
        self._decide(store)
        window = meta.get("PendingDeletionWindowInDays") if isinstance(meta.get("PendingDeletionWindowInDays"), int) \
            else 30
        found = []
        for belief in self.beliefs:
            if belief.world.store(store) is None:
                found.append(belief)
                continue
            for state in ("Enabled", "Disabled", "PendingDeletion"):
                key = Key(serial, store, state, window if state == "PendingDeletion" else None)
                found.append(attrs.evolve(belief, world=belief.world.with_key(key)))
        self.beliefs = _distinct(found)

    # --- explaining an observation ---------------------------------------------------------------------
    def _match(self, call: RecordedCall, model_call: Call, reply: Reply) -> None:
        reasons: list[tuple[Outcome, str]] = []
        keep: dict[tuple[Any, ...], Belief] = {}
        pairs: dict[Any, Any] | None = None
        for belief in self.beliefs:
            for outcome in self._explain(belief, model_call):
                new: dict[Any, Any] = {}
                why = _response_difference(outcome, reply, self.binding, new)
                if why is None and pairs is not None and new != pairs:
                    why = "identifiers bound differently"
                if why is not None:
                    reasons.append((outcome, why))
                    continue
                pairs = new
                after = _project(outcome.world, belief)
                keep.setdefault(after.identity, after)
        if not keep:
            shown = Call.of(call.operation, call.typed_request())  # the trace's identifiers; passwords redacted
            m = _call_mismatch(shown, reply, reasons, self.recent)
            raise Nonconformance(attrs.evolve(m, detail=_plain(m.detail), message=_plain(m.message)))
        self.binding.bind_all(pairs or {})
        beliefs = list(keep.values())
        if _lists_every_store(model_call, reply):
            beliefs = [attrs.evolve(b, complete=True) for b in beliefs]
        self.beliefs = _distinct(beliefs)
        self._after(call, model_call)

    def _after(self, call: RecordedCall, model_call: Call) -> None:
        for belief in self.beliefs:
            self.serial = max(self.serial, belief.world.serial)
            self.decided.update(s.store_id for s in belief.world.stores)
        if model_call.operation == "DescribeCustomKeyStores" and "CustomKeyStoreId" in model_call.kwargs:
            self.decided.add(ids.parse_store_id(model_call.kwargs["CustomKeyStoreId"]))
        if model_call.operation == "ScheduleKeyDeletion" and call.started is not None:
            serial = ids.parse_key_id(model_call.kwargs.get("KeyId"))
            days = model_call.kwargs.get("PendingWindowInDays", 30)
            if serial is not None and isinstance(days, int):
                self.deletion_due[serial] = call.started + _dt.timedelta(days=days)

    def _maybe_happened(self, call: RecordedCall, op: Operation) -> None:
        """No answer came: the call may or may not have taken effect."""
        self._time_passes(call)
        model_call = self._model_call(call, op, Reply(0, "Unknown"))
        if model_call is None:
            return
        found = {b.identity: b for b in self.beliefs}
        for belief in self.beliefs:
            for outcome in self._explain(belief, model_call):
                after = _project(outcome.world, belief)
                found.setdefault(after.identity, after)
        self.beliefs = tuple(found.values())
        self._after(call, model_call)

    def _explain(self, belief: Belief, action: Call | Internal) -> tuple[Outcome, ...]:
        """Every outcome of ``action`` some environment gives in this belief (memoised)."""
        try:
            memo = (belief.identity, action, self.serial)
            hash(memo)
        except TypeError:
            memo = None
        if memo is not None and memo in self._explained:
            return self._explained[memo]
        found = tuple(self._outcomes(belief, action))
        if memo is not None:
            if len(self._explained) > 100_000:
                self._explained.clear()
            self._explained[memo] = found
        return found

    def _outcomes(self, belief: Belief, action: Call | Internal) -> Iterable[Outcome]:
        if isinstance(action, Call):
            op = CALLS[action.operation]
            try:
                validate_input(op.name, action.kwargs)
            except ParameterError:  # AMB-18: the executor answers ValidationError, whatever the world
                yield from outcomes(belief.world, action, PERMISSIVE)
                return
        else:
            op = INTERNAL_EVENTS[action.event]
        base = self._realise(belief, action, {}, None)
        ctx = subject_context(base, action)
        state = subject_state(ctx, op.subject)
        atoms = _atoms(op)
        fixed = tuple((n, ctx.fact(n)) for n in sorted(atoms - FREE_FACTS))
        free = tuple(sorted(atoms & FREE_FACTS))
        default = tuple(ctx.fact(n) for n in free)
        for row, assignments in _witnesses(op, state, fixed, free, default, ctx.store, ctx.key):
            found = self._row_outcomes(belief, action, op, row, [dict(zip(free, a)) for a in assignments])
            yield from found

    def _row_outcomes(self, belief: Belief, action: Call | Internal, op: Operation, row: Any,
                      assignments: list[dict[str, bool]]) -> list[Outcome]:
        """The outcomes of one row in the first world built for one of its assignments in which the
        executor really takes that row (the assignment is only a hint: the world's own facts, read
        by the model, decide)."""
        label = f"{op.name}: {row.error}" if hasattr(row, "error") else f"{op.name}: {row.name}"
        for want in assignments:
            for lineage in (None, "request", "fresh"):
                world = self._realise(belief, action, want, lineage)
                found = [o for o in outcomes(world, action, PERMISSIVE) if o.label == label and o.rules == row.rules]
                if found:
                    return found
        return []

    # --- realising an environment ------------------------------------------------------------------------

    def _realise(self, belief: Belief, action: Call | Internal, want: dict[str, bool], lineage: str | None) -> World:
        world = attrs.evolve(belief.world, serial=max(belief.world.serial, self.serial))
        ctx = subject_context(world, action)
        store, key, params = ctx.store, ctx.key, ctx.params

        def fact(name: str, default: bool = True) -> bool:
            return want.get(name, default)

        clusters: list[Cluster] = []
        target = ids.parse_cluster_id(params.get("CloudHsmClusterId")) if isinstance(action, Call) else None
        if store is not None:
            own = dict(want)
            if target == store.cluster_id:  # an Update naming the store's own cluster (AMB-34)
                own.update(cluster_exists=fact("target_exists"), cluster_active=fact("target_active"),
                           hsm_2az=fact("target_config_ok"), subnets_2az=fact("target_config_ok"))
            if own.get("cluster_exists", True):
                clusters.append(_cluster(store.cluster_id, _lineage(store.trust_anchor, store.store_id), own,
                                         store, key, world))
        if target is not None and (store is None or target != store.cluster_id) and fact("target_exists"):
            choice = {None: _lineage(store.trust_anchor, store.store_id) if store else None,
                      "request": _lineage(params.get("TrustAnchorCertificate"), None),
                      "fresh": PHANTOM + 1}[lineage] or PHANTOM + 1
            config = fact("target_config_ok")
            clusters.append(_cluster(target, choice, {"cluster_active": fact("target_active"), "hsm_2az": config,
                                                      "subnets_2az": config}, None, None, world))
        phantoms = list(self._phantoms(belief, world, ctx, want))
        world = attrs.evolve(world, clusters=tuple(clusters), stores=world.stores + tuple(phantoms),
                             network_fault=not fact("network_ok"), internal_fault=not fact("kms_ok"))
        if fact("store_has_keys", False) and store is not None and store.store_id in belief.hidden_keys \
                and not any(world.keys_in(store.store_id)):
            world = world.with_key(Key(PHANTOM, store.store_id))
        if fact("idempotent_match", False):
            world = _learn_idempotent(world, params)
        return attrs.evolve(world, quota=max(1, len(world.stores) + (0 if fact("quota_reached", False) else 1)))

    def _phantoms(self, belief: Belief, world: World, ctx: Context, want: dict[str, bool]) -> Iterable[KeyStore]:
        """Stores the trace has not shown, where a fact needs one (CREATE-03, UPDATE-06, CREATE-06)."""
        if belief.complete:
            return
        params = ctx.params
        name = params.get("NewCustomKeyStoreName", params.get("CustomKeyStoreName"))
        own = ctx.store.store_id if ctx.store else None
        if want.get("name_taken") and isinstance(name, str) and not any(
                s.name == name and s.store_id != own for s in world.stores):
            yield KeyStore(PHANTOM + 1, name, PHANTOM + 2, UNSEEN_ANCHOR, UNSEEN_PASSWORD)
        target = ids.parse_cluster_id(params.get("CloudHsmClusterId"))
        if want.get("target_in_use") and target is not None:
            yield KeyStore(PHANTOM + 3, UNSEEN_NAME + " (in use)", target, UNSEEN_ANCHOR, UNSEEN_PASSWORD)
        if want.get("quota_reached") and not world.stores:
            yield KeyStore(PHANTOM + 4, UNSEEN_NAME + " (quota)", PHANTOM + 5, UNSEEN_ANCHOR, UNSEEN_PASSWORD)


# --- helpers -------------------------------------------------------------------------------------------


def _branch_rules(op: Operation) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for b in op.branches for r in b.rules)) or ("ERR-01",)


def _atoms(op: Operation) -> frozenset[str]:
    return frozenset().union(*(row.when.atoms() for row in op.rows))


def _reads(params: Mapping[str, Any], fact: str) -> bool:
    """A request-only fact, read by the model's own reader."""
    return bool(FACTS[fact].read(Context(World(), PERMISSIVE, params)))


class _Assumed:
    """A fact source with every fact given: what :func:`matching_rows` sees for one assignment."""

    __slots__ = ("facts", "key", "store")

    def __init__(self, facts: dict[str, bool], store: Any, key: Any) -> None:
        self.facts, self.store, self.key = facts, store, key

    def fact(self, name: str) -> bool:
        return self.facts[name]


_WITNESSES: dict[tuple[Any, ...], list[tuple[Any, list[tuple[bool, ...]]]]] = {}


def _witnesses(op: Operation, state: str, fixed: tuple[tuple[str, bool], ...], free: tuple[str, ...],
               default: tuple[bool, ...], store: Any, key: Any) -> list[tuple[Any, list[tuple[bool, ...]]]]:
    """Each row that can apply for some values of the free facts, with up to sixteen such values
    (nearest the default first): the table's own resolution, run on assumed facts."""
    memo = (op.name, state, fixed, free, default)
    found = _WITNESSES.get(memo)
    if found is not None:
        return found
    rows: dict[int, list[tuple[bool, ...]]] = {}
    for flips in itertools.chain.from_iterable(itertools.combinations(range(len(free)), n)
                                               for n in range(len(free) + 1)):
        values = tuple(not v if i in flips else v for i, v in enumerate(default))
        facts = dict(fixed) | dict(zip(free, values))
        for row in matching_rows(op, _Assumed(facts, store, key)):
            slot = rows.setdefault(id(row), [])
            if len(slot) < 16:
                slot.append(values)
    by_id = {id(r): r for r in op.rows}
    found = [(by_id[i], values) for i, values in rows.items()]
    _WITNESSES[memo] = found
    return found


def _lineage(anchor: Any, store_serial: int | None) -> int | None:
    match = _ANCHOR.fullmatch(anchor) if isinstance(anchor, str) else None
    if match:
        return int(match.group(1))
    return PHANTOM + 10 + store_serial if store_serial is not None else None


def _cluster(serial: int, lineage: int, want: Mapping[str, bool], store: KeyStore | None, key: Key | None,
             world: World) -> Cluster:
    """A cluster with the facts ``want`` asks for (healthy where it asks nothing)."""

    def fact(name: str, default: bool = True) -> bool:
        return want.get(name, default)

    count = 2 if fact("hsm_2az") else (1 if fact("hsm_ge1") else 0)
    hsms = tuple(Hsm(PHANTOM + 20 + i, AVAILABILITY_ZONES[i]) for i in range(count))
    subnets = [Subnet(z) for z in AVAILABILITY_ZONES[: 2 if fact("subnets_2az") else 1]]
    if not fact("subnets_exist"):
        subnets.append(Subnet(AVAILABILITY_ZONES[2], exists=False))
    if not fact("subnets_free"):
        subnets[0] = attrs.evolve(subnets[0], free_addresses=0)
    user = None
    if store is not None and fact("kmsuser_exists"):
        user = KmsUser(store.password if fact("password_matches") else _OTHER_PASSWORD,
                       logged_in=fact("kmsuser_logged_in", False), locked_out=fact("kmsuser_locked", False),
                       failed_login=fact("kmsuser_failed_before", False), two_factor=fact("kmsuser_2fa", False))
    material = frozenset(k.key_id for k in world.keys_in(store.store_id)) if store is not None else frozenset()
    if key is not None and not fact("material_present"):
        material -= {key.key_id}
    return Cluster(serial, ClusterState.ACTIVE if fact("cluster_active") else ClusterState.INITIALIZED, lineage,
                   tuple(subnets), hsms, security_group_intact=fact("sg_intact"),
                   trust_anchor=ids.trust_anchor(lineage), kmsuser=user, key_material=material,
                   sessions_exhausted=not fact("sessions_free"))


def _learn_idempotent(world: World, params: Mapping[str, Any]) -> World:
    """CREATE-10: a DISCONNECTED store whose unseen name, cluster, anchor or password may be the
    request's is taken to be the one an idempotent retry found."""
    cluster = ids.parse_cluster_id(params.get("CloudHsmClusterId"))
    for s in world.stores:
        fits = (s.state is ConnectionState.DISCONNECTED
                and s.name in (params.get("CustomKeyStoreName"), UNSEEN_NAME)
                and s.cluster_id in (cluster, UNSEEN_CLUSTER + s.store_id)
                and s.trust_anchor in (params.get("TrustAnchorCertificate"), UNSEEN_ANCHOR)
                and s.password in (params.get("KeyStorePassword"), UNSEEN_PASSWORD))
        if fits and s.store_id < PHANTOM:
            return world.with_store(attrs.evolve(s, name=params.get("CustomKeyStoreName"), cluster_id=cluster,
                                                 trust_anchor=params.get("TrustAnchorCertificate"),
                                                 password=params.get("KeyStorePassword")))
    return world


def _code_is_free() -> bool:
    """Whether every failed connection attempt's code depends on the environment alone (and
    changes nothing else about the store), so that which one a failure has is unknown until a
    listing shows it (true of the table today; checked rather than assumed)."""
    attempt = CONNECTION_ATTEMPT_COMPLETES
    return all(b.when.atoms() <= FREE_FACTS | {"attempt_in_flight"} and set(b.effects) <= _CLUSTER_EFFECTS
               for b in attempt.branches if b.target == ConnectionState.FAILED.value)


#: Effects on the cluster and kmsuser only (what a belief does not hold).
_CLUSTER_EFFECTS = frozenset({"end_attempt", "lock_out_kmsuser", "record_failed_login"})
_CODE_IS_FREE = _code_is_free()


def _unshown_code(world: World, event: Internal) -> World:
    """CEC-00, TR-03: after a connection attempt fails, its code is one of ATTEMPT_CODES, which
    one is left open until a listing shows it (instead of one belief per code)."""
    if not _CODE_IS_FREE or event.event != CONNECTION_ATTEMPT_COMPLETES.name:
        return world
    store = world.store(event.subject)
    if store is None or store.state is not ConnectionState.FAILED:
        return world
    return world.with_store(attrs.evolve(store, error_code=UNSEEN_CODE))


def _unseen_store(serial: int, state: ConnectionState) -> KeyStore:
    return KeyStore(serial, UNSEEN_NAME, UNSEEN_CLUSTER + serial, UNSEEN_ANCHOR, UNSEEN_PASSWORD, state=state,
                    error_code=UNSEEN_CODE if state is ConnectionState.FAILED else None,
                    attempt_in_flight=state is ConnectionState.CONNECTING)


def _with_store(belief: Belief, store: KeyStore) -> Belief:
    stores = tuple(sorted(belief.world.stores + (store,), key=lambda s: s.store_id))
    return attrs.evolve(belief, world=attrs.evolve(belief.world, stores=stores),
                        hidden_keys=belief.hidden_keys | {store.store_id})


def _fill_in(belief: Belief, shown: KeyStore) -> Belief:
    """What a listing shows about a store the belief holds with placeholders."""
    store = belief.world.store(shown.store_id)
    if store is None:
        return belief
    changes: dict[str, Any] = {}
    if store.name == UNSEEN_NAME:
        changes["name"] = shown.name
    if store.cluster_id == UNSEEN_CLUSTER + store.store_id:
        changes["cluster_id"] = shown.cluster_id
    if store.trust_anchor == UNSEEN_ANCHOR:
        changes["trust_anchor"] = shown.trust_anchor
    if shown.state is ConnectionState.FAILED and shown.error_code != UNSEEN_CODE:
        if store.error_code == UNSEEN_CODE:
            changes["error_code"] = shown.error_code
        elif store.lag is not None and store.lag == (ConnectionState.FAILED, UNSEEN_CODE):
            changes["lag"] = (ConnectionState.FAILED, shown.error_code)  # AMB-30: a read of the state before
    if not changes:
        return belief
    return attrs.evolve(belief, world=belief.world.with_store(attrs.evolve(store, **changes)))


def _project(world: World, before: Belief) -> Belief:
    """A belief from a realised world: its stores and keys, without the environment and phantoms."""
    stores = tuple(s for s in world.stores if s.store_id < PHANTOM)
    keys = tuple(k for k in world.keys if k.key_id < PHANTOM)
    kept = World(stores=stores, keys=keys, serial=world.serial, secrets=world.secrets)
    present = {s.store_id for s in stores}
    return Belief(canonical(kept), frozenset(s for s in before.hidden_keys if s in present), before.complete)


def _distinct(beliefs: Iterable[Belief]) -> tuple[Belief, ...]:
    found: dict[tuple[Any, ...], Belief] = {}
    for b in beliefs:
        found.setdefault(b.identity, b)
    if len(found) > MAX_BELIEFS:
        raise Inconclusive(f"more than {MAX_BELIEFS} model worlds explain the trace so far")
    return tuple(found.values())


_PLACEHOLDER = re.compile(r"'\\x00unseen [^']*'")


def _plain(text: str) -> str:
    """A message without the observer's placeholders (they stand for what the trace has not shown)."""
    return _PLACEHOLDER.sub("a value", text)


def _lists_every_store(call: Call, reply: Reply) -> bool:
    """DESC-01: an unfiltered listing that is not cut short shows every store of the account."""
    p = call.kwargs
    return (call.operation == "DescribeCustomKeyStores" and reply.ok and not reply.body.get("Truncated")
            and not any(k in p for k in ("CustomKeyStoreId", "CustomKeyStoreName", "Marker")))


def _normalised(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """Differences that say nothing about custom key stores: a listing that leaves out
    ``Truncated: false``, the caller's account ID and a key's description (the model fixes both),
    external key stores (outside the model)."""
    body = dict(body)
    if operation == "DescribeCustomKeyStores":
        body.setdefault("Truncated", False)
        body["CustomKeyStores"] = [e for e in body.get("CustomKeyStores", [])
                                   if not (isinstance(e, dict) and e.get("CustomKeyStoreType") == "EXTERNAL_KEY_STORE")]
    meta = body.get("KeyMetadata")
    if isinstance(meta, dict):
        meta = dict(meta)
        if "AWSAccountId" in meta:
            meta["AWSAccountId"] = ids.ACCOUNT
        if "Description" in meta:
            meta["Description"] = ""
        body["KeyMetadata"] = meta
    return body


def _check_invariants(call: RecordedCall, reply: Reply) -> None:
    """Response invariants, read off the model's response builders: a listing entry carries
    ConnectionErrorCode exactly when the model's entry for that state does (CS-07), with a
    code a connection attempt can end with (CEC-00); KeyMetadata's Enabled (KS-11)."""
    if not reply.ok:
        return
    for entry in reply.body.get("CustomKeyStores", []) if call.operation == "DescribeCustomKeyStores" else ():
        problem = _entry_problem(entry)
        if problem:
            rules, detail = problem
            raise Nonconformance(Mismatch(rules, (detail,), "200 OK", detail, f"{rules[0]}: {detail}"))
    meta = reply.body.get("KeyMetadata")
    if isinstance(meta, dict) and isinstance(meta.get("KeyState"), str) and isinstance(meta.get("Enabled"), bool):
        probe = World(stores=(KeyStore(1, "probe", 2, "probe", "probe"),), keys=(Key(3, 1),))
        expected = metadata(probe, probe.keys[0], meta["KeyState"])["Enabled"]
        if meta["Enabled"] != expected:
            detail = f"KeyMetadata shows KeyState {meta['KeyState']} with Enabled {meta['Enabled']}"
            raise Nonconformance(Mismatch(("KS-11",), (f"Enabled {expected}",), "200 OK", detail,
                                          f"KS-11: {detail}: Enabled is true exactly when KeyState is Enabled"))


def _entry_problem(entry: Any) -> tuple[tuple[str, ...], str] | None:
    if not isinstance(entry, dict) or entry.get("CustomKeyStoreType") == "EXTERNAL_KEY_STORE":
        return None
    try:
        state = ConnectionState(entry.get("ConnectionState"))
    except ValueError:
        return None
    code = entry.get("ConnectionErrorCode")
    model = store_entry(KeyStore(0, "probe", 1, "probe", "probe", state=state, error_code=code or "probe"))
    store = entry.get("CustomKeyStoreId", "a store")
    if "ConnectionErrorCode" in model and code is None:
        return ("CS-07", "CS-06", "TR-03"), f"{store} is FAILED but its entry has no ConnectionErrorCode"
    if "ConnectionErrorCode" not in model and code is not None:
        return ("CS-07", "TR-06", "AMB-11"), (f"{store} is {state.value} but its entry carries ConnectionErrorCode "
                                               f"{code} (only a FAILED store has one)")
    if code is not None and code not in ATTEMPT_CODES:
        return ("CEC-00",), f"{store} is FAILED with {code}, which is not a CloudHSM key store connection error code"
    return None
