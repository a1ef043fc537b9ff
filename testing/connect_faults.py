"""``fail_next_connect``: make a key store's next connection attempt end FAILED with a given
ConnectionErrorCode, by putting in place the environment condition behind the code.

Only the codes a CloudHSM key store can show are accepted (CEC-00: the ten non-XKS codes,
:data:`ckspec.model.aws_service.CLOUDHSM_ERROR_CODES`). Each is caused the way the AWS KMS
Developer Guide describes it (the CEC-* rule beside it), with the environment events of
:mod:`ckspec.model.environment`; the condition stays until it is repaired, so every connect
fails the same way until the application and its operator carry out the documented recovery.
:meth:`ConnectFault.repair` performs the operator's part of that recovery (log kmsuser out,
free the subnet, restore the cluster from the backup taken before the fault, ...) and says
what the application needs for its part (a new cluster ID, a new kmsuser password). A test
(tests/test_testing_kit_faults.py) drives every code through ``ckspec serve``: the connect
fails with it, and after the repair the documented recovery connects again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from ckspec.model.aws_service import CLOUDHSM_ERROR_CODES

from ckspec.emulator import control as server_control
from ckspec.emulator.account import Account
from ckspec.emulator.errors import AwsError
from ckspec.model import identifiers as ids
from ckspec.model.environment import EVENTS
from ckspec.model.world import AVAILABILITY_ZONES

from .errors import EventNotPossible, KitError
from .ready import new_password

if TYPE_CHECKING:
    from .serving import Emulator


@attrs.frozen
class Repaired:
    """What the application needs to finish the recovery after :meth:`ConnectFault.repair`:
    the cluster to update the store to (CEC-01, CEC-07), or the kmsuser password to update it
    to (CEC-05, CEC-08, CEC-10); None when Disconnect then Connect is all it takes."""

    cluster_id: str | None = None
    kmsuser_password: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class FaultKind:
    """How one ConnectionErrorCode comes about, and how the operator repairs it."""

    code: str
    rule: str
    #: the condition, in the documentation's words
    cause: str
    #: the operator's part of the documented recovery
    repair: str
    #: the events, as typed methods of :class:`~.events.EnvironmentEvents`, that cause it
    methods: tuple[str, ...]
    #: "now", or "when the connect is accepted" (a condition that, in place before the Connect,
    #: makes the Connect call itself fail: CONNECT-07, AMB-08, CEC-04)
    strikes: str = "now"


@attrs.frozen
class ConnectFault:
    """A fault put in place by :meth:`Emulator.fail_next_connect`."""

    kind: FaultKind
    cluster_id: str
    emulator: Emulator = attrs.field(repr=False, eq=False)
    #: the backup taken before the cluster (or its subnet) was lost, to restore from
    backup_id: str | None = None
    #: the password kmsuser has now, when the fault changed it (INVALID_CREDENTIALS)
    kmsuser_password: str | None = attrs.field(default=None, repr=False)
    #: for a fault that strikes when the connect is accepted: why it could not, if it could not
    problems: list[str] = attrs.field(factory=list, eq=False)

    @property
    def code(self) -> str:
        return self.kind.code

    def repair(self) -> Repaired:
        """Carry out the operator's part of the documented recovery (the CEC rule's repair)."""
        if self.problems:
            raise KitError(f"fail_next_connect({self.code}) did not strike: {self.problems[0]}")
        return _REPAIRS[self.code](self)


def _cause_cluster_not_found(kit: Emulator, cluster: str) -> dict[str, Any]:
    backup = kit.back_up_cluster(cluster)
    kit.delete_hsms(cluster)
    kit.delete_cluster(cluster)
    return {"backup_id": backup}


def _cause_logged_in(kit: Emulator, cluster: str) -> dict[str, Any]:
    try:
        kit.log_in_kmsuser(cluster)
    except EventNotPossible as exc:
        raise EventNotPossible(f"fail_next_connect(USER_LOGGED_IN): {exc}. After a store has connected, KMS has "
                               f"rotated kmsuser's password and no person can log in with it (CONNECT-11): call "
                               f"change_kmsuser_password first (CEC-09: the store then needs the new password "
                               f"too)") from None
    return {}


def _cause_invalid_credentials(kit: Emulator, cluster: str) -> dict[str, Any]:
    password = new_password()
    kit.change_kmsuser_password(cluster, password)
    return {"kmsuser_password": password}


def _only(cause: Callable[[Emulator, str], Any]) -> Callable[[Emulator, str], dict[str, Any]]:
    def run(kit: Emulator, cluster: str) -> dict[str, Any]:
        cause(kit, cluster)
        return {}
    return run


# --- conditions that arise while the attempt is in flight ----------------------------------------
# Before a Connect, a cluster without an active HSM or without a subnet in two AZs, or a KMS
# failing internally, makes the Connect call itself fail (CONNECT-07, AMB-08, CEC-04): the store
# never gets to FAILED. These faults therefore strike the moment the next Connect of a store on
# the cluster is accepted, under the emulator's lock, before the attempt can complete.


def _in_flight(*strike: Callable[[Account, str], None], backup: bool = False) -> Callable[[Emulator, str], dict[str, Any]]:
    def arm(kit: Emulator, cluster: str) -> dict[str, Any]:
        account = kit.server.account
        if account.cluster(cluster) is None:
            raise KitError(f"fail_next_connect: no cluster {cluster} in this account")
        armed: dict[str, Any] = {"backup_id": kit.back_up_cluster(cluster)} if backup else {}
        problems: list[str] = []

        def observer(operation: str, params: dict[str, Any]) -> None:
            if operation != "ConnectCustomKeyStore" or not _on_cluster(account, params, cluster):
                return
            account.call_observers.remove(observer)
            for action in strike:
                try:
                    action(account, cluster)
                except (KitError, AwsError) as exc:
                    problems.append(str(exc))

        with account.lock:
            account.call_observers.append(observer)
        return {**armed, "problems": problems}
    return arm


def _on_cluster(account: Account, params: dict[str, Any], cluster: str) -> bool:
    serial = account.serial(params.get("CustomKeyStoreId"), ids.parse_store_id)
    store = account.world.store(serial) if serial is not None else None
    return store is not None and store.cluster_id == account.serial(cluster, ids.parse_cluster_id)


def _direct(account: Account, event: str, *args: Any) -> None:
    """An environment event applied in the thread that holds the account's lock (a request to
    the test-control extension would wait for that lock)."""
    if not server_control.environment(account, {"event": event, "args": list(args)})["applied"]:
        raise EventNotPossible(f"{event} was not possible when the connect was accepted "
                               f"({', '.join(EVENTS[event].rules)})")


def _hsms_in(account: Account, cluster: str, zone: str | None = None) -> list[str]:
    found = account.cluster(cluster)
    return [account.foreign(ids.hsm_id(h.hsm_id)) for h in (found.hsms if found else ())
            if zone is None or h.availability_zone == zone]


def _lose_hsms(account: Account, cluster: str) -> None:
    for hsm in _hsms_in(account, cluster):
        _direct(account, "delete_hsm", cluster, hsm)


def _lose_subnet(account: Account, cluster: str) -> None:
    zone = AVAILABILITY_ZONES[0]
    for hsm in _hsms_in(account, cluster, zone):
        _direct(account, "delete_hsm", cluster, hsm)
    _direct(account, "delete_subnet", cluster, zone)


def _internal_failure(account: Account) -> None:
    """CEC-04: KMS fails internally while the attempt runs. While the fault lasts every KMS call
    fails (KMSInternalException), so it lasts exactly until the attempt has ended: the account's
    clock skips the connect delay (the attempt ends FAILED at once), then the fault ends."""
    _direct(account, "internal_fault_begins")
    try:
        account.wait(account.options.connect_delay)
    finally:
        _direct(account, "internal_fault_ends")


_CAUSES: dict[str, Callable[[Emulator, str], dict[str, Any]]] = {
    "CLUSTER_NOT_FOUND": _cause_cluster_not_found,
    "INSUFFICIENT_CLOUDHSM_HSMS": _in_flight(_lose_hsms),
    "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET": _only(lambda kit, c: kit.fill_subnet(c, kit.zone("us-east-1a"))),
    "INTERNAL_ERROR": _in_flight(lambda account, c: _internal_failure(account)),
    "INVALID_CREDENTIALS": _cause_invalid_credentials,
    "NETWORK_ERRORS": _only(lambda kit, c: kit.start_network_fault()),
    "SUBNET_NOT_FOUND": _in_flight(_lose_subnet, backup=True),
    "USER_LOCKED_OUT": _only(lambda kit, c: kit.lock_out_kmsuser(c)),
    "USER_LOGGED_IN": _cause_logged_in,
    "USER_NOT_FOUND": _only(lambda kit, c: kit.delete_kmsuser(c)),
}


def _restored(fault: ConnectFault) -> Repaired:
    kit = fault.emulator
    cluster = kit.restore_backup(fault.backup_id)
    for zone in ("us-east-1a", "us-east-1b"):
        kit.create_hsm(cluster, kit.zone(zone))
    return Repaired(cluster_id=cluster)


def _new_password(set_it: Callable[[Emulator, str, str], Any]) -> Callable[[ConnectFault], Repaired]:
    def repair(fault: ConnectFault) -> Repaired:
        password = new_password()
        set_it(fault.emulator, fault.cluster_id, password)
        return Repaired(kmsuser_password=password)
    return repair


def _nothing(undo: Callable[[Emulator, str], Any]) -> Callable[[ConnectFault], Repaired]:
    def repair(fault: ConnectFault) -> Repaired:
        undo(fault.emulator, fault.cluster_id)
        return Repaired()
    return repair


_REPAIRS: dict[str, Callable[[ConnectFault], Repaired]] = {
    "CLUSTER_NOT_FOUND": _restored,
    "INSUFFICIENT_CLOUDHSM_HSMS": _nothing(lambda kit, c: kit.create_hsm(c, kit.zone("us-east-1a"))),
    "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET": _nothing(lambda kit, c: kit.free_subnet(c, kit.zone("us-east-1a"))),
    "INTERNAL_ERROR": _nothing(lambda kit, c: None),  # the fault ended with the attempt
    "INVALID_CREDENTIALS": lambda fault: Repaired(kmsuser_password=fault.kmsuser_password),
    "NETWORK_ERRORS": _nothing(lambda kit, c: kit.end_network_fault()),
    "SUBNET_NOT_FOUND": _restored,
    "USER_LOCKED_OUT": _new_password(lambda kit, c, p: kit.change_kmsuser_password(c, p)),
    "USER_LOGGED_IN": _nothing(lambda kit, c: kit.log_out_kmsuser(c)),
    "USER_NOT_FOUND": _new_password(lambda kit, c, p: kit.create_kmsuser(c, p)),
}

#: every ConnectionErrorCode fail_next_connect can cause, with its rule, cause and repair
FAULTS: dict[str, FaultKind] = {f.code: f for f in (
    FaultKind("CLUSTER_NOT_FOUND", "CEC-01", "the cluster was deleted (a backup is taken first)",
              "restore the backup into a new cluster with HSMs; the store is updated to the new cluster ID",
              ("back_up_cluster", "delete_hsms", "delete_cluster")),
    FaultKind("INSUFFICIENT_CLOUDHSM_HSMS", "CEC-02", "the cluster has no active HSM",
              "add an HSM; Disconnect and Connect", ("delete_hsms",), "when the connect is accepted"),
    FaultKind("INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET", "CEC-03", "a cluster subnet has no free IP address",
              "free addresses in the subnet; Disconnect and Connect", ("fill_subnet",)),
    FaultKind("INTERNAL_ERROR", "CEC-04", "KMS fails internally",
              "none (the failure ended with the attempt): Disconnect and Connect again",
              ("start_internal_fault", "end_internal_fault"), "when the connect is accepted"),
    FaultKind("INVALID_CREDENTIALS", "CEC-05", "kmsuser's password was changed without telling KMS",
              "none: Disconnect, Update KeyStorePassword to the new password, Connect", ("change_kmsuser_password",)),
    FaultKind("NETWORK_ERRORS", "CEC-06", "KMS cannot reach the cluster (a transient network fault)",
              "the fault ends; Disconnect, wait, Connect", ("start_network_fault",)),
    FaultKind("SUBNET_NOT_FOUND", "CEC-07", "a subnet of the cluster was deleted (a backup is taken first)",
              "restore the backup into a new cluster (new subnets) with HSMs; the store is updated to its ID",
              ("back_up_cluster", "delete_hsm", "delete_subnet"), "when the connect is accepted"),
    FaultKind("USER_LOCKED_OUT", "CEC-08", "kmsuser is locked out after failed logins",
              "a crypto officer resets kmsuser's password; Disconnect, Update KeyStorePassword, Connect",
              ("lock_out_kmsuser",)),
    FaultKind("USER_LOGGED_IN", "CEC-09", "a person is logged in as kmsuser",
              "the person logs out; Disconnect and Connect", ("log_in_kmsuser",)),
    FaultKind("USER_NOT_FOUND", "CEC-10", "kmsuser was deleted",
              "a crypto officer creates kmsuser again; Disconnect, Update KeyStorePassword, Connect",
              ("delete_kmsuser",)),
)}


def fail_next_connect(kit: Emulator, code: str, cluster: str) -> ConnectFault:
    if code not in FAULTS:
        raise KitError(f"fail_next_connect: {code!r} is not a ConnectionErrorCode a CloudHSM key store can show "
                       f"(CEC-00: {', '.join(CLOUDHSM_ERROR_CODES)})")
    if not isinstance(cluster, str) or not cluster.startswith("cluster-"):
        raise KitError(f"fail_next_connect({code}): cluster must be a cluster-... ID as CloudHSM shows it, got "
                       f"{cluster!r} ({FAULTS[code].rule})")
    found = _CAUSES[code](kit, cluster)
    return ConnectFault(FAULTS[code], cluster, kit, **found)
