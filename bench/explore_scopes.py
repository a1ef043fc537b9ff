"""Benchmark: explorer size and time per scope, in one run.

Measures the default scopes (what `ckspec explore` and `ckspec run` explore) and a few
larger ones, each with a state limit so the run ends; a limited scope is reported as
incomplete with the rate it reached. Results go to stdout as a Markdown table.

Run: .venv/bin/python bench/explore_scopes.py [--max-states N]
"""

from __future__ import annotations

import argparse
import platform

import attrs

from ckspec.model.explorer import explore
from ckspec.model.scope import INTERACTIONS, LIFECYCLE, PRODUCT, Scope

LARGER = (
    attrs.evolve(LIFECYCLE, name="lifecycle, 2 keys", keys=2),
    attrs.evolve(LIFECYCLE, name="lifecycle, 2 clusters + backup", clusters=2, backups=1),
    attrs.evolve(INTERACTIONS, name="interactions, 1 env event", faults=1, environment_steps=1),
    PRODUCT,
)


def measure(scope: Scope, max_states: int) -> list[str]:
    r = explore(scope, max_states=max_states)
    rate = r.states / r.seconds if r.seconds else 0
    return [scope.name, f"{r.states:,}", f"{r.transitions:,}", f"{len(r.connection_states)}/5",
            f"{len(r.error_codes)}/10", str(r.dead_ends), "yes" if r.complete else "no (limit)",
            f"{r.seconds:.2f}", f"{rate:,.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-states", type=int, default=60_000)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, state limit {args.max_states:,}\n")
    print("| scope | states | transitions | conn. states | error codes | dead ends | complete | seconds | states/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scope in (LIFECYCLE, INTERACTIONS, *LARGER):
        print("| " + " | ".join(measure(scope, args.max_states)) + " |", flush=True)


if __name__ == "__main__":
    main()
