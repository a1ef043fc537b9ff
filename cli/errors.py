"""Errors the CLI reports as one line with exit code 2."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path


class CliError(Exception):
    """A usage error: bad flags or values, an output folder that cannot be written."""


def writable_dir(path: str) -> Path:
    """Create ``path`` if needed and check that files can be written in it."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create output folder {path!r}: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise CliError(f"output path {path!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CliError(f"output folder {path!r} is not writable")
    return folder


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 0 (argparse names the flag in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def at_least_one(text: str) -> int:
    """argparse type: a whole number >= 1."""
    value = positive_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text}")
    return value


def seconds(zero: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number of seconds, > 0 (or >= 0 with ``zero``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"expected a finite number of seconds {'>=' if zero else '>'} 0, "
                                             f"got {text}")
        return value
    return parse
