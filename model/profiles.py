"""Named profiles: how the model answers where the documentation leaves a choice.

The model itself always knows the whole *set* of outcomes the documentation allows
(``permissive``). A profile that wants one answer (``reference``) takes the outcome the
rule catalog recommends: documented alternatives marked with an ambiguity ID are set
aside, and among several violated preconditions the conventional order decides
(parameter validation, then not-found, then state, then other preconditions; AMB-07).
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Profile:
    name: str
    #: choose a single outcome (True) or keep every documented outcome (False)
    single: bool
    #: AMB-14: the current API allows renaming a CONNECTED store; the 2023 guide did not
    rename_while_connected: bool = True
    #: AMB-10: which ClusterState values count as an "active cluster"
    active_cluster_states: frozenset[str] = frozenset({"ACTIVE"})
    #: AMB-10, CL-02: which HsmState values count as an "active HSM"
    active_hsm_states: frozenset[str] = frozenset({"ACTIVE"})
    summary: str = ""


PERMISSIVE = Profile(
    "permissive",
    single=False,
    summary="every outcome the documentation allows (for checking implementations)",
)
REFERENCE = Profile(
    "reference",
    single=True,
    summary="one outcome per call: the catalog's recommended behaviour for each ambiguity",
)
#: AMB-35, AMB-14: the pre-2022 documentation, for replaying old recordings.
LEGACY = Profile(
    "legacy",
    single=True,
    rename_while_connected=False,
    summary="reference, but every Update needs DISCONNECTED (the 2019-2023 documentation)",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (PERMISSIVE, REFERENCE, LEGACY)}
