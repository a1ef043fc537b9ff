"""Benchmark: the broken rule named first, before and after the diagnosis, and what it costs.

For a git revision from before (``--before``, default where this branch left ``main``) and the working tree, side by
side in one run:

* named first: ``ckspec mutants --json --seed S`` for each seed; a seeded bug is *named first*
  when the rule its failure leads with (the first rule of its message) is the rule it breaks;
* run time: ``ckspec check --target reference --seed 1 --no-save``, wall clock, the two
  versions alternating ``--repeat`` times (so machine noise hits both alike).

The revision is extracted with ``git archive`` into a temporary folder laid out as the
installed ``ckspec`` package and run with the same interpreter (``PYTHONPATH``), so nothing
in the working tree changes.

Run: .venv/bin/python bench/diagnosis.py [--before REV] [--seeds 0 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: pyproject's package-dir: ckspec is cli/, the subpackages are the top-level folders
LAYOUT = {"model": "model", "conformance": "conformance", "emulator": "emulator"}


def extract(revision: str, into: Path) -> Path:
    """The revision's source as an importable ``ckspec`` package under ``into``."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
    source = into / "source"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    package = into / "path" / "ckspec"
    shutil.copytree(source / "cli", package)
    for name, folder in LAYOUT.items():
        shutil.copytree(source / folder, package / name)
    return into / "path"


def ckspec(path: Path | None, *args: str) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ckspec: (wall-clock seconds, CPU seconds of the process, the process)."""
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ckspec.main", *args], env=env, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime), done


def named_first(path: Path | None, seed: int) -> tuple[int, int, int, list[str]]:
    """(named first, caught, total, misnamed 'RULE->BLAMED') of ``ckspec mutants`` on one seed."""
    _, _, done = ckspec(path, "mutants", "--json", "--seed", str(seed))
    matrix = json.loads(done.stdout)
    good, wrong = 0, []
    for row in matrix["mutants"]:
        first = (row["message"] or "").split(":", 1)[0]
        if first == row["rules"][0]:
            good += 1
        elif row["killed"]:
            wrong.append(f"{row['rules'][0]}->{first}")
    return good, matrix["killed"], matrix["total"], wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=None,
                        help="git revision to compare with (default: where this branch left main)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.before is None:
        args.before = subprocess.run(["git", "merge-base", "main", "HEAD"], cwd=ROOT, check=True, capture_output=True,
                                     text=True).stdout.strip()[:10]
    with tempfile.TemporaryDirectory(prefix="ckspec-bench-") as folder:
        before = extract(args.before, Path(folder))
        versions = {f"before ({args.before})": before, "after (working tree)": None}
        print("named first (ckspec mutants --json --seed S):")
        for seed in args.seeds:
            for name, path in versions.items():
                good, caught, total, wrong = named_first(path, seed)
                print(f"  seed {seed}  {name:<22} named first {good}/{total}, caught {caught}/{total}"
                      + (f"; misnamed: {', '.join(wrong)}" if wrong else ""))
        times: dict[str, list[float]] = {name: [] for name in versions}
        cpu: dict[str, list[float]] = {name: [] for name in versions}
        for _ in range(args.repeat):
            for name, path in versions.items():
                wall, used, done = ckspec(path, "check", "--target", "reference", "--seed", "1", "--no-save")
                assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
                times[name].append(wall)
                cpu[name].append(used)
        print(f"ckspec check --target reference --seed 1 --no-save, {args.repeat} runs alternating:")
        first = next(iter(versions))
        for label, found in (("wall clock", times), ("CPU time", cpu)):
            base = statistics.median(found[first])
            for name, values in found.items():
                median = statistics.median(values)
                print(f"  {label:<10} {name:<22} median {median:6.2f} s  (min {min(values):.2f}, "
                      f"max {max(values):.2f})  ratio {median / base:.2f}")


if __name__ == "__main__":
    main()
