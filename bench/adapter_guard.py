"""Benchmark: what the guard around a foreign adapter costs (``--target module:Class``).

The same conformance run against the bundled reference named as an adapter class
(``ckspec.conformance.reference:ReferenceTarget``, conformant, so every run goes the whole
length), guarded (as ``ckspec check`` runs an adapter class: one worker thread, a deadline per
call) and unguarded (the class made directly, as ``--target reference`` does), alternating in one process so that the machine's load hits both alike. Reported:
steps per second of each and the ratio guarded/unguarded (CPU and wall clock).

Run: .venv/bin/python bench/adapter_guard.py [--rounds 5] [--examples 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

from ckspec.conformance import load_target
from ckspec.conformance.engine import CheckOptions, check
from ckspec.conformance.reference import ReferenceTarget
from ckspec.conformance.targets import TargetSpec


def _once(spec: TargetSpec, examples: int, seed: int) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = check(spec, CheckOptions(examples=examples, steps=50, seed=seed, poll_interval=0.0))
    return time.perf_counter() - wall, time.process_time() - cpu, result.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    guarded = load_target("ckspec.conformance.reference:ReferenceTarget")
    plain = TargetSpec("reference", ReferenceTarget)
    rows: dict[str, list[tuple[float, float, int]]] = {"guarded": [], "unguarded": []}
    for _ in range(args.rounds):
        for name, spec in ((("guarded", guarded), ("unguarded", plain)) if _ % 2 else (("unguarded", plain), ("guarded", guarded))):
            rows[name].append(_once(spec, args.examples, args.seed))
            assert rows[name][-1][2] > 0
    guarded.close()
    rate = {name: statistics.median(steps / wall for wall, _cpu, steps in runs) for name, runs in rows.items()}
    cpu = {name: statistics.median(c / steps for _wall, c, steps in runs) for name, runs in rows.items()}
    for name in rows:
        print(f"{name:10} {rate[name]:8.0f} steps/s (median of {args.rounds}), "
              f"{cpu[name] * 1e6:6.0f} us CPU per step")
    print(f"ratio guarded/unguarded: wall {rate['unguarded'] / rate['guarded']:.2f}x, "
          f"CPU {cpu['guarded'] / cpu['unguarded']:.2f}x")


if __name__ == "__main__":
    main()
