"""Benchmark: hostile inputs against ``ckspec serve`` (issue 14): malformed and deep JSON, huge
bodies, bad headers and request lines, slow and idle clients, abrupt closes. Counts the
answers by class, 5xx answers, hangs (no answer and no close within the client timeout), the
server's thread peak, internal-error and traceback lines on its standard error, and whether it
still answers afterwards.

The server is a subprocess on 127.0.0.1 (``python -m ckspec serve --port 0``, access log on),
with short limits so slow clients are cut within seconds.

Run: .venv/bin/python bench/serve_faults.py [--seed 0] [--fuzz 300] [--baseline 44fff39]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ["--request-deadline", "2", "--read-timeout", "2", "--keep-alive-timeout", "2", "--max-connections", "32"]
CLIENT_TIMEOUT = 10.0
HEAD = "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.{op}\r\nContent-Type: application/x-amz-json-1.1\r\n"
OPERATIONS = ["CreateCustomKeyStore", "DescribeCustomKeyStores", "DeleteCustomKeyStore", "ConnectCustomKeyStore",
              "UpdateCustomKeyStore", "CreateKey", "Encrypt"]


def request(op: str, body: bytes, extra: str = "") -> bytes:
    return (HEAD.format(op=op) + extra + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def exchange(address: tuple[str, int], data: bytes, *, shut: bool = True) -> tuple[str, bytes]:
    """('answered'|'closed'|'hang'|'reset', bytes) for ``data`` sent on a fresh connection."""
    try:
        with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as sock:
            try:
                sock.sendall(data)
                if shut:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may refuse before it has read everything
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            return ("answered" if received else "closed"), received
    except TimeoutError:
        return "hang", b""
    except ConnectionResetError:
        return "reset", b""


def control(body: bytes) -> bytes:
    return f"POST /_ckspec/environment HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def malformed_bodies(rng: random.Random, count: int) -> list[tuple[str, bytes]]:
    valid = {"CustomKeyStoreName": "s", "CloudHsmClusterId": "cluster-1234567890a", "KeyStorePassword": "Kmsuser0pw",
             "TrustAnchorCertificate": "x", "Limit": 5, "CustomKeyStoreId": "cks-1234567890abcdef0"}
    junk = [None, True, -1, 2**70, 1e308, "", "\u0000", "é" * 300, [], {}, [1, [2]], {"a": {"b": None}}]
    cases = []
    for _ in range(count):
        body = json.dumps({k: (rng.choice(junk) if rng.random() < 0.5 else v) for k, v in valid.items()
                           if rng.random() < 0.7}).encode()
        kind = rng.randrange(5)
        if kind == 1:
            body = body[:rng.randrange(len(body) + 1)]  # truncated JSON
        elif kind == 2:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))  # random bytes
        elif kind == 3:
            body = json.dumps(rng.choice(junk)).encode()  # not an object
        cases.append((f"malformed JSON ({('object', 'truncated', 'random bytes', 'not an object', 'object')[kind]})",
                      request(rng.choice(OPERATIONS), body)))
    return cases


def fixed_cases() -> list[tuple[str, bytes]]:
    deep = b'{"Tags":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    nested = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    return [
        ("deep JSON (100,000 arrays)", request("CreateKey", deep)),
        ("deep JSON (5,000 objects)", request("DescribeCustomKeyStores", nested)),
        ("huge body (2 MiB, over --max-body)", request("CreateKey", b'{"Description":"' + b"a" * (2 << 20) + b'"}')),
        ("huge Content-Length (10 GB, 1 byte sent)", (HEAD.format(op="CreateKey") + "Content-Length: 10737418240\r\n\r\n{").encode()),
        ("negative Content-Length", (HEAD.format(op="CreateKey") + "Content-Length: -5\r\n\r\n{}").encode()),
        ("non-numeric Content-Length", (HEAD.format(op="CreateKey") + "Content-Length: 1e3\r\n\r\n{}").encode()),
        ("two Content-Lengths", (HEAD.format(op="CreateKey") + "Content-Length: 2\r\nContent-Length: 9\r\n\r\n{}").encode()),
        ("chunked body", (HEAD.format(op="CreateKey") + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n").encode()),
        ("header without a colon", b"POST / HTTP/1.1\r\nHost x\r\n\r\n"),
        ("70 KB header", b"POST / HTTP/1.1\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n"),
        ("200 headers", b"POST / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n"),
        ("70 KB request line", b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"),
        ("HTTP/9.9", b"POST / HTTP/9.9\r\n\r\n"),
        ("no version (HTTP/0.9 style)", b"GET /\r\n\r\n"),
        ("unknown method", b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("binary garbage", bytes(range(256)) * 4),
        ("non-UTF-8 body", request("DescribeCustomKeyStores", b'{"Marker":"\xff\xfe"}')),
        ("unknown X-Amz-Target", request("LaunchRockets", b"{}")),
        ("X-Amz-Target with NUL", (HEAD.format(op="Describe\x00") + "Content-Length: 2\r\n\r\n{}").encode()),
        ("control: bad event", control(b'{"event": 3}')),
        ("control: deep args", control(b'{"event":"create_cluster","args":' + b"[" * 20_000 + b"]" * 20_000 + b"}")),
    ]


def abrupt(address: tuple[str, int], count: int) -> Counter:
    """Connections closed at once, half-way through headers or body, or reset (SO_LINGER 0)."""
    outcomes: Counter = Counter()
    data = request("DescribeCustomKeyStores", b"{}")
    for i in range(count):
        with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as sock:
            sock.sendall(data[:i * 7 % len(data)])
            if i % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
        outcomes["closed abruptly"] += 1
    return outcomes


def slow_clients(address: tuple[str, int], count: int) -> tuple[int, float, Counter]:
    """``count`` clients trickling a request a byte every 0.25 s: (still open after 6 s, seconds
    until the last was closed, answers by status)."""
    data = request("DescribeCustomKeyStores", b"{}")
    socks = [socket.create_connection(address, timeout=CLIENT_TIMEOUT) for _ in range(count)]
    for sock in socks:
        sock.setblocking(False)
    answers, open_, start, position = {}, set(range(count)), time.monotonic(), 0
    while open_ and time.monotonic() - start < 6:
        for i in list(open_):
            try:
                socks[i].send(data[position:position + 1])
            except OSError:
                pass
            try:
                while chunk := socks[i].recv(65536):
                    answers[i] = answers.get(i, b"") + chunk
                open_.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                open_.discard(i)
        position = min(position + 1, len(data) - 3)
        time.sleep(0.25)
    took = time.monotonic() - start
    for sock in socks:
        sock.close()
    return len(open_), took, Counter(_status(a) for a in answers.values())


def idle_flood(address: tuple[str, int], count: int, pid: int) -> tuple[int, int]:
    """``count`` connections that send nothing, opened at once: (how many the server still had
    open 4 s later, twice the keep-alive timeout; how many the clients still saw open). A client
    can see a connection open that the server never accepted (the kernel's listen backlog)."""
    socks = []
    for _ in range(count):
        try:
            socks.append(socket.create_connection(address, timeout=CLIENT_TIMEOUT))
        except OSError:
            break
    time.sleep(4.0)
    server_side, still = sockets(pid), 0
    for sock in socks:
        sock.setblocking(False)
        try:
            still += sock.recv(1) != b""
        except BlockingIOError:
            still += 1
        except OSError:
            pass
        sock.close()
    return server_side, still


def sockets(pid: int) -> int:
    """The server's open TCP connections (its listening socket and internal socket pair left out)."""
    found = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found += Path(fd).readlink().name.startswith("socket:")
        except OSError:
            pass
    return max(0, found - 3)


def _status(answer: bytes) -> str:
    found = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return found.group(1).decode() if found else "no status line"


def threads(pid: int) -> int:
    return int(re.search(r"Threads:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def still_answers(address: tuple[str, int]) -> bool:
    outcome, answer = exchange(address, request("DescribeCustomKeyStores", b"{}").replace(
        b"Host: x", b"Host: x\r\nConnection: close"), shut=False)
    return outcome == "answered" and _status(answer) == "200"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fuzz", type=int, default=300, help="malformed-JSON cases")
    parser.add_argument("--baseline", help="also run against this commit (only its --read-timeout 2 of the limits)")
    args = parser.parse_args()
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.baseline],
                           check=True, capture_output=True)
            try:
                print(f"### baseline ({args.baseline})\n")
                run(_package(tree, Path(tmp) / "b"), ["--read-timeout", "2"], args)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
        print("\n### this tree\n")
    run(None, LIMITS, args)
    return 0


def _package(tree: Path, into: Path) -> Path:
    spec = importlib.util.spec_from_file_location("check_speed", ROOT / "bench" / "check_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._package(tree, into)


def run(path: Path | None, flags: list[str], args: argparse.Namespace) -> None:
    """Every hostile input against one server (``path``: where ckspec is imported from)."""
    env = dict(os.environ, PYTHONPATH=str(path)) if path else None
    server = subprocess.Popen([sys.executable, "-m", "ckspec", "serve", "--port", "0", *flags], cwd=path or ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak, sampling = [0], threading.Event()

    def sample() -> None:
        while not sampling.wait(0.05):
            with contextlib.suppress(OSError, AttributeError):
                peak[0] = max(peak[0], threads(server.pid))

    try:
        line = server.stdout.readline()
        host, port = re.search(r"http://([\d.]+):(\d+)", line).groups()
        address = (host, int(port))
        threading.Thread(target=sample, daemon=True).start()
        rows: dict[str, Counter] = {}
        start = time.monotonic()
        for name, data in fixed_cases() + malformed_bodies(random.Random(args.seed), args.fuzz):
            outcome, answer = exchange(address, data)
            rows.setdefault(name, Counter())[_status(answer) if outcome == "answered" else outcome] += 1
        rows["abrupt closes"] = abrupt(address, 100)
        left_open, slow_took, slow_answers = slow_clients(address, 40)
        rows["slow clients (40, a byte per 0.25 s)"] = slow_answers
        idle_open = idle_flood(address, 300, server.pid)
        alive = still_answers(address)
        elapsed = time.monotonic() - start
    finally:
        sampling.set()
        server.terminate()
        _, err = server.communicate(timeout=15)
    report(flags, rows, left_open, slow_took, idle_open, peak[0], alive, err, elapsed)


def report(flags: list[str], rows: dict[str, Counter], left_open: int, slow_took: float, idle_open: int, peak: int, alive: bool,
           err: str, elapsed: float) -> None:
    print(f"serve {' '.join(flags)}; {elapsed:.1f} s\n")
    print("| input | cases | answers (status: count) | 500 | hangs |")
    print("|---|---|---|---|---|")
    for name, counts in rows.items():
        total = sum(counts.values())
        five = counts.get("500", 0)  # (501 unknown method and 505 HTTP version are the standard answers)
        shown = ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))
        print(f"| {name} | {total} | {shown} | {five} | {counts.get('hang', 0)} |")
    print(f"\nslow clients still open after 6 s: {left_open} (last closed after {slow_took:.1f} s); idle connections "
          f"open 4 s after a 300-connection flood: {idle_open[0]} on the server's side ({idle_open[1]} as the clients saw them); server threads at most {peak}")
    internal = sum(line.endswith(" 500") or "internal error" in line for line in err.splitlines())
    print(f"serve's stderr: {err.count('Traceback')} tracebacks, {internal} access-log lines with a 500 or an internal error; "
          f"still answering afterwards: {'yes' if alive else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
