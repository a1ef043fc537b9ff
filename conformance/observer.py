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

Scope: KMS calls about CloudHSM key stores and the keys in them, and listings of every custom
key store. External key stores are in the beliefs as listings show them (XKS-04: described by
ID or by name like any store); the calls that create, change, connect or delete one are checked
against botocore's shapes and error lists only and reported as outside the observer's model
(XKS-06), and GenerateRandom naming one must be refused (RAND-04). Other KMS calls (ordinary
keys, operations the model does not cover) and CloudHSM v2 calls are checked against botocore's
shapes and error lists only.

Notes, never failures: identifiers outside botocore's documented patterns (AMB-18; AWS's own
examples show some), external-key-store calls outside the model (XKS-06). Listings of the
shape published before external key stores existed (no CustomKeyStoreType) are taken in the
current shape (AMB-38, :func:`~ckspec.conformance.checker.explain_reply`).

This module keeps the observer and its verdict. What the trace cannot see, the beliefs and the
worlds built to witness a row are in :mod:`.unseen`; the checks on a reply by itself (error
names, normalisation, botocore's shapes and error lists, response invariants) in
:mod:`.reply_checks`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from ckspec.model import PERMISSIVE, Call, Internal, Outcome, World, internal_events
from ckspec.model import identifiers as ids
from ckspec.model.aws_service import ConnectionState, ParameterError, validate_input
from ckspec.model.facts import FACTS, Context
from ckspec.model.transitions import CALLS, Operation
from ckspec.model.world import Key, KeyStore, XksProxy

from .adapter import Reply
from .checker import Nonconformance, _call_mismatch, explain_reply
from .identity import Binding
from .recorded import RecordedCall, RecordedTrace
from .reply_checks import (
    ATTEMPT_CODES,
    NO_EFFECT_ERRORS,
    NOT_SENT,
    UNKNOWN_EFFECT_ERRORS,
    check_answer_shape,
    check_invariants,
    normalised,
    pattern_notes,
)
from .unseen import (
    ENVIRONMENT_FACTS,
    FREE_FACTS,
    SHOWN_FACTS,
    UNSEEN_ANCHOR,
    UNSEEN_CLUSTER,
    UNSEEN_CODE,
    UNSEEN_FACTS,
    UNSEEN_NAME,
    UNSEEN_PASSWORD,
    Belief,
    belief_outcomes,
    fill_in,
    plain,
    project,
    unseen_store,
    unshown_code,
    with_store,
)

__all__ = [
    "ENVIRONMENT_FACTS", "FREE_FACTS", "SHOWN_FACTS", "UNSEEN_FACTS", "Inconclusive", "ObservedFailure", "Observer",
    "Verdict", "check_trace",
]

SHORT_EVENTS = frozenset({"ConnectionAttemptCompletes", "DisconnectCompletes", "ReadsCatchUp"})
STATE_EVENTS = frozenset({"ConnectionAttemptCompletes", "DisconnectCompletes"})
MAX_BELIEFS = 4096


class Inconclusive(Exception):
    """Too many beliefs remain to decide within the observer's budget."""


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
    #: what the observer noticed without failing the trace (AMB-18 patterns, XKS-06)
    notes: tuple[str, ...] = ()
    #: the accounts checked, each on its own: the endpoints the calls went to (None: calls of
    #: a trace that does not say, checked together as one account)
    endpoints: tuple[str | None, ...] = (None,)

    @property
    def conforms(self) -> bool:
        return self.failure is None


def check_trace(trace: RecordedTrace) -> Verdict:
    """Check every call of a recorded trace; stop at the first one no belief explains.

    Calls to different endpoints are calls to different accounts (a test run where each test
    starts its own ``ckspec serve``): each endpoint's calls are checked, in order, by an
    observer of their own. Calls without an endpoint (older traces) are one account."""
    observers: dict[str | None, Observer] = {}

    def verdict(failure: ObservedFailure | None = None) -> Verdict:
        found = tuple(observers.values())
        return Verdict(len(trace.calls), sum(o.checked for o in found), sum(o.skipped for o in found), failure,
                       tuple(note for o in found for note in o.notes), tuple(observers) or (None,))

    for call in trace.calls:
        observer = observers.setdefault(call.endpoint, Observer())
        try:
            observer.observe(call)
        except Nonconformance as exc:
            m = exc.failure
            where = f" to {call.endpoint}" if call.endpoint is not None and len(observers) > 1 else ""
            failure = ObservedFailure(call.index, call.service, call.operation, call.time, m.rules, m.expected,
                                      m.observed, m.detail, f"call {call.index} ({call.operation}{where}): {m.message}")
            return verdict(failure)
    return verdict()


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
        self.notes: list[str] = []
        self._explained: dict[tuple[Any, ...], tuple[Outcome, ...]] = {}

    # --- one observation ---------------------------------------------------------------------------
    def observe(self, call: RecordedCall) -> None:
        op = CALLS.get(call.operation) if call.service == "kms" else None
        if call.exception is not None:
            if op is not None and call.exception.type not in NOT_SENT:
                self._maybe_happened(call, op)
            self.skipped += 1
            return
        check_answer_shape(call, op)
        self.notes.extend(pattern_notes(call))
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
        if call.error is not None and call.error.code in ("ValidationException", "ValidationError") \
                and _redacted_string(call.request.get("KeyStorePassword")):
            # KU-04: a trace never holds a password, nor its length (7 to 32): whether the password
            # is what failed validation cannot be seen, and a validation error has no effect. A
            # password that was not a string keeps its type, and is judged as what it was (AMB-18)
            self.skipped += 1
            return
        reply = self._reply(call)
        check_invariants(call, reply)
        if self._about_external(call, op, reply):
            self.skipped += 1
            return
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

    # --- external key stores (XKS-04, XKS-06, RAND-04) ------------------------------------------------
    def _external_serial(self, call: RecordedCall) -> int | None:
        """The model serial of the external store a call names, if the beliefs hold it as one."""
        target = call.request.get("CustomKeyStoreId")
        found = self.binding.to_model.get(target) if isinstance(target, str) else None
        serial = ids.parse_store_id(found)
        if serial is None or not any((s := b.world.store(serial)) is not None and s.external for b in self.beliefs):
            return None
        return serial

    def _about_external(self, call: RecordedCall, op: Operation, reply: Reply) -> bool:
        """A call that creates, changes, connects or deletes an external store: checked against
        botocore's shapes and error lists only (done), noted, and taken into the beliefs as far as
        its answer shows. GenerateRandom must refuse one (RAND-04)."""
        creates = op.name == "CreateCustomKeyStore" and call.request.get("CustomKeyStoreType") == "EXTERNAL_KEY_STORE"
        serial = None if creates or op.name == "DescribeCustomKeyStores" else self._external_serial(call)
        if not creates and serial is None:
            return False
        if op.name == "GenerateRandom" and reply.error != "UnsupportedOperationException":
            raise Nonconformance(_mismatch(("RAND-04",), "UnsupportedOperationException", reply.summary(),
                                           "GenerateRandom given the ID of an external key store must raise "
                                           "UnsupportedOperationException"))
        if op.name == "DeleteCustomKeyStore" and reply.ok:
            self.beliefs = _distinct(attrs.evolve(b, world=b.world.without_store(serial)) for b in self.beliefs)
        self.notes.append(f"call {call.index} ({op.name}): an external key store: outside the observer's model "
                          f"(XKS-06); checked against botocore's shapes and error lists, its effect read off "
                          f"later listings")
        return True

    def _reply(self, call: RecordedCall) -> Reply:
        if call.error is not None:
            return Reply(call.error.status or 0, call.error.code, call.error.message)
        return Reply(200, None, "", normalised(call.operation, call.typed_response()))

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
                    after = project(unshown_code(outcome.world, event), belief)
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
        except ParameterError as exc:
            if not (reply.ok and _fits_but_for_patterns(op.name, params)):
                return Call.of(op.name, params)  # AMB-18: the model answers ValidationError, whatever the IDs
            # AMB-18: AWS's own examples use identifiers outside the documented patterns and AWS took
            # them: noted, and the request judged as it would be with an identifier in the pattern
            self.notes.append(f"call {call.index} ({op.name}): identifier outside the documented pattern "
                              f"(AMB-18): {plain(str(exc))}")
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
                found.extend(with_store(belief, unseen_store(serial, state)) for state in ConnectionState)
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
                self.beliefs = _distinct(with_store(b, shown) for b in self.beliefs)
            elif shown.external:  # XKS-06: an external store is as its listing shows it
                self.beliefs = _distinct(attrs.evolve(b, world=b.world.with_store(shown)) if b.world.store(serial)
                                         else with_store(b, shown) for b in self.beliefs)
            else:
                self.beliefs = tuple(fill_in(b, shown) for b in self.beliefs)

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
        if entry.get("CustomKeyStoreType") == "EXTERNAL_KEY_STORE":
            return _shown_external(serial, entry, state)
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
        explained = explain_reply(((b, o) for b in self.beliefs for o in self._explain(b, model_call)), reply,
                                  self.binding)
        keep: dict[tuple[Any, ...], Belief] = {}
        for belief, outcome in explained.matches:
            after = project(outcome.world, belief)
            keep.setdefault(after.identity, after)
        if not keep:
            shown = Call.of(call.operation, call.typed_request())  # the trace's identifiers; passwords redacted
            m = _call_mismatch(shown, reply, explained.reasons, self.recent)
            raise Nonconformance(attrs.evolve(m, detail=plain(m.detail), message=plain(m.message)))
        self.binding.bind_all(explained.pairs)
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
                after = project(outcome.world, belief)
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
        found = tuple(belief_outcomes(belief, action, self.serial))
        if memo is not None:
            if len(self._explained) > 100_000:
                self._explained.clear()
            self._explained[memo] = found
        return found


# --- helpers -------------------------------------------------------------------------------------------


def _shown_external(serial: int, entry: Mapping[str, Any], state: ConnectionState) -> KeyStore:
    """XKS-04: an external store as its listing entry shows it (its proxy settings included)."""
    config = entry.get("XksProxyConfiguration")
    config = config if isinstance(config, Mapping) else {}
    proxy = XksProxy(config.get("Connectivity"), config.get("UriEndpoint"), config.get("UriPath"),
                     config.get("AccessKeyId"), config.get("VpcEndpointServiceName"),
                     config.get("VpcEndpointServiceOwner"))
    name = entry.get("CustomKeyStoreName")
    return KeyStore(serial, name if isinstance(name, str) else UNSEEN_NAME, None, None, None, state=state,
                    error_code=entry.get("ConnectionErrorCode") if state is ConnectionState.FAILED else None,
                    store_type="EXTERNAL_KEY_STORE", xks=proxy)


def _mismatch(rules: tuple[str, ...], expected: str, observed: str, why: str) -> Any:
    from .checker import Mismatch

    return Mismatch(rules, (expected,), observed, "", f"{rules[0]}: {why}")


def _fits_but_for_patterns(operation: str, params: Mapping[str, Any]) -> bool:
    try:
        validate_input(operation, params, patterns=False)
    except ParameterError:
        return False
    return True


def _reads(params: Mapping[str, Any], fact: str) -> bool:
    """A request-only fact, read by the model's own reader."""
    return bool(FACTS[fact].read(Context(World(), PERMISSIVE, params)))


def _redacted_string(password: Any) -> bool:
    """A redacted password that was a string (its length unseen), not one of another type."""
    return isinstance(password, Mapping) and password.get("type", "string") == "string"


def _distinct(beliefs: Iterable[Belief]) -> tuple[Belief, ...]:
    found: dict[tuple[Any, ...], Belief] = {}
    for b in beliefs:
        found.setdefault(b.identity, b)
    if len(found) > MAX_BELIEFS:
        raise Inconclusive(f"more than {MAX_BELIEFS} model worlds explain the trace so far")
    return tuple(found.values())


def _lists_every_store(call: Call, reply: Reply) -> bool:
    """DESC-01: an unfiltered listing that is not cut short shows every store of the account."""
    p = call.kwargs
    return (call.operation == "DescribeCustomKeyStores" and reply.ok and not reply.body.get("Truncated")
            and not any(k in p for k in ("CustomKeyStoreId", "CustomKeyStoreName", "Marker")))
