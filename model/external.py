"""External key stores, as the neighbours of CloudHSM key stores: one endpoint, one list, one quota.

An external key store (``CustomKeyStoreType=EXTERNAL_KEY_STORE``) shares with CloudHSM key
stores the account's list (DESC-01), its names (CREATE-03, UPDATE-06) and its quota of 10
(CREATE-09). The model creates them (their parameters held to botocore's shapes and to
XKS-01), lists and describes them (XKS-04), renames and reconfigures them (XKS-05), deletes
them (DELETE-01, DELETE-04), and refuses them to GenerateRandom (RAND-04).

What depends on the external proxy and key manager is outside the model (XKS-06): whether
the proxy answers the health check that Create and a proxy-setting Update make is a set of
documented alternatives (XKS-03, every error botocore lists may answer); connecting and
disconnecting an external store, and keys in it, raise :class:`OutsideModel`, which the
observer reports as "outside the model" (shapes and error lists held to botocore) and
``ckspec serve`` answers as not implemented (501).

The rows below use the transition table's own classes and are interpreted by the same
executor, through :func:`operation_for`; they are kept out of
:data:`~ckspec.model.transitions.OPERATIONS`, so the proofs and the explorer (which never
create an external store) read exactly the CloudHSM table they did. The RawSecretAccessKey is
a secret like KeyStorePassword: never kept in a world, never in a ``repr`` (``SECRET_MEMBERS``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs

from . import identifiers as ids
from .aws_service import ConnectionState as S
from .facts import FACTS, Context
from .guards import Fact, Guard
from .transitions import (INVALID_STATE, LIMIT_EXCEEDED, NAME_IN_USE, STATE, UNSUPPORTED, VALIDATION,
                          VALIDATION_ERROR, Branch, Check, Operation, internal_fault, states)
from .world import ABSENT, KeyStore, World, XksProxy

EXTERNAL = "EXTERNAL_KEY_STORE"
VPC = "VPC_ENDPOINT_SERVICE"
CLOUDHSM_MEMBERS = ("CloudHsmClusterId", "TrustAnchorCertificate", "KeyStorePassword")
#: XKS-05: the settings an Update may change only while the store is DISCONNECTED
DISCONNECTED_ONLY = ("XksProxyConnectivity", "XksProxyUriEndpoint", "XksProxyVpcEndpointServiceName",
                     "XksProxyVpcEndpointServiceOwner")
PROXY_MEMBERS = (*DISCONNECTED_ONLY, "XksProxyUriPath", "XksProxyAuthenticationCredential")


class OutsideModel(ValueError):
    """A call about an external key store that the model does not decide (XKS-06)."""

    rules = ("XKS-06",)


# --- facts about external stores (read only by the rows below) ------------------------------------

XKS_FACTS: dict[str, Callable[[Context], bool]] = {}


def _fact(fn: Callable[["XksContext"], bool]) -> Callable[["XksContext"], bool]:
    XKS_FACTS[fn.__name__] = fn
    return fn


class XksContext(Context):
    """A context whose guards may also name the facts of this module."""

    __slots__ = ()

    def fact(self, name: str) -> bool:
        reader = XKS_FACTS.get(name)
        if reader is None:
            return super().fact(name)
        return bool(reader(self))

    @property
    def proxy(self) -> XksProxy | None:
        """The proxy settings the request leads to: a new store's, or the subject's after the Update."""
        return proxy_after(self.store.xks if self.store is not None else None, self.params)


def proxy_after(current: XksProxy | None, p: Mapping[str, Any]) -> XksProxy | None:
    """The settings a Create (``current`` None) or an Update leaves; None when they are incomplete."""
    credential = p.get("XksProxyAuthenticationCredential")
    key_id = credential.get("AccessKeyId") if isinstance(credential, Mapping) else None
    if current is None:
        if not all(m in p for m in ("XksProxyConnectivity", "XksProxyUriEndpoint", "XksProxyUriPath")) or not key_id:
            return None
        current = XksProxy(p["XksProxyConnectivity"], p["XksProxyUriEndpoint"], p["XksProxyUriPath"], key_id)
    connectivity = p.get("XksProxyConnectivity", current.connectivity)
    vpc = connectivity == VPC
    return attrs.evolve(
        current, connectivity=connectivity, uri_endpoint=p.get("XksProxyUriEndpoint", current.uri_endpoint),
        uri_path=p.get("XksProxyUriPath", current.uri_path), access_key_id=key_id or current.access_key_id,
        vpc_endpoint_service_name=p.get("XksProxyVpcEndpointServiceName", current.vpc_endpoint_service_name)
        if vpc else None,
        vpc_endpoint_service_owner=p.get("XksProxyVpcEndpointServiceOwner", current.vpc_endpoint_service_owner)
        if vpc else None)


@_fact
def xks_request_invalid(ctx: XksContext) -> bool:
    """XKS-01, XKS-05: CloudHSM parameters, missing proxy settings, or a VPC endpoint service name
    given exactly when the connectivity is not VPC_ENDPOINT_SERVICE."""
    p = ctx.params
    if any(m in p for m in CLOUDHSM_MEMBERS):
        return True
    proxy = ctx.proxy
    if proxy is None:
        return True
    named = "XksProxyVpcEndpointServiceName" in p or "XksProxyVpcEndpointServiceOwner" in p
    if proxy.connectivity == VPC:
        return proxy.vpc_endpoint_service_name is None
    return named


def _others(ctx: XksContext) -> list[XksProxy]:
    own = ctx.store.store_id if ctx.store is not None else None
    return [s.xks for s in ctx.world.stores if s.external and s.xks is not None and s.store_id != own]


@_fact
def xks_uri_in_use(ctx: XksContext) -> bool:
    """XKS-02: another external store has the same endpoint and path."""
    mine = ctx.proxy
    return mine is not None and any((o.uri_endpoint, o.uri_path) == (mine.uri_endpoint, mine.uri_path)
                                    for o in _others(ctx))


@_fact
def xks_endpoint_in_use(ctx: XksContext) -> bool:
    """XKS-02: with VPC connectivity, another external store uses the same endpoint (private DNS name)."""
    mine = ctx.proxy
    return mine is not None and mine.connectivity == VPC and any(o.uri_endpoint == mine.uri_endpoint
                                                                 for o in _others(ctx))


@_fact
def xks_vpc_service_in_use(ctx: XksContext) -> bool:
    """XKS-02: another external store uses the same VPC endpoint service."""
    mine = ctx.proxy
    return mine is not None and mine.connectivity == VPC and any(
        o.vpc_endpoint_service_name == mine.vpc_endpoint_service_name for o in _others(ctx))


@_fact
def xks_vpc(ctx: XksContext) -> bool:
    mine = ctx.proxy
    return mine is not None and mine.connectivity == VPC


@_fact
def xks_req_proxy(ctx: XksContext) -> bool:
    """XKS-03: the request names proxy settings (a Create always does)."""
    return any(m in ctx.params for m in PROXY_MEMBERS)


@_fact
def xks_req_disconnected_only(ctx: XksContext) -> bool:
    """XKS-05: the Update changes a setting that needs the store DISCONNECTED."""
    return any(m in ctx.params for m in DISCONNECTED_ONLY)


def F(name: str) -> Guard:
    return Fact(name)


# --- the rows ----------------------------------------------------------------------------------

def _proxy_checks(on: frozenset[str], when: Guard = F("xks_req_proxy")) -> tuple[Check, ...]:
    """XKS-03: the proxy's health check with the new settings may fail in any documented way; the
    proxy is outside the model, so each is an alternative next to success (``alt``)."""
    why = "the external key store proxy did not pass KMS's health check with these settings"
    public = ("XksProxyUriUnreachableException", "XksProxyInvalidResponseException",
              "XksProxyIncorrectAuthenticationCredentialException", "XksProxyInvalidConfigurationException")
    vpc = ("XksProxyVpcEndpointServiceNotFoundException", "XksProxyVpcEndpointServiceInvalidConfigurationException")
    return (*(Check(e, on, ("XKS-03",), why, when, blocking=False, alt="XKS-03") for e in public),
            *(Check(e, on, ("XKS-03",), why, when & F("xks_vpc"), blocking=False, alt="XKS-03") for e in vpc))


def _uniqueness(on: frozenset[str]) -> tuple[Check, ...]:
    return (
        Check("XksProxyUriInUseException", on, ("XKS-02",),
              "another external key store already uses this XksProxyUriEndpoint and XksProxyUriPath",
              F("xks_uri_in_use") & ~F("xks_endpoint_in_use")),
        Check("XksProxyUriEndpointInUseException", on, ("XKS-02",),
              "another external key store already uses this XksProxyUriEndpoint", F("xks_endpoint_in_use")),
        Check("XksProxyVpcEndpointServiceInUseException", on, ("XKS-02",),
              "another external key store already uses this VPC endpoint service", F("xks_vpc_service_in_use")),
    )


XKS_CREATE = Operation(
    "CreateCustomKeyStore", "new_store", "call",
    checks=(
        Check(VALIDATION_ERROR, states(ABSENT), ("XKS-01", "AMB-18"),
              "an external key store needs XksProxyConnectivity, XksProxyUriEndpoint, XksProxyUriPath and "
              "XksProxyAuthenticationCredential, XksProxyVpcEndpointServiceName exactly with VPC_ENDPOINT_SERVICE, "
              "and no CloudHSM parameters", F("xks_request_invalid"), rank=VALIDATION),
        Check(LIMIT_EXCEEDED, states(ABSENT), ("CREATE-09", "Q-01", "Q-02", "AMB-24"),
              "the account already has as many custom key stores as its quota", F("quota_reached")),
        Check(NAME_IN_USE, states(ABSENT), ("CREATE-03",), "another custom key store already has this name",
              F("name_taken")),
        *_uniqueness(states(ABSENT)),
        *_proxy_checks(states(ABSENT)),
        internal_fault(on=states(ABSENT)),
    ),
    branches=(
        Branch("create an external key store", states(ABSENT), ("XKS-01", "CS-02", "CREATE-02"),
               target=S.DISCONNECTED, effects=("create_xks_store",), response="store_id"),
    ),
)

_PRESENT = frozenset(s.value for s in S)

XKS_UPDATE = Operation(
    "UpdateCustomKeyStore", "store", "call", subject_param="CustomKeyStoreId",
    checks=(
        Check(VALIDATION_ERROR, _PRESENT, ("XKS-05", "AMB-18"),
              "an external key store takes no CloudHSM parameters, and XksProxyVpcEndpointServiceName only with "
              "VPC_ENDPOINT_SERVICE", F("xks_request_invalid"), rank=VALIDATION),
        Check(INVALID_STATE, states(S.CONNECTING, S.DISCONNECTING, S.FAILED), ("XKS-05", "UPDATE-04"),
              "UpdateCustomKeyStore is refused while the store is {state}", rank=STATE),
        Check(INVALID_STATE, states(S.CONNECTED), ("XKS-05",),
              "the connectivity, the endpoint and the VPC endpoint service of an external key store change only "
              "while it is DISCONNECTED", F("xks_req_disconnected_only"), rank=STATE),
        Check(NAME_IN_USE, _PRESENT, ("UPDATE-06",), "another custom key store already has this name", F("name_taken")),
        *_uniqueness(_PRESENT),
        *_proxy_checks(states(S.DISCONNECTED, S.CONNECTED)),
        internal_fault(),
    ),
    branches=(
        Branch("update an external key store", states(S.DISCONNECTED, S.CONNECTED), ("XKS-05", "UPDATE-01", "AMB-34"),
               effects=("apply_xks_update",)),
    ),
)

XKS_DELETE = Operation(
    "DeleteCustomKeyStore", "store", "call", subject_param="CustomKeyStoreId",
    checks=(
        Check(INVALID_STATE, _PRESENT - {S.DISCONNECTED.value}, ("DELETE-01",),
              "DeleteCustomKeyStore needs a DISCONNECTED store; it is {state}", rank=STATE),
        internal_fault(),
    ),
    branches=(Branch("delete an external key store", states(S.DISCONNECTED), ("DELETE-04", "DELETE-05"),
                     target=ABSENT, effects=("delete_store",)),),
)

XKS_RANDOM = Operation(
    "GenerateRandom", "store", "call", subject_param="CustomKeyStoreId",
    checks=(Check(UNSUPPORTED, _PRESENT, ("RAND-04",),
                  "GenerateRandom does not take the ID of an external key store", rank=VALIDATION),),
    branches=(),
)

#: XKS-05: an Update of a CloudHSM key store that names external-key-store settings
CLOUDHSM_UPDATE_WITH_XKS = Operation(
    "UpdateCustomKeyStore", "store", "call", subject_param="CustomKeyStoreId",
    checks=(Check(VALIDATION_ERROR, _PRESENT, ("XKS-05", "AMB-18"),
                  "the XksProxy parameters are valid only for an external key store", rank=VALIDATION),),
    branches=(),
)

XKS_OPERATIONS = {"UpdateCustomKeyStore": XKS_UPDATE, "DeleteCustomKeyStore": XKS_DELETE,
                  "GenerateRandom": XKS_RANDOM}
#: operations on an external store whose outcome depends on its proxy (XKS-06)
OUTSIDE = frozenset({"ConnectCustomKeyStore", "DisconnectCustomKeyStore", "CreateKey"})


def operation_for(world: World, operation: str, params: Mapping[str, Any]) -> Operation | None:
    """The external-key-store rows for a call, or None when the call is about CloudHSM key stores
    (or about no store). Raises OutsideModel for what XKS-06 leaves outside."""
    if operation == "CreateCustomKeyStore":
        return XKS_CREATE if params.get("CustomKeyStoreType") == EXTERNAL else None
    store = world.store(ids.parse_store_id(params.get("CustomKeyStoreId")))
    if store is not None and not store.external and operation == "UpdateCustomKeyStore" \
            and any(m in params for m in PROXY_MEMBERS):
        return CLOUDHSM_UPDATE_WITH_XKS
    if store is None or not store.external:
        return None
    if operation in OUTSIDE:
        what = "keys in external key stores" if operation == "CreateKey" else "the connection of external key stores"
        raise OutsideModel(f"XKS-06: {operation} on {ids.store_id(store.store_id)}: {what} depends on the external "
                           f"key store proxy, which is outside ckspec's model")
    return XKS_OPERATIONS.get(operation)


# --- effects -------------------------------------------------------------------------------------

def create_xks_store(world: World, ctx: Context, info: dict[str, Any]) -> World:
    """XKS-01, CS-02: a new external store, DISCONNECTED, with its proxy settings (no secret)."""
    proxy = proxy_after(None, ctx.params)
    assert proxy is not None
    world, serial = world.next_serial()
    info["store_id"] = serial
    return world.with_store(KeyStore(serial, ctx.params["CustomKeyStoreName"], None, None, None,
                                     store_type=EXTERNAL, xks=proxy))


def apply_xks_update(world: World, ctx: Context, info: dict[str, Any]) -> World:
    """XKS-05, UPDATE-01: the new name and proxy settings; nothing else."""
    store = world.store(ctx.store.store_id if ctx.store else None)
    assert store is not None and store.xks is not None
    name = ctx.params.get("NewCustomKeyStoreName", store.name)
    return world.with_store(attrs.evolve(store, name=name, xks=proxy_after(store.xks, ctx.params)))


EXTERNAL_EFFECTS = {"create_xks_store": create_xks_store, "apply_xks_update": apply_xks_update}


def entry(store: KeyStore) -> dict[str, Any]:
    """XKS-04: the CustomKeyStoresListEntry of an external store: no cluster, no trust anchor, and
    the proxy configuration without the credential's secret."""
    assert store.xks is not None
    x = store.xks
    config = {k: v for k, v in (("Connectivity", x.connectivity), ("AccessKeyId", x.access_key_id),
                                ("UriEndpoint", x.uri_endpoint), ("UriPath", x.uri_path),
                                ("VpcEndpointServiceName", x.vpc_endpoint_service_name),
                                ("VpcEndpointServiceOwner", x.vpc_endpoint_service_owner)) if v is not None}
    out: dict[str, Any] = {
        "CustomKeyStoreId": ids.store_id(store.store_id),
        "CustomKeyStoreName": store.name,
        "ConnectionState": store.state.value,
        "CreationDate": ids.creation_date(store.store_id),
        "CustomKeyStoreType": EXTERNAL,
        "XksProxyConfiguration": config,
    }
    if store.state is S.FAILED and store.error_code is not None:
        out["ConnectionErrorCode"] = store.error_code
    return out


assert not set(XKS_FACTS) & set(FACTS), "an external-key-store fact shadows a fact of the table"
