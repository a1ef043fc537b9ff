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
3. for the two set-up controls nothing else can do (activating a cluster and creating
   kmsuser happen in the CloudHSM CLI, not in an API), a *thin fake*: the control is reported
   as applied and the target is trusted to behave as if it had been. A target without
   CloudHSM v2 or test-control therefore gets only the KMS side of the lifecycle tested.

An answer in one of the "not implemented" signatures, to a KMS call or to an environment
control, is reported as unsupported (:func:`ckspec.conformance.adapter.unsupported_signature`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import botocore.exceptions
from botocore import xform_name
from botocore.config import Config
from ckspec.model.environment import EVENTS
from ckspec.model.transitions import CALLS
from ckspec.model.world import AVAILABILITY_ZONES

from .adapter import (
    Capabilities,
    EnvironmentReply,
    Reply,
    Target,
    TargetUnreachable,
    unsupported_signature,
)
from .control import ControlClient, ControlInfo
from .credentials import placeholder_anchor, sign_cluster_csr

#: Environment controls the CloudHSM v2 API performs.
CLOUDHSM_EVENTS = frozenset({"create_cluster", "create_hsm", "initialize_cluster", "delete_hsm", "delete_cluster",
                             "restore_backup"})
#: Set-up controls no API performs; faked when the target offers no test-control for them.
FAKEABLE = frozenset({"activate_cluster", "create_kmsuser"})
#: Answers that mean the target cannot be reached at all.
UNREACHABLE_ERRORS = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)
HSM_TYPE = "hsm1.medium"


class BotoTarget(Target):
    """A target reached with boto3. ``endpoint_url=None`` means boto3's own resolution (real
    AWS, or an in-process mock such as moto's). ``credentials`` is ``(key_id, secret)`` or
    ``(key_id, secret, token)``; None uses boto3's usual chain, falling back to placeholder
    credentials for a local endpoint. ``sleep`` is how time passes when the target offers no
    test-control ``/wait`` (``time.sleep``; an in-process mock may pass a no-op)."""

    name = "boto3"

    def __init__(self, seed: int = 0, *, endpoint_url: str | None = None, region: str = "us-east-1",
                 credentials: tuple[str, ...] | None = None, profile: str | None = None,
                 control: bool = True, reset: bool = True, timeout: float = 15.0,
                 sleep: Callable[[float], None] = time.sleep, name: str | None = None) -> None:
        self.name = name or endpoint_url or "boto3"
        self.region, self.seed, self._sleep = region, seed, sleep
        self.session = self._session(endpoint_url, region, credentials, profile)
        config = Config(retries={"total_max_attempts": 1}, parameter_validation=False, connect_timeout=timeout,
                        read_timeout=timeout, region_name=region)
        self.kms = self.session.client("kms", endpoint_url=endpoint_url, config=config)
        self.cloudhsm = self.session.client("cloudhsmv2", endpoint_url=endpoint_url, config=config)
        self.ec2 = self.session.client("ec2", endpoint_url=endpoint_url, config=config)
        self.control = ControlClient(endpoint_url, timeout) if endpoint_url and control else None
        self.info: ControlInfo | None = self.control.describe() if self.control else None
        if self.info is not None and reset:
            self.control.reset(seed)
        self.has_cloudhsm = self._probe_cloudhsm()
        self.has_ec2: bool | None = None  # probed when the first cluster needs subnets
        self._vpc: str | None = None
        self._cluster_zones: dict[str, int] = {}
        self._backup_zones: dict[str, int] = {}
        self._subnet_serial = 0
        self.capabilities = Capabilities(
            operations=frozenset(CALLS), environment=frozenset(self._performers()),
            controlled_clock=self.info is not None and self.info.clock == "manual",
            time_travel=self.info is not None and self.info.time_travel)

    # --- the adapter interface ---------------------------------------------------------------
    def call(self, operation: str, params: Mapping[str, Any]) -> Reply:
        method = getattr(self.kms, xform_name(operation), None)
        if method is None:
            raise NotImplementedError(f"botocore has no KMS operation {operation}")
        return self.reply(lambda: method(**params))

    def environment(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        performer = self._performers().get(event)
        if performer is None:
            raise NotImplementedError(f"{self.name} cannot perform the environment control {event}")
        return performer(*args)

    def wait(self, seconds: float) -> None:
        if self.info is not None:
            self.control.wait(seconds)
        else:
            self._sleep(seconds)

    # --- KMS -------------------------------------------------------------------------------------
    @staticmethod
    def reply(send: Callable[[], Mapping[str, Any]]) -> Reply:
        """Send one request and turn the answer (or the AWS error) into a :class:`Reply`."""
        try:
            response = send()
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return Reply(status, error.get("Code") or str(status), error.get("Message") or "")
        except UNREACHABLE_ERRORS as exc:
            raise TargetUnreachable(str(exc)) from None
        return Reply(200, None, "", {k: v for k, v in response.items() if k != "ResponseMetadata"})

    # --- the environment -------------------------------------------------------------------------
    def _performers(self) -> dict[str, Callable[..., EnvironmentReply]]:
        found: dict[str, Callable[..., EnvironmentReply]] = {}
        controlled = self.info.events & frozenset(EVENTS) if self.info is not None else frozenset()
        for event in controlled:
            found[event] = lambda *args, _event=event: self._controlled(_event, args)
        if self.has_cloudhsm:
            for event in CLOUDHSM_EVENTS:
                found[event] = getattr(self, f"_{event}")
        for event in FAKEABLE - set(found):
            found[event] = self._thin_fake
        return found

    def _controlled(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        applied, created = self.control.environment(event, args)
        if applied and event in ("create_cluster", "restore_backup") and created:
            self._cluster_zones[created] = int(args[0]) if event == "create_cluster" else 0
        return EnvironmentReply(applied, created)

    @staticmethod
    def _thin_fake(*_args: Any) -> EnvironmentReply:
        return EnvironmentReply(True)

    def _cloudhsm_call(self, operation: str, **params: Any) -> Reply:
        reply = self.reply(lambda: getattr(self.cloudhsm, xform_name(operation))(**params))
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
        zones = self._backup_zones.get(backup, len(AVAILABILITY_ZONES))
        reply = self._cloudhsm_call("CreateCluster", HsmType=HSM_TYPE, SourceBackupId=backup,
                                    SubnetIds=self._subnets(zones))
        return self._cluster_made(reply, zones)

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

    def _initialize_cluster(self, cluster: str) -> EnvironmentReply:
        described = self._cloudhsm_call("DescribeClusters", Filters={"clusterIds": [cluster]})
        found = (described.body or {}).get("Clusters", []) if described.ok else []
        csr = found[0].get("Certificates", {}).get("ClusterCsr") if found else None
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
            self.has_ec2 = self.reply(self.ec2.describe_availability_zones).ok
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
        reply = self.reply(lambda: getattr(self.ec2, xform_name(operation))(**params))
        if not reply.ok:
            raise RuntimeError(f"{self.name}: EC2 {operation} failed: {reply.summary()} {reply.message}")
        return reply.body

    # --- construction ------------------------------------------------------------------------------
    @staticmethod
    def _session(endpoint_url: str | None, region: str, credentials: tuple[str, ...] | None,
                 profile: str | None) -> boto3.session.Session:
        if credentials is not None:
            key, secret, *token = credentials
            return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                         aws_session_token=token[0] if token else None, region_name=region)
        try:
            session = boto3.session.Session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound:
            from .targets import TargetNameError

            raise TargetNameError(f"AWS profile {profile!r} not found in the AWS config files") from None
        if endpoint_url and session.get_credentials() is None:  # a local endpoint does not check them
            return boto3.session.Session(aws_access_key_id="ckspec", aws_secret_access_key="ckspec",
                                         region_name=region)
        return session
