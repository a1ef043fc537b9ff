"""Diagnosis: which rule a nonconformance breaks, named first (issue 10 section 2).

When no possible world explains what the target did, the checker knows every outcome the
model allowed and why each one differs. Listing every rule of every candidate names
dozens of rules for one bug; this module picks one:

1. the *closest* expected outcome: among the worlds still possible and their outcomes, the
   one whose response differs least from the reply (success or error first, then the error
   code, then the HTTP status, then the number of differing members; documented
   alternatives, ``alt``, lose ties);
2. the table row that produces that outcome (:mod:`ckspec.model.transitions`; each row cites
   rules), and, for a member whose value a transition on the path set (a ConnectionState, a
   ConnectionErrorCode), the row of that transition;
3. the rule whose row the answer contradicts:

   * the target is *ahead of the model*: the answer is what the model gives once pending
     asynchronous work has completed, work the model does not let complete yet -> the rule
     of the row that made that work asynchronous (TR-01 for Connect, TR-05 for Disconnect);
   * the HTTP status is the only difference -> ERR-02;
   * the answer is what another row gives in this state, of the other kind (a success where
     the model fails, or the reverse), and that row's guard is false here -> the rule behind
     the guard's false facts (the precondition the target did not check: CONNECT-06 for a
     connection without an active HSM);
   * a member keeps the value it had before a transition that must change it (a leftover)
     -> that transition's row (TR-06: Disconnect clears the ConnectionErrorCode);
   * otherwise the expected row's own rule: for a wrong error code or connection error code
     the first rule that tells the expected row from the row the target took (CEC-05 rather
     than the TR-03 both share), for a member of a read the rule that governs that member
     (:data:`MEMBER_RULES`, only among the rules the row cites), else the row's first rule.

The rules of the transitions that led there (TR-xx, AMB-30 and so on) are kept apart as
*context*: named with the failure, never blamed. The differing member is shown in full
(``repr``, so a trailing newline shows; a unified diff for long or multi-line values).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Iterable, Sequence

import attrs

from ckspec.model import PERMISSIVE, Call, Environment, Internal, Outcome, World, outcomes
from ckspec.model import identifiers as ids
from ckspec.model.environment import EVENTS
from ckspec.model.executor import subject_context
from ckspec.model.facts import FACTS
from ckspec.model.transitions import OPERATIONS, Branch, Check, Operation

from .adapter import Reply
from .identity import ID_FIELDS, LENGTH_ONLY_FIELDS, MODELLED_FIELDS, REBOUND_FIELDS, VOLATILE_FIELDS, Binding

_RULE_ID = re.compile(r"\b[A-Z]+-\d{2}\b")
#: a value longer than this, or spanning lines, is shown as a unified diff as well
LONG_VALUE = 60

#: Which rules govern a member of a reply, most specific first (only those the contradicted
#: row cites are blamed). A member listed with request parameters applies only when the
#: request has one of them (an entry missing from a page is DESC-04 when paging).
MEMBER_RULES: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    ("ConnectionErrorCode", frozenset(), ("CS-07", "DESC-05", "AMB-11")),
    ("ConnectionState", frozenset(), ("CS-01", "DESC-06", "DESC-05")),
    ("CustomKeyStores", frozenset({"Marker", "Limit"}), ("DESC-04",)),
    ("CustomKeyStoreId", frozenset({"Marker", "Limit"}), ("DESC-04",)),
    ("CustomKeyStoreId", frozenset(), ("DESC-01", "DESC-05")),
    ("CustomKeyStores", frozenset(), ("DESC-01", "DESC-03", "DESC-05")),
    ("Truncated", frozenset(), ("DESC-04",)),
    ("NextMarker", frozenset(), ("DESC-04",)),
    ("KeyState", frozenset(), ("KS-02", "DISC-05", "KS-03", "KS-01", "KS-10", "KEY-07")),
    ("Enabled", frozenset(), ("KS-02", "DISC-05", "KS-11", "KEY-07")),
    ("PendingDeletionWindowInDays", frozenset(), ("DK-01", "DK-03")),
    ("DeletionDate", frozenset(), ("DK-01", "DK-03")),
    ("KeyMetadata", frozenset(), ("KEY-07", "KS-12")),
    ("CustomKeyStoreType", frozenset(), ("DESC-05",)),
    ("CustomKeyStoreName", frozenset(), ("DESC-05", "UPDATE-01")),
    ("CloudHsmClusterId", frozenset(), ("DESC-05", "KEY-07", "UPDATE-02")),
    ("TrustAnchorCertificate", frozenset(), ("DESC-05", "CREATE-12")),
)
#: The members that a transition of the store sets: checked against the path first.
_STORE_STATE = ("ConnectionState", "ConnectionErrorCode")


@attrs.frozen
class MemberDifference:
    """One member of a reply that differs from the closest expected reply."""

    path: str
    #: ``repr`` of the values (``None`` when the member is absent on that side)
    expected: str | None
    observed: str | None

    def render(self) -> str:
        """The difference in full: both values as ``repr``; a unified diff for long values."""
        if self.observed is None:
            return f"{self.path}: missing (expected {self.expected})"
        if self.expected is None:
            return f"{self.path}: expected absent, observed {self.observed}"
        text = f"{self.path}: expected {self.expected}, observed {self.observed}"
        if max(len(self.expected), len(self.observed)) > LONG_VALUE or "\\n" in self.expected + self.observed:
            text += "\n" + unified(self.expected, self.observed, self.path)
        return text


def unified(expected: str, observed: str, path: str) -> str:
    """A unified diff of two ``repr`` texts, split at their escaped newlines."""
    def lines(text: str) -> list[str]:
        return [part + ("\\n" if i < text.count("\\n") else "") for i, part in enumerate(text.split("\\n"))]

    return "\n".join(difflib.unified_diff(lines(expected), lines(observed), f"expected {path}", f"observed {path}",
                                          lineterm="", n=1))


@attrs.frozen
class Diagnosis:
    """The broken rule, the differing member, and the rules along the path."""

    #: the rule the answer contradicts, named first
    broken: str
    #: every rule the answer contradicts (``broken`` first); a scorecard fails each of them
    contradicted: tuple[str, ...]
    #: rules of the transitions that led here: named with the failure, not blamed
    context: tuple[str, ...]
    #: the closest expected outcome, and the row that produces it
    expected: str
    row: str
    #: how the broken rule was chosen (one line)
    reason: str
    member: MemberDifference | None = None

    @property
    def detail(self) -> str:
        return self.member.render() if self.member is not None else ""


# --- differences ---------------------------------------------------------------------------------------


def member_differences(expected: Any, observed: Any, binding: Binding, where: str = "") -> list[MemberDifference]:
    """Every member of ``observed`` (target identifiers) that is not as in ``expected`` (the
    model's), in the order of the expected reply; the same comparison as
    :func:`~.identity.difference`, but all of them, with values in full."""
    found: list[MemberDifference] = []
    _walk(expected, observed, binding, dict(binding.to_target), {}, where, found)
    return found


def _walk(expected: Any, observed: Any, binding: Binding, known: dict[Any, Any], new: dict[Any, Any], where: str,
          found: list[MemberDifference]) -> None:
    if isinstance(expected, dict):
        if not isinstance(observed, dict):
            found.append(MemberDifference(where or "body", "a structure", _repr(observed)))
            return
        for key, value in expected.items():
            path = f"{where}.{key}" if where else key
            if key not in observed:
                found.append(MemberDifference(path, _repr(value), None))
            elif key in VOLATILE_FIELDS or key in REBOUND_FIELDS:
                continue
            elif key in ID_FIELDS:
                _identifier(value, observed[key], binding, known, new, path, found)
            elif key in LENGTH_ONLY_FIELDS and isinstance(value, (bytes, bytearray)):
                if _length(observed[key]) != len(value):
                    found.append(MemberDifference(path, f"{len(value)} bytes", f"{_length(observed[key])} bytes"))
            else:
                _walk(value, observed[key], binding, known, new, path, found)
        for key in observed:
            if key not in expected and key in MODELLED_FIELDS:
                found.append(MemberDifference(f"{where}.{key}" if where else key, None, _repr(observed[key])))
        return
    if isinstance(expected, (list, tuple)):
        if not isinstance(observed, (list, tuple)):
            found.append(MemberDifference(where, "a list", _repr(observed)))
            return
        if len(expected) != len(observed):
            found.append(MemberDifference(where, f"{len(expected)} entries", f"{len(observed)} entries"))
        for i, (e, o) in enumerate(zip(expected, observed)):
            _walk(e, o, binding, known, new, f"{where}[{i}]", found)
        return
    if _plain(expected) != _plain(observed):
        found.append(MemberDifference(where, _repr(expected), _repr(observed)))


def _identifier(model_value: Any, target_value: Any, binding: Binding, known: dict[Any, Any], new: dict[Any, Any],
                path: str, found: list[MemberDifference]) -> None:
    if isinstance(model_value, (bytes, bytearray)) or isinstance(target_value, (bytes, bytearray)):
        model_value = bytes(model_value) if isinstance(model_value, (bytes, bytearray)) else model_value
        target_value = bytes(target_value) if isinstance(target_value, (bytes, bytearray)) else target_value
    if model_value in known or model_value in new:
        bound = known.get(model_value, new.get(model_value))
        if bound != target_value:
            found.append(MemberDifference(path, _repr(bound), _repr(target_value)))
        return
    if target_value in binding.to_model or target_value in new.values():
        found.append(MemberDifference(path, "a new identifier", f"{_repr(target_value)} (another resource's)"))
        return
    new[model_value] = target_value


def _repr(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return repr(_plain(value))


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:
        return None


def distance(outcome: Outcome, reply: Reply, binding: Binding) -> tuple[int, list[MemberDifference]]:
    """How far ``reply`` is from ``outcome``'s response: 1000 for success against error, 100 for
    another error code, 10 for another HTTP status, 1 per differing member."""
    expected = outcome.response
    if expected is None or expected.ok != reply.ok:
        return 1000, []
    if not expected.ok:
        same = expected.error == reply.error or {expected.error, reply.error} <= {"ValidationError",
                                                                                 "ValidationException"}
        if not same:
            return 100, []
        return (10 if reply.status and reply.status != expected.status else 0), []
    diffs = member_differences(expected.body or {}, reply.body or {}, binding)
    return sum(_weight(d, diffs) for d in diffs), diffs


_TRANSIENT = frozenset({"'CONNECTING'", "'DISCONNECTING'"})


def _weight(diff: MemberDifference, diffs: list[MemberDifference]) -> int:
    """A member's share of the distance. A ConnectionState counts 2, and 3 between a transient
    and a settled state (a target that shows a settled state is compared with the worlds where
    the work has ended); a ConnectionErrorCode counts nothing next to a ConnectionState that
    differs too (its presence follows the state, CS-07)."""
    entry, _, name = diff.path.rpartition(".")
    if name == "ConnectionState":
        return 3 if (diff.expected in _TRANSIENT) != (diff.observed in _TRANSIENT) else 2
    if name == "ConnectionErrorCode" and any(d.path == f"{entry}.ConnectionState" for d in diffs):
        return 0
    return 1


# --- the diagnosis ------------------------------------------------------------------------------------


@attrs.frozen
class Transition:
    """One step the model took on the path: the world before it, and the outcome."""

    before: World
    outcome: Outcome


def diagnose_call(call: Call, reply: Reply, candidates: Sequence[tuple[World | None, Outcome]], binding: Binding,
                  *, history: Sequence[Transition] = (), ahead: Sequence[tuple[World, Outcome, tuple[Transition, ...]]] = (),
                  recent: Iterable[Outcome] = (), probe: Callable[[int], str | None] | None = None) -> Diagnosis:
    """:func:`_diagnose_call`; a reply too malformed to take apart (members of unexpected types)
    is blamed on the first candidate's row, and the diagnosis says why."""
    try:
        return _diagnose_call(call, reply, candidates, binding, history=history, ahead=ahead, recent=recent,
                              probe=probe)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
        rules = list(candidates[0][1].rules) if candidates else ["ERR-01"]
        context = list(dict.fromkeys(r for o in recent for r in o.rules))
        return _blame(rules, (), context, candidates[0][1].response.summary() if candidates else "a reply",
                      candidates[0][1].label if candidates else "",
                      f"the reply could not be taken apart member by member ({type(exc).__name__})")


def _diagnose_call(call: Call, reply: Reply, candidates: Sequence[tuple[World | None, Outcome]], binding: Binding,
                   *, history: Sequence[Transition] = (),
                   ahead: Sequence[tuple[World, Outcome, tuple[Transition, ...]]] = (),
                   recent: Iterable[Outcome] = (), probe: Callable[[int], str | None] | None = None) -> Diagnosis:
    """Why no candidate ``(world, outcome)`` explains ``reply`` to ``call``.

    ``history`` is the model's recent transitions (latest last), ``ahead`` the outcomes of the
    call in worlds the model reaches only after pending asynchronous work (with the work that
    leads there), ``recent`` the internal outcomes the model allowed the last time time passed.
    Being ahead is blamed only on evidence: the reply is a Describe that shows it, or ``probe``
    (a read of the target's store state, store ID -> ConnectionState) confirms it."""
    context = list(dict.fromkeys(r for o in recent for r in o.rules))
    for world, outcome, work in ahead:
        if _explains(outcome, reply, binding) and _confirmed(call, world, work, probe):
            return _ahead(outcome, work, history, context)
    if not candidates:
        return Diagnosis("ERR-01", ("ERR-01",), tuple(context), "a reply", "", "no model outcome at all")
    scored = [(distance(o, reply, binding), i, w, o) for i, (w, o) in enumerate(candidates)]
    scored = _as_the_target_shows(scored, call, probe)
    (score, diffs), _, world, outcome = min(scored, key=lambda s: (s[0][0], s[3].alt is not None,
                                                                    _lagging(s[2], s[3]), s[1]))
    label = outcome.response.summary() + (f" ({outcome.alt})" if outcome.alt else "")
    row = _row(outcome)
    expected_rules = _cited(row, outcome)
    if 10 <= score < 100:  # the same error, another HTTP status
        return Diagnosis("ERR-02", ("ERR-02",), tuple(context), label, outcome.label,
                         f"{outcome.response.error}: expected HTTP {outcome.response.status}, observed HTTP "
                         f"{reply.status} (ERR-02)",
                         MemberDifference("HTTP status", str(outcome.response.status), str(reply.status)))
    if score >= 100:  # the other kind of answer, or another error
        op = OPERATIONS.get(call.operation)
        taken = _row_answering(op, world, call, reply) if op is not None and world is not None else None
        other_kind = outcome.response.ok != reply.ok
        if taken is not None and other_kind:
            guarded = _guard_rules(taken, world, call)
            if guarded:
                return _blame(guarded, (), context, label, outcome.label,
                              f"the target answered as row {taken.name if isinstance(taken, Branch) else taken.error!r} "
                              f"does, whose guard is false here")
        if other_kind and world is not None:
            undone = _undone_effect(history, len(history), world,
                                    lambda w: any(_explains(o, reply, binding) for o in _try(w, call)))
            if undone is not None:
                cause, name, rules = undone
                return _blame(rules, (), context, label, cause.outcome.label,
                              f"the target answered as if {cause.outcome.label} had not done {name}")
        if taken is not None and not other_kind and isinstance(taken, Check):
            own = [r for r in expected_rules if r not in taken.rules] or expected_rules
            return _blame(own, (), context, label, outcome.label,
                          f"the target gave {reply.error}, the model {outcome.response.error}")
        return _blame(expected_rules, (), context, label, outcome.label, "the row the answer contradicts")
    # the same kind of answer: members differ
    member = diffs[0] if diffs else None
    store_member = next((d for d in diffs if d.path.rsplit(".", 1)[-1] in _STORE_STATE), None)
    if store_member is not None:
        found = _store_transition(store_member, outcome, reply, history, context)
        if found is not None:
            return attrs.evolve(found, expected=label, member=store_member,
                                contradicted=tuple(dict.fromkeys((*found.contradicted,
                                                                  *_inconsistent_entries(reply, expected_rules)))))
        if store_member.path.endswith(".ConnectionState") and store_member.observed:
            into = _rows_into(store_member.observed.strip("'"))
            if into:
                return _blame(into[0].rules, (), context, label, outcome.label,
                              f"the target shows {store_member.observed}, which only row {into[0].name!r} leads to, "
                              f"and the model did not take it", store_member)
    if member is not None:
        governing = _member_rules(member, call, expected_rules, reply)
        if governing:
            return _blame(governing, (), context, label, outcome.label,
                          f"the rule for {member.path.rsplit('.', 1)[-1]}", member)
    return _blame(expected_rules, (), context, label, outcome.label, "the row the answer contradicts", member)


def diagnose_environment(event: Environment, applied: bool, history: Sequence[Transition],
                         recent: Iterable[Outcome] = (), worlds: Sequence[World] = ()) -> Diagnosis:
    """Why the target's applying (or refusing) an environment control contradicts the model:
    an effect of an earlier transition without which the model would agree (a password KMS
    should have rotated); else the latest transition on the path that made the control
    impossible (or possible), and the rules it shares with the control; else the control's
    own rules."""
    own = EVENTS[event.event].rules
    context = list(dict.fromkeys(r for o in recent for r in o.rules))
    expected = "refused" if applied else "applied"
    for world in worlds[:8]:
        undone = _undone_effect(history, len(history), world, lambda w: bool(_try(w, event)) == applied)
        if undone is not None:
            cause, name, rules = undone
            return _blame(rules, (), context, expected, cause.outcome.label,
                          f"the target {'applied' if applied else 'refused'} it as if {cause.outcome.label} had not "
                          f"done {name}")
    for step in reversed(history):
        before = bool(_try(step.before, event))
        after = bool(_try(step.outcome.world, event))
        if before != after and after != applied:
            shared = [r for r in step.outcome.rules if r in own] or list(step.outcome.rules)
            return _blame(shared, (), context, expected, step.outcome.label,
                          f"{step.outcome.label} made {event.event} {'impossible' if applied else 'possible'}")
    return _blame(list(own), (), context, expected, event.event, "the control's own rules")


# --- helpers -----------------------------------------------------------------------------------------


def _blame(rules: Sequence[str], also: Iterable[str], context: Sequence[str], expected: str, row: str, reason: str,
           member: MemberDifference | None = None) -> Diagnosis:
    rules = [r for r in rules if not r.startswith("AMB-")] or list(rules) or ["ERR-01"]
    broken = rules[0]
    contradicted = tuple(dict.fromkeys((broken, *(r for r in also if not r.startswith("AMB-")))))
    return Diagnosis(broken, contradicted, tuple(dict.fromkeys(r for r in context if r not in contradicted)), expected,
                     row, reason, member)


def _explains(outcome: Outcome, reply: Reply, binding: Binding) -> bool:
    return distance(outcome, reply, binding)[0] == 0


def _as_the_target_shows(scored: list, call: Call, probe: Callable[[int], str | None] | None) -> list:
    """Among the closest candidates, those whose world has the call's store in the state the
    target shows for it (read with ``probe``), when the closest worlds disagree on that state."""
    if probe is None or not scored:
        return scored
    best = min(s[0][0] for s in scored)
    closest = [s for s in scored if s[0][0] == best]
    states = {_subject_state(s[2], call) for s in closest}
    if len(states) < 2 or None in states:
        return scored
    stores = {_subject_store(s[2], call) for s in closest}
    if len(stores) != 1:
        return scored
    shown = probe(stores.pop())
    agreeing = [s for s in closest if _subject_state(s[2], call) == shown]
    return agreeing or scored


def _subject(world: World | None, call: Call) -> Any:
    if world is None or call.operation not in OPERATIONS:
        return None
    try:
        return subject_context(world, call).store
    except Exception:  # noqa: BLE001 - a request the model cannot resolve a subject for
        return None


def _subject_store(world: World | None, call: Call) -> int | None:
    store = _subject(world, call)
    return store.store_id if store is not None else None


def _subject_state(world: World | None, call: Call) -> str | None:
    store = _subject(world, call)
    return store.state.value if store is not None else None


def _lagging(world: World | None, outcome: Outcome) -> int:
    """How many entries of a Describe outcome show a store's previous state (AMB-30): such
    readings lose ties to the ones that show the world as it is."""
    if world is None or outcome.response is None or not outcome.response.ok:
        return 0
    count = 0
    for entry in (outcome.response.body or {}).get("CustomKeyStores") or ():
        store = world.store(ids.parse_store_id(entry.get("CustomKeyStoreId")))
        count += store is not None and store.state.value != entry.get("ConnectionState")
    return count


def _confirmed(call: Call, world: World, work: tuple[Transition, ...], probe: Callable[[int], str | None] | None) -> bool:
    if call.operation == "DescribeCustomKeyStores":
        return True  # the reply itself shows the store's state
    subject = getattr(work[0].outcome.action, "subject", None)
    store = world.store(subject) if subject is not None else None
    if probe is None or store is None:
        return False
    return probe(subject) == store.state.value


def _ahead(outcome: Outcome, work: tuple[Transition, ...], history: Sequence[Transition],
           context: Sequence[str]) -> Diagnosis:
    """The answer is the model's once ``work`` (internal events) has happened: blame the row
    that made that work asynchronous (the call that started it)."""
    event = work[0].outcome
    subject = getattr(event.action, "subject", None)
    op = OPERATIONS.get(getattr(event.action, "event", ""))
    source_states = {s for b in (op.branches if op else ()) for s in b.states}
    for step in reversed(history):
        if not isinstance(step.outcome.action, Call):
            continue
        store = step.outcome.world.store(subject) if subject is not None else None
        was = step.before.store(subject) if subject is not None else None
        if store is not None and store.state.value in source_states and (was is None or was.state != store.state):
            return attrs.evolve(_blame(step.outcome.rules, (), [*(r for w in work for r in w.outcome.rules), *context],
                                       outcome.response.summary(), step.outcome.label,
                                       f"the target answered as if {event.label} had already happened"),
                                contradicted=(step.outcome.rules[0],))
    return _blame(event.rules, (), context, outcome.response.summary(), event.label,
                  f"the target answered as if {event.label} had already happened")


def _row(outcome: Outcome) -> Check | Branch | None:
    name = getattr(outcome.action, "operation", None) or getattr(outcome.action, "event", None)
    op = OPERATIONS.get(name or "")
    if op is None:
        return None
    label = outcome.label.split(": ", 1)[-1]
    for row in op.rows:
        if row.rules == outcome.rules and (getattr(row, "name", None) == label or getattr(row, "error", None) == label):
            return row
    return None


def _cited(row: Check | Branch | None, outcome: Outcome) -> list[str]:
    return list(row.rules if row is not None else outcome.rules)


def _row_answering(op: Operation, world: World, call: Call, reply: Reply) -> Check | Branch | None:
    """The row of ``op`` that gives the kind of answer the target gave, in the subject's state."""
    ctx = subject_context(world, call)
    from ckspec.model.facts import subject_state

    state = subject_state(ctx, op.subject)
    for row in op.rows:
        if state not in row.states:
            continue
        if reply.ok and isinstance(row, Branch):
            return row
        if not reply.ok and isinstance(row, Check) and row.error == reply.error:
            return row
    return None


def _guard_rules(row: Check | Branch, world: World, action: Call | Internal) -> list[str]:
    """The rules behind the facts that make ``row``'s guard false in ``world`` (each fact that,
    flipped alone, makes it hold), among those the row cites, in the row's order."""
    ctx = subject_context(world, action)
    if row.when.holds(ctx):
        return []
    culprits = []
    for atom in sorted(row.when.atoms()):
        flipped = _Flipped(ctx, atom)
        if row.when.holds(flipped):
            culprits.append(atom)
    cited = {r for atom in culprits for r in _RULE_ID.findall(FACTS[atom].doc)}
    return [r for r in row.rules if r in cited]


def _too_early(taken: Branch, store_id: int | None, step: Transition,
               history: Sequence[Transition]) -> Transition | None:
    """The call that started the work ``step`` ended, if ``taken``'s guard (false when the model
    ended it) held right after that call: the target ended the work then, too early."""
    for start in reversed(history[:_index(history, step)]):
        if not isinstance(start.outcome.action, Call):
            continue
        was, now = _state(start.before, store_id), _state(start.outcome.world, store_id)
        if now is None or was == now or now[0] not in taken.states:
            continue
        try:
            held = taken.when.holds(subject_context(start.outcome.world, step.outcome.action))
        except Exception:  # noqa: BLE001 - the event has no subject in that world
            return None
        return start if held else None
    return None


def _undone_effect(history: Sequence[Transition], upto: int, world: World,
                   holds: Callable[[World], bool]) -> tuple[Transition, str, list[str]] | None:
    """An effect of one of the first ``upto`` transitions without which ``holds`` would be true
    of ``world`` (what the target did would then be the model's answer: kmsuser's password never
    rotated, CONNECT-11): the transition, the effect, and the rules the effect cites that its row
    cites too. Only internal transitions are questioned, latest first: a call's effects are the
    ones its caller asked for (and saw acknowledged), an internal transition's nobody saw."""
    from ckspec.model.effects import EFFECTS

    for cause in reversed(history[:upto]):
        if not isinstance(cause.outcome.action, Internal):
            continue
        row = _row(cause.outcome)
        if not isinstance(row, Branch) or not isinstance(cause.outcome.action, (Call, Internal)):
            continue
        for name in row.effects:
            try:
                ctx = subject_context(cause.before, cause.outcome.action)
                changed = _changes(cause.before, EFFECTS[name](cause.before, ctx, {}))
                if not changed:
                    continue
                found = holds(_reverted(world, changed))
            except Exception:  # noqa: BLE001 - an effect that does not apply on its own here
                continue
            if found:
                cited = _RULE_ID.findall(EFFECTS[name].__doc__ or "")
                return cause, name, [r for r in cited if r in row.rules] or list(row.rules)
    return None


def _index(history: Sequence[Transition], step: Transition) -> int:
    for i, t in enumerate(history):
        if t is step:
            return i
    return len(history)


def _changes(before: World, after: World) -> list[tuple[str, int, str, Any]]:
    """(entity kind, id, attribute, value before) for each attribute of a cluster or store an
    effect changed."""
    found = []
    for kind, entities, get in (("cluster", after.clusters, before.cluster), ("store", after.stores, before.store)):
        for entity in entities:
            key = entity.cluster_id if kind == "cluster" else entity.store_id
            old = get(key)
            if old is None or old is entity:
                continue
            for field in attrs.fields(type(entity)):
                if getattr(old, field.name) != getattr(entity, field.name):
                    found.append((kind, key, field.name, getattr(old, field.name)))
    return found


def _reverted(world: World, changes: list[tuple[str, int, str, Any]]) -> World:
    for kind, key, field, value in changes:
        entity = world.cluster(key) if kind == "cluster" else world.store(key)
        if entity is None:
            continue
        changed = attrs.evolve(entity, **{field: value})
        world = world.with_cluster(changed) if kind == "cluster" else world.with_store(changed)
    return world


class _Flipped:
    """A fact source that answers like ``ctx`` except for one fact, negated."""

    def __init__(self, ctx: Any, atom: str) -> None:
        self.ctx, self.atom = ctx, atom

    def fact(self, name: str) -> bool:
        value = self.ctx.fact(name)
        return not value if name == self.atom else value


def _store_transition(member: MemberDifference, outcome: Outcome, reply: Reply, history: Sequence[Transition],
                      context: Sequence[str]) -> Diagnosis | None:
    """For a ConnectionState or ConnectionErrorCode that differs: the transition on the path
    that set the expected value, and what the target's value says about it."""
    entry, shown = _entries(member.path, outcome, reply)
    if entry is None or shown is None:
        return None
    store_id = ids.parse_store_id(entry.get("CustomKeyStoreId"))
    expected = (entry.get("ConnectionState"), entry.get("ConnectionErrorCode"))
    observed = (shown.get("ConnectionState"), shown.get("ConnectionErrorCode"))
    field = member.path.rsplit(".", 1)[-1]
    index = _STORE_STATE.index(field)
    # the latest transition that put the store in the expected state
    for step in reversed(history):
        was, now = _state(step.before, store_id), _state(step.outcome.world, store_id)
        if now != expected or was == now or was is None:
            continue
        op = OPERATIONS.get(getattr(step.outcome.action, "event", None) or getattr(step.outcome.action, "operation", ""))
        taken = _sibling(op, was, observed) if op is not None else None
        row = _row(step.outcome)
        if taken is not None and row is not None:
            if (taken.target == "FAILED") == (row.target == "FAILED"):  # the same kind: another reason
                own = [r for r in row.rules if r not in taken.rules] or list(row.rules)
                return _blame(own, (), [*row.rules, *context], "", step.outcome.label,
                              f"the target took row {taken.name!r} where the model takes {row.name!r}")
            early = _too_early(taken, store_id, step, history)
            if early is not None:
                return _blame(early.outcome.rules, (), [*row.rules, *context], "", early.outcome.label,
                              f"the target took row {taken.name!r}, which only held right after "
                              f"{early.outcome.label}: it completed the work before the model lets it")
            guarded = _guard_rules(taken, step.before, step.outcome.action)
            if guarded:
                undone = _undone_effect(history, _index(history, step), step.before,
                                        lambda w: taken.when.holds(subject_context(w, step.outcome.action)))
                if undone is not None:
                    cause, name, rules = undone
                    return _blame(rules, (), [*row.rules, *context], "", cause.outcome.label,
                                  f"the target took row {taken.name!r}, as if {cause.outcome.label} had not done "
                                  f"{name}")
                return _blame(guarded, (), [*row.rules, *context], "", step.outcome.label,
                              f"the target took row {taken.name!r}, whose guard is false here")
        break
    # a leftover: the target still shows the value the member had before a transition that changes it
    if observed[index] is not None:
        for step in reversed(history):
            was, now = _state(step.before, store_id), _state(step.outcome.world, store_id)
            if was is None or now is None or was[index] == now[index]:
                continue
            if now[index] == expected[index] and was[index] == observed[index]:
                return _blame(step.outcome.rules, (), context, "", step.outcome.label,
                              f"{field} kept the value it had before {step.outcome.label}")
    return None


def _inconsistent_entries(reply: Reply, cited: Sequence[str]) -> tuple[str, ...]:
    """CS-07, when the reply contradicts it on its own: an entry with a ConnectionErrorCode
    outside FAILED, or a FAILED entry without one."""
    for entry in (reply.body or {}).get("CustomKeyStores") or ():
        if isinstance(entry, dict) and (entry.get("ConnectionState") == "FAILED") != ("ConnectionErrorCode" in entry):
            return ("CS-07",) if "CS-07" in cited else ()
    return ()


def _rows_into(state: str) -> list[Branch]:
    """The rows that move a store into ``state`` from another state: internal events first."""
    ops = sorted((op for op in OPERATIONS.values() if op.subject in ("store", "new_store")),
                 key=lambda op: op.kind != "internal")
    return [b for op in ops for b in op.branches if b.alt is None and b.target == state and state not in b.states]


def _entries(path: str, outcome: Outcome, reply: Reply) -> tuple[dict | None, dict | None]:
    found = re.match(r"CustomKeyStores\[(\d+)\]\.", path)
    if not found:
        return None, None
    i = int(found.group(1))
    expected = (outcome.response.body or {}).get("CustomKeyStores") or []
    observed = (reply.body or {}).get("CustomKeyStores") or []
    if i >= len(expected) or i >= len(observed):
        return None, None
    return expected[i], observed[i]


def _state(world: World, store_id: int | None) -> tuple[str, str | None] | None:
    store = world.store(store_id) if store_id is not None else None
    return (store.state.value, store.error_code) if store is not None else None


def _sibling(op: Operation, was: tuple[str, str | None], observed: tuple[Any, Any]) -> Branch | None:
    for branch in op.branches:
        if was[0] in branch.states and branch.alt is None and (branch.target or was[0]) == observed[0] \
                and branch.error_code == observed[1]:
            return branch
    return None


def _member_rules(member: MemberDifference, call: Call, cited: Sequence[str], reply: Reply | None = None) -> list[str]:
    name = member.path.rsplit(".", 1)[-1].split("[", 1)[0]
    params = set(call.kwargs)
    found: list[str] = []
    if reply is not None and name in ("Enabled", "KeyState"):
        meta = (reply.body or {}).get("KeyMetadata") or {}
        if "Enabled" in meta and "KeyState" in meta and meta["Enabled"] != (meta["KeyState"] == "Enabled"):
            found.append("KS-11")  # the reply contradicts itself
    for member_name, needs, rules in MEMBER_RULES:
        if member_name == name and (not needs or needs & params):
            found.extend(rules)
    return [r for r in dict.fromkeys(found) if r in cited]


def _try(world: World, event: Environment | Call) -> tuple[Outcome, ...]:
    try:
        return outcomes(world, event, PERMISSIVE)
    except Exception:  # noqa: BLE001 - an event that cannot apply to this world at all
        return ()
