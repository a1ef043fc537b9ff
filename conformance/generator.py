"""Drawing the next step with Hypothesis, from the worlds the model still allows.

The steps are grouped into *rules* (connect, update the password, a kmsuser event, let days
pass, ...). Each example enables a random subset of them (swarm testing, Groce et al.
2012; Hypothesis does the same for stateful rules), so that some examples spend all their
steps on, say, kmsuser and connections, and reach rare sequences such as a lockout or a
restore from backup. A rule is offered only when the target's capabilities cover it and it
has not answered "not implemented" for it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import attrs
from hypothesis import strategies as st

from ckspec.model import World
from ckspec.model import identifiers as ids
from ckspec.model.world import AVAILABILITY_ZONES

from .adapter import Capabilities
from .boundaries import forbidden_key_parameters, integer_boundaries, length_boundaries, store_names, within
from .steps import (DaysPassStep, EnvironmentStep, PaginateStep, Password, SettleStep, Step, WaitStep,
                    call)

NAMES = ("store-a", "store-b", "store-c")
#: case variants of NAMES and both sides of botocore's name length bounds (see :mod:`.boundaries`)
UNUSUAL_NAMES = store_names(NAMES)
#: the longest CustomKeyStoreName botocore's shape allows
MAX_NAME = max(length_boundaries("CreateCustomKeyStore", "CustomKeyStoreName")) - 1
#: both sides of every boundary (botocore's and the catalog's), see :mod:`.boundaries`
WINDOWS = integer_boundaries("ScheduleKeyDeletion", "PendingWindowInDays")
VALID_WINDOWS = tuple(v for v in WINDOWS if within("ScheduleKeyDeletion", "PendingWindowInDays", v))
INVALID_WINDOWS = tuple(v for v in WINDOWS if v not in VALID_WINDOWS)
LIMITS = integer_boundaries("DescribeCustomKeyStores", "Limit")
BYTE_COUNTS = integer_boundaries("GenerateRandom", "NumberOfBytes")
PASSWORD_LENGTHS = length_boundaries("CreateCustomKeyStore", "KeyStorePassword")
FORBIDDEN_KEY_PARAMETERS = forbidden_key_parameters()
_FORBIDDEN_MEMBERS = tuple(dict.fromkeys(m for m, _ in FORBIDDEN_KEY_PARAMETERS))
#: identifiers the model never issues (a missing store or key)
MISSING_STORE = ids.store_id(0xFFFFF)
MISSING_KEY = ids.key_id(0xFFFFF)
PLAINTEXT = b"ckspec plaintext"


class Draws:
    """Choices drawn from Hypothesis's choice sequence (so they shrink), read straight off the
    test case's ConjectureData (what Hypothesis's own strategies do: ``st.data().draw`` costs
    several times more per choice), with the public API as the fallback."""

    __slots__ = ("below", "boolean", "integer")

    def __init__(self, data: Any) -> None:
        raw = getattr(data, "conjecture_data", None)
        if raw is not None and hasattr(raw, "draw_integer") and hasattr(raw, "draw_boolean"):
            self.below = lambda n: raw.draw_integer(0, n - 1)
            self.boolean = lambda p=0.5: raw.draw_boolean(p)
            self.integer = lambda lo, hi: raw.draw_integer(lo, hi)
        else:
            self.below = lambda n: data.draw(st.integers(0, n - 1))
            self.boolean = lambda p=0.5: data.draw(st.booleans())
            self.integer = lambda lo, hi: data.draw(st.integers(lo, hi))


def pick(data: Draws, items: Any) -> Any:
    items = tuple(items)
    return items[0] if len(items) == 1 else items[data.below(len(items))]


@attrs.define
class Memory:
    """What an example has seen, beyond the current world: stores and keys that existed."""

    stores: list[str] = attrs.field(factory=list)
    keys: list[str] = attrs.field(factory=list)
    #: the rest of a rule's step sequence (connect, then settle)
    queue: list[Step] = attrs.field(factory=list)

    def note(self, world: World) -> None:
        for s in world.stores:
            sid = ids.store_id(s.store_id)
            if sid not in self.stores:
                self.stores.append(sid)
        for k in world.keys:
            kid = ids.key_id(k.key_id)
            if kid not in self.keys:
                self.keys.append(kid)


def _store(data: Any, world: World, memory: Memory) -> str:
    present = [ids.store_id(s.store_id) for s in world.stores]
    gone = [s for s in memory.stores if s not in present]
    return pick(data, present * 3 + gone + [MISSING_STORE])


def _key(data: Any, world: World, memory: Memory) -> str:
    present = [ids.key_id(k.key_id) for k in world.keys]
    gone = [k for k in memory.keys if k not in present]
    return pick(data, present * 3 + gone + [MISSING_KEY])


def _cluster(data: Any, world: World) -> str:
    return ids.cluster_id(pick(data, [c.cluster_id for c in world.clusters] or [0xFFFF]))


def _name(data: Any, session: Any) -> str:
    """Mostly the three usual names (so they collide: CREATE-03, UPDATE-06), one time in eight a
    case variant or a length on either side of botocore's bounds; never a valid name longer than
    the target can be sent (prefix isolation takes room from it: the name would be cut off)."""
    if data.below(8):
        return pick(data, NAMES)
    room = getattr(session.capabilities, "name_room", MAX_NAME)
    return pick(data, [n for n in UNUSUAL_NAMES if len(n) <= room or len(n) > MAX_NAME])


def _password(data: Any, aliases: tuple[int, ...]) -> Password:
    """A password alias; one time in eight of a length on either side of KU-04's 7-32 bounds."""
    alias = pick(data, aliases)
    return Password(alias) if data.below(8) else Password(alias, pick(data, PASSWORD_LENGTHS))


# --- the rules ---------------------------------------------------------------------------------------


def create_store(data, world, memory, session) -> Step:
    ready = [c for c in world.clusters if c.trust_anchor is not None] or list(world.clusters)
    if data.below(8) == 0:  # CREATE-05: any cluster, active or not
        ready = list(world.clusters) or ready
    cluster = pick(data, ready)
    anchor = cluster.trust_anchor or ids.trust_anchor(cluster.lineage)
    if data.below(8) == 0:  # CREATE-07: another lineage's certificate
        anchor = pick(data, [c.trust_anchor for c in ready if c.trust_anchor] or [anchor])
    return call("CreateCustomKeyStore", CustomKeyStoreName=_name(data, session),
                CloudHsmClusterId=ids.cluster_id(cluster.cluster_id), TrustAnchorCertificate=anchor,
                KeyStorePassword=_password(data, (0, 0, 1)))


_CLUSTER_CONTROLS = ("create_cluster", "create_hsm", "initialize_cluster", "activate_cluster")


def fill_quota(data, world, memory, session) -> tuple[Step, ...]:
    """CREATE-09, Q-01, Q-02, AMB-24: stores up to the quota, then one more. Each store needs a
    cluster of its own lineage (CREATE-06): free ACTIVE clusters are used first, then new ones
    are built (create, two HSMs in two AZs, initialise, activate: CREATE-08), the first of them
    also tried before its activation (CREATE-05). Late in an example (the queue would not fit
    in the steps left), without the cluster controls, and three times in four, an ordinary
    Create instead. The stores it made are deleted again at the end."""
    can_build = all(e in session.capabilities.generated_environment and e not in session.unsupported
                    for e in _CLUSTER_CONTROLS)
    used = {s.cluster_id for s in world.stores} | {c.cluster_id for c in world.clusters
                                                      if ids.trust_anchor(c.lineage) in {s.trust_anchor
                                                                                          for s in world.stores}}
    free = [c for c in world.clusters if c.cluster_id not in used and c.state.value == "ACTIVE" and c.trust_anchor]
    if len(world.stores) >= world.quota:  # full already: one more Create, refused
        cluster = (free or list(world.clusters))[0]
        return (call("CreateCustomKeyStore", CustomKeyStoreName=f"store-q{world.serial + 1}",
                     CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
                     TrustAnchorCertificate=cluster.trust_anchor or ids.trust_anchor(cluster.lineage),
                     KeyStorePassword=Password(0)),)
    if session.steps_run > 25 or not can_build or data.below(4):
        # late in an example, without cluster controls, or three times in four: an ordinary Create
        return create_store(data, world, memory, session)
    wanted = world.quota - len(world.stores) + 1  # the last one is refused (LimitExceededException)
    steps: list[Step] = []
    made: list[str] = []
    serial = world.serial
    for n in range(wanted):
        if free:
            cluster = free.pop(0)
            cid, anchor = ids.cluster_id(cluster.cluster_id), cluster.trust_anchor
        else:
            if not can_build:
                break
            cid = ids.cluster_id(serial + 1)
            anchor = ids.trust_anchor(serial + 1)
            steps += [EnvironmentStep("create_cluster", (2,)),
                      EnvironmentStep("create_hsm", (cid, AVAILABILITY_ZONES[0])),
                      EnvironmentStep("initialize_cluster", (cid,)),
                      EnvironmentStep("create_hsm", (cid, AVAILABILITY_ZONES[1]))]
            serial += 3
            if n == 0:  # CREATE-05: initialised, not yet active
                steps.append(call("CreateCustomKeyStore", CustomKeyStoreName=f"store-q{serial}", CloudHsmClusterId=cid,
                                  TrustAnchorCertificate=anchor, KeyStorePassword=Password(0)))
            steps.append(EnvironmentStep("activate_cluster", (cid,)))
        steps.append(call("CreateCustomKeyStore", CustomKeyStoreName=f"store-q{serial + 1}", CloudHsmClusterId=cid,
                          TrustAnchorCertificate=anchor, KeyStorePassword=Password(0)))
        serial += 1
        if n < wanted - 1:
            made.append(ids.store_id(serial))
    # then the stores it made go again (DELETE-01): ten stores in flight at once would make more
    # possible worlds than the checker keeps (2 ** 10 orders of completion)
    steps += [call("DeleteCustomKeyStore", CustomKeyStoreId=store) for store in made]
    return tuple(steps)


def connect(data, world, memory, session) -> Step:
    idle = [ids.store_id(s.store_id) for s in world.stores if s.state.value == "DISCONNECTED"]
    if idle and data.below(2):
        return call("ConnectCustomKeyStore", CustomKeyStoreId=pick(data, idle))
    return call("ConnectCustomKeyStore", CustomKeyStoreId=_store(data, world, memory))


def connect_and_settle(data, world, memory, session) -> tuple[Step, ...]:
    return (connect(data, world, memory, session), SettleStep())


def connect_with_key(data, world, memory, session) -> tuple[Step, ...]:
    step = connect(data, world, memory, session)
    store = step.kwargs["CustomKeyStoreId"]
    key = call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")
    if data.below(2):  # KEY-05, AMB-19: a forbidden key where only the ban can refuse it (a CONNECTED store)
        return (step, SettleStep(), _forbidden_key(data, store), key)
    return (step, SettleStep(), key)


def disconnect_and_settle(data, world, memory, session) -> tuple[Step, ...]:
    return (disconnect(data, world, memory, session), SettleStep())


def disconnect(data, world, memory, session) -> Step:
    busy = [ids.store_id(s.store_id) for s in world.stores if s.state.value in ("CONNECTED", "FAILED")]
    if busy and data.below(2):
        return call("DisconnectCustomKeyStore", CustomKeyStoreId=pick(data, busy))
    return call("DisconnectCustomKeyStore", CustomKeyStoreId=_store(data, world, memory))


def delete_store(data, world, memory, session) -> Step:
    idle = [ids.store_id(s.store_id) for s in world.stores if s.state.value == "DISCONNECTED"]
    if idle and data.below(2):
        return call("DeleteCustomKeyStore", CustomKeyStoreId=pick(data, idle))
    return call("DeleteCustomKeyStore", CustomKeyStoreId=_store(data, world, memory))


def update_name(data, world, memory, session) -> Step:
    return call("UpdateCustomKeyStore", CustomKeyStoreId=_store(data, world, memory),
                NewCustomKeyStoreName=_name(data, session))


def update_password(data, world, memory, session) -> Step:
    return call("UpdateCustomKeyStore", CustomKeyStoreId=_store(data, world, memory),
                KeyStorePassword=_password(data, (0, 1, 2)))


def update_combined(data, world, memory, session) -> Step:
    """An Update that sets two or three fields at once (UPDATE-01, UPDATE-03, AMB-15: nothing
    changes if any part is refused)."""
    fields = {"NewCustomKeyStoreName": lambda: _name(data, session),
              "KeyStorePassword": lambda: _password(data, (0, 1, 2)), "CloudHsmClusterId": lambda: _cluster(data, world)}
    chosen = pick(data, (("NewCustomKeyStoreName", "KeyStorePassword"), ("NewCustomKeyStoreName", "CloudHsmClusterId"),
                         ("KeyStorePassword", "CloudHsmClusterId"), tuple(fields)))
    return call("UpdateCustomKeyStore", CustomKeyStoreId=_store(data, world, memory),
                **{name: fields[name]() for name in chosen})


def update_cluster(data, world, memory, session) -> Step:
    return call("UpdateCustomKeyStore", CustomKeyStoreId=_store(data, world, memory),
                CloudHsmClusterId=_cluster(data, world))


def describe(data, world, memory, session) -> Step:
    how = data.below(4)
    if how == 0:
        return call("DescribeCustomKeyStores")
    if how == 1:
        return call("DescribeCustomKeyStores", CustomKeyStoreId=_store(data, world, memory))
    if how == 3:  # DESC-04, AMB-18: Limit on either side of 1 and 1000
        return call("DescribeCustomKeyStores", Limit=pick(data, LIMITS))
    return call("DescribeCustomKeyStores", CustomKeyStoreName=_name(data, session))


def paginate(data, world, memory, session) -> Step:
    return PaginateStep(pick(data, (1, 2)))


def create_key_connected(data, world, memory, session) -> Step:
    ready = [ids.store_id(s.store_id) for s in world.stores if s.state.value == "CONNECTED"]
    if data.below(4) == 0:  # KEY-01: the allowed values, spelt out
        return call("CreateKey", CustomKeyStoreId=pick(data, ready), Origin="AWS_CLOUDHSM", KeySpec="SYMMETRIC_DEFAULT",
                    KeyUsage="ENCRYPT_DECRYPT", MultiRegion=False)
    return call("CreateKey", CustomKeyStoreId=pick(data, ready), Origin="AWS_CLOUDHSM")


def create_key(data, world, memory, session) -> Step:
    return call("CreateKey", CustomKeyStoreId=_store(data, world, memory), Origin="AWS_CLOUDHSM")


def random_bytes(data, world, memory, session) -> Step:
    """GenerateRandom from a store, often one that does not exist (RAND-03) or is not CONNECTED
    (RAND-02)."""
    return call("GenerateRandom", CustomKeyStoreId=_store(data, world, memory), NumberOfBytes=_byte_count(data))


def _byte_count(data: Any) -> int:
    """16 bytes, or one time in three a count on either side of 1 and 1024 (RAND-01, AMB-18)."""
    return 16 if data.below(3) else pick(data, BYTE_COUNTS)


def describe_key(data, world, memory, session) -> Step:
    return call("DescribeKey", KeyId=_key(data, world, memory))


def key_state(data, world, memory, session) -> Step:
    return call(pick(data, ("EnableKey", "DisableKey")), KeyId=_key(data, world, memory))


def key_deletion(data, world, memory, session) -> Step:
    key = _key(data, world, memory)
    if data.below(2):
        return call("CancelKeyDeletion", KeyId=key)
    how = data.below(4)
    if how == 0:  # DK-01: the default window (30 days)
        return call("ScheduleKeyDeletion", KeyId=key)
    window = pick(data, VALID_WINDOWS) if how < 3 else data.integer(VALID_WINDOWS[0], VALID_WINDOWS[-1])
    return call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=window)


def crypto(data, world, memory, session) -> Step:
    how = data.below(3)
    if how == 1 and session.ciphertexts:
        return call("Decrypt", CiphertextBlob=pick(data, session.ciphertexts))
    if how == 2:
        return call("GenerateRandom", CustomKeyStoreId=_store(data, world, memory), NumberOfBytes=_byte_count(data))
    return call("Encrypt", KeyId=_key(data, world, memory), Plaintext=PLAINTEXT)


#: the operations of each kind of probe (a probe is drawn only among those the target can take)
_PROBE_OPERATIONS = (("DescribeCustomKeyStores",), ("DescribeCustomKeyStores",), ("CreateKey",),
                     ("ScheduleKeyDeletion",), ("EnableKeyRotation", "GetKeyRotationStatus"),
                     ("GenerateDataKeyPair",), ("GenerateDataKey", "GenerateDataKeyWithoutPlaintext"),
                     ("CreateCustomKeyStore",))


def _usable(session: Any, operation: str) -> bool:
    return operation in session.capabilities.operations and operation not in session.unsupported


def probe(data, world, memory, session) -> Step:
    """Requests the documentation answers with an error whatever the state: malformed or
    forbidden ones (AMB-18, CREATE-01, DESC-02, AMB-17, DESC-04, KEY-05, AMB-19, AMB-36, KS-09,
    CRYPTO-06, AMB-23), and a cluster that does not exist (CREATE-04). Only the kinds whose
    operations the target takes are drawn (a target without custom key stores still gets the
    key probes)."""
    kinds = [i for i, ops in enumerate(_PROBE_OPERATIONS) if any(_usable(session, op) for op in ops)]
    how = kinds[data.below(len(kinds))] if kinds else 0
    store, key = _store(data, world, memory), _key(data, world, memory)
    if how == 0:
        return call("DescribeCustomKeyStores", CustomKeyStoreId=store, CustomKeyStoreName=_name(data, session))
    if how == 1:
        return call("DescribeCustomKeyStores", Marker="not-a-marker-we-issued")
    if how == 2:
        return _forbidden_key(data, store)
    if how == 3:  # AMB-36 (outside 7-30), AMB-18 (outside botocore's 1-365)
        return call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=pick(data, INVALID_WINDOWS))
    if how == 4:
        usable = [op for op in _PROBE_OPERATIONS[4] if _usable(session, op)]
        return call(pick(data, usable or _PROBE_OPERATIONS[4]), KeyId=key)
    if how == 5:
        return call("GenerateDataKeyPair", KeyId=key, KeyPairSpec="RSA_2048")
    if how == 6:
        usable = [op for op in _PROBE_OPERATIONS[6] if _usable(session, op)]
        return call(pick(data, usable or _PROBE_OPERATIONS[6]), KeyId=key, KeySpec="AES_256")
    cluster = pick(data, [c for c in world.clusters if c.trust_anchor] or list(world.clusters))
    if data.boolean():  # CREATE-01, AMB-18: no password
        return call("CreateCustomKeyStore", CustomKeyStoreName=_name(data, session),
                    CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
                    TrustAnchorCertificate=cluster.trust_anchor or ids.trust_anchor(cluster.lineage))
    return call("CreateCustomKeyStore", CustomKeyStoreName=_name(data, session),
                CloudHsmClusterId=ids.cluster_id(0x7FFF),
                TrustAnchorCertificate=cluster.trust_anchor or ids.trust_anchor(cluster.lineage),
                KeyStorePassword=Password(0))


def _forbidden_key(data: Any, store: str) -> Step:
    """CreateKey with one value a CloudHSM key store key may not have, on its own (KEY-01, KEY-05,
    AMB-19): another KeySpec, KeyUsage or CustomerMasterKeySpec, MultiRegion=true, or another
    Origin with the store's ID; one time in eight two of them at once."""
    params: dict[str, Any] = {"CustomKeyStoreId": store, "Origin": "AWS_CLOUDHSM"}
    for _ in range(1 if data.below(8) else 2):  # the member first, so MultiRegion is not one in 39
        member = pick(data, _FORBIDDEN_MEMBERS)
        params[member] = pick(data, [v for m, v in FORBIDDEN_KEY_PARAMETERS if m == member])
    return call("CreateKey", **params)


def _controls(session: Any, *events: str) -> bool:
    return all(e in session.capabilities.generated_environment and e not in session.unsupported for e in events)


def trouble(data, world, memory, session) -> tuple[Step, ...]:
    """Short sequences that reach the states random steps rarely combine: a CONNECTED store whose
    cluster loses its HSMs, then GenerateRandom and Encrypt there (AMB-33, CRYPTO-02, TR-08); a
    key whose backing key is deleted, then DescribeKey and Encrypt (AMB-13, KS-10); a network
    fault under a CONNECTED store, then Encrypt (CRYPTO-03, AMB-21); a connection attempt whose
    cluster loses its HSMs before it ends (CEC-02, AMB-09, AMB-10); a store moved to a cluster
    restored from a backup of its own (CL-05, UPDATE-07, CEC-11). Only those whose
    environment controls and operations the target takes are drawn."""
    connected = [s for s in world.stores if s.state.value == "CONNECTED"]
    idle = [s for s in world.stores if s.state.value == "DISCONNECTED"]
    options = []
    if connected and _controls(session, "delete_hsm") and _usable(session, "GenerateRandom"):
        options.append("hsms gone")
    if connected and world.keys and _controls(session, "delete_key_material") and _usable(session, "DescribeKey"):
        options.append("material gone")
    if connected and world.keys and _controls(session, "network_fault_begins", "network_fault_ends") \
            and _usable(session, "Encrypt"):
        options.append("network fault")
    if idle and _controls(session, "delete_hsm") and _usable(session, "ConnectCustomKeyStore"):
        options.append("connect without hsms")
    if world.stores and _controls(session, "backup_cluster", "restore_backup", "create_hsm", "activate_cluster") \
            and _usable(session, "UpdateCustomKeyStore"):
        options.append("restored cluster")
    if not options:
        return (WaitStep(1.0),)
    how = pick(data, options)
    if how == "restored cluster":  # CL-05, UPDATE-07, CEC-11: move a store to its cluster's restored copy
        store = pick(data, world.stores)
        cid = ids.cluster_id(store.cluster_id)
        backup, copy = ids.backup_id(world.serial + 1), ids.cluster_id(world.serial + 2)
        return (EnvironmentStep("backup_cluster", (cid,)), EnvironmentStep("restore_backup", (backup,)),
                EnvironmentStep("create_hsm", (copy, AVAILABILITY_ZONES[0])),
                EnvironmentStep("create_hsm", (copy, AVAILABILITY_ZONES[1])),
                EnvironmentStep("activate_cluster", (copy,)),
                call("UpdateCustomKeyStore", CustomKeyStoreId=ids.store_id(store.store_id), CloudHsmClusterId=copy))
    if how == "network fault":
        key = pick(data, [k for k in world.keys if k.store_id in {s.store_id for s in connected}] or world.keys)
        return (EnvironmentStep("network_fault_begins"), call("Encrypt", KeyId=ids.key_id(key.key_id), Plaintext=PLAINTEXT),
                EnvironmentStep("network_fault_ends"))
    if how == "material gone":
        key = pick(data, world.keys)
        store = world.store(key.store_id)
        cluster = world.cluster(store.cluster_id) if store else None
        if cluster is None:
            return (call("DescribeKey", KeyId=ids.key_id(key.key_id)),)
        return (EnvironmentStep("delete_key_material", (ids.cluster_id(cluster.cluster_id), ids.key_id(key.key_id))),
                call("DescribeKey", KeyId=ids.key_id(key.key_id)),
                call("Encrypt", KeyId=ids.key_id(key.key_id), Plaintext=PLAINTEXT))
    store = pick(data, connected if how == "hsms gone" else idle)
    cluster = world.cluster(store.cluster_id)
    sid = ids.store_id(store.store_id)
    gone = tuple(EnvironmentStep("delete_hsm", (ids.cluster_id(cluster.cluster_id), ids.hsm_id(h.hsm_id)))
                 for h in (cluster.hsms if cluster else ()))
    if how == "hsms gone":
        keys = [k for k in world.keys if k.store_id == store.store_id]
        crypto = (call("Encrypt", KeyId=ids.key_id(keys[0].key_id), Plaintext=PLAINTEXT),) if keys else ()
        return (*gone, call("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=16), *crypto)
    # the HSMs go while the attempt is under way (before it, the reference refuses the Connect at once)
    return (call("ConnectCustomKeyStore", CustomKeyStoreId=sid), *gone, SettleStep())


def _environment(*events: str, grouped: tuple[str, ...] = ()) -> tuple[Callable[..., Step], frozenset[str],
                                                                     frozenset[str]]:
    """A rule drawing one of ``events`` (and its arguments); the ``grouped`` events count as one
    choice among the others, so adding them leaves the others' odds nearly as they were."""
    def draw(data, world, memory, session) -> Step:
        used = {s.cluster_id for s in world.stores}
        clusters = [c for c in world.clusters if c.cluster_id in used] * 3 + list(world.clusters)
        focus = pick(data, clusters).cluster_id if clusters else None
        options = [(e, a) for e in (*events, *grouped)
                   if e in session.capabilities.generated_environment and e not in session.unsupported
                   for a in _arguments(e, world) if not a or not isinstance(a[0], str)
                   or not a[0].startswith("cluster-") or ids.parse_cluster_id(a[0]) == focus]
        if not options:
            return WaitStep(1.0)
        offered = {e for e, _ in options}
        choices = sorted(offered - set(grouped)) + ([_GROUP] if offered & set(grouped) else [])
        event = pick(data, choices)
        if event == _GROUP:
            event = pick(data, sorted(offered & set(grouped)))
        return EnvironmentStep(event, pick(data, [a for e, a in options if e == event]))
    return draw, frozenset(), frozenset((*events, *grouped))


#: the choice that stands for a rule's grouped events
_GROUP = "~grouped"


_cluster_id = functools.lru_cache(maxsize=4096)(ids.cluster_id)


def _arguments(event: str, world: World) -> list[tuple[Any, ...]]:
    clusters = world.clusters
    cid = _cluster_id
    if event == "create_cluster":
        return [(2,)] if len(clusters) < 5 else []
    if event in ("create_hsm", "delete_subnet", "exhaust_subnet", "free_subnet"):
        return [(cid(c.cluster_id), z) for c in clusters for z in AVAILABILITY_ZONES[:2]]
    if event == "delete_hsm":
        return [(cid(c.cluster_id), ids.hsm_id(h.hsm_id)) for c in clusters for h in c.hsms]
    if event == "restore_backup":  # a quota fill (fill_quota) may have built up to eight more clusters
        return [(ids.backup_id(b.backup_id),) for b in world.backups] if len(clusters) < 13 else []
    if event in ("create_kmsuser", "change_kmsuser_password"):
        return [(cid(c.cluster_id), Password(p)) for c in clusters for p in (0, 1, 2)]
    if event in ("create_kmsuser_missing_hsm", "change_kmsuser_password_misses_hsm"):  # KU-11, KU-12
        return [(cid(c.cluster_id), ids.hsm_id(h.hsm_id), Password(p)) for c in clusters for h in c.hsms
                for p in (0, 1, 2)]
    if event == "create_hsm_from_older_backup":  # KU-12
        return [(cid(c.cluster_id), z) for c in clusters for z in AVAILABILITY_ZONES[:2]]
    if event == "sync_kmsuser":  # KU-13
        return [(cid(c.cluster_id), ids.hsm_id(h.hsm_id)) for c in clusters for h in c.hsms if h.own_kmsuser is not None]
    if event == "delete_key_material":
        return [(cid(c.cluster_id), ids.key_id(k)) for c in clusters for k in sorted(c.key_material)]
    if event in ("network_fault_begins", "network_fault_ends", "internal_fault_begins", "internal_fault_ends"):
        return [()]
    return [(cid(c.cluster_id),) for c in clusters]


def wait(data, world, memory, session) -> Step:
    return WaitStep(pick(data, (0.5, 1.0, 2.0)))


def settle(data, world, memory, session) -> Step:
    return SettleStep()


def days_pass(data, world, memory, session) -> Step:
    return DaysPassStep(31)


@attrs.frozen
class Rule:
    name: str
    draw: Callable[..., Step]
    #: KMS operations the rule's steps call
    operations: frozenset[str] = frozenset()
    #: environment controls the rule's steps use (one of them is enough)
    events: frozenset[str] = frozenset()
    #: the rule needs a clock that can jump days
    time_travel: bool = False
    #: the rule is offered when the target takes any of its operations (its draw picks among
    #: those), not only when it takes all of them
    any_operation: bool = False
    weight: int = 1
    #: a precondition on the current world (see :func:`world_flags`): "store" (one exists),
    #: "connected", "key", "async" (work or a lagging read is pending), "deletion" (a key is
    #: pending deletion); "" for none
    needs: str = ""

    def ready(self, flags: frozenset[str]) -> bool:
        return not self.needs or self.needs in flags


def world_flags(world: World) -> frozenset[str]:
    """Which rule preconditions hold in ``world`` (computed once per step)."""
    flags = set()
    if world.stores:
        flags.add("store")
        states = {s.state.value for s in world.stores}
        if "CONNECTED" in states:
            flags.add("connected")
        # while KMS fails internally, reads cannot show progress (CEC-04): no polling then
        if not world.internal_fault and (states & {"CONNECTING", "DISCONNECTING"}
                                         or any(s.lag is not None for s in world.stores)):
            flags.add("async")
    if world.keys:
        flags.add("key")
        if any(k.state == "PendingDeletion" for k in world.keys):
            flags.add("deletion")
    return frozenset(flags)


def _ops(*names: str) -> frozenset[str]:
    return frozenset(names)


RULES: tuple[Rule, ...] = (
    Rule("create_store", create_store, _ops("CreateCustomKeyStore"), weight=2),
    Rule("connect", connect, _ops("ConnectCustomKeyStore"), weight=3, needs="store"),
    Rule("connect_and_settle", connect_and_settle, _ops("ConnectCustomKeyStore", "DescribeCustomKeyStores"),
         weight=3, needs="store"),
    Rule("connect_with_key", connect_with_key, _ops("ConnectCustomKeyStore", "DescribeCustomKeyStores", "CreateKey"),
         weight=2, needs="store"),
    Rule("disconnect_and_settle", disconnect_and_settle,
         _ops("DisconnectCustomKeyStore", "DescribeCustomKeyStores"), weight=2, needs="store"),
    Rule("disconnect", disconnect, _ops("DisconnectCustomKeyStore"), weight=2, needs="store"),
    Rule("delete_store", delete_store, _ops("DeleteCustomKeyStore"), needs="store"),
    Rule("update_name", update_name, _ops("UpdateCustomKeyStore"), needs="store"),
    Rule("update_password", update_password, _ops("UpdateCustomKeyStore"), needs="store"),
    Rule("update_cluster", update_cluster, _ops("UpdateCustomKeyStore"), needs="store"),
    Rule("update_combined", update_combined, _ops("UpdateCustomKeyStore"), needs="store"),
    Rule("fill_quota", fill_quota, _ops("CreateCustomKeyStore"), events=frozenset(_CLUSTER_CONTROLS), needs="store"),
    Rule("describe", describe, _ops("DescribeCustomKeyStores"), weight=2),
    Rule("paginate", paginate, _ops("DescribeCustomKeyStores"), needs="store"),
    # no precondition: without a store, CreateKey names one that does not exist (KEY-04)
    Rule("create_key", create_key, _ops("CreateKey")),
    Rule("create_key_connected", create_key_connected, _ops("CreateKey"), weight=3, needs="connected"),
    Rule("describe_key", describe_key, _ops("DescribeKey"), weight=3, needs="key"),
    Rule("key_state", key_state, _ops("EnableKey", "DisableKey"), needs="key"),
    Rule("key_deletion", key_deletion, _ops("ScheduleKeyDeletion", "CancelKeyDeletion"), needs="key"),
    Rule("crypto", crypto, _ops("Encrypt", "Decrypt", "GenerateRandom"), needs="key"),
    Rule("probe", probe, _ops("DescribeCustomKeyStores", "CreateKey", "ScheduleKeyDeletion", "EnableKeyRotation",
                              "GetKeyRotationStatus", "GenerateDataKeyPair", "GenerateDataKey",
                              "GenerateDataKeyWithoutPlaintext", "CreateCustomKeyStore"), any_operation=True),
    Rule("hsms", *_environment("create_hsm", "delete_hsm"), weight=2),
    Rule("clusters", *_environment("create_cluster", "initialize_cluster", "activate_cluster", "delete_cluster",
                                  "backup_cluster", "restore_backup")),
    Rule("kmsuser", *_environment("kmsuser_logs_in", "kmsuser_logs_out", "change_kmsuser_password",
                                 "kmsuser_locked_out", "kmsuser_enables_2fa", "delete_kmsuser", "create_kmsuser",
                                 "delete_key_material",
                                 # KU-11 to KU-13: kmsuser on each HSM, one choice among the others
                                 grouped=("create_kmsuser_missing_hsm", "create_hsm_from_older_backup",
                                          "change_kmsuser_password_misses_hsm", "sync_kmsuser"))),
    Rule("network", *_environment("delete_subnet", "exhaust_subnet", "free_subnet", "break_security_group",
                                 "repair_security_group", "sessions_exhausted", "sessions_freed",
                                 "network_fault_begins", "network_fault_ends", "internal_fault_begins",
                                 "internal_fault_ends")),
    Rule("wait", wait, needs="async"),
    Rule("settle", settle, _ops("DescribeCustomKeyStores"), weight=12, needs="async"),
    Rule("days_pass", days_pass, time_travel=True, needs="deletion"),
    Rule("random_bytes", random_bytes, _ops("GenerateRandom")),
    Rule("trouble", trouble, events=frozenset({"delete_hsm", "delete_key_material", "network_fault_begins",
                                               "restore_backup"}),
         needs="store"),
)


_CREATE = RULES[0]
_SETTLE = next(r for r in RULES if r.name == "settle")


def available_rules(capabilities: Capabilities, unsupported: dict[str, str]) -> list[Rule]:
    """The rules a target can take: its capabilities, minus what it answered "not implemented"."""
    ops = capabilities.operations - set(unsupported)
    events = capabilities.generated_environment - set(unsupported)
    return [r for r in RULES
            if (r.operations & ops if r.any_operation else r.operations <= ops)
            and (capabilities.time_travel or not r.time_travel)
            and (not r.events or r.events & events)]


def swarm(data: Any, rules: list[Rule]) -> list[Rule]:
    """This example's enabled rules: each rule is switched off with probability 1/2 (a draw that
    shrinks to 'on'); at least one stays on. Weighted by repetition."""
    enabled = [r for r in rules if not data.boolean()] or rules
    return [r for r in enabled for _ in range(r.weight)]


def draw_step(data: Any, rules: list[Rule], session: Any, memory: Memory) -> Step:
    """The next step: the rest of the last rule's sequence, else a rule among the enabled ones
    whose precondition holds (CreateCustomKeyStore when none does), and its arguments."""
    world = session.world
    flags = world_flags(world)
    while memory.queue:
        step = memory.queue.pop(0)
        if not isinstance(step, SettleStep) or _SETTLE.ready(flags):
            return step
    ready = [r for r in rules if r.ready(flags)]
    if (not world.stores or not ready) and "CreateCustomKeyStore" in session.capabilities.operations \
            and "CreateCustomKeyStore" not in session.unsupported:
        ready += [_CREATE] * 4  # nothing much to do without a store: always offer to create one
    if not ready:
        return WaitStep(1.0)
    drawn = pick(data, ready).draw(data, world, memory, session)
    if isinstance(drawn, tuple):
        memory.queue.extend(drawn[1:])
        return drawn[0]
    return drawn

