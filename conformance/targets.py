"""Naming targets: ``reference``, ``mutant:NAME``, or a class of your own.

``--target`` accepts:

* ``reference``: the model, asynchronous work after fixed delays, reads that lag;
* ``reference:random``: random delays, and any documented outcome at random;
* ``reference:free``: as ``reference:random``, with a clock the engine does not control
  (work may complete between any two calls, as with a real service);
* ``mutant:NAME``: a seeded-bug target (``ckspec mutants`` lists them; a unique prefix such
  as ``mutant:CONNECT-03`` is enough);
* ``package.module:ClassName`` or ``path/to/file.py:ClassName``: your own adapter class
  (see the README). It is instantiated once per example, with ``seed=`` when its
  constructor takes that keyword.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from typing import Any, Callable

import attrs

from .adapter import Target, TargetUnreachable


class TargetNameError(ValueError):
    """The target name is not one ckspec knows (a usage error)."""


@attrs.frozen
class TargetSpec:
    """A named way to make fresh, isolated targets (one per example)."""

    name: str
    factory: Callable[..., Any]
    takes_seed: bool = True

    def make(self, seed: int = 0) -> Target:
        try:
            target = self.factory(seed=seed) if self.takes_seed else self.factory()
        except (ConnectionError, TimeoutError, TargetUnreachable) as exc:
            raise TargetUnreachable(f"target {self.name}: {exc}") from None
        _check_adapter(self.name, target)
        return target


def _check_adapter(name: str, target: Any) -> None:
    missing = [m for m in ("call", "environment", "wait", "capabilities") if not hasattr(target, m)]
    if missing:
        raise TargetNameError(
            f"target {name}: {type(target).__name__} is not an adapter (missing {', '.join(missing)})")


def load_target(name: str) -> TargetSpec:
    """The target a ``--target`` value names; TargetNameError if there is none."""
    from .mutants import MUTANTS
    from .reference import ReferenceTarget

    if name == "reference":
        return TargetSpec(name, ReferenceTarget)
    if name == "reference:random":
        return TargetSpec(name, lambda seed: ReferenceTarget(seed, delays="random", choices="random"))
    if name == "reference:free":
        return TargetSpec(name, lambda seed: ReferenceTarget(seed, delays="random", choices="random",
                                                             controlled_clock=False))
    if name.startswith("mutant:"):
        wanted = name[len("mutant:"):]
        found = [m for m in MUTANTS if m == wanted] or [m for m in MUTANTS if wanted and m.startswith(wanted)]
        if len(found) != 1:
            raise TargetNameError(f"no single mutant named {wanted!r}; 'ckspec mutants --list' shows the "
                                  f"{len(MUTANTS)} names" if not found else
                                  f"mutant prefix {wanted!r} is ambiguous: {', '.join(found)}")
        cls = MUTANTS[found[0]]
        return TargetSpec(f"mutant:{found[0]}", cls)
    if ":" in name:
        return _user_target(name)
    raise TargetNameError(f"unknown target {name!r}: use reference, reference:random, reference:free, "
                          f"mutant:NAME or module.path:ClassName")


def _user_target(name: str) -> TargetSpec:
    module_name, _, attr = name.rpartition(":")
    if not module_name or not attr.isidentifier():
        raise TargetNameError(f"target {name!r}: expected module.path:ClassName or file.py:ClassName")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise TargetNameError(f"target {name!r}: no file {module_name}")
            spec = importlib.util.spec_from_file_location(f"ckspec_user_target_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())  # like `python -m`: modules beside the caller are found
            module = importlib.import_module(module_name)
    except TargetNameError:
        raise
    except (ConnectionError, TimeoutError) as exc:
        raise TargetUnreachable(f"target {name}: {exc}") from None
    except Exception as exc:  # ImportError, a SyntaxError in the user's file, ...
        raise TargetNameError(f"target {name!r}: cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, attr, None)
    if cls is None or not callable(cls):
        raise TargetNameError(f"target {name!r}: {module_name} has no class {attr}")
    try:
        takes_seed = "seed" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        takes_seed = False
    return TargetSpec(name, cls, takes_seed)
