"""Where the catalog's rules are documented: each source key as a public URL.

The catalog cites its sources by key (``rules.toml``'s ``sources``):

* ``API:<Op>``: the KMS API Reference page of the operation;
* ``SHAPE:<Name>[.<Member>]``: a shape of botocore's KMS service model, which is the text the
  API Reference publishes: a request or response member on its operation's page, a data type
  on its own page; an error or a simple type (an enum, a string pattern) has no page of its
  own, and is named as a shape of the model;
* ``CH:<Name>[.<Member>]``: the same for the CloudHSM v2 API (operations and data types);
* ``DG:<page>[#anchor]``: the KMS Developer Guide; ``UG:<page>[#anchor]``: the CloudHSM User
  Guide;
* ``EX:<Op>``: botocore's KMS example for the operation, published as the operation's Examples
  section.

:func:`source` turns one key into a :class:`Source` (its text and, where one exists, its URL);
:func:`cite` gives a rule's statement with its sources, for failure reports.
"""

from __future__ import annotations

from functools import cache

import attrs

KMS_API = "https://docs.aws.amazon.com/kms/latest/APIReference/"
CLOUDHSM_API = "https://docs.aws.amazon.com/cloudhsm/latest/APIReference/"
KMS_GUIDE = "https://docs.aws.amazon.com/kms/latest/developerguide/"
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
    return Source(key, f"{label} service model (botocore): shape {name}")


@cache
def _shapes(service: str) -> dict[tuple[str, str], str]:
    """("operation", name) and ("shape", name) -> its kind, from botocore's service model (empty
    when botocore cannot load it: shapes are then named without a URL)."""
    try:
        import botocore.session

        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # noqa: BLE001 - botocore missing or its data unreadable: no URLs for shapes
        return {}
    found: dict[tuple[str, str], str] = {("operation", op): "operation" for op in model.operation_names}
    for name in model.shape_names:
        found[("shape", name)] = model.shape_for(name).type_name
    return found


def cite(rule_id: str) -> tuple[str, tuple[Source, ...]]:
    """A catalogued rule's one-line statement and its sources ("", () for an unknown ID)."""
    from . import rules

    for rule in rules():
        if rule.id == rule_id:
            return rule.statement, tuple(source(k) for k in rule.sources)
    return "", ()
