"""``--target aws``: a real AWS account, opted into explicitly, with everything created written down.

Running against AWS costs money (a CloudHSM HSM is billed by the hour, a KMS key by the
month), so ckspec does it only when asked with ``--i-accept-aws-costs``, and never in CI.
What it does and does not do:

* It **never creates, changes or deletes CloudHSM clusters or HSMs**. Activating a cluster
  and creating the kmsuser account happen in the CloudHSM CLI, which no API reaches, so you
  bring the clusters: ``--aws-cluster CLUSTER_ID=TRUST_ANCHOR.pem`` (once per cluster; the
  starting account needs 3, each ACTIVE with HSMs in two Availability Zones and a kmsuser
  crypto user whose password is in the environment variable ``CKSPEC_KMSUSER_PASSWORD``; the
  same password on every cluster). The set-up controls then *claim* those clusters instead of
  creating new ones, and the environment controls that would harm them (deleting HSMs,
  breaking security groups, locking kmsuser out) are not offered.
* Every custom key store it creates carries the example's name prefix
  (``ckspec-<run>-<example>-``), and every store and KMS key it creates is written to the
  ledger (:mod:`ckspec.conformance.ledger`) before the engine sees it; each example removes
  its own resources when it ends, and ``ckspec cleanup`` removes whatever an interrupted run
  left behind.
* Each example claims clusters that hold no store: a store an earlier example could not
  delete (its keys wait 7 days for deletion) keeps its cluster busy (CREATE-06), so with keys
  in play each example may use up to 3 clusters for a week; when none is free the run stops
  with a message saying so. Give more clusters, or fewer ``--examples``.
* Listings are filtered to the example's own stores, so other stores in the account are never
  touched and never confuse the model; the pages a filtered listing shows can then be
  shorter than ``Limit`` (run in an account without other custom key stores for the
  pagination rules).

``CKSPEC_AWS_ENDPOINT_URL`` points the target at another endpoint (ckspec's tests use
``ckspec serve``); the real account is the default.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .adapter import SETUP_CONTROLS, Capabilities, EnvironmentReply, Reply, TargetUnreachable
from .isolation import Isolation, NamePrefix, next_prefix
from .ledger import DEFAULT_LEDGER, Entry, Ledger
from .wire import BotoTarget

PASSWORD_VARIABLE = "CKSPEC_KMSUSER_PASSWORD"
ENDPOINT_VARIABLE = "CKSPEC_AWS_ENDPOINT_URL"
PASSWORD_FIELDS = ("KeyStorePassword",)
#: seconds cleanup waits for a disconnect to complete before it deletes the store
DISCONNECT_PATIENCE = 120.0


class AwsConfigurationError(TargetUnreachable):
    """The account is not what the aws target needs (opt-in, clusters, password); before a run
    this is a usage error, during one the target cannot be used."""


def parse_clusters(values: list[str]) -> dict[str, str]:
    """``CLUSTER_ID=TRUST_ANCHOR.pem`` values as {cluster ID: trust anchor PEM}."""
    found: dict[str, str] = {}
    for value in values:
        cluster, sep, path = value.partition("=")
        if not sep or not cluster.startswith("cluster-") or not path:
            raise AwsConfigurationError(f"--aws-cluster {value!r}: expected CLUSTER_ID=TRUST_ANCHOR.pem")
        try:
            anchor = Path(path).read_text()
        except OSError as exc:
            raise AwsConfigurationError(f"--aws-cluster {cluster}: cannot read {path}: {exc.strerror}") from None
        if "BEGIN CERTIFICATE" not in anchor:
            raise AwsConfigurationError(f"--aws-cluster {cluster}: {path} is not a PEM certificate")
        found[cluster] = anchor
    return found


class AwsTarget(BotoTarget):
    """A real account with borrowed, ready clusters; see the module docstring."""

    name = "aws"

    def __init__(self, seed: int = 0, *, clusters: Mapping[str, str], password: str, region: str,
                 profile: str | None = None, ledger: Path = DEFAULT_LEDGER, prefix: str | None = None,
                 endpoint_url: str | None = None) -> None:
        self.borrowed = dict(clusters)
        self._real_password = password
        self._passwords: dict[str, str] = {}
        self._claimed: list[str] = []
        self.prefix = prefix or next_prefix()  # each example sees only its own stores
        self.ledger = Ledger(ledger)
        self._mine: list[Entry] = []
        super().__init__(seed, endpoint_url=endpoint_url, region=region, profile=profile, control=False,
                         reset=False, name="aws", isolation=Isolation(
                             "prefix", "each example's store names carry its own prefix, listings show only its own "
                                       "stores, and what it created is written to the ledger and removed"))
        self.names = NamePrefix(self.prefix)
        self.capabilities = Capabilities(operations=self.capabilities.operations, environment=SETUP_CONTROLS)
        # no real_setup: the set-up controls borrow your clusters, which are never changed

    def __repr__(self) -> str:  # never the password
        return f"AwsTarget(region={self.region!r}, clusters={sorted(self.borrowed)}, prefix={self.prefix!r})"

    # --- KMS: names prefixed (by BotoTarget), passwords substituted, creations written down ------
    def call(self, operation: str, params: Mapping[str, Any]) -> Reply:
        sent = dict(params)
        for field in PASSWORD_FIELDS:
            if sent.get(field) in self._passwords:
                sent[field] = self._passwords[sent[field]]
        return super().call(operation, sent)

    def _note_own(self, operation: str, sent: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        """Every store and key is written to the ledger before the engine sees it."""
        if operation == "CreateCustomKeyStore" and body.get("CustomKeyStoreId"):
            entry = Entry("store", body["CustomKeyStoreId"], self.region, sent.get("CustomKeyStoreName", ""))
        elif operation == "CreateKey" and body.get("KeyMetadata", {}).get("KeyId"):
            entry = Entry("key", body["KeyMetadata"]["KeyId"], self.region)
        elif operation == "UpdateCustomKeyStore" and sent.get("NewCustomKeyStoreName"):
            # a renamed store keeps its ledger entry, under its new name
            for i, old in enumerate(self._mine):
                if old.kind == "store" and old.id == sent.get("CustomKeyStoreId"):
                    self._mine[i] = attrs.evolve(old, name=sent["NewCustomKeyStoreName"])
                    self.ledger.add(self._mine[i])
            return
        else:
            return
        self.ledger.add(entry)
        self._mine.append(entry)

    # --- the environment: borrowed clusters only -------------------------------------------------
    def _performers(self) -> dict[str, Callable[..., EnvironmentReply]]:
        return {"create_cluster": self._claim, "create_hsm": self._existing_hsm,
                "initialize_cluster": self._anchor, "activate_cluster": self._is_active,
                "create_kmsuser": self._kmsuser}

    def _claim(self, _zones: int) -> EnvironmentReply:
        """The next borrowed cluster that holds no store (CREATE-06: one store per cluster; a store
        an earlier example could not delete keeps its cluster busy while its keys wait)."""
        listed = self.reply(lambda: self.kms.describe_custom_key_stores())
        busy = {s.get("CloudHsmClusterId"): s for s in (listed.body or {}).get("CustomKeyStores", [])}
        free = [c for c in self.borrowed if c not in self._claimed and c not in busy]
        if not free:
            held = ", ".join(f"{c} holds {busy[c].get('CustomKeyStoreName')}" for c in self.borrowed if c in busy)
            raise AwsConfigurationError(
                f"the starting account needs one more ready cluster than the {len(self.borrowed)} given with "
                f"--aws-cluster" + (f" that holds no custom key store ({held}; stores left by earlier examples "
                                    f"wait for their keys' deletion: give more clusters, or run ckspec cleanup "
                                    f"once those keys are gone)" if held else ""))
        self._claimed.append(free[0])
        return EnvironmentReply(True, free[0])

    def _describe(self, cluster: str) -> Mapping[str, Any]:
        shown, reply = self.described_cluster(cluster)
        if shown is None:
            raise AwsConfigurationError(f"cluster {cluster}: DescribeClusters does not show it "
                                        f"({reply.summary()}); check --aws-cluster and the Region")
        return shown

    def _existing_hsm(self, cluster: str, zone: str) -> EnvironmentReply:
        wanted = self._zone(zone)
        for hsm in self._describe(cluster).get("Hsms", []):
            if hsm.get("AvailabilityZone") == wanted and hsm.get("State") == "ACTIVE":
                return EnvironmentReply(True, hsm["HsmId"])
        raise AwsConfigurationError(f"cluster {cluster} has no ACTIVE HSM in {wanted}: the starting account "
                                    f"needs one in each of two Availability Zones")

    def _anchor(self, cluster: str) -> EnvironmentReply:
        return EnvironmentReply(True, self.borrowed[cluster])

    def _is_active(self, cluster: str) -> EnvironmentReply:
        state = self._describe(cluster).get("State")
        if state != "ACTIVE":
            raise AwsConfigurationError(f"cluster {cluster} is {state}, not ACTIVE")
        return EnvironmentReply(True)

    def _kmsuser(self, _cluster: str, password: str) -> EnvironmentReply:
        self._passwords[password] = self._real_password  # the model's kmsuser password is the real one
        return EnvironmentReply(True)

    # --- leaving nothing behind ------------------------------------------------------------------
    def close(self) -> None:
        clean(self.ledger, self.kms, only=self._mine)


def clean(ledger: Ledger, kms: Any, only: list[Entry] | None = None) -> list[tuple[Entry, str]]:
    """Remove what the ledger lists (or only ``only``): keys first, then stores. Returns each
    entry with what happened: ``gone``, ``pending deletion`` or ``kept: <reason>``."""
    keys = None if only is None else {(e.kind, e.id) for e in only}
    wanted = [e for e in ledger if keys is None or (e.kind, e.id) in keys]
    done: list[tuple[Entry, str]] = []
    for entry in sorted(wanted, key=lambda e: e.kind != "key"):
        done.append((entry, _clean_key(ledger, kms, entry) if entry.kind == "key" else _clean_store(ledger, kms, entry)))
    return done


def _disconnect(kms: Any, store: str, patience: float) -> None:
    """Disconnect the store and wait, polling at growing intervals, until it is DISCONNECTED:
    a connection attempt under way must end first, and a disconnect completes later (DISC-02)."""
    interval, deadline = 0.02, time.monotonic() + patience
    while time.monotonic() < deadline:
        reply = BotoTarget.reply(lambda: kms.describe_custom_key_stores(CustomKeyStoreId=store))
        state = ((reply.body or {}).get("CustomKeyStores") or [{}])[0].get("ConnectionState")
        if not reply.ok or state in (None, "DISCONNECTED"):
            return
        if state in ("CONNECTED", "FAILED"):
            _error(lambda: kms.disconnect_custom_key_store(CustomKeyStoreId=store))
        time.sleep(interval)
        interval = min(interval * 2, 5.0)


def _error(send: Callable[[], Any]) -> str | None:
    reply = BotoTarget.reply(send)
    return None if reply.ok else reply.error


def _clean_key(ledger: Ledger, kms: Any, entry: Entry) -> str:
    error = _error(lambda: kms.schedule_key_deletion(KeyId=entry.id, PendingWindowInDays=7))
    if error == "NotFoundException":
        ledger.remove(entry)
        return "gone"
    if error in (None, "KMSInvalidStateException"):  # scheduled now, or already pending
        ledger.mark(entry, "pending")
        return "pending deletion (7 days)"
    return f"kept: {error}"


def _clean_store(ledger: Ledger, kms: Any, entry: Entry, patience: float = DISCONNECT_PATIENCE) -> str:
    _disconnect(kms, entry.id, patience)
    error = _error(lambda: kms.delete_custom_key_store(CustomKeyStoreId=entry.id))
    if error in (None, "CustomKeyStoreNotFoundException"):
        ledger.remove(entry)
        return "gone"
    if error == "CustomKeyStoreHasCMKsException":
        return "kept: its keys are pending deletion; run ckspec cleanup again once they are gone"
    return f"kept: {error} (a disconnect may still be under way; run ckspec cleanup again)"


def aws_target_factory(*, accepted: bool, clusters: list[str], region: str | None, profile: str | None,
                       ledger: Path = DEFAULT_LEDGER) -> Callable[..., AwsTarget]:
    """How ``--target aws`` makes targets; AwsConfigurationError when something is missing."""
    if not accepted:
        raise AwsConfigurationError("--target aws runs against a real AWS account and costs money (CloudHSM "
                                    "HSMs bill by the hour, KMS keys by the month): add --i-accept-aws-costs")
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        raise AwsConfigurationError(f"--target aws: set {PASSWORD_VARIABLE} to the kmsuser password of the "
                                    f"clusters given with --aws-cluster")
    borrowed = parse_clusters(clusters)
    if not borrowed:
        raise AwsConfigurationError("--target aws: name the ready clusters to use with --aws-cluster "
                                    "CLUSTER_ID=TRUST_ANCHOR.pem (ckspec never creates CloudHSM clusters)")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise AwsConfigurationError("--target aws: choose the Region with --region (or AWS_REGION)")
    endpoint = os.environ.get(ENDPOINT_VARIABLE) or None
    return lambda seed=0: AwsTarget(seed, clusters=borrowed, password=password, region=region, profile=profile,
                                    ledger=ledger, endpoint_url=endpoint)
