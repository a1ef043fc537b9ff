"""Install time of ckspec, before and after the extras (issue 12): fresh virtual environments,
side by side, the same pip cache for every variant.

    python bench/install_time.py [--rounds 2] [--before REV]

Variants, each `pip install` of a non-editable copy of the repository into a new venv:
  before    the tree at REV (default: the commit before the extras, where moto[server], awscli,
            pytest and pytest-xdist were core dependencies): `pip install .`
  core      this tree: `pip install .`
  dev       this tree: `pip install '.[dev]'` (every extra: what .ci/setup installs)
Each round runs the variants in a rotated order, after one untimed warm-up install of each
(so every timed install finds the same, warm cache); it prints the seconds and the number of
distributions installed, and the median per variant.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _export(rev: str, into: Path) -> Path:
    """The tree at ``rev`` (git archive), or this working tree's tracked files for ``rev`` None."""
    into.mkdir(parents=True)
    if rev is None:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
        for name in filter(None, files.decode().split("\0")):
            target = into / name
            if (ROOT / name).is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, target)
        return into
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _install(source: Path, spec: str, work: Path) -> tuple[float, int]:
    venv = work / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    spec], cwd=source, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze",
                             "--disable-pip-version-check"], check=True, capture_output=True, text=True).stdout
    return seconds, len(listed.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", default="main", help="the revision before the extras (default main)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ckspec-install-") as tmp:
        work = Path(tmp)
        before, now = _export(args.before, work / "before"), _export(None, work / "now")
        variants = {"before": (before, "."), "core": (now, "."), "dev": (now, ".[dev]")}
        for name, (source, spec) in variants.items():  # warm-up: the same cache for every timed run
            _install(source, spec, work)
        times: dict[str, list[float]] = {name: [] for name in variants}
        counts: dict[str, int] = {}
        names = list(variants)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                seconds, counts[name] = _install(*variants[name], work)
                times[name].append(seconds)
                print(f"round {r + 1}: {name:6} {seconds:6.1f} s, {counts[name]} distributions", flush=True)
        base = statistics.median(times["before"])
        for name in names:
            median = statistics.median(times[name])
            print(f"{name:6} median {median:6.1f} s ({median / base:.2f} x before), {counts[name]} distributions")


if __name__ == "__main__":
    main()
