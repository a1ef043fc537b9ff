"""Benchmark: a default ``ckspec check --target reference`` on this tree and on an earlier
commit, side by side in one run (alternating, so that the machine's load hits both alike).

The earlier commit is checked out in a temporary git worktree and imported from there (its
``cli``, ``model``, ``conformance`` and ``emulator`` folders laid out as the ``ckspec``
package, as the wheel does); nothing is installed.

Run: .venv/bin/python bench/check_speed.py --baseline 5fda47a [--rounds 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"model": "model", "conformance": "conformance", "emulator": "emulator"}


def _package(tree: Path, into: Path) -> Path:
    """``into``/ckspec laid out from ``tree`` (symlinks), for PYTHONPATH."""
    top = into / "ckspec"
    top.mkdir(parents=True)
    for entry in (tree / "cli").iterdir():
        (top / entry.name).symlink_to(entry)
    for name, folder in PACKAGES.items():
        (top / name).symlink_to(tree / folder)
    return into


def _run(path: Path, seed: int) -> dict:
    code = ("import json, sys, time\nfrom ckspec.conformance import load_target\n"
            "from ckspec.conformance.engine import CheckOptions, check\nimport ckspec\n"
            f"r = check(load_target('reference'), CheckOptions(examples=300, steps=100, seed={seed}))\n"
            "print(json.dumps({'file': ckspec.__file__, 'seconds': r.seconds, 'steps': r.steps, "
            "'examples': r.examples, 'verdict': r.verdict}))")
    env = dict(os.environ, PYTHONPATH=str(path))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=path, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base_tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_tree), args.baseline],
                       check=True, capture_output=True)
        try:
            paths = {"baseline": _package(base_tree, Path(tmp) / "base-path"),
                     "this tree": _package(ROOT, Path(tmp) / "this-path")}
            runs: dict[str, list[dict]] = {k: [] for k in paths}
            for _ in range(args.rounds):
                for name, path in paths.items():
                    runs[name].append(_run(path, args.seed))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)],
                           capture_output=True)
    print("| tree | verdict | examples | steps | seconds (median of rounds) | steps/s |")
    print("|---|---|---|---|---|---|")
    medians = {}
    for name, rows in runs.items():
        seconds = statistics.median(r["seconds"] for r in rows)
        medians[name] = seconds
        last = rows[-1]
        label = f"{name} ({args.baseline})" if name == "baseline" else name
        print(f"| {label} | {last['verdict']} | {last['examples']} | {last['steps']:,} | {seconds:.2f} | "
              f"{last['steps'] / seconds:,.0f} |")
    print(f"\nratio this tree / baseline: {medians['this tree'] / medians['baseline']:.2f} (seconds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
