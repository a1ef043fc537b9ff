"""How long the proofs take: per property, in total, and the whole ``ckspec prove`` command.

Measured side by side in one run, on this machine: the full proof (default scope, each
profile), the wall time of the command in a fresh process (imports included), and, for
scale, a toy five-state lifecycle proved inductive with Z3 the same way.

    .venv/bin/python bench/prove.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

_TOY: dict = {}


def toy() -> float:
    """A five-state lifecycle, one invariant, proved by induction: the floor of any Z3 proof here."""
    import z3

    states = ["DISCONNECTED", "CONNECTING", "CONNECTED", "DISCONNECTING", "FAILED"]
    if not _TOY:
        _TOY["sort"] = z3.EnumSort("Toy", states)
    S, values = _TOY["sort"]
    v = dict(zip(states, values))
    s, t, code, code2 = z3.Const("s", S), z3.Const("t", S), z3.Bool("c"), z3.Bool("c2")
    moves = [(v["DISCONNECTED"], v["CONNECTING"], False), (v["CONNECTING"], v["CONNECTED"], False),
             (v["CONNECTING"], v["FAILED"], True), (v["CONNECTED"], v["DISCONNECTING"], False),
             (v["FAILED"], v["DISCONNECTING"], False), (v["DISCONNECTING"], v["DISCONNECTED"], False)]
    step = z3.Or([z3.And(s == a, t == b, code2 == c) for a, b, c in moves])
    inv = lambda x, c: c == (x == v["FAILED"])
    started = time.perf_counter()
    solver = z3.Solver()
    solver.add(inv(s, code), step, z3.Not(inv(t, code2)))
    assert solver.check() == z3.unsat
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from ckspec.model.profiles import PROFILES
    from ckspec.model.proof import prove

    per_property: dict[str, list[float]] = {}
    totals: dict[str, list[float]] = {name: [] for name in PROFILES}
    commands, toys = [], []
    exe = Path(sys.executable).with_name("ckspec")
    for _ in range(args.repeat):
        for name, profile in PROFILES.items():
            report = prove(profile=profile)
            assert report.ok, name
            totals[name].append(report.seconds)
            if name == "permissive":
                for r in report.results:
                    per_property.setdefault(r.property.id, []).append(r.seconds)
        started = time.perf_counter()
        subprocess.run([str(exe), "prove"], check=True, stdout=subprocess.DEVNULL)
        commands.append(time.perf_counter() - started)
        toys.append(toy())
    med = statistics.median
    print(f"repeats: {args.repeat} (medians)")
    print(f"{'property (permissive)':28} seconds")
    for pid, secs in per_property.items():
        print(f"{pid:28} {med(secs):.4f}")
    for name, secs in totals.items():
        print(f"total prove(), profile {name:11} {med(secs):.3f} s")
    print(f"`ckspec prove` wall (fresh process)   {med(commands):.3f} s")
    print(f"toy 5-state induction                 {med(toys) * 1000:.2f} ms "
          f"(full proof / toy = {med(totals['permissive']) / med(toys):.0f}x)")


if __name__ == "__main__":
    main()
