"""A ready account: the set-up the documentation asks for before a key store is created.

The recipe is not restated here: it is the conformance engine's starting account
(:func:`ckspec.conformance.session.setup_steps`, what :func:`ckspec.model.scenarios.healthy_account`
builds in the model), replayed through the environment events of a ``ckspec serve`` endpoint:
an ACTIVE cluster with an HSM in each of two Availability Zones, initialized (so it has a
trust anchor) and with a kmsuser crypto user whose password the test knows.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import attrs
from ckspec.conformance.session import setup_steps
from ckspec.conformance.steps import ENVIRONMENT_ARGUMENTS, Password

from .errors import KitError

if TYPE_CHECKING:
    from .serving import Emulator


def new_password() -> str:
    """A fresh kmsuser password: letters and digits, 17 characters (KU-04: 7 to 32)."""
    return "K" + secrets.token_hex(8)


@attrs.frozen
class ReadyAccount:
    """One ready cluster in an emulated account, and clients for it.

    ``kmsuser_password`` is a secret: it is left out of the repr (and the kit never logs it).
    """

    emulator: Emulator = attrs.field(repr=False, eq=False)
    cluster_id: str
    trust_anchor: str = attrs.field(repr=False)
    hsm_ids: tuple[str, ...]
    zones: tuple[str, ...]
    kmsuser_password: str = attrs.field(repr=False)
    kms: Any = attrs.field(repr=False, eq=False)
    cloudhsmv2: Any = attrs.field(repr=False, eq=False)

    def create_request(self, name: str = "app-store") -> dict[str, str]:
        """CreateCustomKeyStore parameters for this cluster (name, cluster ID, trust anchor,
        kmsuser password)."""
        return {"CustomKeyStoreName": name, "CloudHsmClusterId": self.cluster_id,
                "TrustAnchorCertificate": self.trust_anchor, "KeyStorePassword": self.kmsuser_password}

    def fail_next_connect(self, code: str) -> Any:
        """Make the next connection attempt of a store on this cluster end FAILED with
        ``code`` (see :meth:`Emulator.fail_next_connect`)."""
        return self.emulator.fail_next_connect(code, self.cluster_id)


def replay_ready_account(emulator: Emulator, password: str | None = None) -> ReadyAccount:
    """Replay the starting account's first cluster (:func:`setup_steps`) on ``emulator``."""
    password = password or new_password()
    created: dict[str, str] = {}  # the model's cluster ID in the steps -> the endpoint's
    unbound: list[str] = []  # clusters created, not yet referred to
    hsms: list[str] = []
    zones: list[str] = []
    anchor = None
    for step in setup_steps(1):
        args: list[Any] = []
        for kind, value in zip(ENVIRONMENT_ARGUMENTS[step.event], step.args):
            if kind == "cluster":
                if value not in created:
                    if not unbound:
                        raise KitError(f"set-up step {step.event} names a cluster no earlier step created")
                    created[value] = unbound.pop(0)
                value = created[value]
            elif isinstance(value, Password):
                value = password
            elif kind == "zone":
                value = emulator.zone(value)
                zones.append(value)
            args.append(value)
        made = emulator.perform(step.event, tuple(args))
        if step.event == "create_cluster":
            unbound.append(_created(step.event, made))
        elif step.event == "create_hsm":
            hsms.append(_created(step.event, made))
        elif step.event == "initialize_cluster":
            anchor = _created(step.event, made)
    if len(created) != 1 or anchor is None:
        raise KitError("the starting account's set-up steps did not make one initialized cluster")
    return ReadyAccount(emulator, next(iter(created.values())), anchor, tuple(hsms), tuple(zones), password,
                        emulator.client("kms"), emulator.client("cloudhsmv2"))


def _created(event: str, made: str | None) -> str:
    if not made:
        raise KitError(f"{event}: the endpoint applied it but did not say what it created (EnvironmentReply.created)")
    return made
