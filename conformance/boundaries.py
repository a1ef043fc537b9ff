"""The values the generator draws for each request parameter: both sides of every boundary.

Read off botocore's KMS service model (``botocore.loaders``: lengths, ranges, enums) and the
catalog's own boundaries (rules that narrow botocore's ranges), so a botocore upgrade that moves
a boundary moves the draws with it:

===================== =============================== =========================================
parameter             botocore                        catalog
===================== =============================== =========================================
PendingWindowInDays   1..365                          7..30 (DK-01, AMB-36)
Limit                 1..1000                         (DESC-04: the same)
NumberOfBytes         1..1024                         (RAND-01: the same)
CustomKeyStoreName    length 1..256                   names are case-sensitive (below)
KeyStorePassword      length 7..32                    (KU-04: the same)
KeySpec, KeyUsage,    enums                           only SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT,
Origin, MultiRegion                                   AWS_CLOUDHSM, single-Region (KEY-01, KEY-05,
                                                      AMB-19)
===================== =============================== =========================================

Each range gives ``low - 1, low, high, high + 1`` for botocore's bounds (the outer two are
validation errors, AMB-18) and the same for the catalog's narrower bounds (AMB-36).

**Store names are case-sensitive.** Neither the documentation nor the catalog says otherwise:
CREATE-03 and UPDATE-06 refuse "a CustomKeyStoreName already used", DESC-03 filters by the name,
and the model compares names exactly. So ``Store-A`` is another name than ``store-a``: a target
that folds case refuses a Create the model allows (CREATE-03) or finds a store the filter should
not (DESC-03).
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.loaders

#: the catalog's narrower bounds: parameter -> (low, high, rules)
CATALOG_RANGES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "PendingWindowInDays": (7, 30, ("DK-01", "AMB-36")),
}
#: the one value of each CreateKey parameter a CloudHSM key store key may have (KEY-01, KEY-05, AMB-19)
ALLOWED_KEY_PARAMETERS: dict[str, Any] = {
    "KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT",
    "Origin": "AWS_CLOUDHSM", "MultiRegion": False,
}


@functools.lru_cache(maxsize=1)
def _shapes() -> dict[str, Any]:
    return botocore.loaders.create_loader().load_service_model("kms", "service-2")["shapes"]


def member_shape(operation: str, member: str) -> dict[str, Any]:
    """botocore's shape of a request member (``min``, ``max``, ``enum``, ...)."""
    shapes = _shapes()
    request = shapes[f"{operation}Request"]["members"][member]["shape"]
    return shapes[request]


def _edges(low: int | None, high: int | None) -> list[int]:
    found: list[int] = []
    for bound, outside in ((low, -1), (high, 1)):
        if bound is not None:
            found += [bound, bound + outside]
    return found


@functools.lru_cache(maxsize=None)
def integer_boundaries(operation: str, member: str) -> tuple[int, ...]:
    """Both sides of botocore's range for an integer member, and of the catalog's narrower one."""
    shape = member_shape(operation, member)
    values = _edges(shape.get("min"), shape.get("max"))
    if member in CATALOG_RANGES:
        low, high, _ = CATALOG_RANGES[member]
        values += _edges(low, high)
    return tuple(sorted({max(v, 0) for v in values}))


@functools.lru_cache(maxsize=None)
def length_boundaries(operation: str, member: str) -> tuple[int, ...]:
    """Both sides of botocore's length bounds for a string member (never below 0)."""
    shape = member_shape(operation, member)
    return tuple(sorted({max(v, 0) for v in _edges(shape.get("min"), shape.get("max"))}))


def within(operation: str, member: str, value: int) -> bool:
    """Whether a value is inside botocore's range (and the catalog's, where it narrows it)."""
    shape = member_shape(operation, member)
    low, high = shape.get("min"), shape.get("max")
    if member in CATALOG_RANGES:
        low, high = max(low or 0, CATALOG_RANGES[member][0]), min(high or 1 << 31, CATALOG_RANGES[member][1])
    return (low is None or value >= low) and (high is None or value <= high)


@functools.lru_cache(maxsize=None)
def enum_values(operation: str, member: str) -> tuple[str, ...]:
    return tuple(member_shape(operation, member).get("enum", ()))


@functools.lru_cache(maxsize=None)
def forbidden_key_parameters() -> tuple[tuple[str, Any], ...]:
    """Every value botocore allows for a CreateKey parameter that a CloudHSM key store key may
    not have, each on its own (KEY-01, KEY-05, AMB-19): the other key specs and usages, the other
    origins, MultiRegion=true."""
    found: list[tuple[str, Any]] = []
    for member in ("KeySpec", "KeyUsage", "Origin", "CustomerMasterKeySpec"):
        found += [(member, v) for v in enum_values("CreateKey", member) if v != ALLOWED_KEY_PARAMETERS[member]]
    found.append(("MultiRegion", True))
    return tuple(found)


@functools.lru_cache(maxsize=None)
def store_names(base: tuple[str, ...]) -> tuple[str, ...]:
    """Unusual store names: case variants of the usual ones (CREATE-03, UPDATE-06, DESC-03: names
    are case-sensitive) and both sides of botocore's length bounds (0 and 257 characters are
    validation errors, AMB-18)."""
    variants = [base[0].upper(), base[0][:1].upper() + base[0][1:]]
    if len(base) > 1:
        variants.append(base[1].swapcase() if base[1] != base[1].swapcase() else base[1] + "X")
    lengths = [("s" * n) if n < 2 else ("n" + "x" * (n - 1)) for n in length_boundaries("CreateCustomKeyStore",
                                                                                         "CustomKeyStoreName")]
    return tuple(dict.fromkeys(variants + lengths))
