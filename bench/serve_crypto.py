"""What real cryptography costs ckspec serve: boto3 calls per second against one server, side by
side, for DescribeKey (no crypto), Encrypt and Decrypt (AES-256-GCM bound to the context) and
GenerateDataKey (OS random bytes), on a key in a CONNECTED CloudHSM key store and on an ordinary
AWS_KMS key.

    .venv/bin/python bench/serve_crypto.py --calls 300
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ckspec.emulator import EmulatorServer, ServeOptions  # noqa: E402
from serve_accounts import client, connected_store, control, hsm_key  # noqa: E402


def rates(calls_by_name: dict, calls: int, rounds: int = 7) -> dict[str, float]:
    """Calls per second of each call, measured in interleaved rounds (the median round), so that
    the machine's load changes touch every call alike."""
    seen: dict[str, list[float]] = {name: [] for name in calls_by_name}
    for _ in range(rounds):
        for name, call in calls_by_name.items():
            call()
            start = time.perf_counter()
            for _ in range(calls // rounds):
                call()
            seen[name].append((calls // rounds) / (time.perf_counter() - start))
    return {name: sorted(values)[len(values) // 2] for name, values in seen.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    calls = parser.parse_args().calls
    with EmulatorServer(ServeOptions(clock="manual", lag=0.0), idle_timeout=120) as server:
        control(server, "/reset", {})
        kms = client(server)
        keys = {"CloudHSM key store": hsm_key(server, kms, connected_store(server, kms)),
                "ordinary": kms.create_key()["KeyMetadata"]["KeyId"]}
        print("| key | DescribeKey | Encrypt | Decrypt | GenerateDataKey | Encrypt / DescribeKey |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, key in keys.items():
            blob = kms.encrypt(KeyId=key, Plaintext=b"x" * 64, EncryptionContext={"a": "b"})["CiphertextBlob"]
            figures = list(rates({
                "DescribeKey": lambda: kms.describe_key(KeyId=key),
                "Encrypt": lambda: kms.encrypt(KeyId=key, Plaintext=b"x" * 64, EncryptionContext={"a": "b"}),
                "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"}),
                "GenerateDataKey": lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256"),
            }, calls).values())
            print(f"| {name} | " + " | ".join(f"{f:,.0f}/s" for f in figures) + f" | {figures[1] / figures[0]:.2f} |")


if __name__ == "__main__":
    main()
