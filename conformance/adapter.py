"""The adapter interface: how the conformance engine talks to an implementation.

A *target* is one fresh, isolated instance of an implementation of the custom key store
APIs (an emulator, a fake, the reference model itself). The engine asks it to do four
kinds of things, and nothing else:

* KMS operations (:meth:`Target.call`), answered with a :class:`Reply`;
* environment controls (:meth:`Target.environment`): what a user does outside KMS to the
  cluster, its HSMs, kmsuser, subnets, or a fault beginning or ending; answered with an
  :class:`EnvironmentReply` saying whether it happened and which ID it created;
* letting time pass (:meth:`Target.wait`), so that asynchronous work can progress;
* declaring its :class:`Capabilities`: the engine only generates steps a target can perform.
  The set-up controls (:data:`SETUP_CONTROLS`) build the starting account and are never drawn
  as steps unless :attr:`Capabilities.real_setup` says the target really performs them, so a
  target may fake them.

What each environment control receives and must answer is :mod:`.contract`, written out in
``docs/reference/environment-events.md``; the whole contract is ``docs/adapters.md``.

An operation answered as *not implemented* (the four signatures real emulators use, see
:func:`unsupported_signature`) is recorded as unsupported, distinct from pass and fail.

Identifiers in requests and replies are the target's own: the engine maps them to the
model's (:mod:`ckspec.conformance.identity`). Passwords go to the target as given and must
never be echoed back.
"""

from __future__ import annotations

import abc
from typing import Any, Mapping

import attrs

#: The environment controls the engine needs to build its starting account (three ready
#: clusters with kmsuser): every target must list them, even as thin fakes. They are
#: *set-up-only* unless the target names them in :attr:`Capabilities.real_setup`.
SETUP_CONTROLS = frozenset({"create_cluster", "create_hsm", "initialize_cluster", "activate_cluster", "create_kmsuser"})


class TargetUnreachable(Exception):
    """The target cannot be reached or started (connection refused, missing module)."""


class AdapterError(TypeError):
    """The adapter broke the interface (a call that returned something other than a Reply)."""


@attrs.frozen
class Reply:
    """What the target answered to a KMS operation: a body, or an error shape name."""

    status: int = 200
    error: str | None = None
    message: str = attrs.field(default="", eq=False)
    body: Mapping[str, Any] | None = attrs.field(default=None, eq=False)
    #: the rule IDs the target cites for its answer (the reference target's outcome rules; the
    #: ``x-ckspec-rules`` header of ``ckspec serve``), reported next to a mismatch, never judged
    rules: tuple[str, ...] = attrs.field(default=(), eq=False, converter=tuple)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        return "200 OK" if self.ok else f"{self.status} {self.error}"


@attrs.frozen
class EnvironmentReply:
    """Whether an environment control happened, and the identifier it created: the new
    cluster, HSM or backup ID, or the trust anchor certificate for ``initialize_cluster``."""

    applied: bool
    created: str | None = None


@attrs.frozen
class Capabilities:
    """What a target can do. The engine generates only these steps."""

    #: KMS operation names (as in botocore: ``ConnectCustomKeyStore``, ...)
    operations: frozenset[str]
    #: environment control names (as in :data:`ckspec.model.environment.EVENTS`)
    environment: frozenset[str] = SETUP_CONTROLS
    #: asynchronous work progresses only while :meth:`Target.wait` lets time pass (a
    #: virtual clock). Then a Connect cannot complete before the next call (CONNECT-02),
    #: and the engine holds the target to that. With a real clock, any pending work may
    #: complete between any two calls.
    controlled_clock: bool = False
    #: :meth:`Target.wait` can let days pass (the 7 to 30 day key deletion window)
    time_travel: bool = False
    #: the set-up controls the target really performs, so that the engine may also draw them as
    #: generated steps (a second cluster, an HSM added later, an activation refused because the
    #: cluster is already ACTIVE). Every set-up control *not* named here is set-up-only: performed
    #: to build the starting account and never drawn again, so a thin fake (answered as done
    #: whatever the state) is never judged. Pass :data:`SETUP_CONTROLS` when all five are real.
    real_setup: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    #: the custom key store quota an example starts with (CREATE-09, Q-01): 10, less the stores
    #: a shared account already holds that the example cannot see (prefix isolation)
    quota: int = 10
    #: the longest valid CustomKeyStoreName the target can be sent as drawn: 256, less the
    #: example's name prefix under prefix isolation (a longer one cannot be tried)
    name_room: int = 256

    @property
    def setup_only(self) -> frozenset[str]:
        """The set-up controls performed only to build the starting account, never drawn as steps."""
        return SETUP_CONTROLS - self.real_setup

    @property
    def generated_environment(self) -> frozenset[str]:
        """The environment controls the engine may draw as steps."""
        return self.environment - self.setup_only

    def __attrs_post_init__(self) -> None:
        missing = SETUP_CONTROLS - self.environment
        if missing:
            raise ValueError(f"Capabilities: environment must include the set-up controls {sorted(missing)}")
        stray = self.real_setup - SETUP_CONTROLS
        if stray:
            raise ValueError(f"Capabilities: real_setup names only set-up controls "
                             f"({', '.join(sorted(SETUP_CONTROLS))}), not {', '.join(sorted(stray))}")


class Target(abc.ABC):
    """An implementation under test. Subclass it, or write any class with these members."""

    #: a short name for reports
    name: str = "target"
    capabilities: Capabilities

    @abc.abstractmethod
    def call(self, operation: str, params: Mapping[str, Any]) -> Reply:
        """Perform one KMS operation. Raise :class:`NotImplementedError` (or answer with one of
        the other "not implemented" signatures) for an operation the target lacks."""

    @abc.abstractmethod
    def environment(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        """Perform one environment control. ``args`` hold the target's own IDs (clusters, HSMs,
        backups, keys), Availability Zone names, numbers, and passwords, in the order
        :data:`.steps.ENVIRONMENT_ARGUMENTS` lists them. Answer whether it happened and what it
        created (:data:`.contract.CREATES`: a new ID, or the trust anchor for ``initialize_cluster``);
        a reply that breaks this is the adapter's error (:func:`.contract.environment_reply_problem`)."""

    @abc.abstractmethod
    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass (sleep, or advance a virtual clock)."""

    def close(self) -> None:
        """Release the target (stop a server, delete an account). Called once per example."""


def reply_problem(reply: Reply) -> str | None:
    """What makes ``reply`` unusable as an answer (a wrongly typed member), or None. Reply is
    a plain attrs class, so an adapter can build one with any values; the engine checks them."""
    if isinstance(reply.status, bool) or not isinstance(reply.status, int):
        return f"status is {type(reply.status).__name__} {reply.status!r}, not an int HTTP status"
    if not 100 <= reply.status <= 599:
        return f"status {reply.status} is not an HTTP status (100 to 599)"
    if reply.error is not None and not isinstance(reply.error, str):
        return f"error is {type(reply.error).__name__}, not an error shape name (str) or None"
    if reply.body is not None and not isinstance(reply.body, Mapping):
        return f"body is {type(reply.body).__name__}, not a mapping or None"
    if not isinstance(reply.message, str):
        return f"message is {type(reply.message).__name__}, not a str"
    return None


def unsupported_signature(reply: Reply | None = None, exc: BaseException | None = None) -> str | None:
    """Which "not implemented" signature an answer has, if any, as
    real emulators give them: a Python NotImplementedError (moto in-process), HTTP 500 with an HTML body (moto server),
    HTTP 501 (LocalStack, LocalEmu, local-kms), or 400 InvalidAction (ministack)."""
    if exc is not None:
        return "NotImplementedError" if isinstance(exc, NotImplementedError) else None
    if reply is None or reply.ok:
        return None
    if reply.status == 501:
        return f"HTTP 501 {reply.error}"
    if reply.error in ("InvalidAction", "UnknownOperationException"):
        return f"HTTP {reply.status} {reply.error}"
    if reply.status == 500 and (reply.error == "500" or reply.message.lstrip().startswith("<")):
        return "HTTP 500 with an HTML body"
    return None
