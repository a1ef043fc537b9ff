"""ckspec check: hold an implementation to the model (the conformance engine).

Exit codes: 0 conformant, 1 non-conformant, 2 usage error, 3 target unreachable,
4 inconclusive (polling ran out of budget, the core lifecycle operations are unsupported, or
every example was abandoned after a transport fault, or no step or no CreateCustomKeyStore ran; never
reported as a failure).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from .errors import CliError, at_least_one, positive_int, seconds
from .exit_codes import FAILED, INCONCLUSIVE, OK, UNREACHABLE
from .output import console, progress

DEFAULT_CALL_TIMEOUT = 60.0  # ckspec.conformance.guard.DEFAULT_CALL_TIMEOUT, without importing the engine

EXIT = {"conformant": OK, "non-conformant": FAILED, "inconclusive": INCONCLUSIVE}
DEFAULT_EXAMPLES, DEFAULT_STEPS = 300, 100


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="hold a target (reference, mutant:NAME, module:Class) to the model",
                       description="Drive the target with generated steps and check every answer against the model. "
                                   "Exit codes: 0 conformant, 1 non-conformant, 2 usage error, 3 target "
                                   "unreachable, 4 inconclusive (polling ran out of budget, core lifecycle "
                                   "operations unsupported, or every example abandoned after a transport fault, or no step or no CreateCustomKeyStore ran).")
    add_target_arguments(p)
    p.add_argument("--examples", type=at_least_one, default=DEFAULT_EXAMPLES,
                   help="Hypothesis examples to generate (default %(default)s)")
    p.add_argument("--steps", type=at_least_one, default=DEFAULT_STEPS,
                   help="at most this many steps per example (default %(default)s)")
    p.add_argument("--seed", type=positive_int, help="Hypothesis seed (default: random, printed)")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    p.add_argument("--html", metavar="FILE", help="write a single-file HTML report")
    p.add_argument("--json", metavar="FILE", help="write the JSON report ('-' for standard output)")
    p.add_argument("--failures-dir", default=".ckspec/failures", metavar="DIR",
                   help="where failures are saved, and replayed from first on the next run (default %(default)s)")
    p.add_argument("--no-save", action="store_true", help="neither replay nor save failures")
    p.add_argument("--no-shrink", action="store_true", help="report the first failure as found, unshrunk")
    add_shard_argument(p, "with --seed: run shard K of N of a campaign whose examples are drawn one seed per "
                          "example instead of by Hypothesis's guided search; --shard 1/1 runs the whole campaign "
                          "on one machine, and `ckspec report merge` combines the shards' --json reports into it")
    p.set_defaults(run=run)


def add_shard_argument(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--shard", type=shard, metavar="K/N", help=help)


def check_shard_count(args: argparse.Namespace) -> None:
    """More shards than examples would leave a shard nothing to run (and nothing to report)."""
    if args.shard is not None and args.shard.count > args.examples:
        raise CliError(f"--shard {args.shard}: {args.shard.count} shards of {args.examples} examples leave some "
                       f"shards without an example (raise --examples or lower N)")


def shard(text: str) -> Any:
    """argparse type: K/N (ckspec.conformance.campaign.Shard)."""
    from ckspec.conformance.campaign import ShardError, parse_shard

    try:
        return parse_shard(text)
    except ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="reference",
                   help="reference, reference:random, reference:free, mutant:NAME, serve, serve:random, moto, moto-server, http://HOST:PORT "
                        "(any AWS-compatible endpoint, through boto3), or module.path:ClassName (default %(default)s)")
    add_wire_arguments(p)


def add_wire_arguments(p: argparse.ArgumentParser) -> None:
    """Options for targets reached over the wire and for polling asynchronous work."""
    p.add_argument("--region", help="AWS Region for targets reached over the wire (default: AWS_REGION, "
                                    "AWS_DEFAULT_REGION, else us-east-1)")
    p.add_argument("--profile", help="AWS credentials profile for targets reached over the wire (default: the "
                                     "usual AWS credential chain; a local endpoint gets placeholder credentials)")
    p.add_argument("--i-accept-aws-costs", action="store_true",
                   help="required by --target aws, which runs against a real AWS account and costs money")
    p.add_argument("--aws-cluster", action="append", default=[], metavar="CLUSTER_ID=TRUST_ANCHOR.pem",
                   help="a ready CloudHSM cluster --target aws may use (repeat; the starting account needs 3)")
    p.add_argument("--reset-url", metavar="URL",
                   help="an endpoint target's own reset route, POSTed before each example (e.g. "
                        "http://127.0.0.1:4566/_reset); without it, and without ckspec's /_ckspec extension, "
                        "examples are isolated by store-name prefix")
    p.add_argument("--request-timeout", type=seconds(), default=15.0, metavar="SECONDS",
                   help="connect and read timeout of each request to a target reached over the wire (http://, "
                        "serve); a request that times out is a transport fault (default %(default)s)")
    p.add_argument("--call-timeout", type=seconds(), default=DEFAULT_CALL_TIMEOUT, metavar="SECONDS",
                   help="how long one call of an adapter class (module.path:ClassName) may take; past it the "
                        "target is reported unreachable (exit 3), the call named (default %(default)s)")
    p.add_argument("--poll-budget", type=at_least_one, default=30, metavar="N",
                   help="polls of asynchronous work before an example is inconclusive (default %(default)s)")
    p.add_argument("--poll-interval", type=seconds(), default=1.0, metavar="SECONDS",
                   help="time the target is given between polls (default %(default)s)")


def wire_options(args: argparse.Namespace) -> dict[str, Any]:
    """What :func:`ckspec.conformance.load_target` takes from :func:`add_wire_arguments`."""
    return {"region": args.region, "profile": args.profile, "accept_aws_costs": args.i_accept_aws_costs,
            "aws_clusters": tuple(args.aws_cluster), "reset_url": args.reset_url,
            "request_timeout": args.request_timeout, "call_timeout": args.call_timeout}


def target_spec(args: argparse.Namespace) -> Any:
    """The named target, probed once; CliError (exit 2) for a bad name, TargetUnreachable (exit 3).
    Use it as a context manager: what the target holds for the run (a server) is released at the end."""
    from ckspec.conformance import TargetNameError, load_target

    try:
        spec = load_target(args.target, **wire_options(args))
    except TargetNameError as exc:
        raise CliError(str(exc)) from None
    try:
        _probe(spec)
    except TargetNameError as exc:
        spec.close()
        raise CliError(str(exc)) from None
    except BaseException:
        spec.close()
        raise
    return spec


def _probe(spec: Any) -> None:
    """Make (and close) one target; a transport fault is retried, three in a row are unreachable."""
    from ckspec.conformance import TargetUnreachable
    from ckspec.conformance.transport import ATTEMPTS, TransportFault

    for attempt in range(1, ATTEMPTS + 1):
        try:
            spec.make(0).close()
            return
        except TransportFault as fault:
            if attempt == ATTEMPTS:
                raise TargetUnreachable(f"target {spec.name}: {ATTEMPTS} transport faults in a row ({fault.kind})") \
                    from None


def unreachable(exc: BaseException) -> int:
    print(f"ckspec: target unreachable: {exc}", file=sys.stderr)
    return UNREACHABLE


def _output_file(path: str | None) -> Path | None:
    if path is None or path == "-":
        return None
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CliError(f"output file {path!r} is a folder")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise CliError(f"cannot write {path!r}: folder {str(folder)!r} does not exist or is not writable")
    return target


def failures_folder(path: str) -> Path:
    """--failures-dir: a folder, or a path one can be made at (refused: a file, or a path
    under a file), checked before the run rather than when a failure is saved."""
    folder = Path(path)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        where = "" if existing == folder else f"is under {str(existing)!r}, which "
        raise CliError(f"--failures-dir {path!r} {where}exists and is not a folder")
    return folder


def run(args: argparse.Namespace) -> int:
    return against_target(args, _check)


def against_target(args: argparse.Namespace, job: Any) -> int:
    """Run ``job(args)`` against ``args.target``: exit 3 when the target cannot be reached, a
    usage error (exit 2) when the adapter breaks the interface."""
    from ckspec.conformance import AdapterError, TargetUnreachable

    try:
        return job(args)
    except TargetUnreachable as exc:
        return unreachable(exc)
    except AdapterError as exc:
        raise CliError(f"the adapter {args.target} broke the interface: {exc}") from None


def _check(args: argparse.Namespace) -> int:
    from ckspec.conformance.campaign import check_campaign
    from ckspec.conformance.engine import CheckOptions, check

    if args.shard is not None and args.seed is None:
        raise CliError("--shard needs --seed: every shard must draw the same campaign")
    check_shard_count(args)
    outputs = {k: _output_file(getattr(args, k)) for k in ("junit", "html", "json")}
    failures_dir = None if args.no_save else failures_folder(args.failures_dir)
    options = CheckOptions(examples=args.examples, steps=args.steps, seed=args.seed, poll_budget=args.poll_budget,
                           poll_interval=args.poll_interval, shrink=not args.no_shrink, failures_dir=failures_dir)
    quiet = args.json == "-"
    with target_spec(args) as spec, progress(f"checking {spec.name}", enabled=not quiet) as update:
        def line(seed: int) -> str:
            return (f"ckspec check --target {shlex.quote(spec.name)} --examples {args.examples} "
                    f"--steps {args.steps} --seed {seed}")

        def shown(r: Any) -> None:
            update(f"example {r.examples}/{args.examples}, {r.steps} steps")

        if args.shard is None:
            result = check(spec, options, shown)
        else:  # the campaign's command: the whole of it on one machine
            result = check_campaign(spec, options, args.shard, f"{line(args.seed)} --shard 1/1", shown)
    command = line(result.seed) + (f" --shard {args.shard}" if args.shard is not None else "")
    write_reports(result, command, outputs, args.json == "-")
    if not quiet:
        show(result, command)
    return EXIT[result.verdict]


def write_reports(result: Any, command: str, outputs: dict[str, Path | None], json_to_stdout: bool) -> None:
    from ckspec.conformance import reports

    if outputs["junit"]:
        outputs["junit"].write_text(reports.junit_xml(result), encoding="utf-8")
    if outputs["html"]:
        outputs["html"].write_text(reports.html_report(result, command), encoding="utf-8")
    document = None
    if outputs["json"] or json_to_stdout:
        document = json.dumps(reports.as_json(result, command), indent=2, default=str)
    if outputs["json"]:
        outputs["json"].write_text(document + "\n", encoding="utf-8")
    if json_to_stdout:
        sys.stdout.write(document + "\n")


def show(result: Any, command: str) -> None:
    from ckspec.conformance.reports import failure_lines

    colour = {"conformant": "green", "non-conformant": "red", "inconclusive": "yellow"}[result.verdict]
    rate = f", {result.steps / result.seconds:,.0f} steps/s" if result.seconds else ""
    console.print(f"target {result.target}: [{colour}]{result.verdict}[/{colour}] after {result.examples} examples, "
                  f"{result.steps} steps, {result.seconds:.2f} s{rate} (seed {result.seed})")
    if result.regressions:
        again = sum(1 for r in result.regressions if r["verdict"] == "non-conformant")
        console.print(f"saved failures replayed first: {len(result.regressions)}, failing again: {again}")
    for f in result.failures:
        console.print(f"\n[red]FAILURE[/red] {f.message}", markup=True, highlight=False)
        for line in failure_lines(f):
            console.print(line, markup=False, highlight=False, soft_wrap=True)  # a URL is never cut
        if f.path_rules:
            console.print(f"rules along the path: {', '.join(f.path_rules)}")
        console.print(f"minimal reproduction ({len(f.steps)} steps after the starting account):")
        console.file.flush()
        sys.stdout.write(f.program)  # as is: rich would wrap long lines and break the program
        sys.stdout.flush()
        if f.trace_file:
            console.print(f"saved: {f.trace_file}  (replay: ckspec replay {f.trace_file} --target {result.target})")
    from ckspec.conformance.reports import isolation_line

    console.print(f"isolation: {isolation_line(result)}", highlight=False)
    if result.faked_setup:
        console.print(f"[yellow]depends on faked set-up[/yellow]: {len(result.faked_setup)} answers only a favourable "
                      f"choice of the clusters, trust anchors or kmsuser passwords ckspec made up explains (neither "
                      f"failures nor passes): {result.faked_setup[0]}")
    if result.unsupported:
        console.print("unsupported: " + ", ".join(f"{k} ({v})" for k, v in sorted(result.unsupported.items())))
    if result.inconclusive:
        console.print(f"[yellow]inconclusive[/yellow] examples: {len(result.inconclusive)}: {result.inconclusive[0]}")
    for reason in result.verdict_reasons():
        console.print(f"[yellow]inconclusive[/yellow]: {reason}", highlight=False)
    if result.stopped_early:
        console.print(f"[yellow]note[/yellow]: {result.stopped_early}", highlight=False)
    elif result.restarts:
        console.print(f"note: generation started again {result.restarts} time(s) on the next seed (an example cut "
                      f"short by a transport fault could not be replayed the same way)", highlight=False)
    if result.transport_faults or result.abandoned:
        from ckspec.conformance.reports import transport_summary

        console.print(transport_summary(result), highlight=False)
    from ckspec.conformance.coverage import UNEXERCISABLE

    statuses = result.rule_statuses()
    never = [r["id"] for r in statuses if r["status"] == "not exercised" and r["id"] not in UNEXERCISABLE]
    exceptions = [r["id"] for r in statuses if r["status"] == "not exercised" and r["id"] in UNEXERCISABLE]
    passed = sum(1 for r in statuses if r["status"] == "pass")
    reached = result.coverage.sequences
    if reached:
        console.print("reached: " + ", ".join(f"{k} x{v}" for k, v in sorted(reached.items())))
    console.print(f"rules: {passed} exercised and passed, {len(never)} never exercised; "
                  f"{len(result.coverage.cells)} (state, operation, outcome) cells")
    if never:
        console.print(f"[yellow]warning[/yellow]: rules never exercised: {', '.join(never[:25])}"
                      + (f" and {len(never) - 25} more" if len(never) > 25 else ""))
    if exceptions:
        console.print(f"not exercisable against a target (legacy profile only): {', '.join(exceptions)}")
    console.print(f"rerun: {command}")
