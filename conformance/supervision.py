"""Running the program ``ckspec record`` records: signals passed on, a bounded wait, the output locked.

``ckspec record`` must never lose what the program did, nor leave it running. When ckspec
gets SIGINT, SIGTERM or SIGHUP (Ctrl-C, a CI timeout, a closed terminal) it passes the
signal on to the program (a SIGINT from the terminal already reached the program, which
shares ckspec's foreground process group, and is not sent twice), gives the program a grace
period (:data:`GRACE_SECONDS` unless told otherwise) to end, then kills it (SIGKILL); the caller then writes the trace with
every call completed and exits ``128 + the signal`` (130, 143, 129), the shell's convention.

The output is locked for the whole recording (:class:`OutputLock`): ``FILE.lock`` beside the
trace, held with ``flock``, holding the recorder's pid, removed when the recording ends. A
second recording to the same output is refused instead of overwriting the first one's calls.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

#: the signals passed on to the program (and that end the recording, with the trace written)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: how long the program has to end after a signal was passed on, before it is killed
GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.05


class OutputBusy(Exception):
    """Another recording holds the output's lock (``holder``: "pid N", or "pid unknown")."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


@attrs.frozen
class Ended:
    """How the program ended."""

    #: the exit status as a shell reports it (128 + N for a program ended by signal N)
    status: int
    #: the signal ckspec itself got (which it passed on), if any
    interrupted: signal.Signals | None = None
    #: the program outlived the grace period after the signal and was killed
    killed: bool = False


class Supervisor:
    """For the length of a recording (a ``with`` block): the forwarded signals are caught, so
    that ckspec always gets to write the trace and remove its spool; while :meth:`run` runs the
    program they are passed on to it (see the module docstring). Outside the main thread,
    where Python cannot set handlers, signals keep their usual effect."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.grace = grace
        self._child: subprocess.Popen[bytes] | None = None
        self._first: signal.Signals | None = None
        self._since = 0.0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Supervisor:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in FORWARDED}
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def run(self, executable: str, argv: Sequence[str], env: Mapping[str, str],
            on_signal: Callable[[], None] = lambda: None) -> Ended:
        """Run the program to its end. ``on_signal`` runs once, as soon as a signal has been
        passed on (to save what is done so far, should ckspec itself be killed next)."""
        child = self._child = subprocess.Popen([executable, *argv[1:]], env=dict(env))
        try:
            if self._first is not None:  # a signal came while the program was starting
                _send(child, self._first)
            return self._wait(child, on_signal)
        finally:
            self._child = None  # a signal from now on is only noted: the trace is being written

    def _handle(self, signum: int, _frame: object) -> None:
        sig = signal.Signals(signum)
        if self._first is None:
            self._first, self._since = sig, time.monotonic()
        if self._child is not None and not (sig == signal.SIGINT and _terminal_reaches_child()):
            _send(self._child, sig)

    def _wait(self, child: subprocess.Popen[bytes], on_signal: Callable[[], None]) -> Ended:
        saved = killed = False
        while True:
            try:
                status = child.wait(timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if self._first is None:
                continue
            if not saved:
                saved = True
                on_signal()
            if not killed and time.monotonic() - self._since >= self.grace:
                killed = True
                _send(child, signal.SIGKILL)
        return Ended(128 - status if status < 0 else status, self._first, killed)


def _send(child: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, OSError):
        child.send_signal(sig)


def _terminal_reaches_child() -> bool:
    """Whether ckspec (and so the program) is the terminal's foreground process group: then a
    SIGINT most likely came from Ctrl-C, which the terminal sent to the program as well."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


# --- the output's lock -------------------------------------------------------------------------------


def lock_path(output: Path) -> Path:
    """Where the lock of ``output`` lives: beside it (its folder resolved, so ``./t.json`` and
    an absolute path to the same file share one lock)."""
    return output.parent.resolve() / f"{output.name}.lock"


class OutputLock:
    """``FILE.lock`` held for a recording: :meth:`take` it (OutputBusy, naming the holder's pid,
    when another recording holds it), :meth:`release` it (the lock file is removed)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, output: Path) -> OutputLock:
        path = lock_path(output)
        fd = _acquire(path)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError:
            os.close(fd)
            raise
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # still holding the lock: nobody can take this file over meanwhile
        os.close(self._fd)
        self._fd = None


def _acquire(path: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputBusy(holder) from None
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed it between our open and our lock: take the new one


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "pid unknown"
