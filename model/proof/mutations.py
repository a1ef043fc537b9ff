"""The seeded bugs the proofs can see: the table edits of :mod:`ckspec.model.mutations` that
name the property they break.

The tests prove every such mutated table and check that exactly that property gets a
counterexample; ``ckspec prove --mutation NAME`` proves any table edit of the catalogue (the
same names as ``ckspec check --target mutant:NAME``).
"""

from __future__ import annotations

from ..mutations import TABLE_EDIT, TABLE_EDITS, Table, TableEdit, mutated

Mutation = TableEdit
#: the edits that name a property the proofs must then find broken
MUTATIONS: tuple[TableEdit, ...] = tuple(m for m in TABLE_EDITS if m.breaks)
#: every table edit, by name (``ckspec prove --mutation``)
MUTATION = TABLE_EDIT

__all__ = ["MUTATION", "MUTATIONS", "Mutation", "Table", "mutated"]
