"""Benchmark: several processes adding to one AWS ledger, with the ledger's lock and re-read
(:class:`ckspec.conformance.ledger.Ledger`) and without them (each writer rewriting the file
from its own memory, as the ledger did before issue 14), side by side.

* Lost entries: W processes x N adds each, started together on a barrier; entries missing
  from the file afterwards, per round.
* Cost of one add, one writer, both ways (the lock, the re-read and the folder fsync are the
  difference); medians over the rounds and their ratio.

Run: .venv/bin/python bench/ledger_writers.py [--writers W] [--adds N] [--rounds R]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

from ckspec.conformance.ledger import Entry, Ledger

CONTEXT = multiprocessing.get_context("fork")


class Unlocked(Ledger):
    """The ledger without its lock: change what this process holds, write it all."""

    def _change(self, change) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        change(self.entries)
        self._write(self.entries)


def _adder(kind: type, path: str, writer: int, adds: int, start) -> None:
    ledger = kind(Path(path))
    start.wait()
    for i in range(adds):
        ledger.add(Entry("key", f"k-{writer}-{i}", "eu-west-1"))


def lost(kind: type, writers: int, adds: int) -> int:
    path = Path(tempfile.mkdtemp(prefix="ckspec-ledger-bench-")) / "ledger.json"
    start = CONTEXT.Barrier(writers)
    processes = [CONTEXT.Process(target=_adder, args=(kind, str(path), w, adds, start)) for w in range(writers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    return writers * adds - len(Ledger(path))


def ms_per_add(kind: type, adds: int) -> float:
    ledger = kind(Path(tempfile.mkdtemp(prefix="ckspec-ledger-bench-")) / "ledger.json")
    started = time.perf_counter()
    for i in range(adds):
        ledger.add(Entry("key", f"k-{i}", "eu-west-1"))
    return (time.perf_counter() - started) / adds * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--adds", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    total = args.writers * args.adds
    for name, kind in (("unlocked", Unlocked), ("Ledger", Ledger)):
        losses = [lost(kind, args.writers, args.adds) for _ in range(args.rounds)]
        print(f"{name:9} {args.writers} writers x {args.adds} adds: lost {losses} of {total} per round")
    times = {kind: [] for kind in (Unlocked, Ledger)}
    for _ in range(args.rounds):  # alternated, so both see the same disk
        for kind in times:
            times[kind].append(ms_per_add(kind, args.adds))
    locked, unlocked = statistics.median(times[Ledger]), statistics.median(times[Unlocked])
    print(f"one writer, {args.adds} adds: unlocked {unlocked:.2f} ms/add, Ledger {locked:.2f} ms/add "
          f"(ratio {locked / unlocked:.2f})")


if __name__ == "__main__":
    main()
