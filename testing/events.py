"""One typed method per environment event of the model, in the words of the documentation.

AWS has no API for what a person or the network does outside KMS (log in as kmsuser, delete
the HSMs, fill a subnet); ``ckspec serve`` offers these as the model's environment events
(:data:`ckspec.model.environment.EVENTS`) through its test-control extension. Here each event
is a method with named, typed arguments, so a test reads ``kit.log_in_kmsuser(cluster)``
instead of ``environment("kmsuser_logs_in", (cluster,))``. A test (tests/test_testing_kit.py)
checks that every event has exactly one method and that its parameters are the event's
arguments (:data:`ckspec.conformance.steps.ENVIRONMENT_ARGUMENTS`), so a new event without a
method fails the suite.

An event the model refuses in the current state raises :class:`EventNotPossible`, naming the
event's rules and what it needs; arguments of the wrong kind raise :class:`KitError` before
anything is sent.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

from ckspec.conformance.control import ControlClient, ControlError
from ckspec.conformance.steps import ENVIRONMENT_ARGUMENTS
from ckspec.conformance.transport import TransportFault
from ckspec.model.environment import EVENTS

from .errors import EventNotPossible, KitError

F = TypeVar("F", bound=Callable[..., Any])

#: the parameter name a method uses for each kind of event argument
PARAMETER_NAMES = {"cluster": "cluster", "zone": "zone", "hsm": "hsm", "backup": "backup", "key": "key",
                   "password": "password", "count": "zones"}
_IDENTIFIERS = {"cluster": "cluster-", "hsm": "hsm-", "backup": "backup-"}
_ZONE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}[a-z]")


def performs(event: str) -> Callable[[F], F]:
    """Mark a method as the typed form of ``event``: calling it checks the arguments and
    performs the event; it returns what the event created (an ID, a trust anchor) or None."""
    if event not in EVENTS:
        raise ValueError(f"no environment event {event!r}")
    kinds = ENVIRONMENT_ARGUMENTS[event]

    def wrap(method: F) -> F:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def run(self: EnvironmentEvents, *args: Any, **kwargs: Any) -> str | None:
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as exc:
                raise KitError(f"{method.__name__}: {exc}") from None
            bound.apply_defaults()
            values = tuple(_checked(method.__name__, event, kind, value)
                           for kind, value in zip(kinds, list(bound.arguments.values())[1:]))
            return self.perform(event, values, method.__name__)

        run.event = event  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return wrap


def _checked(method: str, event: str, kind: str, value: Any) -> Any:
    rules = ", ".join(EVENTS[event].rules)
    if kind == "count":
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3:
            raise KitError(f"{method}: zones must be a whole number from 1 to 3 (the model's Availability Zones, "
                           f"CL-04), got {value!r}")
        return value
    if not isinstance(value, str) or not value:
        raise KitError(f"{method}: {PARAMETER_NAMES[kind]} must be a non-empty string, got {type(value).__name__} "
                       f"({rules})")
    prefix = _IDENTIFIERS.get(kind)
    if prefix and not value.startswith(prefix):
        raise KitError(f"{method}: {kind} must be a {prefix}... ID as CloudHSM shows it, got {value!r} ({rules})")
    if kind == "zone" and not _ZONE.fullmatch(value):
        raise KitError(f"{method}: zone must be an Availability Zone name such as us-east-1a, got {value!r} ({rules})")
    if kind == "password" and not (value.isascii() and value.isalnum()):
        # never quoted: it is a kmsuser password
        raise KitError(f"{method}: a kmsuser password is letters and digits only (AMB-27, KU-04)")
    return value


class EnvironmentEvents:
    """The environment events of one ``ckspec serve`` endpoint, as methods."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._control = ControlClient(endpoint)

    def perform(self, event: str, args: tuple[Any, ...], method: str | None = None) -> str | None:
        """Perform ``event`` with ``args``; what it created. :class:`EventNotPossible` when
        the model refuses it now."""
        name = method or event
        try:
            applied, created = self._control.environment(event, args)
        except (ControlError, TransportFault) as exc:
            raise KitError(f"{name}: the test-control extension at {self.endpoint} refused it: {exc}") from None
        if not applied:
            spec = EVENTS[event]
            why = spec.doc.splitlines()[0] if spec.doc else event
            raise EventNotPossible(f"{name}: not possible in the account's current state "
                                   f"({', '.join(spec.rules)}): {why}")
        return created

    # --- clusters and HSMs ---------------------------------------------------------------------
    @performs("create_cluster")
    def create_cluster(self, zones: int = 2) -> str | None:
        """Create a cluster with a private subnet in each of the first ``zones`` Availability
        Zones; its cluster ID."""

    @performs("create_hsm")
    def create_hsm(self, cluster: str, zone: str) -> str | None:
        """Add an HSM to the cluster in ``zone``; its HSM ID."""

    @performs("initialize_cluster")
    def initialize_cluster(self, cluster: str) -> str | None:
        """Sign the cluster's CSR with a customer CA (CL-06); the trust anchor certificate."""

    @performs("activate_cluster")
    def activate_cluster(self, cluster: str) -> str | None:
        """Activate an initialized cluster that has an active HSM."""

    @performs("delete_hsm")
    def delete_hsm(self, cluster: str, hsm: str) -> str | None:
        """Delete one HSM, even under a CONNECTED store (it stays CONNECTED, TR-08)."""

    @performs("delete_cluster")
    def delete_cluster(self, cluster: str) -> str | None:
        """Delete a cluster whose HSMs are all gone (CL-07)."""

    @performs("backup_cluster")
    def back_up_cluster(self, cluster: str) -> str | None:
        """Take a backup of the cluster (users and key material, CL-05); its backup ID."""

    @performs("restore_backup")
    def restore_backup(self, backup: str) -> str | None:
        """Create a cluster from a backup (new ID, new subnets, kmsuser as of the backup,
        CEC-11); the new cluster's ID. It becomes ACTIVE when an HSM is added (CL-05)."""

    # --- kmsuser -----------------------------------------------------------------------------------
    @performs("create_kmsuser")
    def create_kmsuser(self, cluster: str, password: str) -> str | None:
        """A crypto officer creates the kmsuser crypto user (KU-01)."""

    @performs("delete_kmsuser")
    def delete_kmsuser(self, cluster: str) -> str | None:
        """Delete kmsuser (only while no key store holds its session, KU-05)."""

    @performs("kmsuser_logs_in")
    def log_in_kmsuser(self, cluster: str) -> str | None:
        """A person logs in as kmsuser (KU-06); a connect then fails USER_LOGGED_IN (CEC-09)."""

    @performs("kmsuser_logs_out")
    def log_out_kmsuser(self, cluster: str) -> str | None:
        """The person logged in as kmsuser logs out (KU-09)."""

    @performs("change_kmsuser_password")
    def change_kmsuser_password(self, cluster: str, password: str) -> str | None:
        """A crypto officer sets kmsuser's password; also unlocks it (KU-08, CEC-08)."""

    @performs("kmsuser_locked_out")
    def lock_out_kmsuser(self, cluster: str) -> str | None:
        """Failed logins lock kmsuser (KU-07); a connect then fails USER_LOCKED_OUT (CEC-08)."""

    @performs("kmsuser_enables_2fa")
    def enable_kmsuser_2fa(self, cluster: str) -> str | None:
        """kmsuser gets two-factor authentication, which cannot be removed (KU-03)."""

    @performs("create_kmsuser_missing_hsm")
    def create_kmsuser_missing_hsm(self, cluster: str, hsm: str, password: str) -> str | None:
        """Create kmsuser while one HSM is unavailable: that HSM lacks it (KU-11, KU-12)."""

    @performs("create_hsm_from_older_backup")
    def create_hsm_from_older_backup(self, cluster: str, zone: str) -> str | None:
        """Add an HSM cloned from a backup taken before kmsuser existed: it lacks kmsuser (KU-12);
        its HSM ID."""

    @performs("change_kmsuser_password_misses_hsm")
    def change_kmsuser_password_missing_hsm(self, cluster: str, hsm: str, password: str) -> str | None:
        """Set kmsuser's password, and the change fails on one HSM, which keeps the old one (KU-12)."""

    @performs("sync_kmsuser")
    def sync_kmsuser(self, cluster: str, hsm: str) -> str | None:
        """Synchronise kmsuser onto an HSM that missed a change (KU-13)."""

    @performs("delete_key_material")
    def delete_key_material(self, cluster: str, key: str) -> str | None:
        """kmsuser, logged in by a person, deletes a KMS key's backing key (KU-10); ``key`` is
        the KMS key ID or ARN."""

    # --- network and faults ------------------------------------------------------------------------
    @performs("delete_subnet")
    def delete_subnet(self, cluster: str, zone: str) -> str | None:
        """Delete the cluster's subnet in ``zone`` (no HSM or KMS ENI may be in it, NET-06)."""

    @performs("exhaust_subnet")
    def fill_subnet(self, cluster: str, zone: str) -> str | None:
        """Other resources take every free IP address of the subnet in ``zone`` (NET-03, CEC-03)."""

    @performs("free_subnet")
    def free_subnet(self, cluster: str, zone: str) -> str | None:
        """Free addresses in the subnet in ``zone`` (CEC-03)."""

    @performs("break_security_group")
    def break_security_group(self, cluster: str) -> str | None:
        """Remove the cluster security group's TCP 2223-2225 rules (NET-05)."""

    @performs("repair_security_group")
    def repair_security_group(self, cluster: str) -> str | None:
        """Restore the security group's default rules (NET-05)."""

    @performs("sessions_exhausted")
    def exhaust_sessions(self, cluster: str) -> str | None:
        """A burst of requests takes every PKCS #11 session of the cluster (CRYPTO-04)."""

    @performs("sessions_freed")
    def free_sessions(self, cluster: str) -> str | None:
        """The cluster's sessions are free again (CRYPTO-04)."""

    @performs("network_fault_begins")
    def start_network_fault(self) -> str | None:
        """A transient network problem between KMS and the clusters starts (CEC-06)."""

    @performs("network_fault_ends")
    def end_network_fault(self) -> str | None:
        """The network problem ends (CEC-06)."""

    @performs("internal_fault_begins")
    def start_internal_fault(self) -> str | None:
        """KMS starts failing internally (CEC-04)."""

    @performs("internal_fault_ends")
    def end_internal_fault(self) -> str | None:
        """KMS's internal failure ends (CEC-04)."""


def typed_methods() -> dict[str, str]:
    """Method name -> the environment event it performs, for every typed method."""
    return {name: fn.event for name, fn in vars(EnvironmentEvents).items() if callable(fn) and hasattr(fn, "event")}
