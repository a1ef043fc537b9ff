"""What ``ckspec serve`` keeps about KMS beyond the model: ordinary keys, aliases, tags, key
policies, descriptions, dates, and the secrets and randomness behind its cryptography.

The model (:mod:`ckspec.model`) holds the custom key stores and the KMS keys in them; the
rest of an application's KMS usage (``AWS_KMS`` keys, aliases, tags, policies) is plain
bookkeeping, kept here under the account's lock. Records are frozen and replaced on change.

Randomness (data keys, GenerateRandom, nonces, the account's key-material secret) comes from
the operating system, unless the account was given an explicit seed (``--seed``, or a seed
in ``POST /_ckspec/reset``): then it is reproducible. Dates are the account's clock as a
wall-clock date: under ``--clock real`` the real time (plus any ``/_ckspec/wait`` skips).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import random
from collections.abc import Callable

import attrs

#: the default key policy every new key gets: the account may use the key through IAM
DEFAULT_POLICY_NAME = "default"


def default_policy(account: str) -> str:
    return ('{\n  "Version" : "2012-10-17",\n  "Id" : "key-default-1",\n  "Statement" : [ {\n'
            '    "Sid" : "Enable IAM User Permissions",\n    "Effect" : "Allow",\n'
            f'    "Principal" : {{\n      "AWS" : "arn:aws:iam::{account}:root"\n    }},\n'
            '    "Action" : "kms:*",\n    "Resource" : "*"\n  } ]\n}')


@attrs.frozen
class PlainKey:
    """An ordinary ``AWS_KMS`` symmetric encryption key (not in a custom key store)."""

    key_id: str
    state: str = "Enabled"  # Enabled, Disabled or PendingDeletion
    window: int | None = None  # PendingWindowInDays while PendingDeletion
    rotation_days: int | None = None  # the rotation period while automatic rotation is on


@attrs.frozen
class KeyExtras:
    """What KMS keeps about any key, ordinary or in a custom key store, that the model does not."""

    created: _dt.datetime
    order: int
    description: str = ""
    policy: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    deletion_date: _dt.datetime | None = None


@attrs.frozen
class Alias:
    name: str  # alias/...
    target: str  # the key ID (UUID) it points to
    created: _dt.datetime
    updated: _dt.datetime


class KmsState:
    """The account's KMS bookkeeping (hold the account's lock while using it)."""

    def __init__(self, seed: int | None, now: Callable[[], float]) -> None:
        if seed is None:
            self.random_bytes: Callable[[int], bytes] = os.urandom
            self.secret = os.urandom(32)
        else:  # reproducible on request only (--seed): tests that compare runs
            rng = random.Random(f"ckspec-serve-crypto-{seed}")
            self.random_bytes = rng.randbytes
            self.secret = hashlib.sha256(f"ckspec-serve-secret-{seed}".encode()).digest()
        self.seeded = seed is not None
        self._clock = now
        self._started = _dt.datetime.now(_dt.timezone.utc)
        self.plain: dict[str, PlainKey] = {}
        self.extras: dict[str, KeyExtras] = {}
        self.aliases: dict[str, Alias] = {}
        self.store_dates: dict[str, _dt.datetime] = {}
        self._order = 0

    def now(self) -> _dt.datetime:
        """The account's time as a date: wall-clock at the start, moved by its clock."""
        return self._started + _dt.timedelta(seconds=self._clock())

    def new_key_id(self) -> str:
        h = self.random_bytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def key_extras(self, key_id: str, account: str) -> KeyExtras:
        """The key's extras, made on first sight (its creation, as far as serve can tell)."""
        found = self.extras.get(key_id)
        if found is None:
            self._order += 1
            found = self.extras[key_id] = KeyExtras(self.now(), self._order, policy=default_policy(account))
        return found

    def update(self, key_id: str, **changes: object) -> KeyExtras:
        self.extras[key_id] = attrs.evolve(self.extras[key_id], **changes)
        return self.extras[key_id]

    def store_date(self, store_id: str) -> _dt.datetime:
        return self.store_dates.setdefault(store_id, self.now())
