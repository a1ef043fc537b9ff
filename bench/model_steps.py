"""Benchmark: model steps per second on random walks, side by side with a trivial baseline.

A "step" is one action applied to a world: the executor computes the full outcome set
(permissive profile) and the walk takes one outcome at random. The baseline, measured in
the same run, is a Python loop doing a dict update per step (the floor of any per-step
work in CPython on this machine); the ratio is what to compare across machines.

Run: .venv/bin/python bench/model_steps.py [--steps N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time

from ckspec.model import PERMISSIVE, Call, Driver, healthy_account, outcomes
from ckspec.model.moves import moves
from ckspec.model.scope import Scope


def walk(steps: int, seed: int) -> tuple[int, float]:
    rng = random.Random(seed)
    scope = Scope(stores=2, clusters=2, keys=2, faults=1)
    start = healthy_account(2)
    world = start
    done = 0
    started = time.perf_counter()
    while done < steps:
        options = list(moves(world, scope))
        # reads are steps too: the conformance engine issues them all the time
        if world.stores:
            options.append(Call.of("DescribeCustomKeyStores"))
        action = rng.choice(options)
        found = outcomes(world, action, PERMISSIVE)
        done += 1
        if found:
            world = rng.choice(found).world
        if done % 200 == 0:
            world = start  # keep walks in the interesting region near a fresh account
    return done, time.perf_counter() - started


def baseline(steps: int) -> float:
    state: dict[int, int] = {}
    started = time.perf_counter()
    for i in range(steps):
        state[i % 64] = state.get(i % 64, 0) + 1
    return time.perf_counter() - started


def single_calls(steps: int) -> float:
    """One Connect call on a prepared world, repeated: the cost of a typical conformance step."""
    d = Driver(healthy_account())
    store = d.create_store()
    call = Call.of("ConnectCustomKeyStore", CustomKeyStoreId=store)
    started = time.perf_counter()
    for _ in range(steps):
        outcomes(d.world, call, PERMISSIVE)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, walk_s = walk(args.steps, args.seed)
    call_s = single_calls(args.steps)
    base_s = baseline(args.steps)
    print(f"random walk: {n} steps in {walk_s:.2f} s = {n / walk_s:,.0f} steps/s (moves enumeration included)")
    print(f"single Connect call: {args.steps / call_s:,.0f} calls/s")
    print(f"baseline dict update: {args.steps / base_s:,.0f} steps/s")
    print(f"ratio walk/baseline: {walk_s / base_s:,.0f}x slower; Connect/baseline: {call_s / base_s:,.0f}x slower")


if __name__ == "__main__":
    main()
