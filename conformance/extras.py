"""What an optional part of ckspec needs that the core install leaves out (docs/install.md).

The core (``pip install ckspec``: model, run, check, scorecard, serve, prove) needs no moto,
AWS CLI or pytest; the targets and tools that do say which extra brings them, in one line
(a usage error, exit 2), before any work starts.
"""

from __future__ import annotations

import importlib.util

from .targets import TargetNameError

#: extra -> the modules it provides that ckspec imports, and what needs them
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "moto": (("moto", "flask", "flask_cors"), "the moto and moto-server targets"),
}


class MissingExtra(TargetNameError):
    """A target (or tool) needs an extra that is not installed."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    modules, _ = EXTRAS[extra]
    return [m for m in modules if _absent(m)]


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):  # a parent package missing, or a broken module spec
        return True


def require(extra: str, user: str) -> None:
    """MissingExtra naming ``pip install 'ckspec[EXTRA]'`` when ``extra`` is not installed."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(f"{user} needs the ckspec[{extra}] extra ({', '.join(absent)} not installed): "
                           f"pip install 'ckspec[{extra}]'")
