"""The executor: from a world and an action to the set of possible outcomes.

This is the only code that interprets the transition table. It validates a call's
parameters against botocore's shapes (AMB-18), resolves the subject (the store or key
the call names), evaluates every row's guard, applies the effects of the rows that hold,
and builds the responses. A profile decides whether all documented outcomes are kept
(``permissive``) or one is chosen (``reference``, ``legacy``).
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from . import identifiers as ids
from .actions import Action, Call, Environment, Internal, Outcome, Response
from .aws_service import ConnectionState, ParameterError, validate_input
from .effects import EFFECTS
from .external import EXTERNAL_EFFECTS, XksContext, operation_for
from .environment import EVENTS
from .facts import Context, ciphertext_key, subject_state
from .messages import text as message_text
from .profiles import PERMISSIVE, REFERENCE, Profile
from .responses import RESPONSES
from .transitions import CALLS, INTERNAL_EVENTS, OPERATIONS, VALIDATION_ERROR, Branch, Check, Operation
from .world import ABSENT, World


class ModelUsageError(ValueError):
    """The action is not one the model knows (an unknown operation or event name)."""


class NotEnabled(ValueError):
    """The action cannot happen in this world (an internal or environment event whose guard fails)."""


#: A transition table: operation or internal event name -> its rows. The executor interprets the
#: one given (a seeded bug's edited copy, :mod:`ckspec.model.mutations`), else the model's own.
Table = Mapping[str, Operation]

#: Parameters ckspec needs beyond botocore's required members, with the rule that says so.
_EXTRA_REQUIRED = {"GenerateRandom": (("NumberOfBytes",), "RAND-01")}


def outcomes(world: World, action: Action, profile: Profile = PERMISSIVE, *,
             prevalidated: bool = False, table: Table | None = None) -> tuple[Outcome, ...]:
    """Every outcome of ``action`` in ``world`` that the profile admits, under ``table`` (default:
    the model's transition table).

    Calls always have at least one outcome. Internal and environment events that cannot
    happen in this world have none. ``prevalidated`` skips the botocore parameter check for
    calls built from known-valid values (the explorer's moves; a test holds them to it).
    """
    if isinstance(action, Call):
        return _call(world, action, profile, prevalidated, table)
    if isinstance(action, Internal):
        return _internal(world, action, profile, table)
    if isinstance(action, Environment):
        return _environment(world, action)
    raise ModelUsageError(f"not an action: {action!r}")


def step(world: World, action: Action, profile: Profile = REFERENCE, *, table: Table | None = None) -> Outcome:
    """The single outcome a one-answer profile gives (the first, for a permissive one)."""
    found = outcomes(world, action, profile, table=table)
    if not found:
        raise NotEnabled(f"{action!r} cannot happen in this world")
    return found[0]


def changes(world: World, action: Action, *, table: Table | None = None) -> tuple[Outcome, ...]:
    """The permissive outcomes of ``action`` that apply a branch: every outcome that can change
    the world, without the error answers (checks never change it). For exploration, where error
    answers are self-loops; calls are taken as already valid (like ``prevalidated``)."""
    if isinstance(action, Environment):
        return _environment(world, action)
    if isinstance(action, Call):
        op = _row(table, action.operation, "call")
        external = operation_for(world, op.name, action.kwargs)
        op = external or op
        ctx = (_external_context if external else _context)(world, PERMISSIVE, op, action.kwargs)
    else:
        op = _row(table, action.event, "internal")
        ctx = _internal_context(world, action, op, PERMISSIVE)
    state = subject_state(ctx, op.subject)
    branches = [b for b in op.branches if state in b.states]
    if not branches or any(c.blocking and state in c.states and c.test(ctx) for c in op.checks):
        return ()
    return tuple(_apply(world, action, op, ctx, b, respond=False)[0] for b in branches if b.test(ctx))


def internal_events(world: World) -> tuple[Internal, ...]:
    """The internal events that can happen now: connection attempts and disconnects that can
    complete, and keys whose deletion waiting period can end."""
    events = []
    for s in world.stores:
        if s.state is ConnectionState.CONNECTING and s.attempt_in_flight:
            events.append(Internal("ConnectionAttemptCompletes", s.store_id))
        elif s.state is ConnectionState.DISCONNECTING:
            events.append(Internal("DisconnectCompletes", s.store_id))
    events.extend(Internal("KeyDeletionCompletes", k.key_id) for k in world.keys if k.state == "PendingDeletion")
    events.extend(Internal("ReadsCatchUp", s.store_id) for s in world.stores if s.lag is not None)
    return tuple(events)


# --- calls -------------------------------------------------------------------------------------


def _row(table: Table | None, name: str, kind: str) -> Operation:
    """The rows of one operation (``kind`` "call") or internal event in ``table``."""
    if table is None:
        op = (CALLS if kind == "call" else INTERNAL_EVENTS).get(name)
    else:
        op = table.get(name)
        op = op if op is not None and op.kind == kind else None
    if op is None:
        known = sorted(n for n, o in (table or OPERATIONS).items() if o.kind == kind)
        what = "operation" if kind == "call" else "internal event"
        raise ModelUsageError(f"the model does not cover the {what} {name!r}; it covers {', '.join(known)}")
    return op


def _call(world: World, action: Call, profile: Profile, prevalidated: bool = False,
          table: Table | None = None) -> tuple[Outcome, ...]:
    op = _row(table, action.operation, "call")
    params = action.kwargs
    try:
        if not prevalidated:
            validate_input(op.name, params)
            _extra_validation(op.name, params)
    except ParameterError as exc:
        rules = ("AMB-18", *getattr(exc, "rules", ()))
        response = Response.failure(VALIDATION_ERROR, str(exc), rules)
        return (Outcome(action, response, world, rules, "parameter validation"),)
    external = operation_for(world, op.name, params)  # XKS-01..06: an external key store's rows
    if external is not None:
        return _resolve(world, action, external, _external_context(world, profile, external, params), profile)
    return _resolve(world, action, op, _context(world, profile, op, params), profile)


def _external_context(world: World, profile: Profile, op: Operation, params: Mapping[str, Any]) -> Context:
    store = world.store(ids.parse_store_id(params.get("CustomKeyStoreId"))) if op.subject == "store" else None
    return XksContext(world, profile, params, store=store)


def _extra_validation(operation: str, params: Mapping[str, Any]) -> None:
    required, rule = _EXTRA_REQUIRED.get(operation, ((), ""))
    for name in required:
        if name not in params:
            error = ParameterError(f"{operation}: missing required parameter {name!r}")
            error.rules = (rule,)  # type: ignore[attr-defined]  (next to the message, never in it)
            raise error


def _context(world: World, profile: Profile, op: Operation, params: Mapping[str, Any]) -> Context:
    if op.subject == "store":
        store = world.store(ids.parse_store_id(params.get(op.subject_param)))
        return Context(world, profile, params, store=store)
    if op.subject == "key":
        if op.subject_param:
            key = world.key(ids.parse_key_id(params.get(op.subject_param)))
        else:
            key = world.key(ciphertext_key(params.get("CiphertextBlob")))
        return Context(world, profile, params, store=world.store(key.store_id) if key else None, key=key)
    return Context(world, profile, params)


def subject_context(world: World, action: Call | Internal, profile: Profile = PERMISSIVE, *,
                    table: Table | None = None) -> Context:
    """The context a call or internal event is resolved in: its request and its subject."""
    if isinstance(action, Call):
        return _context(world, profile, _row(table, action.operation, "call"), action.kwargs)
    op = _row(table, action.event, "internal")
    return _internal_context(world, action, op, profile)


# --- internal events -----------------------------------------------------------------------------


def _internal(world: World, action: Internal, profile: Profile, table: Table | None = None) -> tuple[Outcome, ...]:
    op = _row(table, action.event, "internal")
    return _resolve(world, action, op, _internal_context(world, action, op, profile), profile)


def _internal_context(world: World, action: Internal, op: Operation, profile: Profile) -> Context:
    if op.subject == "key":
        key = world.key(action.subject)
        return Context(world, profile, {}, store=world.store(key.store_id) if key else None, key=key)
    return Context(world, profile, {}, store=world.store(action.subject))


# --- environment events --------------------------------------------------------------------------


def _environment(world: World, action: Environment) -> tuple[Outcome, ...]:
    ev = EVENTS.get(action.event)
    if ev is None:
        raise ModelUsageError(f"unknown environment event {action.event!r}; known: {', '.join(sorted(EVENTS))}")
    try:
        if not ev.guard(world, *action.args):
            return ()
    except TypeError as exc:
        raise ModelUsageError(f"environment event {action.event}: {exc}") from None
    return (Outcome(action, None, ev.apply(world, *action.args), ev.rules, ev.name),)


# --- the table interpreter -----------------------------------------------------------------------


def matching_rows(op: Operation, ctx: Context) -> list[Check | Branch]:
    """The rows of ``op`` that apply: holding checks, then (unless one blocks) holding branches."""
    state = subject_state(ctx, op.subject)
    checks = [c for c in op.checks if state in c.states and c.test(ctx)]
    if any(c.blocking for c in checks):
        return list(checks)
    return [*checks, *(b for b in op.branches if state in b.states and b.test(ctx))]


def choose(rows: list[Check | Branch], profile: Profile) -> list[Check | Branch]:
    """The rows a profile keeps. A one-answer profile sets documented alternatives aside, then
    takes the lowest-ranked check (AMB-07's conventional order), else the first branch."""
    if not profile.single or len(rows) <= 1:
        return rows
    primary = [r for r in rows if r.alt is None] or rows
    checks = [r for r in primary if isinstance(r, Check)]
    if checks:
        return [min(checks, key=lambda c: c.rank)]
    return [primary[0]]


def _resolve(world: World, action: Action, op: Operation, ctx: Context, profile: Profile) -> tuple[Outcome, ...]:
    rows = choose(matching_rows(op, ctx), profile)
    found: list[Outcome] = []
    for row in rows:
        if isinstance(row, Check):
            response = Response.failure(row.error, _message(row, ctx, op), row.rules)
            found.append(Outcome(action, response, world, row.rules, f"{op.name}: {row.error}", row.alt))
        else:
            found.extend(_apply(world, action, op, ctx, row))
            if profile.single:
                found = found[:1]
    return tuple(found)


def _message(check: Check, ctx: Context, op: Operation) -> str:
    """AWS's wording for the check (:mod:`.messages`); its rule IDs travel in the response's
    ``rules``, never in the text."""
    state = subject_state(ctx, op.subject)
    return message_text(check.error, check.rules, check.why, op.name, str(state), ctx)


def _apply(world: World, action: Action, op: Operation, ctx: Context, branch: Branch,
           respond: bool = True) -> tuple[Outcome, ...]:
    """The outcomes of one branch: effects, next state, and the response bodies (not built when
    ``respond`` is false: the explorer only needs the next world)."""
    info: dict[str, Any] = {}
    new = world
    for name in branch.effects:
        new = (EFFECTS.get(name) or EXTERNAL_EFFECTS[name])(new, ctx, info)
    new = _set_subject_state(new, op, ctx, branch)
    if op.kind == "internal" or not respond:
        return (Outcome(action, None, new, branch.rules, f"{op.name}: {branch.name}", branch.alt),)
    bodies = RESPONSES[branch.response](new, ctx, info)
    return tuple(Outcome(action, Response.success(body, branch.rules), new, branch.rules, f"{op.name}: {branch.name}",
                         branch.alt) for body in bodies)


def _set_subject_state(world: World, op: Operation, ctx: Context, branch: Branch) -> World:
    if branch.target is None or branch.target == ABSENT:
        return world
    if op.subject == "store" and ctx.store is not None:
        store = world.store(ctx.store.store_id)
        target = ConnectionState(branch.target)
        code = branch.error_code if target is ConnectionState.FAILED else None  # CS-07, TR-06: only FAILED has one
        # AMB-30: after a call changes the state, reads may still show the old one for a while
        lag = (store.state, store.error_code) if op.kind == "call" and target is not store.state else None
        return world.with_store(attrs.evolve(store, state=target, error_code=code, lag=lag))
    if op.subject == "key" and ctx.key is not None:
        return world.with_key(attrs.evolve(world.key(ctx.key.key_id), state=branch.target))
    return world
