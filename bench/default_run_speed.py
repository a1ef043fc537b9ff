"""Benchmark: a default ``ckspec check --target reference`` run, this tree side by side with a
git revision (``main`` unless told), in one run of this script.

The revision is extracted with ``git archive`` into a temporary folder and imported from there
(``PYTHONPATH`` comes before the editable install), so both sides run in the same virtual
environment, alternately, ``--rounds`` times each, on the same seeds. Reported: examples, steps,
CPU seconds and wall seconds per side (medians), and the ratio this/base.

Run: .venv/bin/python bench/default_run_speed.py [--base REV] [--rounds N] [--seeds S,S,...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
import json, sys, time
import ckspec, ckspec.conformance
from ckspec.conformance import load_target
from ckspec.conformance.engine import CheckOptions, check
seed = int(sys.argv[1])
cpu, wall = time.process_time(), time.perf_counter()
result = check(load_target("reference"), CheckOptions(examples=300, steps=100, seed=seed))
never = [r["id"] for r in result.rule_statuses() if r["status"] == "not exercised"]
print(json.dumps({"file": ckspec.conformance.__file__, "verdict": result.verdict, "examples": result.examples,
                  "steps": result.steps, "cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "never": never}))
"""


def extract(rev: str, into: Path) -> Path:
    src = into / "src"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    package = into / "pkg" / "ckspec"
    shutil.copytree(src / "cli", package)
    for sub in ("conformance", "model", "emulator"):
        (package / sub).symlink_to(src / sub)
    return into / "pkg"


def run(pythonpath: str | None, seed: int) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, "-c", PROGRAM, str(seed)], env=env, cwd=tempfile.gettempdir(),
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", default="831789309,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        base_path = str(extract(args.base, Path(tmp)))
        sides: dict[str, list[dict]] = {"base": [], "this": []}
        for _ in range(args.rounds):
            for seed in seeds:
                for label, path in (("base", base_path), ("this", None)):
                    found = run(path, seed)
                    expected = tmp if label == "base" else str(ROOT)
                    assert found["file"].startswith(expected), (label, found["file"])
                    sides[label].append(found)
    print(f"{args.rounds} rounds x seeds {seeds}; base = {args.base}, this = the working tree")
    print("| side | runs | verdicts | examples (median) | steps (median) | CPU s (median) | wall s (median) "
          "| rules never exercised (union) |")
    print("|---|---|---|---|---|---|---|---|")
    med = {}
    for label, runs in sides.items():
        med[label] = {k: statistics.median(r[k] for r in runs) for k in ("examples", "steps", "cpu", "wall")}
        verdicts = ", ".join(sorted({r["verdict"] for r in runs}))
        never = sorted({n for r in runs for n in r["never"]})
        print(f"| {label} | {len(runs)} | {verdicts} | {med[label]['examples']:.0f} | {med[label]['steps']:.0f} "
              f"| {med[label]['cpu']:.2f} | {med[label]['wall']:.2f} | {', '.join(never) or '-'} |")
    print(f"ratio this/base: CPU {med['this']['cpu'] / med['base']['cpu']:.2f}, "
          f"wall {med['this']['wall'] / med['base']['wall']:.2f}, steps {med['this']['steps'] / med['base']['steps']:.2f}")


if __name__ == "__main__":
    main()
