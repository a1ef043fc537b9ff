"""CloudHSM v2 over AWS JSON 1.1 (``X-Amz-Target: BaldrApiService.<Operation>``).

A CloudHSM view of the model's clusters, HSMs and backups: each operation is one of the
model's environment events (:data:`ckspec.model.environment.EVENTS`), so a cluster made
here is the same cluster a custom key store later checks (CL-01 to CL-08). Shapes are
botocore's ``cloudhsmv2`` model.

Subnets: there is no EC2 here. CreateCluster's subnets are placed in the Region's
Availability Zones in the order given (``<region>a``, ``<region>b``, ``<region>c``; the
model has three), or, for a cluster restored from a backup, in the backup's zones in order.
What has no CloudHSM API (activating a cluster, kmsuser, faults, backups being taken) is
done through the test-control extension (:mod:`ckspec.emulator.control`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from ckspec.model import identifiers as ids
from ckspec.model.aws_service import ClusterState, ParameterError, validate_input
from ckspec.model.aws_service import cloudhsm as cloudhsm_service
from ckspec.model.environment import EVENTS
from ckspec.model.world import AVAILABILITY_ZONES, Backup, Cluster, Hsm

from . import errors, regions
from .account import Account
from .cluster_details import DEFAULT_MODE, csr
from .errors import AwsError, validation

TARGET_PREFIX = "BaldrApiService"

Handler = Callable[[Account, dict[str, Any], str], dict[str, Any]]
OPERATIONS: dict[str, Handler] = {}


def operation(fn: Handler) -> Handler:
    OPERATIONS["".join(part.title() for part in fn.__name__.split("_"))] = fn
    return fn


def invalid_request(message: str) -> AwsError:
    return AwsError(400, "CloudHsmInvalidRequestException", message)


def not_found(message: str) -> AwsError:
    return AwsError(400, "CloudHsmResourceNotFoundException", message)


def check_operation(name: str) -> None:
    errors.check_operation("CloudHSM v2", cloudhsm_service(), OPERATIONS, name, "it implements")


def perform(account: Account, name: str, params: dict[str, Any], region: str) -> dict[str, Any]:
    """Answer one CloudHSM v2 call (the caller holds the account's lock)."""
    try:
        validate_input(name, params, service="cloudhsmv2")
    except ParameterError as exc:
        raise validation(str(exc)) from None
    return OPERATIONS[name](account, params, region)


# --- looking things up ---------------------------------------------------------------------------


def _cluster(account: Account, cluster_id: str) -> Cluster:
    found = account.cluster(cluster_id)
    if found is None:
        raise not_found(f"no cluster {cluster_id} in this account")
    return found


def _zone_index(zone: str) -> int:
    return AVAILABILITY_ZONES.index(zone)


# --- answers -------------------------------------------------------------------------------------


def hsm_body(account: Account, cluster: Cluster, hsm: Hsm, region: str) -> dict[str, Any]:
    record = account.details.cluster(cluster)
    interface = account.details.hsm(hsm, _zone_index(hsm.availability_zone))
    return {
        "AvailabilityZone": regions.zone_name(hsm.availability_zone, region),
        "ClusterId": account.foreign(ids.cluster_id(cluster.cluster_id)),
        "SubnetId": record.subnet_id(hsm.availability_zone),
        "EniId": interface.eni_id,
        "EniIp": interface.eni_ip,
        "HsmId": account.foreign(ids.hsm_id(hsm.hsm_id)),
        "HsmType": record.hsm_type,
        "State": hsm.state.value,
    }


def cluster_body(account: Account, cluster: Cluster, region: str, state: str | None = None) -> dict[str, Any]:
    record = account.details.cluster(cluster)
    body: dict[str, Any] = {
        "BackupPolicy": "DEFAULT",
        "ClusterId": account.foreign(ids.cluster_id(cluster.cluster_id)),
        "CreateTimestamp": ids.creation_date(cluster.cluster_id),
        "Hsms": [hsm_body(account, cluster, h, region) for h in cluster.hsms],
        "HsmType": record.hsm_type,
        "SecurityGroup": record.security_group,
        "State": state or cluster.state.value,
        # CL-04: the subnets chosen at creation, one per Availability Zone
        "SubnetMapping": {regions.zone_name(zone, region): subnet for zone, subnet in record.subnets},
        "VpcId": account.details.vpc_id,
        "NetworkType": "IPV4",
        "Mode": record.mode,
    }
    if cluster.source_backup_id is not None:  # CL-05
        body["SourceBackupId"] = account.foreign(ids.backup_id(cluster.source_backup_id))
    if cluster.state is ClusterState.UNINITIALIZED:  # CL-06: the CSR exists only until initialization
        body["Certificates"] = {"ClusterCsr": csr(cluster)}
    elif cluster.trust_anchor is not None:  # CL-05: clusters of one lineage share the certificate
        body["Certificates"] = {"ClusterCertificate": account.details.certificate(cluster.lineage)}
    return body


def backup_body(account: Account, backup: Backup, region: str) -> dict[str, Any]:
    backup_id = account.foreign(ids.backup_id(backup.backup_id))
    source = account.details.known_cluster(backup.source_cluster_id)
    body: dict[str, Any] = {
        "BackupId": backup_id,
        "BackupArn": f"arn:aws:cloudhsm:{region}:{ids.ACCOUNT}:backup/{backup_id}",
        "BackupState": "READY",
        "ClusterId": account.foreign(ids.cluster_id(backup.source_cluster_id)),
        "CreateTimestamp": ids.creation_date(backup.backup_id),
        "NeverExpires": False,
    }
    if source is not None:
        body["HsmType"], body["Mode"] = source.hsm_type, source.mode
    return body


# --- clusters ------------------------------------------------------------------------------------


@operation
def create_cluster(account: Account, params: dict[str, Any], region: str) -> dict[str, Any]:
    subnets = list(params["SubnetIds"])
    if len(set(subnets)) != len(subnets):
        raise invalid_request("SubnetIds: each subnet may be given once")
    reference = params.get("SourceBackupId")
    if reference is not None:
        backup_id = reference.rpartition("/")[2]  # a backup ARN ends in backup/<id>
        backup = account.backup(backup_id)
        if backup is None:
            raise not_found(f"no backup {backup_id} in this account")
        zones, mode = _restore_zones(account, backup, subnets, params, region)
        reply = account.model.environment("restore_backup", (backup_id,))
    else:
        if len(subnets) > len(AVAILABILITY_ZONES):
            raise invalid_request(f"ckspec serve models {len(AVAILABILITY_ZONES)} Availability Zones, so a cluster "
                                  f"has at most {len(AVAILABILITY_ZONES)} subnets; got {len(subnets)}")
        zones, mode = AVAILABILITY_ZONES[:len(subnets)], params.get("Mode", DEFAULT_MODE)
        reply = account.model.environment("create_cluster", (len(subnets),))
    serial = account.serial(reply.created, ids.parse_cluster_id) if reply.applied else None
    cluster = account.world.cluster(serial)
    if cluster is None:  # every check the model's events make was made above
        raise AwsError(500, "CloudHsmInternalFailureException", "the model did not create the cluster")
    account.details.register_cluster(serial, tuple(zip(zones, subnets)), params["HsmType"], mode)
    return {"Cluster": cluster_body(account, cluster, region)}


def _restore_zones(account: Account, backup: Backup, subnets: list[str], params: dict[str, Any],
                   region: str) -> tuple[tuple[str, ...], str]:
    """CL-04, CL-05, CL-08: a restored cluster has the backup's zones and mode."""
    zones = backup.zones
    if len(subnets) != len(zones):
        names = ", ".join(regions.zone_name(z, region) for z in zones)
        raise invalid_request(f"a cluster restored from this backup has its {len(zones)} Availability Zones "
                              f"({names}): give {len(zones)} subnets, one for each, in that order")
    source = account.details.known_cluster(backup.source_cluster_id)
    mode = source.mode if source else DEFAULT_MODE
    if params.get("Mode", mode) != mode:
        raise invalid_request(f"CL-08: a {mode} backup restores only into a {mode} cluster")
    return zones, mode


@operation
def initialize_cluster(account: Account, params: dict[str, Any], region: str) -> dict[str, Any]:
    """CL-01, CL-06: the caller's trust anchor becomes the cluster's, so a later
    CreateCustomKeyStore with the same TrustAnchorCertificate matches it (CREATE-07)."""
    cluster_id = params["ClusterId"]
    cluster = _cluster(account, cluster_id)
    if cluster.state is not ClusterState.UNINITIALIZED:
        raise invalid_request(f"CL-01: cluster {cluster_id} is {cluster.state.value}; only an UNINITIALIZED "
                              f"cluster can be initialized")
    if not EVENTS["initialize_cluster"].guard(account.world, cluster.cluster_id):
        raise invalid_request(f"CL-01: cluster {cluster_id} has no HSM yet; create one before initializing it")
    try:
        account.model.ids.bind(ids.trust_anchor(cluster.lineage), params["TrustAnchor"])
    except ValueError:
        raise invalid_request("this TrustAnchor already belongs to another cluster (not one restored from its "
                              "backups); ckspec serve tells clusters apart by their trust anchors: use one "
                              "customer CA per cluster") from None
    account.model.environment("initialize_cluster", (cluster_id,))
    account.details.set_certificate(cluster.lineage, params["SignedCert"])
    return {"State": account.world.cluster(cluster.cluster_id).state.value,
            "StateMessage": "Cluster initialized; activate it and create kmsuser (test-control extension)"}


@operation
def delete_cluster(account: Account, params: dict[str, Any], region: str) -> dict[str, Any]:
    cluster_id = params["ClusterId"]
    cluster = _cluster(account, cluster_id)
    if cluster.hsms:
        raise invalid_request(f"CL-07: cluster {cluster_id} still has {len(cluster.hsms)} HSM(s); delete them "
                              f"first")
    body = cluster_body(account, cluster, region, state=ClusterState.DELETED.value)  # the model deletes at once
    account.model.environment("delete_cluster", (cluster_id,))
    return {"Cluster": body}


@operation
def describe_clusters(account: Account, params: dict[str, Any], region: str) -> dict[str, Any]:
    filters = _filters(params, {"clusterIds", "vpcIds", "states"})
    _known_values(filters, "states", {s.value for s in ClusterState})
    clusters = [c for c in account.world.clusters
                if _matches(filters, "clusterIds", account.foreign(ids.cluster_id(c.cluster_id)))
                and _matches(filters, "vpcIds", account.details.vpc_id)
                and _matches(filters, "states", c.state.value)]
    page, token = _page(clusters, lambda c: c.cluster_id, params, "clusters", 25)
    body: dict[str, Any] = {"Clusters": [cluster_body(account, c, region) for c in page]}
    if token:
        body["NextToken"] = token
    return body


# --- HSMs ----------------------------------------------------------------------------------------


@operation
def create_hsm(account: Account, params: dict[str, Any], region: str) -> dict[str, Any]:
    cluster_id, zone_name = params["ClusterId"], params["AvailabilityZone"]
    cluster = _cluster(account, cluster_id)
    zone = regions.model_zone(zone_name, region)
    subnet = cluster.subnet(zone) if zone else None
    if subnet is None:
        zones = ", ".join(regions.zone_name(s.availability_zone, region) for s in cluster.subnets)
        raise invalid_request(f"CL-04: cluster {cluster_id} has no subnet in {zone_name}; its subnets are in {zones}")
    if not subnet.exists:
        raise invalid_request(f"NET-06: the subnet of cluster {cluster_id} in {zone_name} no longer exists")
    reply = account.model.environment("create_hsm", (cluster_id, zone))
    serial = account.serial(reply.created, ids.parse_hsm_id) if reply.applied else None
    cluster = account.world.cluster(cluster.cluster_id)
    hsm = next((h for h in cluster.hsms if h.hsm_id == serial), None) if cluster else None
    if hsm is None:
        raise AwsError(500, "CloudHsmInternalFailureException", "the model did not create the HSM")
    account.details.register_hsm(serial, _zone_index(zone), params.get("IpAddress"))
    return {"Hsm": hsm_body(account, cluster, hsm, region)}


@operation
def delete_hsm(account: Account, params: dict[str, Any], region: str) -> dict[str, Any]:
    cluster_id = params["ClusterId"]
    cluster = _cluster(account, cluster_id)
    wanted = {k: params[k] for k in ("HsmId", "EniId", "EniIp") if k in params}
    if not wanted:
        raise validation("DeleteHsm: give one of HsmId, EniId or EniIp")
    found = next((h for h in cluster.hsms if all(hsm_body(account, cluster, h, region)[k] == v
                                                  for k, v in wanted.items())), None)
    if found is None:
        raise not_found(f"cluster {cluster_id} has no HSM with {', '.join(f'{k} {v}' for k, v in wanted.items())}")
    hsm_id = account.foreign(ids.hsm_id(found.hsm_id))
    account.model.environment("delete_hsm", (cluster_id, hsm_id))
    return {"HsmId": hsm_id}


# --- backups -------------------------------------------------------------------------------------


@operation
def describe_backups(account: Account, params: dict[str, Any], region: str) -> dict[str, Any]:
    filters = _filters(params, {"backupIds", "sourceBackupIds", "clusterIds", "states", "neverExpires"})
    _known_values(filters, "states", {"CREATE_IN_PROGRESS", "READY", "DELETED", "PENDING_DELETION"})
    _known_values(filters, "neverExpires", {"true", "false"})
    # backups are taken through the test-control extension (backup_cluster): READY at once,
    # kept in this account, never copied from another Region, never shared
    backups = [] if params.get("Shared") else [
        b for b in account.world.backups
        if _matches(filters, "backupIds", account.foreign(ids.backup_id(b.backup_id)))
        and _matches(filters, "sourceBackupIds", None)
        and _matches(filters, "clusterIds", account.foreign(ids.cluster_id(b.source_cluster_id)))
        and _matches(filters, "states", "READY") and _matches(filters, "neverExpires", "false")]
    if not params.get("SortAscending", False):  # newest first, unless asked for oldest first
        backups.reverse()
    page, token = _page(backups, lambda b: b.backup_id, params, "backups", 50,
                        ascending=bool(params.get("SortAscending", False)))
    body: dict[str, Any] = {"Backups": [backup_body(account, b, region) for b in page]}
    if token:
        body["NextToken"] = token
    return body


# --- filters and pages -----------------------------------------------------------------------------


def _filters(params: dict[str, Any], known: set[str]) -> dict[str, list[str]]:
    filters = params.get("Filters", {})
    unknown = sorted(set(filters) - known)
    if unknown:
        raise invalid_request(f"unknown filter {unknown[0]!r}; the filters are {', '.join(sorted(known))}")
    for name, values in filters.items():  # botocore's map check does not look inside
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise validation(f"Filters.{name}: expected a list of strings")
    return filters


def _known_values(filters: dict[str, list[str]], name: str, values: set[str]) -> None:
    odd = [v for v in filters.get(name, []) if v not in values]
    if odd:
        raise invalid_request(f"filter {name}: {odd[0]!r} is not one of {', '.join(sorted(values))}")


def _matches(filters: dict[str, list[str]], name: str, value: str | None) -> bool:
    return name not in filters or value in filters[name]


def _page(items: list[Any], serial: Callable[[Any], int], params: dict[str, Any], kind: str, largest: int,
          ascending: bool = True) -> tuple[list[Any], str | None]:
    """One page from the NextToken on, at most MaxResults long, and the next page's token.
    ``items`` are in ascending (or descending) serial order; a token names the serial of the
    last item shown, so the next page is right even if items were deleted meanwhile."""
    token = params.get("NextToken")
    if token is not None:
        after = _token_serial(token, kind)
        items = [i for i in items if (serial(i) > after if ascending else serial(i) < after)]
    size = params.get("MaxResults", largest)
    page = items[:size]
    return page, (_token(kind, serial(page[-1])) if len(items) > size else None)


def _token(kind: str, serial: int) -> str:
    return base64.urlsafe_b64encode(f"ckspec:{kind}:{serial}".encode()).decode("ascii")


def _token_serial(token: str, kind: str) -> int:
    try:
        prefix, found, number = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii").split(":")
        if prefix == "ckspec" and found == kind and number.isdigit():
            return int(number)
    except (ValueError, UnicodeError):
        pass
    raise invalid_request("NextToken is not one this service issued for this listing")
