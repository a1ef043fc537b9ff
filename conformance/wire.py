"""The boto3 adapter: any AWS-compatible endpoint, over the real wire protocol, with the real SDK.

:class:`BotoTarget` sends every KMS operation through a boto3 client with retries and
client-side parameter validation off, so what is tested is the server's own behaviour,
validation included. It drives the environment with what the target offers, in this order:

1. the CloudHSM v2 API (``CreateCluster``, ``CreateHsm``, ``InitializeCluster``, ``DeleteHsm``,
   ``DeleteCluster``; restoring a backup is ``CreateCluster`` with ``SourceBackupId``), when the
   target answers ``DescribeClusters``. Subnets come from EC2 when the target has it, and are
   made-up IDs otherwise (an emulator without EC2 takes them as given);
2. the test-control extension (:mod:`ckspec.conformance.control`) for every event AWS has no
   API for (kmsuser logs in, a subnet fills up, a network fault, letting time pass);
3. for a set-up control nothing else performs (activating a cluster and creating kmsuser
   happen in the CloudHSM CLI, not in an API; and an emulator may lack CloudHSM v2, or answer
   ``CreateHsm`` as not implemented), a *thin fake* while the starting account is built: the
   control is reported as applied, with a made-up cluster ID, HSM ID or trust anchor where it
   creates one, and the target is trusted to behave as if it had happened. Afterwards a fake
   is answered as not implemented, so it is never a generated step (a fake cannot know when
   AWS would refuse, say, a second activation); :attr:`BotoTarget.faked` counts the fakes,
   and a cluster with made-up HSMs is never deleted (CL-07). A target without CloudHSM v2 or
   test-control therefore gets only the KMS side of the lifecycle tested.

An answer in one of the "not implemented" signatures, to a KMS call or to an environment
control, is reported as unsupported (:func:`ckspec.conformance.adapter.unsupported_signature`);
an ambiguous one (an HTML 500) only once it repeats (:class:`~.transport.NotImplementedEvidence`).
A spoiled answer (a reset or closed connection, a read timeout, a cut or garbled body, an
undocumented 5xx, throttling) raises :class:`~.transport.TransportFault`, after bounded retries
of a read-only or throttled call; every fault is kept in :attr:`BotoTarget.faults`.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import boto3
import botocore.exceptions
import botocore.parsers
import botocore.session
from botocore import xform_name
from botocore.config import Config
from ckspec.model.environment import EVENTS
from ckspec.model.transitions import CALLS
from ckspec.model.world import AVAILABILITY_ZONES

from .adapter import (
    SETUP_CONTROLS,
    Capabilities,
    EnvironmentReply,
    Reply,
    Target,
    TargetUnreachable,
    unsupported_signature,
)
from .checker import Inconclusive
from .control import PREFIX, ControlClient, ControlInfo
from .credentials import placeholder_anchor, sign_cluster_csr
from .isolation import MAX_NAME_LENGTH, QUOTA, Isolation, NamePrefix, foreign_stores, next_prefix, post_reset, remove
from .session import setup_steps
from .transport import ATTEMPTS, FaultRecord, NotImplementedEvidence, TransportFault, before_parse_hook, \
    before_parse_hook_xml, classify_exception, is_read_only

#: Environment controls the CloudHSM v2 API performs.
CLOUDHSM_EVENTS = frozenset({"create_cluster", "create_hsm", "initialize_cluster", "delete_hsm", "delete_cluster",
                             "restore_backup"})
#: Answers that mean the target cannot be reached at all.
UNREACHABLE_ERRORS = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)
#: What botocore raises for an answer it cannot read as the service's.
NOT_AN_ANSWER = (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError, NotImplementedError)
HSM_TYPE = "hsm1.medium"
_LETTERS = str.maketrans("0123456789", "abcdefghij")
#: made-up identifiers are unique in the process: a target without a reset keeps every
#: example's fakes, and a second "cluster-fakeaaaaaab" would be a cluster in use (CREATE-06)
_FAKE_SERIALS = itertools.count(1)


#: the response header in which ``ckspec serve`` names the rules behind an answer
RULES_HEADER = "x-ckspec-rules"


def cited_rules(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    """The rule IDs a response's ``x-ckspec-rules`` header cites (none from other services)."""
    headers = metadata.get("HTTPHeaders") or {}
    value = next((v for k, v in headers.items() if k.lower() == RULES_HEADER), "")
    return tuple(r.strip() for r in str(value).split(",") if r.strip())


class BotoTarget(Target):
    """A target reached with boto3. ``endpoint_url=None`` means boto3's own resolution (real
    AWS, or an in-process mock such as moto's). ``credentials`` is ``(key_id, secret)`` or
    ``(key_id, secret, token)``; None uses boto3's usual chain, falling back to placeholder
    credentials for a local endpoint. ``sleep`` is how time passes when the target offers no
    test-control ``/wait`` (``time.sleep``; an in-process mock may pass a no-op). ``isolated``
    ignores endpoints configured in the environment (``AWS_ENDPOINT_URL``): an in-process
    mock's requests go nowhere else."""

    name = "boto3"

    def __init__(self, seed: int = 0, *, endpoint_url: str | None = None, region: str = "us-east-1",
                 credentials: tuple[str, ...] | None = None, profile: str | None = None,
                 control: bool = True, reset: bool = True, timeout: float = 15.0,
                 sleep: Callable[[float], None] = time.sleep, name: str | None = None,
                 isolated: bool = False, reset_url: str | None = None,
                 isolation: Isolation | None = None, html_500_is_not_implemented: bool = False) -> None:
        self.name = name or endpoint_url or "boto3"
        self.region, self.seed, self._sleep = region, seed, sleep
        #: transport faults met by this target's calls (retried ones included)
        self._faults: list[FaultRecord] = []
        #: the run's evidence of not-implemented operations (a session shares its run's)
        self.evidence = NotImplementedEvidence(trusted=html_500_is_not_implemented)
        self.kms, self.cloudhsm, self._ec2_client = _clients(endpoint_url, region, credentials, profile, timeout,
                                                             isolated)
        self.control = ControlClient(endpoint_url, timeout) if endpoint_url and control else None
        #: the example's own names on a shared account (prefix isolation), else None
        self.names: NamePrefix | None = None
        self._own_stores: list[str] = []
        self._own_keys: list[str] = []
        #: stores of others in the account when the example began (prefix isolation): the
        #: example's quota is what they leave (CREATE-09)
        self._foreign_at_start = 0
        try:
            self.info: ControlInfo | None = self.control.describe() if self.control else None
            self.isolation = isolation or self._isolate(reset, reset_url, timeout)
            self.has_cloudhsm = self._probe_cloudhsm()
        except TransportFault as fault:  # the example never begins: its faults travel with the exception
            fault.records = self.faults  # type: ignore[attr-defined]
            raise
        self.has_ec2: bool | None = None  # probed when the first cluster needs subnets
        self._vpc: str | None = None
        self._cluster_zones: dict[str, int] = {}
        self._backup_zones: dict[str, int] = {}
        self._subnet_serial = 0
        #: set-up control -> times it was faked (a report counts no rule as passed on a fake)
        self.faked: Counter[str] = Counter()
        self._faked_hsms: Counter[str] = Counter()
        self._setup_left = len(setup_steps())
        self._by_event = self._performers()
        self.capabilities = Capabilities(
            operations=frozenset(CALLS), environment=frozenset(self._by_event) | SETUP_CONTROLS,
            controlled_clock=self.info is not None and self.info.clock == "manual",
            time_travel=self.info is not None and self.info.time_travel, real_setup=self._real_setup(),
            quota=QUOTA - min(QUOTA, self._foreign_at_start),
            name_room=MAX_NAME_LENGTH - (len(self.names.prefix) if self.names is not None else 0))

    def _isolate(self, reset: bool, reset_url: str | None, timeout: float) -> Isolation:
        """Reset the target for this example if it can be reset; else isolate by name prefix."""
        if self.info is not None and reset:
            self.control.reset(self.seed)
            return Isolation("reset", f"the target's {PREFIX}/reset before each example")
        if reset_url:
            post_reset(reset_url, timeout)
            return Isolation("reset", f"POST {reset_url} before each example")
        self.names = NamePrefix(next_prefix())
        self._foreign_at_start = self._foreign_stores() or 0
        return Isolation("prefix", "no reset: each example's store names carry its own prefix, listings show only "
                                   "its own stores, and it removes what it created when it ends")

    # --- the adapter interface ---------------------------------------------------------------
    def call(self, operation: str, params: Mapping[str, Any]) -> Reply:
        if self.names is None:
            return self._send(operation, params)
        if operation == "DescribeCustomKeyStores" and not params.get("CustomKeyStoreName"):
            reply = self.names.listing(lambda sent: self._send(operation, sent), params)
        else:
            sent = self.names.outbound(params)
            reply = self._send(operation, sent)
            if reply.ok and isinstance(reply.body, Mapping):
                self._note_own(operation, sent, reply.body)
                reply = attrs.evolve(reply, body=self.names.view(reply.body))
        if operation == "CreateCustomKeyStore" and reply.error == "LimitExceededException":
            self._quota_shared()
        return reply

    def _send(self, operation: str, params: Mapping[str, Any]) -> Reply:
        method = getattr(self.kms, xform_name(operation), None)
        if method is None:
            raise NotImplementedError(f"botocore has no KMS operation {operation}")
        return self._attempt(operation, lambda: method(**params))

    @property
    def faults(self) -> list[FaultRecord]:
        """Every transport fault this target met, its test-control calls' included."""
        return self._faults + (self.control.faults if self.control is not None else [])

    def _attempt(self, operation: str, send: Callable[[], Mapping[str, Any]]) -> Reply:
        """Send, retrying a read-only or throttled call after a transport fault (at most
        :data:`ATTEMPTS` times); an ambiguous not-implemented answer is the reply once the
        run's evidence is conclusive. Raises the last :class:`TransportFault` otherwise."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                reply = self.reply(send, operation)
            except TransportFault as fault:
                if fault.reply is not None and self.evidence.conclusive(operation, fault.signature or ""):
                    return fault.reply  # the signature repeats: the operation is not implemented
                self._faults.append(fault.record)
                if attempt == ATTEMPTS or not (is_read_only(operation) or fault.kind == "throttled"):
                    raise
                time.sleep(0.05 * attempt)
                continue
            self.evidence.answered(operation)
            return reply
        raise AssertionError("unreachable")  # the loop returns or raises

    def _note_own(self, operation: str, sent: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        if operation == "CreateCustomKeyStore" and isinstance(body.get("CustomKeyStoreId"), str):
            if body["CustomKeyStoreId"] not in self._own_stores:
                self._own_stores.append(body["CustomKeyStoreId"])
        meta = body.get("KeyMetadata")
        if operation == "CreateKey" and isinstance(meta, Mapping) and isinstance(meta.get("KeyId"), str):
            self._own_keys.append(meta["KeyId"])

    def _quota_shared(self) -> None:
        """CREATE-09 under prefix isolation: the quota is the account's, shared with what earlier
        examples could not remove (counted when the example began, and taken off its quota); a
        refusal that stores made since then explain proves nothing."""
        foreign = self._foreign_stores()
        if foreign is not None and foreign > self._foreign_at_start:
            raise Inconclusive(f"CREATE-09: the quota of {QUOTA} stores is shared with {foreign} store(s) this "
                               f"example did not create, {foreign - self._foreign_at_start} of them made while it "
                               f"ran; give the target a reset (--reset-url) to test the quota")

    def _foreign_stores(self) -> int | None:
        assert self.names is not None
        return foreign_stores(lambda sent: self._send("DescribeCustomKeyStores", sent), self.names)

    def environment(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        in_setup = self._setup_left > 0
        self._setup_left -= 1
        if event == "delete_cluster" and self._faked_hsms[args[0]]:
            return EnvironmentReply(False)  # CL-07: a cluster with HSMs, even made-up ones, stays
        performer = self._by_event.get(event)
        try:
            if performer is None:
                raise NotImplementedError(f"{self.name} cannot perform the environment control {event}")
            if not in_setup and event in self.capabilities.setup_only:
                raise NotImplementedError(f"{self.name}: {event} is performed only for the starting account")
            return performer(*args)
        except NotImplementedError:
            if not in_setup or event not in SETUP_CONTROLS:
                raise  # a fake cannot know when AWS would refuse it: never a generated step
        return self._thin_fake(event, args)

    def wait(self, seconds: float) -> None:
        if self.info is not None:
            self.control.wait(seconds)
        else:
            self._sleep(seconds)

    def close(self) -> None:
        """Under prefix isolation, remove what this example created (what cannot be removed
        yet, a store whose keys wait for deletion, stays: see :mod:`.isolation`)."""
        if self.names is not None and (self._own_stores or self._own_keys):
            remove(self.kms, self._own_stores, self._own_keys)  # ignores transport faults: best effort

    # --- KMS -------------------------------------------------------------------------------------
    @staticmethod
    def reply(send: Callable[[], Mapping[str, Any]], operation: str = "") -> Reply:
        """Send one request and turn the answer (or the AWS error) into a :class:`Reply`;
        :class:`TransportFault` for an answer spoiled on the way."""
        try:
            response = send()
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            return Reply(meta.get("HTTPStatusCode", 0), error.get("Code") or str(meta.get("HTTPStatusCode", 0)),
                         error.get("Message") or "", rules=cited_rules(meta))
        except UNREACHABLE_ERRORS as exc:
            raise TargetUnreachable(str(exc)) from None
        except TransportFault:
            raise
        except Exception as exc:
            kind = classify_exception(exc)
            if kind is None:
                raise
            raise TransportFault(FaultRecord(kind, operation, f"{type(exc).__name__}: {exc}"[:300])) from None
        return Reply(200, None, "", {k: v for k, v in response.items() if k != "ResponseMetadata"},
                     rules=cited_rules(response.get("ResponseMetadata", {})))

    # --- the environment -------------------------------------------------------------------------
    def _performers(self) -> dict[str, Callable[..., EnvironmentReply]]:
        found: dict[str, Callable[..., EnvironmentReply]] = {}
        controlled = self.info.events & frozenset(EVENTS) if self.info is not None else frozenset()
        for event in controlled:
            found[event] = lambda *args, _event=event: self._controlled(_event, args)
        if self.has_cloudhsm:
            for event in CLOUDHSM_EVENTS:
                found[event] = getattr(self, f"_{event}")
        return found

    def _real_setup(self) -> frozenset[str]:
        """The set-up controls this target performs (the others are faked for the starting account)."""
        real = (self.info.events if self.info is not None else frozenset()) | (
            CLOUDHSM_EVENTS if self.has_cloudhsm else frozenset())
        return SETUP_CONTROLS & real

    def _controlled(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        applied, created = self.control.environment(event, args)
        if applied and created and event == "create_cluster":
            self._cluster_zones[created] = int(args[0])
        if applied and created and event == "backup_cluster" and args[0] in self._cluster_zones:
            self._backup_zones[created] = self._cluster_zones[args[0]]  # a restore needs as many subnets
        return EnvironmentReply(applied, created)

    def _thin_fake(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        """A set-up control taken as done, with a made-up identifier where it creates one."""
        self.faked[event] += 1
        made_up = "fake" + str(next(_FAKE_SERIALS)).zfill(7).translate(_LETTERS)  # 11 characters, as AWS's
        if event == "create_cluster":
            return EnvironmentReply(True, f"cluster-{made_up}")
        if event == "create_hsm":
            self._faked_hsms[args[0]] += 1
            return EnvironmentReply(True, f"hsm-{made_up}")
        if event == "initialize_cluster":
            return EnvironmentReply(True, placeholder_anchor(args[0], self.seed)[1])
        return EnvironmentReply(True)

    def _cloudhsm_call(self, operation: str, **params: Any) -> Reply:
        reply = self._attempt(operation, lambda: getattr(self.cloudhsm, xform_name(operation))(**params))
        if unsupported_signature(reply):
            raise NotImplementedError(f"{self.name}: CloudHSM v2 {operation}: {reply.summary()}")
        return reply

    def _probe_cloudhsm(self) -> bool:
        try:
            reply = self._cloudhsm_call("DescribeClusters")
        except NotImplementedError:
            return False
        return reply.ok

    def _create_cluster(self, zones: int) -> EnvironmentReply:
        reply = self._cloudhsm_call("CreateCluster", HsmType=HSM_TYPE, SubnetIds=self._subnets(int(zones)))
        return self._cluster_made(reply, int(zones))

    def _restore_backup(self, backup: str) -> EnvironmentReply:
        zones = self._backup_zones.get(backup) or self._backup_source_zones(backup)
        reply = self._cloudhsm_call("CreateCluster", HsmType=HSM_TYPE, SourceBackupId=backup,
                                    SubnetIds=self._subnets(zones))
        return self._cluster_made(reply, zones)

    def _backup_source_zones(self, backup: str) -> int:
        """How many zones the backup's cluster had (a restore takes one subnet for each, CL-05)."""
        reply = self._cloudhsm_call("DescribeBackups", Filters={"backupIds": [backup]})
        found = (reply.body or {}).get("Backups", []) if reply.ok else []
        source = found[0].get("SourceCluster") or found[0].get("ClusterId") if found else None
        return self._cluster_zones.get(source, len(AVAILABILITY_ZONES))

    def _cluster_made(self, reply: Reply, zones: int) -> EnvironmentReply:
        cluster = (reply.body or {}).get("Cluster", {}).get("ClusterId") if reply.ok else None
        if cluster is None:
            return EnvironmentReply(False)
        self._cluster_zones[cluster] = zones
        return EnvironmentReply(True, cluster)

    def _create_hsm(self, cluster: str, zone: str) -> EnvironmentReply:
        reply = self._cloudhsm_call("CreateHsm", ClusterId=cluster, AvailabilityZone=self._zone(zone))
        hsm = (reply.body or {}).get("Hsm", {}).get("HsmId") if reply.ok else None
        return EnvironmentReply(hsm is not None, hsm)

    def described_cluster(self, cluster: str) -> tuple[Mapping[str, Any] | None, Reply]:
        """What DescribeClusters shows of one cluster (None when it shows nothing), and the reply."""
        reply = self._cloudhsm_call("DescribeClusters", Filters={"clusterIds": [cluster]})
        found = (reply.body or {}).get("Clusters", []) if reply.ok else []
        return (found[0] if found else None), reply

    def _initialize_cluster(self, cluster: str) -> EnvironmentReply:
        shown, _ = self.described_cluster(cluster)
        csr = shown.get("Certificates", {}).get("ClusterCsr") if shown else None
        signed, anchor = sign_cluster_csr(csr) if csr else placeholder_anchor(cluster, self.seed)
        reply = self._cloudhsm_call("InitializeCluster", ClusterId=cluster, SignedCert=signed, TrustAnchor=anchor)
        return EnvironmentReply(reply.ok, anchor if reply.ok else None)

    def _delete_hsm(self, cluster: str, hsm: str) -> EnvironmentReply:
        return EnvironmentReply(self._cloudhsm_call("DeleteHsm", ClusterId=cluster, HsmId=hsm).ok)

    def _delete_cluster(self, cluster: str) -> EnvironmentReply:
        return EnvironmentReply(self._cloudhsm_call("DeleteCluster", ClusterId=cluster).ok)

    # --- subnets and zones -------------------------------------------------------------------------
    def _zone(self, model_zone: str) -> str:
        """The target's Availability Zone for a model zone (``us-east-1b`` -> ``<region>b``)."""
        return self.region + model_zone[-1]

    def _subnets(self, zones: int) -> list[str]:
        """One private subnet in each of the first ``zones`` zones: from EC2 when the target has
        it, made-up IDs otherwise."""
        wanted = [self._zone(z) for z in AVAILABILITY_ZONES[:zones]]
        if self.has_ec2 is None:
            try:
                self.has_ec2 = self._attempt("DescribeAvailabilityZones",
                                             self._ec2_client().describe_availability_zones).ok
            except NOT_AN_ANSWER:  # an answer that is not EC2's
                self.has_ec2 = False
        if not self.has_ec2:
            self._subnet_serial += 1
            return [f"subnet-{self._subnet_serial:08x}{i:09x}" for i in range(len(wanted))]
        if self._vpc is None:
            self._vpc = self._ec2("CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        made = []
        for zone in wanted:
            self._subnet_serial += 1
            if self._subnet_serial > 250:
                raise RuntimeError(f"{self.name}: more than 250 subnets in one example (10.0.0.0/16 is full)")
            made.append(self._ec2("CreateSubnet", VpcId=self._vpc, AvailabilityZone=zone,
                                  CidrBlock=f"10.0.{self._subnet_serial}.0/24")["Subnet"]["SubnetId"])
        return made

    def _ec2(self, operation: str, **params: Any) -> Mapping[str, Any]:
        reply = self._attempt(operation, lambda: getattr(self._ec2_client(), xform_name(operation))(**params))
        if not reply.ok:
            raise RuntimeError(f"{self.name}: EC2 {operation} failed: {reply.summary()} {reply.message}")
        return reply.body


def kms_client(endpoint_url: str | None, region: str, profile: str | None = None) -> Any:
    """A KMS client as the adapter makes them (retries off; placeholder credentials for a
    local endpoint when none are configured)."""
    return _clients(endpoint_url, region, None, profile, 15.0, False)[0]


@functools.lru_cache(maxsize=16)
def _clients(endpoint_url: str | None, region: str, credentials: tuple[str, ...] | None, profile: str | None,
             timeout: float, isolated: bool) -> tuple[Any, Any, Callable[[], Any]]:
    """The KMS and CloudHSM v2 clients for one endpoint, and a maker of its EC2 client. Made once
    per process and shared by every example's target: a boto3 client reads its service model
    when it is made, which costs more than a dozen calls to a local endpoint."""
    session = _session(endpoint_url, region, credentials, profile, isolated)
    config = Config(retries={"total_max_attempts": 1}, parameter_validation=False, connect_timeout=timeout,
                    read_timeout=timeout, region_name=region)
    ec2 = functools.lru_cache(maxsize=1)(lambda: _ec2_client(session, endpoint_url, config))
    kms = session.client("kms", endpoint_url=endpoint_url, config=config)
    cloudhsm = session.client("cloudhsmv2", endpoint_url=endpoint_url, config=config)
    for client in (kms, cloudhsm):  # JSON protocols: a spoiled answer is a TransportFault, never parsed
        client.meta.events.register("before-parse", before_parse_hook)
    return kms, cloudhsm, ec2


def _ec2_client(session: boto3.session.Session, endpoint_url: str | None, config: Config) -> Any:
    client = session.client("ec2", endpoint_url=endpoint_url, config=config)
    client.meta.events.register("before-parse", before_parse_hook_xml)
    return client


def _session(endpoint_url: str | None, region: str, credentials: tuple[str, ...] | None, profile: str | None,
             isolated: bool) -> boto3.session.Session:
    def made(**options: Any) -> boto3.session.Session:
        core = botocore.session.Session()
        if isolated:
            core.set_config_variable("ignore_configured_endpoint_urls", True)
        return boto3.session.Session(region_name=region, botocore_session=core, **options)

    if credentials is not None:
        key, secret, *token = credentials
        return made(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token[0] if token else None)
    try:
        session = made(profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        from .targets import TargetNameError

        raise TargetNameError(f"AWS profile {profile!r} not found in the AWS config files") from None
    if endpoint_url and session.get_credentials() is None:  # a local endpoint does not check them
        return made(aws_access_key_id="ckspec", aws_secret_access_key="ckspec")
    return session
