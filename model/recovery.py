"""Failure and recovery paths for each CloudHSM ConnectionErrorCode, found by search.

Nothing here is a hand-written recipe. Starting from :func:`scenarios.healthy_account` with
one key store created from it, a breadth-first search over the executable model (the
actions of :func:`moves.moves`, every outcome of :func:`executor.outcomes` under the
permissive profile) finds

* :func:`failure_path`: a shortest action sequence that leaves the store FAILED with a
  given ConnectionErrorCode (CEC-00..CEC-10), among the failures the store can recover from;
* :func:`recovery_path`: from there, a shortest sequence that gets the store back to
  CONNECTED (spec section 1.2) without new faults, without deleting anything, and without
  relying on documented alternatives (outcomes with ``alt`` set).

Ties between shortest paths go to the first found in :func:`moves.moves` order (KMS calls,
then internal events, then environment events).
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable, Iterator

import attrs

from . import environment
from . import identifiers as ids
from .actions import Action, Call, Environment, Outcome
from .aws_service import CLOUDHSM_ERROR_CODES, ConnectionState
from .executor import outcomes
from .moves import moves
from .profiles import PERMISSIVE
from .scenarios import Driver, healthy_account
from .scope import Scope
from .world import World

#: Pools of the failure search: one store, a second cluster (for a restore), one backup, one fault.
FAILURE_SCOPE = Scope(stores=1, clusters=2, keys=0, backups=1, faults=1, names=("store-a",))
#: The recovery search adds no fault: moves() withholds every fault event under faults=0.
RECOVERY_SCOPE = attrs.evolve(FAILURE_SCOPE, faults=0)
#: Environment events a recovery never uses: it repairs and restores, it deletes nothing.
DESTRUCTIVE = frozenset(name for name in environment.EVENTS if name.startswith("delete_"))
#: The longest failure path looked for (the failure search itself is unbounded otherwise).
MAX_FAILURE_STEPS = 8


@attrs.frozen
class Step:
    """One step of a path: what happened, how KMS answered, and the store's state after it."""

    action: str
    #: "call", "internal" or "environment"
    kind: str
    #: "200 OK", "400 CustomKeyStoreInvalidStateException", or "-" for events
    response: str
    #: the store's ConnectionState after the step (ABSENT if it no longer exists)
    state: str
    rules: tuple[str, ...]


@functools.cache
def start() -> tuple[World, int]:
    """The healthy account with one DISCONNECTED key store, and that store's serial."""
    driver = Driver(healthy_account())
    serial = ids.parse_store_id(driver.create_store())
    return driver.world, serial


def failure_path(code: str) -> tuple[Step, ...]:
    """A shortest recoverable way from the start to FAILED with ``code`` (CEC-00..CEC-10)."""
    return _steps(_paths(code)[0])


def recovery_path(code: str) -> tuple[Step, ...]:
    """A shortest way from the end of :func:`failure_path` back to CONNECTED (spec 1.2)."""
    return _steps(_paths(code)[1])


# --- the searches ------------------------------------------------------------------------------


@functools.cache
def _paths(code: str) -> tuple[tuple[Outcome, ...], tuple[Outcome, ...]]:
    if code not in CLOUDHSM_ERROR_CODES:
        raise ValueError(f"not a CloudHSM ConnectionErrorCode: {code!r}; known: {', '.join(CLOUDHSM_ERROR_CODES)}")
    world, serial = start()

    def failed(w: World) -> bool:
        s = w.store(serial)
        return s.state is ConnectionState.FAILED and s.error_code == code and _recovery(w, serial) is not None

    failure = _bfs(world, failed, _failure_successors(serial), MAX_FAILURE_STEPS)
    if failure is None:
        raise LookupError(f"no recoverable path to FAILED/{code} within {MAX_FAILURE_STEPS} steps "
                          f"({FAILURE_SCOPE.describe()})")
    return failure, _recovery(failure[-1].world, serial)


def _failure_successors(serial: int) -> Callable[[World], Iterator[Outcome]]:
    def successors(world: World) -> Iterator[Outcome]:
        for action in moves(world, FAILURE_SCOPE):
            yield from (o for o in outcomes(world, action, PERMISSIVE) if o.world.store(serial) is not None)
    return successors


def _recovery_successors(serial: int) -> Callable[[World], Iterator[Outcome]]:
    def successors(world: World) -> Iterator[Outcome]:
        for action in moves(world, RECOVERY_SCOPE):
            if isinstance(action, Environment) and action.event in DESTRUCTIVE:
                continue
            yield from (o for o in outcomes(world, action, PERMISSIVE)
                        if o.alt is None and o.world.store(serial) is not None)
    return successors


@functools.cache
def _recovery(world: World, serial: int) -> tuple[Outcome, ...] | None:
    """A shortest recovery from ``world``, or None. Without faults and deletions the search
    space is finite, so None means that no recovery exists at all."""
    def connected(w: World) -> bool:
        return w.store(serial).state is ConnectionState.CONNECTED
    return _bfs(world, connected, _recovery_successors(serial), None)


def _bfs(start: World, goal: Callable[[World], bool], successors: Callable[[World], Iterator[Outcome]],
         max_depth: int | None) -> tuple[Outcome, ...] | None:
    """A shortest outcome sequence from ``start`` to a world where ``goal`` holds."""
    parents: dict[World, tuple[World, Outcome] | None] = {start: None}
    level = [start]
    depth = 0
    while level and (max_depth is None or depth < max_depth):
        depth += 1
        following = []
        for world in level:
            for outcome in successors(world):
                if outcome.world in parents:
                    continue
                parents[outcome.world] = (world, outcome)
                if goal(outcome.world):
                    return _trace(parents, outcome.world)
                following.append(outcome.world)
        level = following
    return None


def _trace(parents: dict[World, tuple[World, Outcome] | None], end: World) -> tuple[Outcome, ...]:
    path = []
    link = parents[end]
    while link is not None:
        before, outcome = link
        path.append(outcome)
        link = parents[before]
    return tuple(reversed(path))


# --- steps -------------------------------------------------------------------------------------


def _steps(path: tuple[Outcome, ...]) -> tuple[Step, ...]:
    _, serial = start()
    return tuple(_step(o, serial) for o in path)


def _step(outcome: Outcome, serial: int) -> Step:
    store = outcome.world.store(serial)
    return Step(
        action=describe_action(outcome.action),
        kind="call" if isinstance(outcome.action, Call) else "environment" if isinstance(
            outcome.action, Environment) else "internal",
        response=outcome.response.summary() if outcome.response is not None else "-",
        state=store.state.value if store is not None else "ABSENT",
        rules=outcome.rules,
    )


def describe_action(action: Action) -> str:
    """The action's repr, with every password argument of an environment event redacted."""
    if not isinstance(action, Environment):
        return repr(action)  # Call and Internal reprs already redact KeyStorePassword
    names = list(inspect.signature(getattr(environment, action.event)).parameters)[1:]
    args = ("<redacted>" if "password" in name else repr(arg) for name, arg in zip(names, action.args))
    return f"{action.event}({', '.join(args)})"
