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
    name: str = "custom"
    stores: int = attrs.field(default=2, validator=_at_least(1))
    clusters: int = attrs.field(default=2, validator=_at_least(1))
    hsms: int = attrs.field(default=2, validator=_at_least(0))
    zones: int = attrs.field(default=2, validator=_at_least(1))
    keys: int = attrs.field(default=2, validator=_at_least(0))
    backups: int = attrs.field(default=1, validator=_at_least(0))
    #: how many environment deviations (faults) may hold at once
    faults: int = attrs.field(default=1, validator=_at_least(0))
    #: how many environment events one path may contain (None: unbounded); repairs (a fault
    #: ends, a person logs out, ...) do not count, so a fault never outlives the budget
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
        steps = "unbounded" if self.environment_steps is None else self.environment_steps
        depth = "" if self.depth is None else f", depth {self.depth}"
        return (f"{self.name}: {self.stores} stores, {self.clusters} clusters, {self.hsms} HSMs per cluster in {self.zones} AZs, "
                f"{self.keys} keys, {self.backups} backups, {self.faults} faults at once, {steps} environment "
                f"events per path{depth}, quota {self.quota}, {len(self.names)} names, {len(self.passwords)} passwords")

    def as_dict(self) -> dict[str, object]:
        d = attrs.asdict(self)
        d["names"] = list(self.names)
        d["passwords"] = len(self.passwords)
        return d


#: The default exploration: two scopes that together complete in seconds on a 2-core machine.
#: "lifecycle" follows one key store through every environment event (all five connection
#: states and all ten error codes are reachable in it); "interactions" puts two stores on
#: two clusters side by side (names, cluster lineages, keys) with the environment held ready.
#: Larger scopes are a flag away; bench/RESULTS.md has their measured sizes and times.
LIFECYCLE = Scope(name="lifecycle", stores=1, clusters=1, hsms=2, zones=2, keys=1, backups=0, faults=1,
                  environment_steps=3)
INTERACTIONS = Scope(name="interactions", stores=2, clusters=2, hsms=2, zones=2, keys=2, backups=1, faults=0,
                     environment_steps=0)
DEFAULT_SCOPES = (LIFECYCLE, INTERACTIONS)
#: Both at once: two stores on two clusters, two keys, every environment event, unbounded.
#: Not a default: it is the product of two lifecycles and does not finish in minutes (use
#: --max-states); the proofs cover it symbolically.
PRODUCT = Scope(name="product", stores=2, clusters=2, hsms=2, zones=2, keys=2, backups=1, faults=1,
                environment_steps=None)
NAMED_SCOPES = {s.name: s for s in (*DEFAULT_SCOPES, PRODUCT)}
