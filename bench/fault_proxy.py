"""Benchmark: what ``ckspec check`` concludes about a conformant endpoint behind a fault proxy.

``ckspec serve`` (manual clock) on 127.0.0.1, :class:`~ckspec.conformance.fault_proxy.FaultProxy`
in front of it, and ``ckspec check --target <proxy> --request-timeout 1 --json F`` through it,
once per fault mode (and once with every mode at once) on each seed. The endpoint is the model
itself, so the only right verdicts are *conformant* (exit 0) and *inconclusive* (exit 4, with the
core lifecycle still supported, or every example abandoned): a non-conformant verdict (exit 1), a
crash (exit 3 or a traceback) and a green run with the core lifecycle unsupported are wrong.

Per run: the verdict and exit code, the faults the proxy injected, the transport faults and
abandoned examples the JSON report counts (by kind), what it reports unsupported, wall time.

Run: .venv/bin/python bench/fault_proxy.py [--examples N] [--steps M] [--rate R] [--seeds S1,S2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

from ckspec.conformance.engine import CORE_OPERATIONS
from ckspec.conformance.fault_proxy import MODES, FaultProxy
from ckspec.emulator import serving
from ckspec.main import main


def one_run(endpoint: str, modes: tuple[str, ...], rate: float, seed: int, examples: int, steps: int,
            folder: Path) -> dict:
    report = folder / f"{'-'.join(modes)}-{seed}.json"
    console = io.StringIO()
    started = time.perf_counter()
    with FaultProxy(endpoint, modes=modes, rate=rate, seed=seed, delay=1.3) as proxy, \
            contextlib.redirect_stdout(console), contextlib.redirect_stderr(console):
        code = main(["check", "--target", proxy.url, "--examples", str(examples), "--steps", str(steps),
                     "--seed", str(seed), "--no-save", "--request-timeout", "1", "--json", str(report)])
    seconds = time.perf_counter() - started
    document = json.loads(report.read_text()) if report.exists() else {}
    unsupported = document.get("unsupported", [])
    wrong = (code not in (0, 4) or "Traceback" in console.getvalue() or "Flaky" in console.getvalue()
             or (code == 0 and set(unsupported) & set(CORE_OPERATIONS)))
    return {"modes": "all" if len(modes) > 1 else modes[0], "seed": seed, "exit": code,
            "verdict": document.get("verdict", "?"), "injected": sum(proxy.faults.values()),
            "requests": proxy.requests, "faults": document.get("transport_faults", {}).get("by_kind", {}),
            "abandoned": document.get("abandoned_examples", {}).get("total", 0), "examples": document.get("examples"),
            "unsupported": unsupported, "seconds": seconds, "wrong": bool(wrong)}


def _kinds(counts: dict) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--seeds", default="1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with serving(clock="manual") as endpoint, tempfile.TemporaryDirectory() as folder:
        for modes in [(m,) for m in MODES] + [MODES]:
            for seed in seeds:
                rows.append(one_run(endpoint, modes, args.rate, seed, args.examples, args.steps, Path(folder)))
    print(f"{args.examples} examples x {args.steps} steps per run, fault rate {args.rate}, seeds {args.seeds}\n")
    print("| mode | seed | verdict (exit) | faults injected / requests | transport faults reported | "
          "examples abandoned | unsupported | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['modes']} | {r['seed']} | {r['verdict']} ({r['exit']}) | {r['injected']} / {r['requests']} | "
              f"{_kinds(r['faults'])} | {r['abandoned']} of {r['examples']} | {', '.join(r['unsupported']) or 'none'} | "
              f"{r['seconds']:.1f} |")
    wrong = [r for r in rows if r["wrong"]]
    nonconformant = sum(1 for r in rows if r["exit"] == 1)
    false_green = sum(1 for r in rows if r["exit"] == 0 and set(r["unsupported"]) & set(CORE_OPERATIONS))
    print(f"\nruns: {len(rows)}; non-conformant: {nonconformant}; false greens: {false_green}; crashes or other wrong "
          f"verdicts: {len(wrong) - nonconformant - false_green}; conformant: "
          f"{sum(1 for r in rows if r['exit'] == 0)}; inconclusive: {sum(1 for r in rows if r['exit'] == 4)}")


if __name__ == "__main__":
    main_bench()
