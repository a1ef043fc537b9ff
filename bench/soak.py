"""Benchmark: a soak of ``ckspec serve`` (issue 14): N clients churn Create/Describe/Delete of
custom key stores for T seconds on 127.0.0.1; requests/s, p99 latency, errors, and the
server's RSS slope in MiB per 1,000 cycles (least squares over the run after a warm-up).

The server is a subprocess (``python -m ckspec serve --port 0``), so its RSS is its own. With
``--baseline COMMIT`` the same soak also runs against that commit, checked out in a temporary
git worktree and imported from there (as bench/check_speed.py does), one after the other.

Run: .venv/bin/python bench/soak.py [--clients 4] [--seconds 20] [--baseline 44fff39]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Kmsuser0pw"
#: the share of the run's samples left out of the RSS slope (imports, first allocations)
WARM_UP = 0.25


def _check_speed():
    spec = importlib.util.spec_from_file_location("check_speed", Path(__file__).with_name("check_speed.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Server:
    """``ckspec serve`` in a subprocess, importing ckspec from ``path`` (None: this tree)."""

    def __init__(self, path: Path | None) -> None:
        env = dict(os.environ, PYTHONPATH=str(path)) if path else dict(os.environ)
        self.process = subprocess.Popen([sys.executable, "-m", "ckspec", "serve", "--port", "0", "--quiet"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                        cwd=path or ROOT)
        line = self.process.stdout.readline()
        found = re.search(r"http://([\d.]+):(\d+)", line)
        if not found:
            self.stop()
            raise SystemExit(f"soak: ckspec serve did not start: {line!r} {self.process.stderr.read()[:500]}")
        self.host, self.port = found.group(1), int(found.group(2))

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err


class Client:
    """One keep-alive connection; each call returns (status, body, seconds)."""

    def __init__(self, server: Server) -> None:
        self.connection = http.client.HTTPConnection(server.host, server.port, timeout=30)

    def post(self, path: str, target: str | None, body: dict) -> tuple[int, dict, float]:
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        if target:
            headers["X-Amz-Target"] = f"TrentService.{target}"
        start = time.perf_counter()
        self.connection.request("POST", path, json.dumps(body).encode(), headers)
        answer = self.connection.getresponse()
        raw = answer.read()
        return answer.status, json.loads(raw) if raw else {}, time.perf_counter() - start

    def env(self, event: str, *args: object) -> object:
        return self.post("/_ckspec/environment", None, {"event": event, "args": list(args)})[1]["created"]


def ready_cluster(client: Client) -> tuple[str, str]:
    cluster = client.env("create_cluster", 2)
    client.env("create_hsm", cluster, "us-east-1a")
    anchor = client.env("initialize_cluster", cluster)
    client.env("create_hsm", cluster, "us-east-1b")
    client.env("activate_cluster", cluster)
    client.env("create_kmsuser", cluster, PASSWORD)
    return cluster, anchor


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.cycles = 0

    def add(self, latencies: list[float], errors: list[str]) -> None:
        with self.lock:
            self.latencies.extend(latencies)
            for error in errors:
                self.errors[error] = self.errors.get(error, 0) + 1
            self.cycles += 1


def churn(server: Server, cluster: str, anchor: str, name: str, until: float, tally: Tally) -> None:
    """Create/Describe/Delete a store on ``cluster`` (one store per cluster) until ``until``."""
    client, i = Client(server), 0
    while time.monotonic() < until:
        i += 1
        latencies, errors = [], []
        try:
            status, body, took = client.post("/", "CreateCustomKeyStore", {
                "CustomKeyStoreName": f"{name}-{i}", "CloudHsmClusterId": cluster, "TrustAnchorCertificate": anchor,
                "KeyStorePassword": PASSWORD})
            latencies.append(took)
            if status != 200:
                errors.append(f"Create {status} {body.get('__type')}")
            else:
                store = body["CustomKeyStoreId"]
                for target in ("DescribeCustomKeyStores", "DeleteCustomKeyStore"):
                    status, body, took = client.post("/", target, {"CustomKeyStoreId": store})
                    latencies.append(took)
                    if status != 200:
                        errors.append(f"{target} {status} {body.get('__type')}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(type(exc).__name__)
            client = Client(server)
        tally.add(latencies, errors)


def soak(path: Path | None, clients: int, seconds: float) -> dict:
    server = Server(path)
    try:
        setup = Client(server)
        clusters = [ready_cluster(setup) for _ in range(clients)]  # a cluster backs one store at a time
        tally, start = Tally(), time.monotonic()
        threads = [threading.Thread(target=churn, args=(server, *clusters[n], f"c{n}", start + seconds, tally))
                   for n in range(clients)]
        for thread in threads:
            thread.start()
        samples = []
        while any(t.is_alive() for t in threads):
            samples.append((tally.cycles, server.rss_mib()))
            time.sleep(0.5)
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
    finally:
        err = server.stop()
    kept = samples[int(len(samples) * WARM_UP):]
    slope = _slope(kept) * 1000
    latencies = sorted(tally.latencies)
    return {"requests_per_s": len(latencies) / elapsed, "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
            "median_ms": 1000 * statistics.median(latencies), "cycles": tally.cycles, "errors": dict(tally.errors),
            "rss_start": kept[0][1], "rss_end": kept[-1][1], "slope_mib_per_1000": slope,
            "tracebacks": err.count("Traceback")}


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / spread if spread else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (at most 10: the store quota)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline", help="also soak this commit (before-vs-after)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 10 or not 0 < args.seconds <= 600:
        parser.error("--clients is 1-10 (the store quota), --seconds 0-600")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            base_tree = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_tree), args.baseline],
                           check=True, capture_output=True)
            try:
                path = _check_speed()._package(base_tree, Path(tmp) / "base-path")
                results[f"baseline ({args.baseline})"] = soak(path, args.clients, args.seconds)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)],
                               capture_output=True)
        path = _check_speed()._package(ROOT, Path(tmp) / "this-path")
        results["this tree"] = soak(path, args.clients, args.seconds)
    print(f"{args.clients} clients, {args.seconds:g} s, Create/Describe/Delete cycles on 127.0.0.1\n")
    print("| tree | cycles | requests/s | median ms | p99 ms | errors | RSS MiB (after warm-up → end) "
          "| RSS slope MiB / 1,000 cycles | tracebacks |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        errors = sum(r["errors"].values())
        print(f"| {name} | {r['cycles']:,} | {r['requests_per_s']:,.0f} | {r['median_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{errors} | {r['rss_start']:.1f} → {r['rss_end']:.1f} | {r['slope_mib_per_1000']:.2f} | "
              f"{r['tracebacks']} |")
    for name, r in results.items():
        if r["errors"]:
            print(f"\n{name} errors: {r['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
