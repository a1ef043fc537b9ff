"""AWS-shaped identifiers for the model's serial numbers, and parsing them back.

The model numbers every resource by creation order; the API sees strings shaped like
AWS's: ``cks-`` plus 17 hex digits, ``cluster-`` plus base32 letters (the
``cluster-[2-7a-zA-Z]{11,16}`` pattern of ``CloudHsmClusterIdType``), UUID key ids and key
ARNs. Parsing returns ``None`` for anything the model never issued, which the operations
turn into their not-found errors.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

ACCOUNT = "111122223333"
REGION = "us-east-1"
#: CreationDate of serial 0; serial n is n seconds later.
EPOCH = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)

_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def _base32(n: int, width: int) -> str:
    digits = []
    while n:
        n, r = divmod(n, 32)
        digits.append(_B32[r])
    return "".join(reversed(digits)).rjust(width, "a")


def _unbase32(text: str) -> int:
    n = 0
    for ch in text:
        n = n * 32 + _B32.index(ch)
    return n


def store_id(serial: int) -> str:
    return f"cks-{serial:017x}"


def cluster_id(serial: int) -> str:
    return "cluster-" + _base32(serial, 11)


def hsm_id(serial: int) -> str:
    return "hsm-" + _base32(serial, 11)


def backup_id(serial: int) -> str:
    return "backup-" + _base32(serial, 11)


def subnet_id(cluster_serial: int, zone: str) -> str:
    return f"subnet-{cluster_serial:012x}{zone[-1]}"


def key_id(serial: int) -> str:
    return f"{serial:08x}-0000-4000-8000-{serial:012x}"


def key_arn(serial: int) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id(serial)}"


def trust_anchor(lineage: int) -> str:
    """The customerCA.crt of a cluster lineage (CL-06), as PEM-looking text."""
    return f"-----BEGIN CERTIFICATE-----\nckspec-customer-ca-{lineage}\n-----END CERTIFICATE-----"


def creation_date(serial: int) -> _dt.datetime:
    return EPOCH + _dt.timedelta(seconds=serial)


_STORE = re.compile(r"cks-([0-9a-f]{17})")
_CLUSTER = re.compile(r"cluster-([2-7a-z]{11,16})")
_HSM = re.compile(r"hsm-([2-7a-z]{11,16})")
_BACKUP = re.compile(r"backup-([2-7a-z]{11,16})")
_KEY = re.compile(r"([0-9a-f]{8})-0000-4000-8000-([0-9a-f]{12})")
_KEY_ARN = re.compile(rf"arn:aws:kms:{REGION}:{ACCOUNT}:key/(.+)")


def parse_store_id(text: object) -> int | None:
    return _parse_store_id(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=8192)
def _parse_store_id(text: str) -> int | None:
    m = _STORE.fullmatch(text)
    return int(m.group(1), 16) if m else None


def parse_cluster_id(text: object) -> int | None:
    return _parse_cluster_id(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=8192)
def _parse_cluster_id(text: str) -> int | None:
    m = _CLUSTER.fullmatch(text)
    return _unbase32(m.group(1)) if m else None


def parse_hsm_id(text: object) -> int | None:
    m = _HSM.fullmatch(text) if isinstance(text, str) else None
    return _unbase32(m.group(1)) if m else None


def parse_backup_id(text: object) -> int | None:
    m = _BACKUP.fullmatch(text) if isinstance(text, str) else None
    return _unbase32(m.group(1)) if m else None


def parse_key_id(text: object) -> int | None:
    """A key id or key ARN of this account and Region, else None."""
    return _parse_key_id(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=8192)
def _parse_key_id(text: str) -> int | None:
    arn = _KEY_ARN.fullmatch(text)
    if arn:
        text = arn.group(1)
    m = _KEY.fullmatch(text)
    if not m or int(m.group(1), 16) != int(m.group(2), 16):
        return None
    return int(m.group(2), 16)


def is_malformed_arn(text: object) -> bool:
    """An ``arn:`` string that is not a key ARN of this account and Region (InvalidArnException)."""
    return isinstance(text, str) and text.startswith("arn:") and not _KEY_ARN.fullmatch(text)
