"""The facts that transition guards speak about, and how each is read off a world.

A fact is a named yes/no question about the world, the request, or the subject of an
operation (the key store or KMS key it names). Guards in :mod:`ckspec.model.transitions`
are built only from these names, so this module is the one place where the concrete world
is projected onto what the rules care about. Each fact's doc names the rules behind it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs

from . import identifiers as ids
from .aws_service import ConnectionState
from .profiles import Profile
from .world import ABSENT, Cluster, Key, KeyStore, KmsUser, World


@attrs.frozen
class FactDef:
    name: str
    doc: str
    read: Callable[["Context"], bool]


FACTS: dict[str, FactDef] = {}


def fact(doc: str) -> Callable[[Callable[["Context"], bool]], Callable[["Context"], bool]]:
    def register(fn: Callable[["Context"], bool]) -> Callable[["Context"], bool]:
        FACTS[fn.__name__] = FactDef(fn.__name__, doc, fn)
        return fn

    return register


class Context:
    """Everything a guard may ask about: world, profile, request and resolved subject."""

    __slots__ = ("world", "profile", "params", "store", "key", "_cache")

    def __init__(
        self,
        world: World,
        profile: Profile,
        params: Mapping[str, Any],
        store: KeyStore | None = None,
        key: Key | None = None,
    ) -> None:
        self.world = world
        self.profile = profile
        self.params = params
        self.store = store
        self.key = key
        self._cache: dict[str, bool] = {}

    def fact(self, name: str) -> bool:
        try:
            return self._cache[name]
        except KeyError:
            value = self._cache[name] = bool(FACTS[name].read(self))
            return value

    # derived views ------------------------------------------------------------------------
    @property
    def cluster(self) -> Cluster | None:
        """The cluster the subject store is associated with (None if it no longer exists)."""
        return self.world.cluster(self.store.cluster_id) if self.store else None

    @property
    def kmsuser(self) -> KmsUser | None:
        c = self.cluster
        return c.kmsuser if c else None

    @property
    def target(self) -> Cluster | None:
        """The cluster a Create or Update request names."""
        return self.world.cluster(ids.parse_cluster_id(self.params.get("CloudHsmClusterId")))


# --- the subject store and its cluster -------------------------------------------------------


def _active_hsm_zones(ctx: Context, cluster: Cluster | None) -> set[str]:
    if cluster is None:
        return set()
    return {h.availability_zone for h in cluster.active_hsms(ctx.profile.active_hsm_states)}


def _config_ok(ctx: Context, cluster: Cluster | None) -> bool:
    """CREATE-08, UPDATE-08: subnets in two AZs, the 2223-2225 rule, two active HSMs in two AZs."""
    if cluster is None:
        return False
    zones = {s.availability_zone for s in cluster.subnets if s.exists}
    return len(zones) >= 2 and cluster.security_group_intact and len(_active_hsm_zones(ctx, cluster)) >= 2


@fact("the store's cluster exists (CEC-01, CONNECT-08)")
def cluster_exists(ctx: Context) -> bool:
    return ctx.cluster is not None


@fact("the store's cluster is in an active ClusterState (CL-01, AMB-10)")
def cluster_active(ctx: Context) -> bool:
    c = ctx.cluster
    return c is not None and c.state in ctx.profile.active_cluster_states


@fact("the store's cluster has at least one active HSM (CONNECT-06, CL-03, AMB-09)")
def hsm_ge1(ctx: Context) -> bool:
    return bool(_active_hsm_zones(ctx, ctx.cluster))


@fact("the store's cluster has active HSMs in at least two AZs (KEY-03, CL-03)")
def hsm_2az(ctx: Context) -> bool:
    return len(_active_hsm_zones(ctx, ctx.cluster)) >= 2


@fact("the store's cluster has existing private subnets in at least two AZs (CONNECT-07)")
def subnets_2az(ctx: Context) -> bool:
    c = ctx.cluster
    return c is not None and len({s.availability_zone for s in c.subnets if s.exists}) >= 2


@fact("the cluster security group keeps its TCP 2223-2225 rules (NET-05)")
def sg_intact(ctx: Context) -> bool:
    c = ctx.cluster
    return c is not None and c.security_group_intact


@fact("every subnet in the cluster configuration still exists (CEC-07, NET-06)")
def subnets_exist(ctx: Context) -> bool:
    c = ctx.cluster
    return c is not None and all(s.exists for s in c.subnets)


@fact("every existing cluster subnet has a free IP address (CEC-03, NET-03)")
def subnets_free(ctx: Context) -> bool:
    c = ctx.cluster
    return c is not None and all(s.free_addresses > 0 for s in c.subnets if s.exists)


def _copies(ctx: Context) -> tuple[KmsUser, ...]:
    """KU-14: the kmsuser copies KMS logs in to, one per active HSM that holds one."""
    c = ctx.cluster
    if c is None:
        return ()
    return tuple(u for u in c.kmsuser_copies(ctx.profile.active_hsm_states) if u is not None)


@fact("an active HSM of the cluster holds the kmsuser crypto user (KU-01, CEC-10, KU-14)")
def kmsuser_exists(ctx: Context) -> bool:
    return bool(_copies(ctx))


@fact("every active HSM of the cluster holds kmsuser: users are not synchronised (KU-11, KU-12, KU-14)")
def kmsuser_on_every_hsm(ctx: Context) -> bool:
    c = ctx.cluster
    return c is not None and all(u is not None for u in c.kmsuser_copies(ctx.profile.active_hsm_states))


@fact("someone is logged in as kmsuser on an active HSM (KU-06, CEC-09, KU-14)")
def kmsuser_logged_in(ctx: Context) -> bool:
    return any(u.logged_in for u in _copies(ctx))


@fact("kmsuser is locked out on an active HSM (KU-07, CEC-08, KU-14)")
def kmsuser_locked(ctx: Context) -> bool:
    return any(u.locked_out for u in _copies(ctx))


@fact("a wrong-password login as kmsuser happened since its password was last set (AMB-25)")
def kmsuser_failed_before(ctx: Context) -> bool:
    return any(u.failed_login for u in _copies(ctx))


@fact("kmsuser uses two-factor authentication on an active HSM (KU-03, AMB-26)")
def kmsuser_2fa(ctx: Context) -> bool:
    return any(u.two_factor for u in _copies(ctx))


@fact("the password KMS holds is kmsuser's password on every active HSM that holds it (CONNECT-06, CEC-05, KU-14)")
def password_matches(ctx: Context) -> bool:
    copies = _copies(ctx)
    return bool(copies) and ctx.store is not None and all(u.password == ctx.store.password for u in copies)


@fact("no transient network fault between KMS and the cluster (CEC-06, CRYPTO-03)")
def network_ok(ctx: Context) -> bool:
    return not ctx.world.network_fault


@fact("the cluster has a free PKCS #11 session (CRYPTO-04)")
def sessions_free(ctx: Context) -> bool:
    c = ctx.cluster
    return c is None or not c.sessions_exhausted


@fact("no transient KMS internal fault (CEC-04)")
def kms_ok(ctx: Context) -> bool:
    return not ctx.world.internal_fault


@fact("the store holds KMS keys, PendingDeletion included (DELETE-02, DK-08)")
def store_has_keys(ctx: Context) -> bool:
    return ctx.store is not None and any(True for _ in ctx.world.keys_in(ctx.store.store_id))


@fact("a connection attempt is under way (TR-01, AMB-06)")
def attempt_in_flight(ctx: Context) -> bool:
    return ctx.store is not None and ctx.store.attempt_in_flight


@fact("reads may still show the store's state from before the last call (AMB-30)")
def reads_lag(ctx: Context) -> bool:
    return ctx.store is not None and ctx.store.lag is not None


@fact("the store is CONNECTED (CS-08, KS-02)")
def store_connected(ctx: Context) -> bool:
    return ctx.store is not None and ctx.store.state is ConnectionState.CONNECTED


# --- the subject key ------------------------------------------------------------------------


@fact("the key's backing AES key exists in the store's current cluster (KEY-06, CRYPTO-01)")
def material_present(ctx: Context) -> bool:
    c = ctx.cluster
    return ctx.key is not None and c is not None and ctx.key.key_id in c.key_material


@fact("the request names a key by a malformed ARN (InvalidArnException)")
def malformed_arn(ctx: Context) -> bool:
    return ids.is_malformed_arn(ctx.params.get("KeyId"))


@fact("Decrypt's ciphertext was not produced by this model's Encrypt")
def ciphertext_invalid(ctx: Context) -> bool:
    return ciphertext_key(ctx.params.get("CiphertextBlob")) is None


@fact("Decrypt names a KeyId other than the ciphertext's key")
def ciphertext_key_mismatch(ctx: Context) -> bool:
    named = ctx.params.get("KeyId")
    return named is not None and ids.parse_key_id(named) != ciphertext_key(ctx.params.get("CiphertextBlob"))


CIPHERTEXT_MAGIC = b"ckspec-ct\x00"


def ciphertext_key(blob: object) -> int | None:
    """The key serial a model ciphertext was made with, or None."""
    if not isinstance(blob, (bytes, bytearray)) or not blob.startswith(CIPHERTEXT_MAGIC):
        return None
    rest = bytes(blob[len(CIPHERTEXT_MAGIC):])
    if len(rest) < 8:
        return None
    return int.from_bytes(rest[:8], "big")


@fact("ScheduleKeyDeletion's waiting period is outside 7-30 days (AMB-36)")
def window_out_of_range(ctx: Context) -> bool:
    days = ctx.params.get("PendingWindowInDays", 30)
    return not 7 <= days <= 30


# --- request parameters ---------------------------------------------------------------------


@fact("the request names a custom key store (CustomKeyStoreId present)")
def req_store(ctx: Context) -> bool:
    return "CustomKeyStoreId" in ctx.params


@fact("the Update sets a new name (UPDATE-01)")
def req_name(ctx: Context) -> bool:
    return "NewCustomKeyStoreName" in ctx.params


@fact("the Update sets a new KeyStorePassword (UPDATE-03)")
def req_password(ctx: Context) -> bool:
    return "KeyStorePassword" in ctx.params


@fact("the Update sets a new CloudHsmClusterId (UPDATE-03)")
def req_cluster(ctx: Context) -> bool:
    return "CloudHsmClusterId" in ctx.params


@fact("the requested name belongs to another custom key store (CREATE-03, UPDATE-06)")
def name_taken(ctx: Context) -> bool:
    name = ctx.params.get("NewCustomKeyStoreName", ctx.params.get("CustomKeyStoreName"))
    own = ctx.store.store_id if ctx.store else None
    return name is not None and any(s.name == name and s.store_id != own for s in ctx.world.stores)


@fact("the profile lets a CONNECTED store be renamed (UPDATE-02, AMB-14)")
def rename_allowed_connected(ctx: Context) -> bool:
    return ctx.profile.rename_while_connected


@fact("the cluster the request names exists (CREATE-04, UPDATE-08)")
def target_exists(ctx: Context) -> bool:
    return ctx.target is not None


@fact("the cluster the request names is active (CREATE-05, UPDATE-08)")
def target_active(ctx: Context) -> bool:
    t = ctx.target
    return t is not None and t.state in ctx.profile.active_cluster_states


@fact("the cluster the request names meets the key store requirements (CREATE-08, UPDATE-08)")
def target_config_ok(ctx: Context) -> bool:
    return _config_ok(ctx, ctx.target)


@fact("the cluster the request names shares the store's cluster certificate lineage (UPDATE-07)")
def target_related(ctx: Context) -> bool:
    t = ctx.target
    if t is None or ctx.store is None:
        return False
    current = ctx.world.cluster(ctx.store.cluster_id)
    if current is not None:
        return t.lineage == current.lineage
    # the current cluster is gone: the store remembers its lineage through the trust anchor
    return ids.trust_anchor(t.lineage) == ctx.store.trust_anchor


@fact("the cluster, or one of its lineage, already backs a key store (CREATE-06)")
def target_in_use(ctx: Context) -> bool:
    t = ctx.target
    if t is None:
        return False
    anchor = ids.trust_anchor(t.lineage)
    return any(s.cluster_id == t.cluster_id or s.trust_anchor == anchor for s in ctx.world.stores)


@fact("the trust anchor is the named cluster's customerCA certificate (CREATE-07)")
def trust_anchor_matches(ctx: Context) -> bool:
    t = ctx.target
    return t is not None and t.trust_anchor is not None and ctx.params.get("TrustAnchorCertificate") == t.trust_anchor


@fact("the account already holds as many custom key stores as the quota allows (CREATE-09, Q-01)")
def quota_reached(ctx: Context) -> bool:
    return len(ctx.world.stores) >= ctx.world.quota


@fact("a DISCONNECTED store has the same name, cluster, trust anchor and password (CREATE-10, AMB-16)")
def idempotent_match(ctx: Context) -> bool:
    return idempotent_store(ctx) is not None


def idempotent_store(ctx: Context) -> KeyStore | None:
    p = ctx.params
    cluster = ids.parse_cluster_id(p.get("CloudHsmClusterId"))
    for s in ctx.world.stores:
        if (
            s.state is ConnectionState.DISCONNECTED
            and s.name == p.get("CustomKeyStoreName")
            and s.cluster_id == cluster
            and s.trust_anchor == p.get("TrustAnchorCertificate")
            and s.password == p.get("KeyStorePassword")
        ):
            return s
    return None


@fact("the request is a CloudHSM key store request with every CloudHSM parameter (CREATE-01)")
def cloudhsm_request(ctx: Context) -> bool:
    p = ctx.params
    return p.get("CustomKeyStoreType", "AWS_CLOUDHSM") == "AWS_CLOUDHSM" and all(
        k in p for k in ("CloudHsmClusterId", "TrustAnchorCertificate", "KeyStorePassword")
    ) and not any(k.startswith("XksProxy") for k in p)  # XKS-01: those belong to external key stores


@fact("the CreateKey request asks for a key type a custom key store cannot hold (KEY-01, KEY-05, AMB-19)")
def key_request_forbidden(ctx: Context) -> bool:
    p = ctx.params
    origin = p.get("Origin", "AWS_KMS")
    return (
        ("CustomKeyStoreId" in p) != (origin == "AWS_CLOUDHSM")
        or p.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT"
        or p.get("CustomerMasterKeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT"
        or p.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT"
        or bool(p.get("MultiRegion", False))
        or "XksKeyId" in p
    )


@fact("the request is an ordinary KMS request outside custom key stores")
def outside_custom_key_stores(ctx: Context) -> bool:
    p = ctx.params
    return "CustomKeyStoreId" not in p and p.get("Origin", "AWS_KMS") not in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")


# --- DescribeCustomKeyStores ----------------------------------------------------------------


@fact("Describe names both CustomKeyStoreId and CustomKeyStoreName (DESC-02, AMB-17)")
def both_filters(ctx: Context) -> bool:
    return "CustomKeyStoreId" in ctx.params and "CustomKeyStoreName" in ctx.params


@fact("Describe filters by CustomKeyStoreId or CustomKeyStoreName (DESC-02)")
def filter_given(ctx: Context) -> bool:
    return "CustomKeyStoreId" in ctx.params or "CustomKeyStoreName" in ctx.params


@fact("the Describe filter matches a store (DESC-03)")
def filter_matches(ctx: Context) -> bool:
    return bool(matching_stores(ctx))


@fact("Describe passes a Marker (DESC-04)")
def marker_given(ctx: Context) -> bool:
    return "Marker" in ctx.params


@fact("the Marker is one this model issued as a NextMarker (DESC-04)")
def marker_valid(ctx: Context) -> bool:
    return parse_marker(ctx.params.get("Marker")) is not None


MARKER_PREFIX = "ckspec-after-"


def parse_marker(marker: object) -> int | None:
    if isinstance(marker, str) and marker.startswith(MARKER_PREFIX) and marker[len(MARKER_PREFIX):].isdigit():
        return int(marker[len(MARKER_PREFIX):])
    return None


def matching_stores(ctx: Context) -> tuple[KeyStore, ...]:
    p = ctx.params
    stores = ctx.world.stores
    if "CustomKeyStoreId" in p:
        wanted = ids.parse_store_id(p["CustomKeyStoreId"])
        return tuple(s for s in stores if s.store_id == wanted)
    if "CustomKeyStoreName" in p:
        return tuple(s for s in stores if s.name == p["CustomKeyStoreName"])
    return stores


def subject_state(ctx: Context, subject: str) -> str:
    """The state of an operation's subject: a store's ConnectionState or a key's own state."""
    if subject == "key":
        return ctx.key.state if ctx.key else ABSENT
    if subject == "store":
        return ctx.store.state.value if ctx.store else ABSENT
    return ABSENT
