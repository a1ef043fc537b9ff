"""A bounded scope: how many of each thing exploration and search may create.

The model itself is unbounded; a scope is what makes an explicit-state enumeration
finite. Its bounds and value pools are printed with every result that depends on them.
"""

from __future__ import annotations

import attrs


def _at_least(low: int):
    def check(instance, attribute, value):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"scope: {attribute.name} must be a whole number >= {low}, got {value!r}")
    return check


@attrs.frozen
class Scope:
    stores: int = attrs.field(default=2, validator=_at_least(1))
    clusters: int = attrs.field(default=2, validator=_at_least(1))
    hsms: int = attrs.field(default=2, validator=_at_least(0))
    zones: int = attrs.field(default=2, validator=_at_least(1))
    keys: int = attrs.field(default=2, validator=_at_least(0))
    backups: int = attrs.field(default=1, validator=_at_least(0))
    #: how many environment deviations (faults) may hold at once
    faults: int = attrs.field(default=1, validator=_at_least(0))
    #: how many environment events one path may contain (None: unbounded)
    environment_steps: int | None = attrs.field(default=None)
    #: how many steps from the initial world (None: unbounded)
    depth: int | None = attrs.field(default=None)
    #: the store quota of the explored account (Q-02)
    quota: int = attrs.field(default=10, validator=_at_least(1))
    #: store names the explored requests use
    names: tuple[str, ...] = ("store-a", "store-b")
    #: kmsuser passwords people choose (alphanumeric, as CloudHSM requires; AMB-27)
    passwords: tuple[str, ...] = ("kmsPassw0rd", "n3wPassw0rd")

    def describe(self) -> str:
        return (f"{self.stores} stores, {self.clusters} clusters, {self.hsms} HSMs per cluster in {self.zones} AZs, "
                f"{self.keys} keys, {self.backups} backups, {self.faults} simultaneous faults, quota {self.quota}, "
                f"{len(self.names)} names, {len(self.passwords)} passwords")

    def as_dict(self) -> dict[str, object]:
        d = attrs.asdict(self)
        d["names"] = list(self.names)
        d["passwords"] = len(self.passwords)
        return d
