"""Benchmark: the conformance engine over the wire (boto3 -> ckspec serve on 127.0.0.1) side by
side with the in-process reference target, and the cost of one connect cycle over the wire.

* Steps per second: ``check`` against ``reference`` (in-process) and against ``ckspec serve``
  (the same model behind the AWS wire protocol, manual clock, reached through
  :class:`~ckspec.conformance.wire.BotoTarget`), same examples, steps and seed, alternated
  ``--repeat`` times in one process; medians and their ratio. Steps are the generated
  steps; each example also replays the 18 set-up controls of its starting account.
* One connect cycle: ConnectCustomKeyStore, DescribeCustomKeyStores polls with 1 s of the
  target's time between them until CONNECTED, DisconnectCustomKeyStore, polls until
  DISCONNECTED; through the adapter interface, against both targets (wall time per cycle,
  requests per cycle).

Run: .venv/bin/python bench/wire_speed.py [--examples N] [--steps M] [--seed S] [--repeat R] [--cycles C]
"""

from __future__ import annotations

import argparse
import statistics
import time

from ckspec.conformance import load_target
from ckspec.conformance.engine import CheckOptions, check
from ckspec.conformance.session import Session
from ckspec.emulator import serving


def steps_per_second(name: str, options: CheckOptions) -> tuple[float, int]:
    started = time.perf_counter()
    result = check(load_target(name), options)
    seconds = time.perf_counter() - started
    assert result.verdict == "conformant", [f.message for f in result.failures]
    return result.steps / seconds, result.steps


def connect_cycles(name: str, cycles: int) -> tuple[float, float]:
    """Seconds and requests per cycle, on a store of a fresh starting account."""
    session = Session.open(name)
    session.setup()
    store = session.call("CreateCustomKeyStore", CustomKeyStoreName="bench", CloudHsmClusterId="cluster-aaaaaaaaaab",
                         TrustAnchorCertificate=session.world.cluster(1).trust_anchor,
                         KeyStorePassword=_password()).body["CustomKeyStoreId"]
    model_store = session.binding.to_model[store]
    requests = 0
    started = time.perf_counter()
    for _ in range(cycles):
        for operation, wanted in (("ConnectCustomKeyStore", "CONNECTED"), ("DisconnectCustomKeyStore", "DISCONNECTED")):
            assert session.call(operation, CustomKeyStoreId=model_store).ok
            requests += 1
            while True:
                session.wait(1.0)
                shown = session.call("DescribeCustomKeyStores", CustomKeyStoreId=model_store)
                requests += 1
                if shown.body["CustomKeyStores"][0]["ConnectionState"] == wanted:
                    break
    seconds = time.perf_counter() - started
    session.close()
    return seconds / cycles, requests / cycles


def _password():
    from ckspec.conformance import password

    return password(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=50)
    args = parser.parse_args()
    options = CheckOptions(examples=args.examples, steps=args.steps, seed=args.seed, failures_dir=None)
    # the reference target's fixed delays: work completes after 1 s, reads lag 0.5 s
    with serving(clock="manual", connect_delay=1.0, lag=0.5) as endpoint:
        rates: dict[str, list[float]] = {"reference": [], "serve": []}
        for _ in range(args.repeat):  # alternated, so both see the same machine load
            rates["reference"].append(steps_per_second("reference", options)[0])
            rates["serve"].append(steps_per_second(endpoint, options)[0])
        reference, served = (statistics.median(rates[k]) for k in ("reference", "serve"))
        print(f"steps/s, median of {args.repeat} ({args.examples} examples x <= {args.steps} steps, seed {args.seed}):")
        print(f"  in-process reference      {reference:8.0f}")
        print(f"  ckspec serve over the wire {served:7.0f}   ({served / reference:.1%} of in-process, "
              f"{reference / served:.1f}x slower)")
        local, local_requests = connect_cycles("reference", args.cycles)
        wire, wire_requests = connect_cycles(endpoint, args.cycles)
    print(f"one connect cycle (Connect, polls until CONNECTED, Disconnect, polls until DISCONNECTED), "
          f"mean of {args.cycles}:")
    print(f"  in-process reference      {local * 1000:7.2f} ms  {local_requests:.1f} calls")
    print(f"  ckspec serve over the wire {wire * 1000:6.2f} ms  {wire_requests:.1f} calls  "
          f"({wire / local:.1f}x; {wire / wire_requests * 1000:.2f} ms per call incl. the /_ckspec/wait)")


if __name__ == "__main__":
    main()
