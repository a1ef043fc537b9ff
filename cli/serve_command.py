"""ckspec serve: the reference model as an AWS-compatible endpoint (KMS and CloudHSM v2).

Point boto3 or the AWS CLI at it with an endpoint URL; environment events AWS has no API
for go through the test-control extension under ``/_ckspec``. The first line on standard
output says where it listens. It stops on Ctrl-C (exit 130), on SIGTERM (exit 0), or after
``--idle-timeout`` seconds without a request (exit 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .errors import CliError, positive_int, seconds

DEFAULT_PORT = 9400


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the reference model as an AWS-compatible KMS and CloudHSM v2 endpoint",
                       description="Serve the reference model over the AWS wire protocol (JSON 1.1): KMS for every "
                                   "operation the model covers, CloudHSM v2 for clusters and HSMs, and the "
                                   "test-control extension under /_ckspec. The first line on standard output is "
                                   "'ckspec serve: listening on URL'. Exit codes: 0 stopped (SIGTERM, idle "
                                   "timeout), 130 interrupted, 2 usage error.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port; 0 picks a free one (default %(default)s)")
    p.add_argument("--expose-unauthenticated-control", action="store_true",
                   help="allow a --host that is not loopback, although the test-control extension (/_ckspec) "
                        "has no authentication: anyone who reaches it can change the account")
    p.add_argument("--clock", choices=("real", "manual"), default="real",
                   help="real: asynchronous work completes as time passes; manual: only POST /_ckspec/wait "
                        "moves time (default %(default)s)")
    p.add_argument("--connect-delay", type=seconds(zero=True), default=2.0, metavar="SECONDS",
                   help="time until a connection attempt or a disconnect completes (default %(default)s)")
    p.add_argument("--lag", type=seconds(zero=True), default=0.5, metavar="SECONDS",
                   help="time a read may still show a store as it was before the last call (AMB-30); 0: reads "
                        "never lag (default %(default)s)")
    p.add_argument("--choices", choices=("reference", "random"), default="reference",
                   help="where the documentation allows several outcomes: the catalog's recommended one, or any "
                        "at random (default %(default)s)")
    p.add_argument("--seed", type=positive_int, default=None,
                   help="seed for identifiers and random choices; given, random bytes, data keys and key "
                        "material are reproducible too (default: identifiers from seed 0, random bytes from the "
                        "operating system)")
    p.add_argument("--region", default="us-east-1",
                   help="Region of ARNs and Availability Zones when a request's signature names none "
                        "(default %(default)s)")
    p.add_argument("--idle-timeout", type=seconds(), metavar="SECONDS",
                   help="stop after this long without a request (default: never)")
    p.add_argument("--read-timeout", type=seconds(), default=30.0, metavar="SECONDS",
                   help="drop a connection silent this long within a request (default %(default)s)")
    p.add_argument("--request-deadline", type=seconds(), default=30.0, metavar="SECONDS",
                   help="a request's line, headers and body must all arrive within this long of its first "
                        "byte, however slowly they trickle: else HTTP 408 and the connection closes "
                        "(default %(default)s)")
    p.add_argument("--keep-alive-timeout", type=seconds(), default=15.0, metavar="SECONDS",
                   help="close a connection that waits this long for its next request (default %(default)s)")
    p.add_argument("--max-connections", type=_connections, default=64, metavar="N",
                   help="connections served at once (a thread each); beyond, the one idle longest is closed, or "
                        "if every one is inside a request the newcomer gets HTTP 400 ThrottlingException "
                        "(default %(default)s)")
    p.add_argument("--max-body", type=positive_int, default=None, metavar="BYTES",
                   help="refuse longer request bodies with HTTP 413 (default 1 MiB)")
    p.add_argument("--quiet", action="store_true", help="no access log on standard error")
    p.set_defaults(run=run)


def _port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text}")
    return value


def _connections(text: str) -> int:
    value = positive_int(text)
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"expected a number of connections 1-100000, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from ckspec.emulator import MAX_BODY, EmulatorServer, ServeOptions

    try:
        options = ServeOptions(clock=args.clock, connect_delay=args.connect_delay, lag=args.lag,
                               choices=args.choices, seed=args.seed, region=args.region,
                               max_body=MAX_BODY if args.max_body is None else args.max_body,
                               read_timeout=args.read_timeout, request_deadline=args.request_deadline,
                               keep_alive_timeout=args.keep_alive_timeout, max_connections=args.max_connections)
    except ValueError as exc:  # the message starts with the option's name
        name, _, why = str(exc).partition(" ")
        raise CliError(f"--{name.replace('_', '-')} {why}") from None
    try:
        server = EmulatorServer(options, host=args.host, port=args.port,
                                expose_unauthenticated_control=args.expose_unauthenticated_control,
                                idle_timeout=args.idle_timeout, log=None if args.quiet else sys.stderr)
    except ValueError as exc:
        raise CliError(f"--host {args.host}: {exc}; pass --expose-unauthenticated-control to listen there "
                       f"anyway") from None
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise CliError(f"cannot listen on {args.host} port {args.port}: {reason}") from None
    print(f"ckspec serve: listening on {server.url}", flush=True)
    if args.expose_unauthenticated_control:
        print("ckspec serve: warning: the test-control extension (/_ckspec) is reachable without authentication",
              file=sys.stderr)
    return _serve_until_stopped(server)


def _serve_until_stopped(server) -> int:
    """Serve until SIGTERM (0), Ctrl-C (130) or the idle timeout (0)."""
    terminated = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: terminated.set())
    code = 0
    try:
        server.start()  # inside the try: a Ctrl-C may come as soon as the first request is served
        while not server.stopped.wait(0.2):
            if terminated.is_set():
                server.stop("SIGTERM")
    except KeyboardInterrupt:
        server.stop("interrupted")
        code = 130
    finally:
        server.stop("stopped")
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(f"ckspec serve: stopped ({server.stop_reason})", file=sys.stderr)
    return code
