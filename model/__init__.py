"""The reference model of AWS KMS custom key stores backed by CloudHSM.

A :class:`World` is one account and Region; an action (:class:`Call`, :class:`Internal`,
:class:`Environment`) applied to a world gives the *set* of documented outcomes
(:func:`outcomes`), each a response, the next world and the rule IDs behind it. A profile
(:data:`PERMISSIVE`, :data:`REFERENCE`, :data:`LEGACY`) decides whether every documented
outcome is kept or one is chosen. The transition rules themselves are one table,
:data:`OPERATIONS` (see :mod:`ckspec.model.transitions`).
"""

from .actions import Action, Call, Environment, Internal, Outcome, Response
from .executor import ModelUsageError, NotEnabled, internal_events, outcomes, step
from .explorer import Exploration, explore
from .profiles import LEGACY, PERMISSIVE, PROFILES, REFERENCE, Profile
from .scenarios import Driver, create_request, healthy_account
from .scope import Scope
from .transitions import OPERATIONS
from .world import ABSENT, World

__all__ = [
    "ABSENT", "Action", "Call", "Driver", "Environment", "Exploration", "Internal", "LEGACY", "ModelUsageError",
    "NotEnabled", "OPERATIONS", "Outcome", "PERMISSIVE", "PROFILES", "Profile", "REFERENCE", "Response", "Scope",
    "World", "create_request", "explore", "healthy_account", "internal_events", "outcomes", "step",
]
