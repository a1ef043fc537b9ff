"""Run one ckspec command on a baseline commit and on the working tree, alternately, and compare.

The baseline is extracted with ``git archive`` into a temporary directory (as a package named
``ckspec``) and run from there with ``PYTHONPATH``; the working tree runs as installed. Runs
alternate (baseline, current, baseline, ...) so that the machine's load hits both alike; the
medians of wall time and the ratio current/baseline are printed, with the last line of each
side's output (a summary such as "10 proved, 1 violated ... OK").

    .venv/bin/python bench/side_by_side.py --base 173561a --runs 5 -- prove
    .venv/bin/python bench/side_by_side.py --base 173561a --runs 3 -- explore --scope lifecycle --json
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _extract(commit: str, into: Path) -> Path:
    package = into / "ckspec"
    package.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(package)], input=archive, check=True)
    return into


def _run(args: list[str], pythonpath: Path | None, cwd: Path) -> tuple[float, str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ckspec.main", *args], env=env, cwd=cwd, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return seconds, lines[-1] if lines else f"(exit {done.returncode})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the baseline commit")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the ckspec arguments, after --")
    options = parser.parse_args(argv)
    command = [a for a in options.command if a != "--"] or ["prove"]
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="ckspec-base-") as tmp:
        base = _extract(options.base, Path(tmp))
        times: dict[str, list[float]] = {"baseline": [], "current": []}
        last: dict[str, str] = {}
        for _ in range(options.runs):
            for side, path in (("baseline", base), ("current", None)):
                seconds, line = _run(command, path, Path(tmp) if path else ROOT)
                times[side].append(seconds)
                last[side] = line
    for side in ("baseline", "current"):
        print(f"{side:9} median {statistics.median(times[side]):.2f} s over {options.runs} "
              f"({', '.join(f'{t:.2f}' for t in times[side])}): {last[side][:160]}")
    print(f"ratio current/baseline: {statistics.median(times['current']) / statistics.median(times['baseline']):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
