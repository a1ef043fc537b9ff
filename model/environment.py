"""Environment events: what the user (or the network) does outside KMS.

Creating and initializing clusters, adding and deleting HSMs, backups and restores, the
kmsuser account, subnets, the security-group rule, and transient faults. None of these
touches a key store: environment events change only the facts that KMS's own transitions
later read (CS-03, TR-08, AMB-31). A test checks that mechanically.

Each event has a guard (when it can happen), an effect, the rules it stands for, and a
``choices`` function that lists its arguments in a given world and scope (for the
explorer and for random walks).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import attrs

from . import identifiers as ids
from .aws_service import ClusterState, HsmState
from .scope import Scope
from .world import AVAILABILITY_ZONES, Backup, Cluster, Hsm, KmsUser, OwnCopy, Subnet, World


@attrs.frozen
class EnvironmentEvent:
    name: str
    rules: tuple[str, ...]
    doc: str
    guard: Callable[..., bool]
    apply: Callable[..., World]
    choices: Callable[[World, Scope], Iterable[tuple[Any, ...]]]
    #: counts towards the scope's budget of simultaneous faults
    fault: bool = False
    #: undoes a fault (a transient fault ends, a person logs out, addresses are freed): always
    #: possible in a bounded exploration, whatever its budget of environment events
    repair: bool = False


EVENTS: dict[str, EnvironmentEvent] = {}


def event(rules: tuple[str, ...], choices: Callable[[World, Scope], Iterable[tuple[Any, ...]]], fault: bool = False,
          repair: bool = False):
    def register(fn: Callable[..., World | None]) -> Callable[..., World | None]:
        def guard(world: World, *args: Any) -> bool:
            return fn(world, *args) is not None

        def apply(world: World, *args: Any) -> World:
            new = fn(world, *args)
            if new is None:
                from .actions import Environment  # its repr redacts passwords

                raise ValueError(f"{Environment(fn.__name__, args)!r} is not possible in this world")
            return new

        EVENTS[fn.__name__] = EnvironmentEvent(fn.__name__, rules, (fn.__doc__ or "").strip(), guard, apply,
                                               choices, fault, repair)
        return fn

    return register


# --- argument domains ------------------------------------------------------------------------


def _clusters(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((c.cluster_id,) for c in world.clusters)


def _cluster_zones(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((c.cluster_id, s.availability_zone) for c in world.clusters for s in c.subnets)


def _cluster_hsm_zones(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    # one HSM per AZ slot is enough to tell configurations apart; cap HSMs per cluster
    return ((c.cluster_id, z) for c in world.clusters if len(c.hsms) < scope.hsms
            for z in AVAILABILITY_ZONES[:scope.zones])


def _cluster_hsms(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((c.cluster_id, h.hsm_id) for c in world.clusters for h in c.hsms)


def _cluster_passwords(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((c.cluster_id, p) for c in world.clusters for p in scope.passwords)


def _new_cluster(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((scope.zones,),) if len(world.clusters) < scope.clusters else ()


def _backups(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((b.backup_id,) for b in world.backups) if len(world.clusters) < scope.clusters else ()


def _backup_sources(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return _clusters(world, scope) if len(world.backups) < scope.backups else ()


def _cluster_materials(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((c.cluster_id, k) for c in world.clusters for k in sorted(c.key_material))


def _nothing(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((),)


def _user(world: World, cluster_id: int) -> tuple[Cluster, KmsUser] | None:
    c = world.cluster(cluster_id)
    if c is None or c.kmsuser is None:
        return None
    return c, c.kmsuser


def _with_user(world: World, cluster: Cluster, **changes: Any) -> World:
    """A cluster-wide kmsuser change: it reaches the HSMs that hold the cluster's kmsuser; an HSM
    with its own copy keeps it (KU-11, KU-12) until it is synchronised (KU-13)."""
    user = attrs.evolve(cluster.kmsuser, **changes)
    hsms = tuple(attrs.evolve(h, own_kmsuser=None) if h.own_kmsuser is not None and h.own_kmsuser.user == user
                 else h for h in cluster.hsms)
    return world.with_cluster(attrs.evolve(cluster, kmsuser=user, hsms=hsms))


def _cluster_hsm_passwords(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((c.cluster_id, h.hsm_id, p) for c in world.clusters if len(c.hsms) >= 2 for h in c.hsms
            for p in scope.passwords)


def _hsms_with_own_copy(world: World, scope: Scope) -> Iterable[tuple[Any, ...]]:
    return ((c.cluster_id, h.hsm_id) for c in world.clusters for h in c.hsms if h.own_kmsuser is not None)


# --- clusters and HSMs -----------------------------------------------------------------------


@event(("CL-01", "CL-04"), _new_cluster)
def create_cluster(world: World, zones: int) -> World | None:
    """Create a cluster with one private subnet in each of the first `zones` AZs."""
    if not 1 <= zones <= len(AVAILABILITY_ZONES):
        return None
    world, serial = world.next_serial()
    subnets = tuple(Subnet(z) for z in AVAILABILITY_ZONES[:zones])
    return world.with_cluster(Cluster(serial, ClusterState.UNINITIALIZED, lineage=serial, subnets=subnets))


@event(("CL-01", "CL-02", "CL-05"), _cluster_hsm_zones)
def create_hsm(world: World, cluster_id: int, zone: str) -> World | None:
    """Add an HSM in an AZ whose subnet exists; a restored cluster becomes ACTIVE with it (CL-05).
    CloudHSM clones it from an existing HSM, users included (KU-12)."""
    return _add_hsm(world, cluster_id, zone, None)


def _add_hsm(world: World, cluster_id: int, zone: str, own: OwnCopy | None) -> World | None:
    c = world.cluster(cluster_id)
    subnet = c.subnet(zone) if c else None
    if c is None or subnet is None or not subnet.exists:
        return None
    world, serial = world.next_serial()
    state = c.state
    if c.source_backup_id is not None and state is ClusterState.CREATE_IN_PROGRESS:
        state = ClusterState.ACTIVE  # CL-05: a restored cluster is not initialized again
    hsm = Hsm(serial, zone, HsmState.ACTIVE, own_kmsuser=own)
    return world.with_cluster(attrs.evolve(c, hsms=c.hsms + (hsm,), state=state))


@event(("CL-01", "CL-06"), _clusters)
def initialize_cluster(world: World, cluster_id: int) -> World | None:
    """Sign the cluster CSR with a customer CA: the trust anchor is born (CL-06)."""
    c = world.cluster(cluster_id)
    if c is None or c.state is not ClusterState.UNINITIALIZED or not c.hsms:
        return None
    return world.with_cluster(attrs.evolve(c, state=ClusterState.INITIALIZED,
                                           trust_anchor=ids.trust_anchor(c.lineage)))


@event(("CL-01",), _clusters)
def activate_cluster(world: World, cluster_id: int) -> World | None:
    """Activate an initialized cluster that has an active HSM."""
    c = world.cluster(cluster_id)
    if c is None or c.state is not ClusterState.INITIALIZED or not c.active_hsms(frozenset({"ACTIVE"})):
        return None
    return world.with_cluster(attrs.evolve(c, state=ClusterState.ACTIVE))


@event(("CRYPTO-02", "TR-08", "CEC-02"), _cluster_hsms)
def delete_hsm(world: World, cluster_id: int, hsm_id: int) -> World | None:
    """Delete an HSM, even under a CONNECTED store (the store stays CONNECTED, TR-08)."""
    c = world.cluster(cluster_id)
    if c is None or all(h.hsm_id != hsm_id for h in c.hsms):
        return None
    return world.with_cluster(attrs.evolve(c, hsms=tuple(h for h in c.hsms if h.hsm_id != hsm_id)))


@event(("CL-07", "AMB-31", "CEC-01"), _clusters)
def delete_cluster(world: World, cluster_id: int) -> World | None:
    """Delete a cluster once all its HSMs are gone (CL-07)."""
    c = world.cluster(cluster_id)
    if c is None or c.hsms:
        return None
    return world.without_cluster(cluster_id)


@event(("CL-05", "KU-01", "DK-04"), _backup_sources)
def backup_cluster(world: World, cluster_id: int) -> World | None:
    """Take a backup: users (kmsuser as it is now) and key material (CL-05)."""
    c = world.cluster(cluster_id)
    if c is None or c.trust_anchor is None or not c.hsms:
        return None
    world, serial = world.next_serial()
    zones = tuple(s.availability_zone for s in c.subnets)
    backup = Backup(serial, c.cluster_id, c.lineage, c.trust_anchor, zones, c.kmsuser, c.key_material)
    return attrs.evolve(world, backups=world.backups + (backup,))


@event(("CL-05", "CEC-11", "UPDATE-07", "CEC-01", "CEC-07", "CEC-03"), _backups)
def restore_backup(world: World, backup_id: int) -> World | None:
    """Create a cluster from a backup: same lineage, new ID and new subnets, kmsuser's password
    as of the backup (CEC-11)."""
    b = world.backup(backup_id)
    if b is None:
        return None
    world, serial = world.next_serial()
    user = attrs.evolve(b.kmsuser, logged_in=False) if b.kmsuser else None
    cluster = Cluster(serial, ClusterState.CREATE_IN_PROGRESS, lineage=b.lineage,
                      subnets=tuple(Subnet(z) for z in b.zones), trust_anchor=b.trust_anchor, kmsuser=user,
                      key_material=b.key_material, source_backup_id=b.backup_id)
    return world.with_cluster(cluster)


# --- kmsuser ---------------------------------------------------------------------------------


@event(("KU-01", "CEC-10"), _cluster_passwords)
def create_kmsuser(world: World, cluster_id: int, password: str) -> World | None:
    """A crypto officer creates the kmsuser CU with a password (KU-01)."""
    c = world.cluster(cluster_id)
    if c is None or c.state is not ClusterState.ACTIVE or c.kmsuser is not None:
        return None
    return world.with_cluster(attrs.evolve(c, kmsuser=KmsUser(password)))


@event(("KU-01", "CEC-10", "KU-03"), _clusters)
def delete_kmsuser(world: World, cluster_id: int) -> World | None:
    """Delete kmsuser, possible only while no store holds its session (KU-05)."""
    found = _user(world, cluster_id)
    if found is None or world.kms_holds_kmsuser(cluster_id):
        return None
    c, _ = found
    return world.with_cluster(c.with_kmsuser_everywhere(None))


@event(("KU-06", "KU-09", "CEC-09", "CONNECT-11"), _clusters, fault=True)
def kmsuser_logs_in(world: World, cluster_id: int) -> World | None:
    """A person logs in as kmsuser: needs a password people know (not one KMS rotated,
    CONNECT-11), an unlocked account, and no KMS session (KU-05)."""
    found = _user(world, cluster_id)
    if found is None or world.kms_holds_kmsuser(cluster_id):
        return None
    c, u = found
    if u.logged_in or u.locked_out or not isinstance(u.password, str):
        return None
    return _with_user(world, c, logged_in=True)


@event(("KU-09", "CEC-09"), _clusters, repair=True)
def kmsuser_logs_out(world: World, cluster_id: int) -> World | None:
    """The person logged in as kmsuser logs out (KU-09 step 4)."""
    found = _user(world, cluster_id)
    if found is None or not found[1].logged_in:
        return None
    return _with_user(world, found[0], logged_in=False)


@event(("KU-08", "KU-09", "CEC-05", "CEC-08", "KU-05", "AMB-27"), _cluster_passwords)
def change_kmsuser_password(world: World, cluster_id: int, password: str) -> World | None:
    """A crypto officer sets kmsuser's password (alphanumeric, AMB-27); this is also the only
    way to unlock it (CEC-08). Impossible while a store holds the session (KU-05)."""
    found = _user(world, cluster_id)
    if found is None or world.kms_holds_kmsuser(cluster_id) or not password.isalnum():
        return None
    c, u = found
    if u.password == password and not u.locked_out:
        return None
    return _with_user(world, c, password=password, locked_out=False, failed_login=False)


@event(("KU-07", "CEC-08"), _clusters, fault=True)
def kmsuser_locked_out(world: World, cluster_id: int) -> World | None:
    """Someone fails to log in as kmsuser often enough to lock it (KU-07)."""
    found = _user(world, cluster_id)
    if found is None or found[1].locked_out or world.kms_holds_kmsuser(cluster_id):
        return None
    return _with_user(world, found[0], locked_out=True, logged_in=False)


@event(("KU-03", "AMB-26"), _clusters, fault=True)
def kmsuser_enables_2fa(world: World, cluster_id: int) -> World | None:
    """kmsuser is given two-factor authentication, which cannot be removed (KU-03)."""
    found = _user(world, cluster_id)
    if found is None or found[1].two_factor or world.kms_holds_kmsuser(cluster_id):
        return None
    return _with_user(world, found[0], two_factor=True)


# --- kmsuser on each HSM (KU-11 to KU-14) -------------------------------------------------------


@event(("KU-11", "KU-12", "CEC-10"), _cluster_hsm_passwords, fault=True)
def create_kmsuser_missing_hsm(world: World, cluster_id: int, hsm_id: int, password: str) -> World | None:
    """A crypto officer creates kmsuser while one HSM is unavailable (or missing from the tool's
    configuration): every other HSM gets it, that one does not (KU-11, KU-12)."""
    c = world.cluster(cluster_id)
    if c is None or c.state is not ClusterState.ACTIVE or c.kmsuser is not None or len(c.hsms) < 2 \
            or c.hsm(hsm_id) is None:
        return None
    return world.with_cluster(attrs.evolve(c, kmsuser=KmsUser(password)).with_own_copy(hsm_id, None))


@event(("KU-12", "CL-02", "CEC-10"), _cluster_hsm_zones, fault=True)
def create_hsm_from_older_backup(world: World, cluster_id: int, zone: str) -> World | None:
    """An HSM is added while kmsuser is being created: CloudHSM restores it from a backup of an
    existing HSM taken before kmsuser was there, so the new HSM lacks kmsuser (KU-12)."""
    c = world.cluster(cluster_id)
    if c is None or c.kmsuser is None or not c.hsms:
        return None
    return _add_hsm(world, cluster_id, zone, OwnCopy(None))


@event(("KU-11", "KU-12", "KU-05", "CEC-05", "CEC-08", "AMB-27"), _cluster_hsm_passwords, fault=True)
def change_kmsuser_password_misses_hsm(world: World, cluster_id: int, hsm_id: int, password: str) -> World | None:
    """A crypto officer sets kmsuser's password, and the change fails on one HSM: that HSM keeps
    kmsuser as it was (its old password, locked out or logged in if it was, KU-12)."""
    found = _user(world, cluster_id)
    if found is None or world.kms_holds_kmsuser(cluster_id) or not password.isalnum():
        return None
    c, u = found
    hsm = c.hsm(hsm_id)
    if len(c.hsms) < 2 or hsm is None or hsm.own_kmsuser is not None or u.password == password:
        return None
    changed = attrs.evolve(u, password=password, locked_out=False, failed_login=False)
    return world.with_cluster(attrs.evolve(c, kmsuser=changed).with_own_copy(hsm_id, u))


@event(("KU-13", "CEC-10", "CEC-05", "CEC-08"), _hsms_with_own_copy, repair=True)
def sync_kmsuser(world: World, cluster_id: int, hsm_id: int) -> World | None:
    """A crypto officer synchronises kmsuser onto an HSM that missed a change (syncUser, or the
    user operation run again): it holds the cluster's kmsuser again (KU-13)."""
    c = world.cluster(cluster_id)
    hsm = c.hsm(hsm_id) if c else None
    if hsm is None or hsm.own_kmsuser is None:
        return None
    return world.with_cluster(c.with_own_copy(hsm_id, c.kmsuser))


@event(("KU-10", "KS-10", "AMB-13", "CRYPTO-02"), _cluster_materials)
def delete_key_material(world: World, cluster_id: int, key_id: int) -> World | None:
    """kmsuser, logged in by a person, deletes a backing key (KU-10: only its owner can)."""
    c = world.cluster(cluster_id)
    if c is None or c.kmsuser is None or not c.kmsuser.logged_in or key_id not in c.key_material:
        return None
    return world.with_cluster(attrs.evolve(c, key_material=c.key_material - {key_id}))


# --- network -----------------------------------------------------------------------------------


def _subnet_change(world: World, cluster_id: int, zone: str, **changes: Any) -> World:
    c = world.cluster(cluster_id)
    subnets = tuple(attrs.evolve(s, **changes) if s.availability_zone == zone else s for s in c.subnets)
    return world.with_cluster(attrs.evolve(c, subnets=subnets))


def _kms_enis_in(world: World, cluster_id: int) -> bool:
    return any(s.cluster_id == cluster_id and s.network_plumbing for s in world.stores)


@event(("NET-06", "CEC-07", "CL-04"), _cluster_zones, fault=True)
def delete_subnet(world: World, cluster_id: int, zone: str) -> World | None:
    """Delete a cluster subnet; possible only with no HSM or KMS ENI in it."""
    c = world.cluster(cluster_id)
    s = c.subnet(zone) if c else None
    if s is None or not s.exists or any(h.availability_zone == zone for h in c.hsms) or _kms_enis_in(world, cluster_id):
        return None
    return _subnet_change(world, cluster_id, zone, exists=False)


@event(("NET-03", "CEC-03"), _cluster_zones, fault=True)
def exhaust_subnet(world: World, cluster_id: int, zone: str) -> World | None:
    """Other resources take every free IP address of a cluster subnet."""
    c = world.cluster(cluster_id)
    s = c.subnet(zone) if c else None
    if s is None or not s.exists or s.free_addresses == 0:
        return None
    return _subnet_change(world, cluster_id, zone, free_addresses=0)


@event(("CEC-03",), _cluster_zones, repair=True)
def free_subnet(world: World, cluster_id: int, zone: str) -> World | None:
    """Free addresses in a subnet (delete unused ENIs or instances, CEC-03)."""
    c = world.cluster(cluster_id)
    s = c.subnet(zone) if c else None
    if s is None or not s.exists or s.free_addresses >= 2:
        return None
    return _subnet_change(world, cluster_id, zone, free_addresses=2)


@event(("NET-05", "AMB-08", "CRYPTO-03"), _clusters, fault=True)
def break_security_group(world: World, cluster_id: int) -> World | None:
    """Remove the cluster security group's TCP 2223-2225 rules (NET-05)."""
    c = world.cluster(cluster_id)
    if c is None or not c.security_group_intact:
        return None
    return world.with_cluster(attrs.evolve(c, security_group_intact=False))


@event(("NET-05",), _clusters, repair=True)
def repair_security_group(world: World, cluster_id: int) -> World | None:
    """Restore the default TCP 2223-2225 rules."""
    c = world.cluster(cluster_id)
    if c is None or c.security_group_intact:
        return None
    return world.with_cluster(attrs.evolve(c, security_group_intact=True))


@event(("CRYPTO-04",), _clusters, fault=True)
def sessions_exhausted(world: World, cluster_id: int) -> World | None:
    """A burst of requests takes every PKCS #11 session of the cluster (CRYPTO-04)."""
    c = world.cluster(cluster_id)
    if c is None or c.sessions_exhausted:
        return None
    return world.with_cluster(attrs.evolve(c, sessions_exhausted=True))


@event(("CRYPTO-04",), _clusters, repair=True)
def sessions_freed(world: World, cluster_id: int) -> World | None:
    """The burst ends: the cluster's PKCS #11 sessions are free again (CRYPTO-04)."""
    c = world.cluster(cluster_id)
    if c is None or not c.sessions_exhausted:
        return None
    return world.with_cluster(attrs.evolve(c, sessions_exhausted=False))


@event(("CEC-06", "CRYPTO-03"), _nothing, fault=True)
def network_fault_begins(world: World) -> World | None:
    """A transient network problem between KMS and the clusters starts (CEC-06)."""
    return None if world.network_fault else attrs.evolve(world, network_fault=True)


@event(("CEC-06",), _nothing, repair=True)
def network_fault_ends(world: World) -> World | None:
    """The transient network problem between KMS and the clusters ends (CEC-06)."""
    return attrs.evolve(world, network_fault=False) if world.network_fault else None


@event(("CEC-04",), _nothing, fault=True)
def internal_fault_begins(world: World) -> World | None:
    """KMS starts failing internally (CEC-04, KMSInternalException)."""
    return None if world.internal_fault else attrs.evolve(world, internal_fault=True)


@event(("CEC-04",), _nothing, repair=True)
def internal_fault_ends(world: World) -> World | None:
    """KMS stops failing internally (CEC-04)."""
    return attrs.evolve(world, internal_fault=False) if world.internal_fault else None


def faults(world: World) -> int:
    """How many environment deviations hold now (the scope bounds this)."""
    n = int(world.network_fault) + int(world.internal_fault)
    for c in world.clusters:
        n += sum(1 for s in c.subnets if not s.exists or s.free_addresses == 0)
        n += int(not c.security_group_intact) + int(c.sessions_exhausted)
        if c.kmsuser is not None:
            n += int(c.kmsuser.logged_in) + int(c.kmsuser.locked_out) + int(c.kmsuser.two_factor)
        n += sum(1 for h in c.hsms if h.own_kmsuser is not None)  # KU-12: an HSM out of sync
    return n
