"""A tiny boolean language for transition guards.

Guards are trees of named facts joined by ``&``, ``|`` and ``~``. The same tree is
evaluated by the executor (against a :class:`~ckspec.model.facts.Context`), printed on
diagram edges, enumerated exhaustively by the table's consistency tests, and translated
into solver terms by the proofs: one definition, several readers.
"""

from __future__ import annotations

from typing import Callable, Protocol


class FactSource(Protocol):
    def fact(self, name: str) -> bool: ...


class Guard:
    """Base class of guard expressions."""

    __slots__ = ()

    def holds(self, source: FactSource) -> bool:
        raise NotImplementedError

    def atoms(self) -> frozenset[str]:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def fold(self, fact: Callable[[str], object], neg: Callable, conj: Callable, disj: Callable) -> object:
        """Rebuild the guard in another algebra (a solver's terms, a truth-table row, ...)."""
        raise NotImplementedError

    def __and__(self, other: "Guard") -> "Guard":
        return All((self, other))

    def __or__(self, other: "Guard") -> "Guard":
        return AnyOf((self, other))

    def __invert__(self) -> "Guard":
        return Not(self)


class Fact(Guard):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def holds(self, source: FactSource) -> bool:
        return source.fact(self.name)

    def atoms(self) -> frozenset[str]:
        return frozenset((self.name,))

    def text(self) -> str:
        return self.name

    def fold(self, fact, neg, conj, disj):
        return fact(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fact) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Fact", self.name))

    def __repr__(self) -> str:
        return f"Fact({self.name!r})"


class Not(Guard):
    __slots__ = ("inner",)

    def __init__(self, inner: Guard) -> None:
        self.inner = inner

    def holds(self, source: FactSource) -> bool:
        return not self.inner.holds(source)

    def atoms(self) -> frozenset[str]:
        return self.inner.atoms()

    def text(self) -> str:
        inner = self.inner.text()
        return f"not {inner}" if isinstance(self.inner, Fact) else f"not ({inner})"

    def fold(self, fact, neg, conj, disj):
        return neg(self.inner.fold(fact, neg, conj, disj))

    def __repr__(self) -> str:
        return f"Not({self.inner!r})"


class All(Guard):
    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Guard, ...]) -> None:
        flat: list[Guard] = []
        for p in parts:
            flat.extend(p.parts if isinstance(p, All) else (p,))
        self.parts = tuple(flat)

    def holds(self, source: FactSource) -> bool:
        return all(p.holds(source) for p in self.parts)

    def atoms(self) -> frozenset[str]:
        return frozenset().union(*(p.atoms() for p in self.parts))

    def text(self) -> str:
        if not self.parts:
            return "always"
        return " and ".join(p.text() if not isinstance(p, AnyOf) else f"({p.text()})" for p in self.parts)

    def fold(self, fact, neg, conj, disj):
        return conj([p.fold(fact, neg, conj, disj) for p in self.parts])

    def __repr__(self) -> str:
        return f"All({self.parts!r})"


class AnyOf(Guard):
    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Guard, ...]) -> None:
        flat: list[Guard] = []
        for p in parts:
            flat.extend(p.parts if isinstance(p, AnyOf) else (p,))
        self.parts = tuple(flat)

    def holds(self, source: FactSource) -> bool:
        return any(p.holds(source) for p in self.parts)

    def atoms(self) -> frozenset[str]:
        return frozenset().union(*(p.atoms() for p in self.parts))

    def text(self) -> str:
        if not self.parts:
            return "never"
        return " or ".join(p.text() if not isinstance(p, All) else f"({p.text()})" for p in self.parts)

    def fold(self, fact, neg, conj, disj):
        return disj([p.fold(fact, neg, conj, disj) for p in self.parts])

    def __repr__(self) -> str:
        return f"AnyOf({self.parts!r})"


def compile_guard(guard: Guard) -> Callable[[FactSource], bool]:
    """The guard as one Python function of a fact source: the same tree, evaluated without
    walking it (the executor's hot path)."""
    expr = guard.fold(lambda name: f"fact({name!r})", lambda e: f"(not {e})",
                      lambda es: "(" + " and ".join(es) + ")" if es else "True",
                      lambda es: "(" + " or ".join(es) + ")" if es else "False")
    source = f"def compiled(source):\n    fact = source.fact\n    return {expr}\n"
    namespace: dict[str, object] = {}
    exec(source, namespace)  # noqa: S102 - the source is built from fact names only
    return namespace["compiled"]  # type: ignore[return-value]


ALWAYS: Guard = All(())
NEVER: Guard = AnyOf(())


class _Assignment:
    __slots__ = ("values",)

    def __init__(self, values: dict[str, bool]) -> None:
        self.values = values

    def fact(self, name: str) -> bool:
        return self.values[name]


def holds_under(guard: Guard, values: dict[str, bool]) -> bool:
    """Evaluate a guard under an explicit assignment of its facts (for truth-table checks)."""
    return guard.holds(_Assignment(values))
