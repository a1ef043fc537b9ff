"""Printing for the CLI: JSON for machines, rich tables and progress for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(stderr=False, highlight=False)
if not console.is_terminal:  # files and pipes: wide enough that tables are not squeezed
    console = Console(stderr=False, highlight=False, width=130)
status_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(str(x) for x in r))
    console.print(t)


@contextmanager
def progress(description: str, enabled: bool = True) -> Iterator[Any]:
    """A live status line on stderr (only on a terminal); yields an update(text) function."""
    if not enabled or not status_console.is_terminal:
        yield lambda text: None
        return
    with status_console.status(description) as status:
        yield lambda text: status.update(f"{description} {text}")
