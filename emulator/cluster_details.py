"""What CloudHSM shows about clusters and HSMs that the model leaves out.

The model knows a cluster's state, its Availability Zones, HSMs, lineage and kmsuser. A
DescribeClusters answer also needs subnet IDs, the HSM type and mode, the VPC and the
cluster security group, each HSM's network interface, and the cluster's certificates. They
are kept here, by the model's serial numbers, and made up (random-looking, from the
account's seed) for clusters and HSMs created through the test-control extension.
"""

from __future__ import annotations

import random

import attrs
from ckspec.model.world import Cluster, Hsm

DEFAULT_HSM_TYPE = "hsm1.medium"
#: CL-08: every cluster created before 2024-06-10 is FIPS/hsm1.medium
DEFAULT_MODE = "FIPS"


@attrs.frozen
class ClusterRecord:
    #: (model zone, subnet ID), in the order of the cluster's subnets (CL-04: fixed for life)
    subnets: tuple[tuple[str, str], ...]
    security_group: str
    hsm_type: str = DEFAULT_HSM_TYPE
    mode: str = DEFAULT_MODE

    def subnet_id(self, zone: str) -> str | None:
        return next((subnet for z, subnet in self.subnets if z == zone), None)


@attrs.frozen
class HsmRecord:
    eni_id: str
    eni_ip: str


class ClusterDetails:
    """The details of every cluster and HSM the account has had (kept after deletion, so a
    backup still knows its source cluster's type and mode)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.vpc_id = f"vpc-{self._hex()}"
        self._clusters: dict[int, ClusterRecord] = {}
        self._hsms: dict[int, HsmRecord] = {}
        #: lineage -> the cluster certificate (CL-05: shared by clusters restored from its backups)
        self._certificates: dict[int, str] = {}
        self._addresses = 0

    def _hex(self) -> str:
        return f"{self._rng.getrandbits(68):017x}"

    # --- clusters ------------------------------------------------------------------------------
    def register_cluster(self, serial: int, subnets: tuple[tuple[str, str], ...], hsm_type: str, mode: str) -> None:
        self._clusters[serial] = ClusterRecord(subnets, f"sg-{self._hex()}", hsm_type, mode)

    def cluster(self, cluster: Cluster) -> ClusterRecord:
        found = self._clusters.get(cluster.cluster_id)
        if found is None:  # made through the test-control extension: subnets of its own
            subnets = tuple((s.availability_zone, f"subnet-{self._hex()}") for s in cluster.subnets)
            found = self._clusters[cluster.cluster_id] = ClusterRecord(subnets, f"sg-{self._hex()}")
        return found

    def known_cluster(self, serial: int) -> ClusterRecord | None:
        return self._clusters.get(serial)

    def certificate(self, lineage: int) -> str:
        found = self._certificates.get(lineage)
        if found is None:
            found = self._certificates[lineage] = _pem("CERTIFICATE", f"ckspec-cluster-certificate-{self._hex()}")
        return found

    def set_certificate(self, lineage: int, pem: str) -> None:
        self._certificates[lineage] = pem

    # --- HSMs ----------------------------------------------------------------------------------
    def register_hsm(self, serial: int, zone_index: int, ip: str | None) -> None:
        self._hsms[serial] = HsmRecord(f"eni-{self._hex()}", ip or self._address(zone_index))

    def hsm(self, hsm: Hsm, zone_index: int) -> HsmRecord:
        found = self._hsms.get(hsm.hsm_id)
        if found is None:
            found = self._hsms[hsm.hsm_id] = HsmRecord(f"eni-{self._hex()}", self._address(zone_index))
        return found

    def _address(self, zone_index: int) -> str:
        self._addresses += 1
        return f"10.{self._addresses // 250 % 250}.{zone_index}.{self._addresses % 250 + 4}"


def csr(cluster: Cluster) -> str:
    """CL-06: the cluster's certificate signing request (shown while it is UNINITIALIZED)."""
    return _pem("CERTIFICATE REQUEST", f"ckspec-cluster-csr-{cluster.cluster_id}")


def _pem(kind: str, body: str) -> str:
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"
