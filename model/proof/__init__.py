"""Z3 proofs of the model's properties, over an encoding derived from the transition table.

``prove()`` encodes :data:`~ckspec.model.transitions.OPERATIONS` (or a mutated copy) for a
symbolic scope, proves the properties of :mod:`.properties` for any number of steps, and
returns a :class:`Report`: per property, proved, violated (with a counterexample trace) or
unknown. See :mod:`.engine` for the method and :mod:`.relation` for the encoding.
"""

from .engine import DEFAULT_DEPTH, Report, Result, prove
from .mutations import MUTATION, MUTATIONS, Mutation, mutated
from .properties import LEMMAS, PROPERTIES, PROPERTY, Lemma, Property
from .state import DEFAULT_SCOPE, SymbolicScope
from .traces import Trace

__all__ = [
    "DEFAULT_DEPTH", "DEFAULT_SCOPE", "LEMMAS", "MUTATION", "MUTATIONS", "PROPERTIES", "PROPERTY", "Lemma", "Mutation",
    "Property", "Report", "Result", "SymbolicScope", "Trace", "mutated", "prove",
]
