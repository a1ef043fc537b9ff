"""Failure and recovery paths for each CloudHSM ConnectionErrorCode, found by search.

Nothing here is a hand-written recipe. Starting from :func:`scenarios.healthy_account` with
one key store created from it (and connected once, see :func:`start`), breadth-first
searches over the executable model (the actions of :func:`moves.moves`, the outcomes of
:func:`executor.outcomes` under the permissive profile) find

* :func:`failure_path`: a shortest action sequence that leaves the store FAILED with a
  given ConnectionErrorCode (CEC-00..CEC-10), among the failures the store can recover from;
* :func:`recovery_path`: from there, a shortest sequence that gets the store back to
  CONNECTED (spec section 1.2) without new faults, without deleting anything, and without
  relying on documented alternatives (outcomes with ``alt`` set).

Search policy, stated once: ties between shortest paths go to the first found in
:func:`moves.moves` order (KMS calls, internal events, environment events), except that the
failure search tries environment events first, so that a failure is caused by the
environment (the conditions of spec section 1.2) wherever a path of the same length allows
it. Both searches leave out environment events while a connection attempt is in flight and
events on clusters outside the store's certificate lineage (see :func:`_relevant`).
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
from .world import ABSENT, World

#: Pools of the failure search: one store, a second cluster (for a restore), one backup, one
#: fault, and one new password a person may choose (KMS's own is rotated away at the start).
FAILURE_SCOPE = Scope(stores=1, clusters=2, keys=0, backups=1, faults=1, names=("store-a",),
                      passwords=("n3wPassw0rd",))
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
    #: the store's ConnectionErrorCode after the step (None unless FAILED)
    error_code: str | None
    rules: tuple[str, ...]


@functools.cache
def start() -> tuple[World, int]:
    """The healthy account with one key store, connected once and disconnected, and its serial.

    Connecting once matters: KMS then holds a kmsuser password that only it knows
    (CONNECT-05, CONNECT-11), which is what the guide's fixes assume. From a store that never
    connected, KMS still holds the password the user chose, so resetting kmsuser to it is as
    short a fix as UpdateCustomKeyStore (INVALID_CREDENTIALS, USER_LOCKED_OUT, USER_NOT_FOUND).
    """
    driver = Driver(healthy_account())
    store_id = driver.create_store()
    driver.connect(store_id)
    driver.disconnect(store_id)
    return driver.world, ids.parse_store_id(store_id)


def failure_path(code: str) -> tuple[Step, ...]:
    """A shortest recoverable way from the start to FAILED with ``code`` (CEC-00..CEC-10)."""
    return _steps(search(code)[0])


def recovery_path(code: str) -> tuple[Step, ...]:
    """A shortest way from the end of :func:`failure_path` back to CONNECTED (spec 1.2)."""
    return _steps(search(code)[1])


# --- the searches ------------------------------------------------------------------------------


@functools.cache
def search(code: str) -> tuple[tuple[Outcome, ...], tuple[Outcome, ...]]:
    """The failure and recovery paths for ``code`` as outcome sequences (with their worlds)."""
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
        for action in sorted(moves(world, FAILURE_SCOPE), key=lambda a: not isinstance(a, Environment)):
            if _relevant(world, serial, action):
                yield from (o for o in outcomes(world, action, PERMISSIVE) if o.world.store(serial) is not None)
    return successors


def _recovery_successors(serial: int) -> Callable[[World], Iterator[Outcome]]:
    def successors(world: World) -> Iterator[Outcome]:
        for action in moves(world, RECOVERY_SCOPE):
            destructive = isinstance(action, Environment) and action.event in DESTRUCTIVE
            if _relevant(world, serial, action) and not destructive:
                yield from (o for o in outcomes(world, action, PERMISSIVE)
                            if o.alt is None and o.world.store(serial) is not None)
    return successors


def _relevant(world: World, serial: int, action: Action) -> bool:
    """Which environment events the searches try.

    * None while a connection attempt is in flight: a path never depends on racing KMS's
      asynchronous attempt (the user changes the world, then connects and waits).
    * None on clusters (and backups) outside the store's certificate lineage: the store can
      never use such a cluster (UPDATE-07, CL-05), so these events would only lengthen paths.
    """
    if not isinstance(action, Environment):
        return True
    store = world.store(serial)
    if store.attempt_in_flight:
        return False
    anchor = store.trust_anchor
    if action.event == "create_cluster":
        return False  # a new cluster starts a new lineage (CL-06)
    first = _parameters(action.event)[:1]
    if first == ["cluster_id"]:
        return ids.trust_anchor(world.cluster(action.args[0]).lineage) == anchor
    if first == ["backup_id"]:
        return ids.trust_anchor(world.backup(action.args[0]).lineage) == anchor
    return True


@functools.cache
def _parameters(event: str) -> list[str]:
    """The argument names of an environment event (after the world)."""
    return list(inspect.signature(getattr(environment, event)).parameters)[1:]


@functools.cache
def _recovery(world: World, serial: int) -> tuple[Outcome, ...] | None:
    """A shortest recovery from ``world``, or None. Without faults and deletions the search
    space is finite, so None means that no recovery exists at all."""
    def connected(w: World) -> bool:
        return w.store(serial).state is ConnectionState.CONNECTED
    return _bfs(world, connected, _recovery_successors(serial), None)


def _bfs(origin: World, goal: Callable[[World], bool], successors: Callable[[World], Iterator[Outcome]],
         max_depth: int | None) -> tuple[Outcome, ...] | None:
    """A shortest outcome sequence from ``origin`` to a world where ``goal`` holds, level by
    level, taking successors in the order given; None if there is none within ``max_depth``."""
    parents: dict[World, tuple[World, Outcome] | None] = {origin: None}
    level = [origin]
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
        state=store.state.value if store is not None else ABSENT,
        error_code=store.error_code if store is not None else None,
        rules=outcome.rules,
    )


def describe_action(action: Action) -> str:
    """The action's repr, with every password argument of an environment event redacted."""
    if not isinstance(action, Environment):
        return repr(action)  # Call and Internal reprs already redact KeyStorePassword
    names = _parameters(action.event)
    args = ("<redacted>" if "password" in name else repr(arg) for name, arg in zip(names, action.args))
    return f"{action.event}({', '.join(args)})"
