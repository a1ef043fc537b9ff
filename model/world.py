"""The state of one AWS account and Region, as immutable values.

A :class:`World` holds CloudHSM clusters (with HSMs, subnets, the security-group rule, the
certificate lineage, the trust anchor and the kmsuser crypto user), cluster backups, KMS
custom key stores (CloudHSM key stores and, as their neighbours, external ones), and the KMS
keys that live in CloudHSM key stores.

CloudHSM users live on each HSM, and CloudHSM does not synchronise them (KU-11): a cluster
holds kmsuser as the cluster-wide user management last set it, and an HSM that missed a
change holds its own copy (:class:`OwnCopy`, KU-12) until it is synchronised again (KU-13). Every class is an attrs frozen
class; transitions build new worlds and never mutate one.

Identifiers are small integers (serial numbers handed out in creation order) and are
rendered as AWS-shaped strings only at the edge (:mod:`ckspec.model.identifiers`). That
keeps worlds cheap to hash and lets the explorer renumber them canonically.

Passwords are held as ``str`` (a value a person chose) or :class:`Secret` (a value KMS
generated when it rotated kmsuser's password, CONNECT-11, that no person knows). Neither
is ever shown in a ``repr``.
"""

from __future__ import annotations

from typing import Iterator, Union

import attrs

from .aws_service import ClusterState, ConnectionState, HsmState

#: The pseudo connection state of a key store that does not exist (before Create, after Delete).
ABSENT = "ABSENT"

#: The Availability Zones of the modelled Region, in order.
AVAILABILITY_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


@attrs.frozen(order=True)
class Secret:
    """A password KMS generated when it rotated kmsuser's password (CONNECT-11)."""

    serial: int

    def __repr__(self) -> str:
        return "Secret(<redacted>)"


Password = Union[str, Secret]


@attrs.frozen(cache_hash=True)
class Hsm:
    hsm_id: int
    availability_zone: str
    state: HsmState = HsmState.ACTIVE
    #: KU-11, KU-12: this HSM's own kmsuser when it differs from the cluster's (None: in sync)
    own_kmsuser: "OwnCopy | None" = None


@attrs.frozen(cache_hash=True)
class Subnet:
    """A private subnet of a cluster in one AZ (CL-04: fixed for the life of the cluster)."""

    availability_zone: str
    exists: bool = True
    free_addresses: int = 2


@attrs.frozen(cache_hash=True)
class KmsUser:
    """The kmsuser crypto user of a cluster (KU-01)."""

    password: Password = attrs.field(repr=False)
    logged_in: bool = False
    locked_out: bool = False
    #: at least one wrong-password login since the last password change (AMB-25)
    failed_login: bool = False
    #: two-factor authentication switched on (KU-03, AMB-26)
    two_factor: bool = False


@attrs.frozen(cache_hash=True)
class OwnCopy:
    """KU-12: the kmsuser an HSM holds when a user operation missed it (None: it has no kmsuser)."""

    user: KmsUser | None = attrs.field(repr=False)


@attrs.frozen(cache_hash=True)
class Cluster:
    cluster_id: int
    state: ClusterState
    #: the cluster certificate lineage shared by clusters restored from the same backups (CL-05)
    lineage: int
    subnets: tuple[Subnet, ...]
    hsms: tuple[Hsm, ...] = ()
    security_group_intact: bool = True
    #: the customerCA.crt from initialization (CL-06); None before InitializeCluster
    trust_anchor: str | None = None
    kmsuser: KmsUser | None = None
    #: ids of the KMS keys whose backing AES key exists in this cluster (KEY-06)
    key_material: frozenset[int] = frozenset()
    source_backup_id: int | None = None
    #: every PKCS #11 session of the cluster is busy (CRYPTO-04)
    sessions_exhausted: bool = False

    def active_hsms(self, active_states: frozenset[str]) -> tuple[Hsm, ...]:
        return tuple(h for h in self.hsms if h.state in active_states)

    def subnet(self, zone: str) -> Subnet | None:
        return next((s for s in self.subnets if s.availability_zone == zone), None)

    def hsm(self, hsm_id: int) -> Hsm | None:
        return next((h for h in self.hsms if h.hsm_id == hsm_id), None)

    def kmsuser_on(self, hsm: Hsm) -> KmsUser | None:
        """KU-11: the kmsuser this HSM holds (the cluster's, unless the HSM has its own copy)."""
        return self.kmsuser if hsm.own_kmsuser is None else hsm.own_kmsuser.user

    def kmsuser_copies(self, active_states: frozenset[str]) -> tuple[KmsUser | None, ...]:
        """KU-14: the kmsuser of each active HSM, what KMS logs in to (the cluster's own record
        when no HSM is active: then Connect fails for want of HSMs anyway, CEC-02)."""
        hsms = self.active_hsms(active_states)
        return tuple(self.kmsuser_on(h) for h in hsms) if hsms else (self.kmsuser,)

    @property
    def kmsuser_in_sync(self) -> bool:
        return all(h.own_kmsuser is None for h in self.hsms)

    def with_own_copy(self, hsm_id: int, user: KmsUser | None) -> "Cluster":
        """The HSM now holds ``user`` (KU-12); a copy equal to the cluster's is no copy at all."""
        return attrs.evolve(self, hsms=tuple(
            attrs.evolve(h, own_kmsuser=None if user == self.kmsuser else OwnCopy(user)) if h.hsm_id == hsm_id else h
            for h in self.hsms))

    def with_kmsuser_everywhere(self, user: KmsUser | None) -> "Cluster":
        """Every HSM holds ``user`` (KU-13: synchronised; CONNECT-11: KMS rotated it on each)."""
        return attrs.evolve(self, kmsuser=user, hsms=tuple(
            h if h.own_kmsuser is None else attrs.evolve(h, own_kmsuser=None) for h in self.hsms))

    def map_kmsuser(self, change) -> "Cluster":
        """``change`` applied to every copy of kmsuser there is, the cluster's and each HSM's own."""
        user = change(self.kmsuser) if self.kmsuser is not None else None
        hsms = []
        for h in self.hsms:
            own = h.own_kmsuser
            if own is not None and own.user is not None:
                mine = change(own.user)
                own = None if mine == user else OwnCopy(mine)
            hsms.append(h if own is h.own_kmsuser else attrs.evolve(h, own_kmsuser=own))
        return attrs.evolve(self, kmsuser=user, hsms=tuple(hsms))


@attrs.frozen(cache_hash=True)
class Backup:
    """A cluster backup: the users (kmsuser as of that moment, CEC-11) and key material."""

    backup_id: int
    source_cluster_id: int
    lineage: int
    trust_anchor: str | None
    zones: tuple[str, ...]
    kmsuser: KmsUser | None = attrs.field(repr=False)
    key_material: frozenset[int] = frozenset()


@attrs.frozen(cache_hash=True)
class XksProxy:
    """How KMS reaches an external key store's proxy (XKS-01, XKS-04). The credential's secret
    (RawSecretAccessKey) is never kept: no answer shows it, so the model has no use for it."""

    connectivity: str
    uri_endpoint: str
    uri_path: str
    access_key_id: str = attrs.field(repr=False)
    vpc_endpoint_service_name: str | None = None
    vpc_endpoint_service_owner: str | None = None


@attrs.frozen(cache_hash=True)
class KeyStore:
    store_id: int
    name: str
    #: None for an external key store (XKS-04)
    cluster_id: int | None
    trust_anchor: str | None
    #: the kmsuser password KMS holds (KU-04); never returned by Describe (DESC-05)
    password: Password = attrs.field(repr=False)
    state: ConnectionState = ConnectionState.DISCONNECTED
    error_code: str | None = None
    #: a connection attempt is under way (TR-01); dropped by Disconnect (AMB-06)
    attempt_in_flight: bool = False
    #: AMB-30, AMB-12: the (state, error code) a read may still show because the API is
    #: eventually consistent (T-02); set by a call that changed the state, cleared when the
    #: next internal event changes it or when reads catch up
    lag: tuple[ConnectionState, str | None] | None = attrs.field(default=None, eq=False, repr=False)
    #: CustomKeyStoreType: AWS_CLOUDHSM, or EXTERNAL_KEY_STORE with its proxy settings in ``xks``
    store_type: str = "AWS_CLOUDHSM"
    xks: XksProxy | None = None

    @property
    def external(self) -> bool:
        return self.store_type == "EXTERNAL_KEY_STORE"

    @property
    def network_plumbing(self) -> bool:
        """NET-01, NET-02, NET-04: KMS's kms-<store id> security group and its ENIs exist from a
        successful connection until the disconnect completes."""
        return self.state in (ConnectionState.CONNECTED, ConnectionState.DISCONNECTING)


@attrs.frozen(cache_hash=True)
class Key:
    """A KMS key in a CloudHSM key store. ``state`` is the key's own state; what DescribeKey
    shows is derived from it and from the store (KS-02, KS-03)."""

    key_id: int
    store_id: int
    state: str = "Enabled"
    pending_window_days: int | None = None


@attrs.frozen(cache_hash=True)
class World:
    clusters: tuple[Cluster, ...] = ()
    backups: tuple[Backup, ...] = ()
    stores: tuple[KeyStore, ...] = ()
    keys: tuple[Key, ...] = ()
    #: the custom key store quota (Q-01, Q-02, AMB-24)
    quota: int = 10
    #: the last serial number handed out (identifiers and creation order)
    serial: int = 0
    #: the last Secret number handed out
    secrets: int = 0
    #: a transient network fault between KMS and the clusters (CEC-06, CRYPTO-03)
    network_fault: bool = False
    #: a transient KMS internal fault (CEC-04, KMSInternalException)
    internal_fault: bool = False

    # lookups -------------------------------------------------------------------------
    def cluster(self, cluster_id: int | None) -> Cluster | None:
        return next((c for c in self.clusters if c.cluster_id == cluster_id), None)

    def store(self, store_id: int | None) -> KeyStore | None:
        return next((s for s in self.stores if s.store_id == store_id), None)

    def key(self, key_id: int | None) -> Key | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def backup(self, backup_id: int | None) -> Backup | None:
        return next((b for b in self.backups if b.backup_id == backup_id), None)

    def keys_in(self, store_id: int) -> Iterator[Key]:
        return (k for k in self.keys if k.store_id == store_id)

    def kms_holds_kmsuser(self, cluster_id: int) -> bool:
        """KU-05: while a store is CONNECTED, KMS holds the kmsuser session of its cluster."""
        return any(s.cluster_id == cluster_id and s.state is ConnectionState.CONNECTED for s in self.stores)

    # functional updates ------------------------------------------------------------------
    def next_serial(self) -> tuple["World", int]:
        return attrs.evolve(self, serial=self.serial + 1), self.serial + 1

    def next_secret(self) -> tuple["World", Secret]:
        return attrs.evolve(self, secrets=self.secrets + 1), Secret(self.secrets + 1)

    def with_cluster(self, cluster: Cluster) -> "World":
        return attrs.evolve(self, clusters=_replace(self.clusters, "cluster_id", cluster))

    def with_store(self, store: KeyStore) -> "World":
        return attrs.evolve(self, stores=_replace(self.stores, "store_id", store))

    def with_key(self, key: Key) -> "World":
        return attrs.evolve(self, keys=_replace(self.keys, "key_id", key))

    def without_store(self, store_id: int) -> "World":
        return attrs.evolve(self, stores=tuple(s for s in self.stores if s.store_id != store_id))

    def without_key(self, key_id: int) -> "World":
        return attrs.evolve(self, keys=tuple(k for k in self.keys if k.key_id != key_id))

    def without_cluster(self, cluster_id: int) -> "World":
        return attrs.evolve(self, clusters=tuple(c for c in self.clusters if c.cluster_id != cluster_id))


def _replace(items: tuple, id_field: str, new: object) -> tuple:
    """Replace the item with the same id, or append it (items stay in creation order)."""
    ident = getattr(new, id_field)
    out = []
    found = False
    for item in items:
        if getattr(item, id_field) == ident:
            out.append(new)
            found = True
        else:
            out.append(item)
    if not found:
        out.append(new)
    return tuple(out)
