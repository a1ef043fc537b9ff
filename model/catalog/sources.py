"""Where the catalog's rules are documented: each source key as a public URL.

The catalog cites its sources by key (``rules.toml``'s ``sources``), and every key it holds maps
to a public page (``tests/test_rule_sources.py`` fails on one that does not):

* ``API:<Op>``: the KMS API Reference page of the operation (a pattern, ``API:*`` or
  ``API:*CustomKeyStore*``: the API Reference's list of actions);
* ``SHAPE:<Name>[.<Member>]``: a shape of botocore's KMS service model, which is the text the
  API Reference publishes: a request or response member on its operation's page, a data type
  (and its member's anchor) on its own page. Shapes without a page of their own are linked where
  the API Reference documents them: an error shape at the *Errors* section of the first
  custom-key-store operation that raises it (else the first operation, alphabetically), a simple
  type (an enum, a string pattern) at the first data-type member (else request member) of that
  type (a data type whose name it starts with first: ``ClusterState`` at ``Cluster.State``), and ``SHAPE:*Exception`` (every error) at the API Reference's *Common Errors* page;
* ``CH:<Name>[.<Member>]``: the same for the CloudHSM v2 API (operations and data types);
* ``DG:<page>[#anchor]``: the KMS Developer Guide; ``UG:<page>[#anchor]``: the CloudHSM User
  Guide;
* ``EX:<Op>``: botocore's KMS example for the operation, published as the operation's Examples
  section;
* ``SMITHY``: AWS's Smithy model of KMS (the HTTP status of each error), in its public
  repository; ``botocore:<file>``: botocore's KMS data file (``metadata`` is in ``service-2.json``).

:func:`source` turns one key into a :class:`Source` (its text and its URL, None only for a key of
a kind not listed here); :func:`cite` gives a rule's statement with its sources, for failure
reports.
"""

from __future__ import annotations

from functools import cache

import attrs

KMS_API = "https://docs.aws.amazon.com/kms/latest/APIReference/"
CLOUDHSM_API = "https://docs.aws.amazon.com/cloudhsm/latest/APIReference/"
KMS_GUIDE = "https://docs.aws.amazon.com/kms/latest/developerguide/"
KMS_COMMON_ERRORS = KMS_API + "CommonErrors.html"
KMS_OPERATIONS = KMS_API + "API_Operations.html"
SMITHY_MODEL = "https://github.com/aws/api-models-aws/tree/main/models/kms"
BOTOCORE_KMS = "https://github.com/boto/botocore/blob/develop/botocore/data/kms/2014-11-01/"
CLOUDHSM_GUIDE = "https://docs.aws.amazon.com/cloudhsm/latest/userguide/"

#: (key prefix, the service's botocore name, its API Reference, the anchor prefix AWS uses)
_APIS = {"SHAPE": ("kms", KMS_API, "KMS"), "CH": ("cloudhsmv2", CLOUDHSM_API, "CloudHSMv2")}
_GUIDES = {"DG": (KMS_GUIDE, "KMS Developer Guide"), "UG": (CLOUDHSM_GUIDE, "CloudHSM User Guide")}


@attrs.frozen
class Source:
    """One documentation source of a rule."""

    key: str
    #: what it is, in words (``KMS API Reference: ConnectCustomKeyStore``)
    title: str
    #: its public URL, or None where the documentation has no page for it
    url: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"key": self.key, "title": self.title, "url": self.url}

    def __str__(self) -> str:
        return f"{self.title} <{self.url}>" if self.url else self.title


def source(key: str) -> Source:
    """The source a catalog key names (an unknown kind of key is kept as it is, with no URL)."""
    kind, _, rest = key.partition(":")
    if kind == "API" and "*" in rest:  # API:* (every operation), API:*CustomKeyStore* (a family of them)
        what = "every operation" if rest == "*" else f"the {rest} operations"
        return Source(key, f"KMS API Reference: Actions ({what})", KMS_OPERATIONS)
    if kind == "API" and rest:
        return Source(key, f"KMS API Reference: {rest}", f"{KMS_API}API_{rest}.html")
    if kind == "EX" and rest:
        return Source(key, f"KMS API Reference: {rest}, examples", f"{KMS_API}API_{rest}.html#API_{rest}_Examples")
    if kind in _GUIDES and rest:
        base, name = _GUIDES[kind]
        page, _, anchor = rest.partition("#")
        return Source(key, f"{name}: {rest}", f"{base}{page}.html" + (f"#{anchor}" if anchor else ""))
    if kind in _APIS and rest:
        return _shape_source(key, kind, rest)
    if key == "SMITHY":
        return Source(key, "AWS KMS Smithy model (error HTTP statuses)", SMITHY_MODEL)
    if kind == "botocore" and rest:
        file = "service-2.json" if rest == "metadata" else rest
        return Source(key, f"botocore KMS data: {file}" + (" (metadata)" if rest == "metadata" else ""),
                      BOTOCORE_KMS + file)
    return Source(key, key)


def _shape_source(key: str, kind: str, name: str) -> Source:
    service, base, prefix = _APIS[kind]
    shape, _, member = name.partition(".")
    label = "KMS" if kind == "SHAPE" else "CloudHSM v2"
    model = _shapes(service)
    operation = model.get(("operation", shape))
    if operation is not None:  # CH:DeleteCluster
        return Source(key, f"{label} API Reference: {shape}", f"{base}API_{shape}.html")
    for suffix, section, word, whole in (("Request", "RequestParameters", "request", "parameters"),
                                         ("Response", "ResponseElements", "response", "elements")):
        op = shape.removesuffix(suffix)
        if shape.endswith(suffix) and ("operation", op) in model:
            anchor = f"{prefix}-{op}-{word}-{member}" if member else f"API_{op}_{section}"
            return Source(key, f"{label} API Reference: {op}, {word} {member or whole}",
                          f"{base}API_{op}.html#{anchor}")
    kind_of = model.get(("shape", shape))
    if kind_of == "structure" and not shape.endswith("Exception"):
        anchor = f"#{prefix}-Type-{shape}-{member}" if member else ""
        return Source(key, f"{label} API Reference: data type {name}", f"{base}API_{shape}.html{anchor}")
    if kind == "SHAPE" and shape == "*Exception":
        return Source(key, "KMS API Reference: Common Errors (every error shape)", KMS_COMMON_ERRORS)
    raisers = _raised_by(service).get(shape)
    if raisers:
        op = min(raisers, key=lambda o: ("CustomKeyStore" not in o, o))
        return Source(key, f"{label} API Reference: {shape}, an error of {op}", f"{base}API_{op}.html#API_{op}_Errors")
    users = _used_by(service).get(shape)
    if users:
        owner, field = min(users, key=lambda u: (u[0].endswith(("Request", "Response")), not shape.startswith(u[0]), u))
        inner = _shape_source(key, kind, f"{owner}.{field}")
        return Source(key, f"{label} API Reference: {shape}, the type of {owner}.{field}", inner.url)
    return Source(key, f"{label} service model (botocore): shape {name}")


@cache
def _model(service: str):  # noqa: ANN202 - botocore's ServiceModel, or None
    try:
        import botocore.session

        return botocore.session.get_session().get_service_model(service)
    except Exception:  # noqa: BLE001 - botocore missing or its data unreadable: no URLs for shapes
        return None


@cache
def _shapes(service: str) -> dict[tuple[str, str], str]:
    """("operation", name) and ("shape", name) -> its kind, from botocore's service model (empty
    when botocore cannot load it: shapes are then named without a URL)."""
    model = _model(service)
    if model is None:
        return {}
    found: dict[tuple[str, str], str] = {("operation", op): "operation" for op in model.operation_names}
    for name in model.shape_names:
        found[("shape", name)] = model.shape_for(name).type_name
    return found


@cache
def _raised_by(service: str) -> dict[str, tuple[str, ...]]:
    """Error shape -> the operations that list it among their errors."""
    found: dict[str, list[str]] = {}
    model = _model(service)
    for op in model.operation_names if model else ():
        for error in model.operation_model(op).error_shapes:
            found.setdefault(error.name, []).append(op)
    return {k: tuple(v) for k, v in found.items()}


@cache
def _used_by(service: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """Simple (not structure) shape -> the (structure, member) pairs of that type."""
    found: dict[str, list[tuple[str, str]]] = {}
    model = _model(service)
    for name in model.shape_names if model else ():
        shape = model.shape_for(name)
        if shape.type_name == "structure" and not name.endswith("Exception"):
            for member, of in shape.members.items():
                if of.type_name != "structure":
                    found.setdefault(of.name, []).append((name, member))
    return {k: tuple(v) for k, v in found.items()}


def cite(rule_id: str) -> tuple[str, tuple[Source, ...]]:
    """A catalogued rule's one-line statement and its sources ("", () for an unknown ID)."""
    from . import rules

    for rule in rules():
        if rule.id == rule_id:
            return rule.statement, tuple(source(k) for k in rule.sources)
    return "", ()
