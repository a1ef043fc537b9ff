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
from .steps import (DaysPassStep, EnvironmentStep, PaginateStep, Password, SettleStep, Step, WaitStep,
                    call)

NAMES = ("store-a", "store-b", "store-c")
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


# --- the rules ---------------------------------------------------------------------------------------


def create_store(data, world, memory, session) -> Step:
    ready = [c for c in world.clusters if c.trust_anchor is not None] or list(world.clusters)
    cluster = pick(data, ready)
    anchor = cluster.trust_anchor or ids.trust_anchor(cluster.lineage)
    if data.below(8) == 0:  # CREATE-07: another lineage's certificate
        anchor = pick(data, [c.trust_anchor for c in ready if c.trust_anchor])
    return call("CreateCustomKeyStore", CustomKeyStoreName=pick(data, NAMES),
                CloudHsmClusterId=ids.cluster_id(cluster.cluster_id), TrustAnchorCertificate=anchor,
                KeyStorePassword=Password(pick(data, (0, 0, 1))))


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
    return (step, SettleStep(), call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM"))


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
                NewCustomKeyStoreName=pick(data, NAMES))


def update_password(data, world, memory, session) -> Step:
    return call("UpdateCustomKeyStore", CustomKeyStoreId=_store(data, world, memory),
                KeyStorePassword=Password(pick(data, (0, 1, 2))))


def update_cluster(data, world, memory, session) -> Step:
    return call("UpdateCustomKeyStore", CustomKeyStoreId=_store(data, world, memory),
                CloudHsmClusterId=_cluster(data, world))


def describe(data, world, memory, session) -> Step:
    how = data.below(3)
    if how == 0:
        return call("DescribeCustomKeyStores")
    if how == 1:
        return call("DescribeCustomKeyStores", CustomKeyStoreId=_store(data, world, memory))
    return call("DescribeCustomKeyStores", CustomKeyStoreName=pick(data, NAMES))


def paginate(data, world, memory, session) -> Step:
    return PaginateStep(pick(data, (1, 2)))


def create_key_connected(data, world, memory, session) -> Step:
    ready = [ids.store_id(s.store_id) for s in world.stores if s.state.value == "CONNECTED"]
    return call("CreateKey", CustomKeyStoreId=pick(data, ready), Origin="AWS_CLOUDHSM")


def create_key(data, world, memory, session) -> Step:
    return call("CreateKey", CustomKeyStoreId=_store(data, world, memory), Origin="AWS_CLOUDHSM")


def random_bytes(data, world, memory, session) -> Step:
    """GenerateRandom from a store, often one that does not exist (RAND-03) or is not CONNECTED
    (RAND-02)."""
    return call("GenerateRandom", CustomKeyStoreId=_store(data, world, memory), NumberOfBytes=16)


def describe_key(data, world, memory, session) -> Step:
    return call("DescribeKey", KeyId=_key(data, world, memory))


def key_state(data, world, memory, session) -> Step:
    return call(pick(data, ("EnableKey", "DisableKey")), KeyId=_key(data, world, memory))


def key_deletion(data, world, memory, session) -> Step:
    key = _key(data, world, memory)
    if data.below(2):
        return call("CancelKeyDeletion", KeyId=key)
    return call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=pick(data, (7, 30)))


def crypto(data, world, memory, session) -> Step:
    how = data.below(3)
    if how == 1 and session.ciphertexts:
        return call("Decrypt", CiphertextBlob=pick(data, session.ciphertexts))
    if how == 2:
        return call("GenerateRandom", CustomKeyStoreId=_store(data, world, memory), NumberOfBytes=16)
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
        return call("DescribeCustomKeyStores", CustomKeyStoreId=store, CustomKeyStoreName=pick(data, NAMES))
    if how == 1:
        return call("DescribeCustomKeyStores", Marker="not-a-marker-we-issued")
    if how == 2:
        return call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM", KeySpec="RSA_2048",
                    KeyUsage="SIGN_VERIFY")
    if how == 3:
        return call("ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=pick(data, (5, 31)))
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
        return call("CreateCustomKeyStore", CustomKeyStoreName=pick(data, NAMES),
                    CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
                    TrustAnchorCertificate=cluster.trust_anchor or ids.trust_anchor(cluster.lineage))
    return call("CreateCustomKeyStore", CustomKeyStoreName=pick(data, NAMES),
                CloudHsmClusterId=ids.cluster_id(0x7FFF),
                TrustAnchorCertificate=cluster.trust_anchor or ids.trust_anchor(cluster.lineage),
                KeyStorePassword=Password(0))


def _environment(*events: str) -> tuple[Callable[..., Step], frozenset[str], frozenset[str]]:
    def draw(data, world, memory, session) -> Step:
        used = {s.cluster_id for s in world.stores}
        clusters = [c for c in world.clusters if c.cluster_id in used] * 3 + list(world.clusters)
        focus = pick(data, clusters).cluster_id if clusters else None
        options = [(e, a) for e in events if e in session.capabilities.generated_environment and e not in session.unsupported
                   for a in _arguments(e, world) if not a or not isinstance(a[0], str)
                   or not a[0].startswith("cluster-") or ids.parse_cluster_id(a[0]) == focus]
        if not options:
            return WaitStep(1.0)
        event = pick(data, sorted({e for e, _ in options}))
        return EnvironmentStep(event, pick(data, [a for e, a in options if e == event]))
    return draw, frozenset(), frozenset(events)


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
    if event == "restore_backup":
        return [(ids.backup_id(b.backup_id),) for b in world.backups] if len(clusters) < 5 else []
    if event in ("create_kmsuser", "change_kmsuser_password"):
        return [(cid(c.cluster_id), Password(p)) for c in clusters for p in (0, 1, 2)]
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
                                 "delete_key_material")),
    Rule("network", *_environment("delete_subnet", "exhaust_subnet", "free_subnet", "break_security_group",
                                 "repair_security_group", "sessions_exhausted", "sessions_freed",
                                 "network_fault_begins", "network_fault_ends", "internal_fault_begins",
                                 "internal_fault_ends")),
    Rule("wait", wait, needs="async"),
    Rule("settle", settle, _ops("DescribeCustomKeyStores"), weight=12, needs="async"),
    Rule("days_pass", days_pass, time_travel=True, needs="deletion"),
    Rule("random_bytes", random_bytes, _ops("GenerateRandom")),
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

