"""The environment side of the adapter contract: what each control receives and must answer.

:meth:`Target.environment(event, args) <ckspec.conformance.adapter.Target.environment>` gets
its arguments in the order :data:`~.steps.ENVIRONMENT_ARGUMENTS` lists them, each of a kind
described in :data:`ARGUMENT_KINDS`. A control that creates something (:data:`CREATES`) must
answer, when applied, ``EnvironmentReply(True, created)`` with the new thing's identifier in
the target's own terms (:data:`CREATED`): the engine binds it to the model's and sends it
back in later requests. :func:`environment_reply_problem` says what makes a reply break the
contract; the session reports that as the adapter's fault (an
:class:`~.adapter.AdapterError`, exit 2), never as a rule verdict against the implementation.
``docs/reference/environment-events.md`` is generated from these tables
(:mod:`.contract_doc`).
"""

from __future__ import annotations

from typing import Any

import attrs

from .adapter import SETUP_CONTROLS, EnvironmentReply
from .steps import ENVIRONMENT_ARGUMENTS


@attrs.frozen
class ArgumentKind:
    """One kind of environment argument: its Python type and what it means."""

    type: str
    meaning: str


#: every kind of argument in :data:`~.steps.ENVIRONMENT_ARGUMENTS`
ARGUMENT_KINDS: dict[str, ArgumentKind] = {
    "count": ArgumentKind("int", "how many Availability Zones (subnets) the new cluster spans"),
    "cluster": ArgumentKind("str", "a cluster ID, the target's own (as its create_cluster answered it)"),
    "zone": ArgumentKind("str", "an Availability Zone name, such as us-east-1a"),
    "hsm": ArgumentKind("str", "an HSM ID, the target's own (as its create_hsm answered it)"),
    "backup": ArgumentKind("str", "a backup ID, the target's own (as its backup_cluster answered it)"),
    "key": ArgumentKind("str", "a KMS key ID, the target's own (as its CreateKey answered it)"),
    "password": ArgumentKind("str", "the kmsuser password (a secret: never log it, never echo it back)"),
}

#: the environment controls that create something -> the kind of identifier they create
CREATES: dict[str, str] = {
    "create_cluster": "cluster", "restore_backup": "cluster", "create_hsm": "hsm",
    "create_hsm_from_older_backup": "hsm", "backup_cluster": "backup", "initialize_cluster": "trust_anchor",
}

#: what ``EnvironmentReply.created`` holds, for each kind a control creates
CREATED: dict[str, str] = {
    "cluster": "the new cluster's ID (a str, the target's own, e.g. cluster-1a2b3c4d5e6)",
    "hsm": "the new HSM's ID (a str, the target's own, e.g. hsm-1a2b3c4d5e6)",
    "backup": "the new backup's ID (a str, the target's own, e.g. backup-1a2b3c4d5e6)",
    "trust_anchor": "the cluster's trust anchor certificate (a str, the PEM text of customerCA.crt), which "
                    "CreateCustomKeyStore then sends as TrustAnchorCertificate (CREATE-07)",
}

#: what a control that creates nothing answers
NOTHING_CREATED = "nothing (None)"


def created_must_hold(event: str) -> str:
    """What ``EnvironmentReply.created`` must hold when ``event`` is applied."""
    kind = CREATES.get(event)
    return NOTHING_CREATED if kind is None else CREATED[kind]


def shown_call(adapter: str, event: str, args: tuple[Any, ...]) -> str:
    """``adapter.environment('event', (name=value, ...))`` with every password hidden."""
    kinds = ENVIRONMENT_ARGUMENTS.get(event, ())
    shown = ", ".join(f"{kind}=(hidden)" if kind == "password" else f"{kind}={value!r}"
                      for kind, value in zip(kinds, args))
    return f"{adapter}.environment({event!r}, ({shown}))"


def environment_reply_problem(event: str, reply: EnvironmentReply, *, setting_up: bool) -> str | None:
    """What makes ``reply`` to ``event`` break the contract, or None. ``setting_up``: the engine is
    building its starting account, where every set-up control must be applied."""
    if not isinstance(reply.applied, bool):
        return f"returned applied={reply.applied!r}: EnvironmentReply.applied must be True or False"
    if setting_up and not reply.applied and event in SETUP_CONTROLS:
        answer = ("EnvironmentReply(True)" if event not in CREATES else
                  f"EnvironmentReply(True, created) with created = {created_must_hold(event)}")
        return ("returned applied=False while ckspec built its starting account (three ACTIVE clusters, each with "
                f"two HSMs and kmsuser), where every set-up control must be applied: answer {answer}. A set-up "
                "control not in Capabilities.real_setup is performed only there, so a thin fake is fine")
    if not reply.applied or event not in CREATES:
        return None
    created = reply.created
    if not isinstance(created, str) or not created.strip():
        return (f"returned applied=True with created={created!r}: EnvironmentReply.created must hold "
                f"{created_must_hold(event)}")
    return None


def reused_problem(event: str, created: str) -> str:
    """The contract broken by a creation (one the model allows) whose ``created`` the target
    already gave for something else."""
    return (f"returned created={created!r}, which the target already gave for something else: "
            f"EnvironmentReply.created must hold {created_must_hold(event)}, a new one each time")
