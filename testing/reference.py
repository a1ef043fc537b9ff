"""The reference tables of docs/testing-kit.md, generated from the code so they cannot drift.

``python -m ckspec.testing.reference docs/testing-kit.md`` rewrites the generated blocks
(between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``); a test checks that the
file holds what this module generates.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from ckspec.conformance.steps import ENVIRONMENT_ARGUMENTS
from ckspec.emulator import ServeOptions
from ckspec.model.environment import EVENTS

from .connect_faults import FAULTS
from .events import PARAMETER_NAMES, EnvironmentEvents, typed_methods
from .serving import KIT_DEFAULTS

_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def events_table() -> str:
    rows = ["| Method | Model event | Rules | What happens |", "|---|---|---|---|"]
    for method, event in sorted(typed_methods().items(), key=lambda item: list(EVENTS).index(item[1])):
        arguments = ", ".join(PARAMETER_NAMES[k] for k in ENVIRONMENT_ARGUMENTS[event])
        doc = _one_line(inspect.getdoc(getattr(EnvironmentEvents, method)) or "")
        rows.append(f"| `{method}({arguments})` | `{event}` | {', '.join(EVENTS[event].rules)} | {doc} |")
    return "\n".join(rows) + "\n"


def faults_table() -> str:
    rows = ["| `fail_next_connect(code)` | Rule | Condition put in place | Strikes | Operator's repair (`fault.repair()`) "
            "| Events |", "|---|---|---|---|---|---|"]
    for code, kind in sorted(FAULTS.items()):
        events = ", ".join(f"`{m}`" for m in kind.methods)
        rows.append(f"| `{code}` | {kind.rule} | {_one_line(kind.cause)} | {kind.strikes} | {_one_line(kind.repair)} "
                    f"| {events} |")
    return "\n".join(rows) + "\n"


def clock_table() -> str:
    serve = ServeOptions()
    rows = ["| Option | Testing kit default | `ckspec serve` default | Meaning |", "|---|---|---|---|"]
    meaning = {"clock": "`real`: work completes as time passes; `manual`: only `kit.wait(seconds)` moves time",
               "connect_delay": "seconds until a connection attempt or a disconnect completes (T-01, CONNECT-09)",
               "lag": "seconds a read may still show a store as it was before the last call (AMB-30); 0: never"}
    for name, value in KIT_DEFAULTS.items():
        rows.append(f"| `{name}` | `{value!r}` | `{getattr(serve, name)!r}` | {meaning[name]} |")
    return "\n".join(rows) + "\n"


TABLES = {"events": events_table, "faults": faults_table, "clock": clock_table}


def render(text: str) -> str:
    """``text`` with every generated block filled in afresh."""
    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in TABLES:
            raise ValueError(f"no generated table {name!r}; the tables are {', '.join(TABLES)}")
        return match.group(1) + TABLES[name]() + match.group(4)
    return _BLOCK.sub(fill, text)


def blocks(text: str) -> dict[str, str]:
    return {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ckspec.testing.reference docs/testing-kit.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(render(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
