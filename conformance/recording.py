"""Recording what a real boto3 program does against KMS and CloudHSM v2.

Two ways in:

* ``ckspec record -- PROGRAM ARGS...`` (:func:`record_program`) runs any program with the
  recording bootstrap first on its PYTHONPATH: every Python it starts (the program, the
  AWS CLI, pytest and its xdist workers) patches botocore and appends one line per KMS or
  CloudHSM v2 call to a private spool file; when the program ends, the spool becomes the
  trace. The program's own output and exit code pass through untouched.
* ``with recording("trace.json"): ...`` (:func:`recording`) records the current process.

The format is :mod:`ckspec.conformance.recorded`. The kmsuser password is never written:
the hook writes keyed digests, the key lives only in memory (and in the environment of the
recorded processes), and :func:`assemble` renumbers the digests as ``password(1)``,
``password(2)``, ... in order of first appearance.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from ckspec.model.aws_service import kms

from . import recorded, supervision
from .record_hook import ckspec_record_hook as hook

#: the folder put first on the recorded program's PYTHONPATH
BOOTSTRAP_DIR = Path(hook.__file__).resolve().parent
_DIGEST = re.compile(r"password:([0-9a-f]{16})")


class RecordingError(ValueError):
    """The recording cannot start (no such program, an output that cannot be written)."""


@attrs.frozen
class Recording:
    """What one recording produced."""

    trace: recorded.RecordedTrace
    path: Path
    #: spool lines that could not be read (a line cut short when a process was killed)
    damaged: int = 0
    #: the program's exit status (None for an in-process recording)
    exit_status: int | None = None
    #: the signal that ended the recording (passed on to the program), if one did
    interrupted: signal.Signals | None = None
    #: the program had not ended within the grace period after that signal and was killed
    killed: bool = False
    #: the grace period the program had after the signal, in seconds
    grace: float = supervision.GRACE_SECONDS

    @property
    def exit_code(self) -> int:
        """``ckspec record``'s exit code: the program's, or 128 + the signal that interrupted it."""
        if self.interrupted is not None:
            return 128 + int(self.interrupted)
        return self.exit_status or 0

    def ending(self) -> str:
        """How the program ended, for the closing message ("" for a plain success)."""
        if self.interrupted is not None:
            fate = (f"had not ended {self.grace:g} s later and was killed" if self.killed
                    else f"exited with {exit_status_name(self.exit_status or 0)}")
            return f"; interrupted by {self.interrupted.name}, passed on to the program, which {fate}"
        if self.exit_status:
            return f"; the program exited with {exit_status_name(self.exit_status)}"
        return ""

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for call in self.trace.calls:
            counts[call.service] = counts.get(call.service, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no KMS or CloudHSM v2 call"
        damaged = f" ({self.damaged} unreadable spool line{'s' if self.damaged != 1 else ''} skipped)" \
            if self.damaged else ""
        return f"recorded {len(self.trace.calls)} call{'s' if len(self.trace.calls) != 1 else ''} ({parts}) " \
               f"to {self.path}{damaged}"


def assemble(spool: Path, program: Sequence[str] | None = None,
             key: bytes | None = None) -> tuple[recorded.RecordedTrace, int]:
    """The trace from a spool file, and how many lines could not be read. With the recording's
    ``key``, a recorded password in the program's arguments (``aws kms ... --key-store-password
    X``, ``-pX``, ``--pw=X``) is written as its alias too."""
    try:
        lines = spool.read_text(encoding="ascii", errors="replace").splitlines()
    except FileNotFoundError:
        lines = []
    return _trace_from_lines(lines, program, key)


def _trace_from_lines(lines: Sequence[str], program: Sequence[str] | None,
                      key: bytes | None) -> tuple[recorded.RecordedTrace, int]:
    calls: list[recorded.RecordedCall] = []
    damaged = 0
    aliases: dict[str, int] = {}

    def renumber(match: re.Match[str]) -> str:
        return f"password({aliases.setdefault(match.group(1), len(aliases) + 1)})"

    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(_DIGEST.sub(renumber, line))
            calls.append(recorded.parse_call(len(calls), data))
        except ValueError:  # RecordedTraceError and JSON errors: a line cut short
            damaged += 1
    if program is not None:
        program = _scrub_program(program, key, aliases)
    return recorded.RecordedTrace(tuple(calls), program), damaged


#: the longest text tried as a password inside a program argument (KeyStorePassword takes 7 to 32)
_LONGEST_PASSWORD = 64
#: how many characters of the program's arguments are searched for passwords (about 0.2 s per
#: 1,000); an argument beyond that is written as its length only, when passwords were sent
_SEARCHED = 8192


def _scrub_program(program: Sequence[str], key: bytes | None, aliases: dict[str, int]) -> tuple[str, ...]:
    """The program's arguments with every password it sent written as its alias (KU-04), within
    the :data:`_SEARCHED` budget; an argument past the budget is replaced as a whole."""
    if key is None or not aliases:
        return tuple(program)
    budget, out = _SEARCHED, []
    for argument in program:
        if len(argument) > budget:
            out.append(f"[an argument of {len(argument)} characters, too long to search for passwords]")
            continue
        budget -= len(argument)
        out.append(_scrub_argument(argument, key, aliases))
    return tuple(out)


def _scrub_argument(argument: str, key: bytes | None, aliases: dict[str, int]) -> str:
    """An argument with every password the program sent, wherever it stands in it (``SECRET``,
    ``--pw=SECRET``, ``-pSECRET``, ``user=x,password=SECRET``), written as its alias (KU-04).
    The digests are all there is to go by, so every piece of the argument of up to
    :data:`_LONGEST_PASSWORD` characters is tried, the longest first at each position."""
    if key is None or not aliases:
        return argument
    recorder = hook.Recorder("", key)
    out: list[str] = []
    start = plain = 0
    while start < len(argument):
        found = None
        for end in range(min(len(argument), start + _LONGEST_PASSWORD), start, -1):
            found = aliases.get(recorder.digest(argument[start:end]))
            if found is not None:
                break
        if found is None:
            start += 1
            continue
        out.append(f"{argument[plain:start]}[redacted password({found})]")
        start = plain = end
    return "".join(out) + argument[plain:]


def check_output_path(output: str | os.PathLike[str]) -> Path:
    """The output path, if a trace can be written there (RecordingError otherwise)."""
    path = Path(output)
    if path.is_dir():
        raise RecordingError(f"output {str(output)!r} is a folder, not a file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise RecordingError(f"cannot write {str(output)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RecordingError(f"cannot write {str(output)!r}: permission denied")
    return path


def find_program(name: str) -> str:
    """The program to run (RecordingError when there is none by that name)."""
    if os.sep in name or (os.altsep and os.altsep in name):
        if not os.path.isfile(name):
            raise RecordingError(f"program {name!r} not found")
        if not os.access(name, os.X_OK):
            raise RecordingError(f"program {name!r} is not executable")
        return name
    found = shutil.which(name)
    if found is None:
        raise RecordingError(f"program {name!r} not found on PATH")
    return found


def record_program(argv: Sequence[str], output: str | os.PathLike[str],
                   grace: float = supervision.GRACE_SECONDS) -> Recording:
    """Run ``argv`` to its end, recording its KMS and CloudHSM v2 calls into ``output``. A
    SIGINT, SIGTERM or SIGHUP to this process is passed on to the program, which gets
    ``grace`` seconds to end before it is killed; the trace is written with
    every completed call either way, and the spool removed (:mod:`.supervision`)."""
    if not argv:
        raise RecordingError("no program to run")
    path = check_output_path(output)
    executable = find_program(argv[0])
    with supervision.Supervisor(grace) as supervisor, _locked(path), _private_spool() as spool:
        key = secrets.token_bytes(32)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(BOOTSTRAP_DIR), *filter(None, [env.get("PYTHONPATH")])])
        env[hook.SPOOL_VARIABLE] = str(spool)
        env[hook.KEY_VARIABLE] = key.hex()

        def save() -> tuple[recorded.RecordedTrace, int]:
            trace, damaged = assemble(spool, argv, key)
            recorded.write(trace, path)
            return trace, damaged

        def save_so_far() -> None:  # should ckspec itself be killed while the program ends
            with contextlib.suppress(OSError, ValueError):
                save()

        try:
            ended = supervisor.run(executable, argv, env, save_so_far)
        except OSError as exc:
            raise RecordingError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        trace, damaged = save()
    return Recording(trace, path, damaged, ended.status, ended.interrupted, ended.killed, grace)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The output locked for the block (RecordingError when another recording writes it)."""
    try:
        lock = supervision.OutputLock.take(path)
    except supervision.OutputBusy as exc:
        raise RecordingError(f"output {str(path)!r} is being written by another ckspec record ({exc.holder})") from None
    except OSError as exc:
        raise RecordingError(f"cannot lock {str(supervision.lock_path(path))!r}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _private_spool() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="ckspec-record-"))
    try:
        os.chmod(folder, 0o700)
        yield folder / "calls.jsonl"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _InProcess:
    """The handle :func:`recording` yields: the trace is there once the block has ended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.result: Recording | None = None

    @property
    def trace(self) -> recorded.RecordedTrace:
        if self.result is None:
            raise RuntimeError("the recording is still running; its trace is written when the with block ends")
        return self.result.trace


@contextlib.contextmanager
def recording(path: str | os.PathLike[str]) -> Iterator[_InProcess]:
    """Record this process's KMS and CloudHSM v2 calls (through botocore) into ``path``::

        with recording("trace.json"):
            boto3.client("kms").describe_custom_key_stores()

    The trace is written when the block ends, also when it raises.
    """
    handle = _InProcess(check_output_path(path))
    with _locked(handle.path), _private_spool() as spool:
        recorder = hook.Recorder(str(spool), secrets.token_bytes(32))
        hook.attach(recorder)
        try:
            yield handle
        finally:
            hook.detach(recorder)
            trace, damaged = assemble(spool)
            recorded.write(trace, handle.path)
            handle.result = Recording(trace, handle.path, damaged)


def exit_status_name(status: int) -> str:
    """How a shell would describe an exit status (for messages)."""
    if status > 128 and status - 128 in signal.valid_signals():
        return f"{status} ({signal.Signals(status - 128).name})"
    return str(status)


class RecordingTarget:
    """A conformance target that records the KMS calls made to another one, as a program's
    calls would be recorded (same redaction, same format), with the inner target's clock as
    the calls' time when it has one (``now``, in seconds). Environment controls and waiting
    are passed on and not recorded: the environment is what a recorded trace cannot see."""

    def __init__(self, inner: Any, epoch: _dt.datetime = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)) -> None:
        self.inner = inner
        self.name = f"recorded {getattr(inner, 'name', 'target')}"
        self.capabilities = inner.capabilities
        self.epoch = epoch
        self._key = secrets.token_bytes(32)
        self._recorder = hook.Recorder("", self._key)
        self._lines: list[str] = []

    def call(self, operation: str, params: Mapping[str, Any]) -> Any:
        started = self._now()
        reply = self.inner.call(operation, params)
        if reply.ok:
            outcome: tuple[str, Any] = ("response", reply.body)
        else:
            outcome = ("error", {"Error": {"Code": reply.error, "Message": reply.message},
                                 "ResponseMetadata": {"HTTPStatusCode": reply.status}})
        entry = self._recorder.entry(kms(), operation, dict(params), started, outcome, end=self._now())
        self._lines.append(json.dumps(entry, ensure_ascii=True))
        return reply

    def environment(self, event: str, args: tuple[Any, ...]) -> Any:
        return self.inner.environment(event, args)

    def wait(self, seconds: float) -> None:
        self.inner.wait(seconds)

    def close(self) -> None:
        self.inner.close()

    def trace(self) -> recorded.RecordedTrace:
        return _trace_from_lines(self._lines, None, self._key)[0]

    def _now(self) -> str:
        return (self.epoch + _dt.timedelta(seconds=float(getattr(self.inner, "now", 0.0)))).isoformat()


__all__ = ["Recording", "RecordingError", "RecordingTarget", "assemble", "record_program", "recording"]


def recorded_walk(target: Any, draws: Any, steps: int,
                  go_on: Callable[[], bool] = lambda: True) -> recorded.RecordedTrace:
    """A random walk of the conformance engine's generator on ``target``, from its starting
    account, recorded at the KMS API (environment controls and waiting are what a recorded
    trace cannot see), for at most ``steps`` steps while ``go_on()``; a walk that stops
    agreeing with the model just ends. ``draws`` is the generator's source of choices
    (:class:`ckspec.conformance.generator.Draws` over Hypothesis, or any object with its
    methods). The trace goes through JSON and back: what a file holds is what is checked."""
    from .checker import Inconclusive, Nonconformance
    from .generator import Memory, available_rules, draw_step, swarm
    from .session import Session

    recording_target = RecordingTarget(target)
    session = Session(recording_target)
    memory = Memory()
    session.setup()
    rules = swarm(draws, available_rules(session.capabilities, {}))
    try:
        for _ in range(steps):
            if not go_on():
                break
            memory.note(session.world)
            session.run(draw_step(draws, rules, session, memory))
    except (Nonconformance, Inconclusive):
        pass
    return recorded.parse(json.loads(json.dumps(recording_target.trace().as_json())))
