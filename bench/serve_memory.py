"""Benchmark: what ``ckspec serve``'s account keeps per Create/Describe/Delete cycle, by
tracemalloc (issue 14), with no HTTP in between: the growth in KiB per 1,000 cycles after a
warm-up, the largest growing allocation sites, and the sizes of the structures that grew
before (the shared outcome memo, the account's own memo, the foreign-identifier maps).

With ``--baseline COMMIT`` the same measurement also runs on that commit (a temporary git
worktree, imported from there as bench/check_speed.py does), each in its own subprocess.

Run: .venv/bin/python bench/serve_memory.py [--warm 1000] [--cycles 1000] [--baseline 44fff39]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Kmsuser0pw"


def measure(warm: int, cycles: int) -> dict:
    from ckspec.conformance import checker
    from ckspec.emulator import control, kms
    from ckspec.emulator.account import Account
    from ckspec.emulator.options import ServeOptions

    tracemalloc.start(8)
    account = Account(ServeOptions(clock="manual", seed=1))

    def env(event: str, *args: object) -> object:
        return control.environment(account, {"event": event, "args": list(args)})["created"]

    cluster = env("create_cluster", 2)
    env("create_hsm", cluster, "us-east-1a")
    anchor = env("initialize_cluster", cluster)
    env("create_hsm", cluster, "us-east-1b")
    env("activate_cluster", cluster)
    env("create_kmsuser", cluster, PASSWORD)

    def cycle(i: int) -> None:
        with account.lock:
            store = kms.perform(account, "CreateCustomKeyStore", {
                "CustomKeyStoreName": f"s{i}", "CloudHsmClusterId": cluster, "TrustAnchorCertificate": anchor,
                "KeyStorePassword": PASSWORD}, "us-east-1")["CustomKeyStoreId"]
            kms.perform(account, "DescribeCustomKeyStores", {"CustomKeyStoreId": store}, "us-east-1")
            kms.perform(account, "DeleteCustomKeyStore", {"CustomKeyStoreId": store}, "us-east-1")
            account.wait(1.0)

    for i in range(warm):
        cycle(i)
    gc.collect()
    before = tracemalloc.take_snapshot()
    for i in range(warm, warm + cycles):
        cycle(i)
    gc.collect()
    after = tracemalloc.take_snapshot()
    diff = after.compare_to(before, "lineno")
    grown = sum(d.size_diff for d in diff)
    memo = getattr(account.model, "_memo", None)
    return {"kib_per_1000": grown / 1024 / cycles * 1000,
            "top": [f"{d.traceback[0].filename.rpartition('/')[2]}:{d.traceback[0].lineno} {d.size_diff / 1024:+.0f} KiB"
                    for d in diff[:3]],
            "shared_memo": len(checker._CACHE), "own_memo": None if memo is None else len(memo),
            "id_map": len(account.model.ids.out)}


def _in_subprocess(path: Path, warm: int, cycles: int) -> dict:
    code = f"import json, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import serve_memory; " \
           f"print(json.dumps(serve_memory.measure({warm}, {cycles})))"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(path)), cwd=path,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _package(tree: Path, into: Path) -> Path:
    spec = importlib.util.spec_from_file_location("check_speed", ROOT / "bench" / "check_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._package(tree, into)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--baseline")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            tree = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.baseline],
                           check=True, capture_output=True)
            try:
                results[f"baseline ({args.baseline})"] = _in_subprocess(_package(tree, Path(tmp) / "b"), args.warm,
                                                                        args.cycles)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
        results["this tree"] = _in_subprocess(_package(ROOT, Path(tmp) / "t"), args.warm, args.cycles)
    print(f"{args.cycles} cycles measured after {args.warm} of warm-up\n")
    print("| tree | KiB kept per 1,000 cycles | shared memo entries | account memo entries | foreign-ID map "
          "entries | largest growth (file:line) |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['kib_per_1000']:,.0f} | {r['shared_memo']:,} | {r['own_memo'] if r['own_memo'] is not None else '-'} "
              f"| {r['id_map']:,} | {'; '.join(r['top'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
