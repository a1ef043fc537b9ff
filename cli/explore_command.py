"""ckspec explore: enumerate every reachable state of a bounded scope.

Without scope flags it explores the default scopes (``lifecycle`` and ``interactions``,
see :mod:`ckspec.model.scope`). ``--scope NAME`` explores one of them, and scope flags
change it (``lifecycle`` when no ``--scope`` is given).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import attrs
from ckspec.model.explorer import Exploration, explore
from ckspec.model.profiles import PROFILES
from ckspec.model.scope import DEFAULT_SCOPES, LIFECYCLE, NAMED_SCOPES, Scope
from ckspec.model.world import World

from .errors import CliError, at_least_one, positive_int
from .output import console, print_json, progress, table

_SCOPE_FLAGS = {  # flag -> Scope field
    "stores": "stores", "clusters": "clusters", "hsms": "hsms", "zones": "zones", "keys": "keys",
    "backups": "backups", "faults": "faults", "env_steps": "environment_steps", "depth": "depth", "quota": "quota",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explore", help="enumerate the reachable states of a bounded scope",
                       description=__doc__.splitlines()[0])
    add_scope_arguments(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def add_scope_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scope (any of these explores one scope: --scope, or lifecycle, changed by the flags)")
    g.add_argument("--scope", choices=list(NAMED_SCOPES),
                   help="explore this named scope only (default: lifecycle and interactions; 'product' "
                        "is both at once and needs --max-states)")
    base = LIFECYCLE
    g.add_argument("--stores", type=positive_int, help=f"key stores ({base.stores})")
    g.add_argument("--clusters", type=positive_int, help=f"clusters, restored ones included ({base.clusters})")
    g.add_argument("--hsms", type=positive_int, help=f"HSMs per cluster ({base.hsms})")
    g.add_argument("--zones", type=positive_int, help=f"Availability Zones, 1 to 3 ({base.zones})")
    g.add_argument("--keys", type=positive_int, help=f"KMS keys ({base.keys})")
    g.add_argument("--backups", type=positive_int, help=f"cluster backups ({base.backups})")
    g.add_argument("--faults", type=positive_int, help=f"environment faults at once ({base.faults})")
    g.add_argument("--env-steps", type=_optional, help=f"environment events per path, or 'none' "
                                                       f"({base.environment_steps})")
    g.add_argument("--depth", type=_optional, help="steps from the start, or 'none' (none)")
    g.add_argument("--quota", type=positive_int, help=f"key store quota ({base.quota})")
    p.add_argument("--start", choices=("ready", "empty"), default="ready",
                   help="ready (default): clusters set up as the docs require; empty: an empty account")
    p.add_argument("--max-states", type=positive_int, default=1_000_000,
                   help="stop, incomplete, after this many states (default %(default)s)")
    p.add_argument("--jobs", type=at_least_one, default=None,
                   help="processes for exploring several scopes at once, at least 1 (default: one per core)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="permissive",
                   help="which outcomes to follow (default %(default)s: every documented one)")


_UNBOUNDED = object()


def _optional(text: str) -> object:
    return _UNBOUNDED if text.lower() == "none" else positive_int(text)


def scopes_from(args: argparse.Namespace) -> tuple[Scope, ...]:
    given = {field: getattr(args, flag) for flag, field in _SCOPE_FLAGS.items() if getattr(args, flag) is not None}
    chosen = NAMED_SCOPES.get(args.scope)
    if not given:
        return (chosen,) if chosen else DEFAULT_SCOPES
    base = chosen or LIFECYCLE
    given = {k: (None if v is _UNBOUNDED else v) for k, v in given.items()}
    if given.get("zones", base.zones) > 3:
        raise CliError(f"--zones: the model's Region has 3 Availability Zones, got {given['zones']}")
    try:
        return (attrs.evolve(base, name=f"{base.name} (changed)", **given),)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def start_world(args: argparse.Namespace, scope: Scope) -> World | None:
    """An empty account, or None: the explorer's default, an account set up as the docs require."""
    return World(quota=scope.quota) if args.start == "empty" else None


def run_explorations(args: argparse.Namespace, quiet: bool = False) -> list[Exploration]:
    """Explore every selected scope; several scopes run in parallel processes (one per core)."""
    scopes = scopes_from(args)
    jobs = [(scope, args.profile, args.max_states, start_world(args, scope)) for scope in scopes]
    workers = min(len(jobs), args.jobs or os.cpu_count() or 1)
    if workers <= 1:
        results = []
        for scope, profile, max_states, initial in jobs:
            with progress(f"exploring {scope.name}", enabled=not quiet) as update:
                results.append(explore(scope, PROFILES[profile], max_states=max_states, initial=initial,
                                       progress=lambda done, seen: update(f"{done:,} expanded, {seen:,} seen")))
        return results
    names = ", ".join(s.name for s in scopes)
    with progress(f"exploring {names} in {workers} processes", enabled=not quiet):
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_explore_job, jobs))


def _explore_job(job: tuple[Scope, str, int, World | None]) -> Exploration:
    scope, profile, max_states, initial = job
    return explore(scope, PROFILES[profile], max_states=max_states, initial=initial)


def combined(results: list[Exploration], wall_seconds: float | None = None) -> dict[str, object]:
    """The report: totals over the scopes explored, and each scope's own numbers. ``seconds`` adds
    up the scopes' times; ``wall_seconds`` is the elapsed time (scopes may run in parallel)."""
    states = [s for r in results for s in r.connection_states]
    codes = [c for r in results for c in r.error_codes]
    order_states = [s for r in results for s in r.connection_states + r.missing_connection_states]
    order_codes = [c for r in results for c in r.error_codes + r.missing_error_codes]
    return {
        "states": sum(r.states for r in results),
        "transitions": sum(r.transitions for r in results),
        "connection_states": sorted(set(states), key=order_states.index),
        "error_codes": sorted(set(codes), key=order_codes.index),
        "key_states": sorted({k for r in results for k in r.key_states}),
        "dead_ends": sum(r.dead_ends for r in results),
        "complete": all(r.complete for r in results),
        "missing_connection_states": sorted(set(order_states) - set(states), key=order_states.index),
        "missing_error_codes": sorted(set(order_codes) - set(codes), key=order_codes.index),
        "seconds": round(sum(r.seconds for r in results), 3),
        "wall_seconds": round(wall_seconds if wall_seconds is not None else sum(r.seconds for r in results), 3),
        "scopes": [r.as_dict() for r in results],
    }


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    results = run_explorations(args, quiet=args.json)
    report = combined(results, time.perf_counter() - started)
    if args.json:
        print_json(report)
    else:
        show(results, report)
    return 0 if report["complete"] else 1


def show(results: list[Exploration], report: dict[str, object]) -> None:
    for r in results:
        console.print(f"[bold]scope[/bold] {r.scope.describe()}")
    rows = [[r.scope.name, f"{r.states:,}", f"{r.transitions:,}", f"{len(r.connection_states)}/5",
             f"{len(r.error_codes)}/10", f"{len(r.key_states)}/4", r.dead_ends,
             "yes" if r.complete else "NO", f"{r.seconds:.2f}"] for r in results]
    if len(results) > 1:
        rows.append(["all", f"{report['states']:,}", f"{report['transitions']:,}",
                     f"{len(report['connection_states'])}/5", f"{len(report['error_codes'])}/10",
                     f"{len(report['key_states'])}/4", report["dead_ends"],
                     "yes" if report["complete"] else "NO",
                     f"{report['seconds']:.2f} ({report['wall_seconds']:.1f} wall)"])
    table("Exploration", ["scope", "states", "transitions", "conn. states", "error codes", "key states",
                          "dead ends", "complete", "s"], rows)
    missing = report["missing_connection_states"] + report["missing_error_codes"]
    if missing:
        console.print("not reached: " + ", ".join(missing))
    for r in results:
        if r.dead_end_example:
            console.print(f"a path to a dead end ({r.scope.name}): " + " -> ".join(r.dead_end_example))
