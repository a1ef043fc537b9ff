"""A guard around an adapter someone else wrote (``--target module.path:ClassName``).

ckspec cannot trust a foreign adapter to return, to keep to the interface, or to leave the
process alone. The guard runs the adapter's constructor and every member the engine uses on
one thread (so an adapter that keeps thread-bound resources, a SQLite connection say, sees a
single thread throughout), waits for each at most ``call_timeout`` seconds (:class:`_Worker`
says how), and turns misbehaviour into the two errors the CLI reports in one line:

* :class:`~.adapter.TargetUnreachable` (exit 3) when a call does not return in time: the
  call is named, and no later call is tried;
* :class:`~.adapter.AdapterError` (exit 2) when the constructor or an environment control
  raises, when anything raises ``SystemExit``, or when ``capabilities`` is not a
  :class:`~.adapter.Capabilities`. The session raises it too for a reply that breaks the
  interface: a malformed :class:`~.adapter.Reply`, or an environment reply that breaks
  :mod:`.contract` (a refused set-up control, a missing or reused ``created``).

An exception from :meth:`Target.call` passes through unchanged: the session judges a crash of
the implementation as an answer no world explains (ERR-01).
"""

from __future__ import annotations

import queue
import signal
import threading
from typing import Any, Callable

from .adapter import AdapterError, Capabilities, TargetUnreachable

#: seconds one adapter call may take before the target is reported unreachable
DEFAULT_CALL_TIMEOUT = 60.0


class _CallDeadline(BaseException):
    """Raised inside a call that ran past its deadline (a BaseException: adapters rarely catch it)."""


class _Worker:
    """Runs an adapter's members in order, each waited for at most ``timeout`` seconds.

    Two ways, chosen at the first call and kept (an adapter sees one thread throughout):

    * on the main thread, with SIGALRM free (``ckspec check``): the call runs in place under an
      interval timer whose signal raises inside it; this costs two system calls per call. The
      timer fires again every ``timeout`` seconds, so an adapter that swallows the first
      interruption is still stopped, and a call that returns late is still reported late;
    * anywhere else (a test suite that owns SIGALRM, a thread): on one daemon thread of the
      guard's own, waited for with a timeout; a hung thread is abandoned.
    """

    def __init__(self, name: str, timeout: float) -> None:
        self.name, self.timeout = name, timeout
        self._hung: str | None = None
        self._in_place: bool | None = None  # decided by the first call
        self._jobs: queue.SimpleQueue[Any] | None = None  # the thread's, made with it
        self._thread: threading.Thread | None = None  # started by the first call, off the main thread
        self._late = self._active = False
        self._previous: Any = None  # the SIGALRM handler before the guard's own

    @property
    def hung(self) -> bool:
        return self._hung is not None

    def run(self, what: str, fn: Callable[[], Any]) -> Any:
        if self._hung is not None:
            raise TargetUnreachable(f"target {self.name}: {self._hung} never returned; no further call is made")
        if self._in_place is None:
            self._in_place = threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN)
        if self._in_place and threading.current_thread() is threading.main_thread():
            ok, value = self._run_in_place(fn)
        else:
            ok, value = self._run_on_thread(fn)
        if ok is None:
            self._hung = what
            raise TargetUnreachable(f"target {self.name}: {what} did not return within {self.timeout:g} s "
                                    f"(--call-timeout)") from None
        if ok:
            return value
        if isinstance(value, SystemExit):
            raise AdapterError(f"{what} raised SystemExit({value.code!r}); an adapter must not end the process") \
                from None
        raise value

    def _run_in_place(self, fn: Callable[[], Any]) -> tuple[bool | None, Any]:
        if self._previous is None:  # installed once: an inert handler between calls, restored by stop()
            self._previous = signal.signal(signal.SIGALRM, self._interrupt)
        self._late, self._active = False, True
        signal.setitimer(signal.ITIMER_REAL, self.timeout, self.timeout)
        try:
            value = fn()
            self._active = False
            return (None, None) if self._late else (True, value)
        except _CallDeadline:
            return None, None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - judged by the caller
            return (None, None) if self._late else (False, exc)
        finally:
            self._active = False
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _interrupt(self, _signum: int, _frame: Any) -> None:
        if self._active:
            self._late = True
            raise _CallDeadline()

    def _run_on_thread(self, fn: Callable[[], Any]) -> tuple[bool | None, Any]:
        if self._thread is None:
            self._jobs = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._serve, args=(self._jobs,),
                                            name=f"ckspec-adapter {self.name}", daemon=True)
            self._thread.start()
        answer: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._jobs.put((fn, answer))
        try:
            return answer.get(timeout=self.timeout)
        except queue.Empty:
            return None, None

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[Any]) -> None:
        while (job := jobs.get()) is not None:
            fn, answer = job
            try:
                answer.put((True, fn()))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller as is
                answer.put((False, exc))

    def stop(self) -> None:
        """Give SIGALRM back, end the thread once its work is done; a later call starts again."""
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, self._previous)
            self._previous = None
        if self._thread is not None and self._hung is None:
            self._jobs.put(None)
            self._thread = None


class GuardedFactory:
    """Makes guarded targets from a foreign adapter class; :meth:`close` stops the worker."""

    def __init__(self, name: str, cls: Callable[..., Any], takes_seed: bool, call_timeout: float) -> None:
        self.name, self._cls, self._takes_seed = name, cls, takes_seed
        self._worker = _Worker(name, call_timeout)

    def __call__(self, seed: int = 0) -> Any:
        cls_name = getattr(self._cls, "__name__", "the adapter")

        def construct() -> Any:
            try:
                return self._cls(seed=seed) if self._takes_seed else self._cls()
            except (ConnectionError, TimeoutError, TargetUnreachable):
                raise
            except Exception as exc:  # noqa: BLE001 - the adapter's own failure, named as such
                raise AdapterError(f"{cls_name}(): the constructor raised {type(exc).__name__}: {exc}") from None

        return GuardedTarget(self._worker.run(f"{cls_name}()", construct), self._worker)

    def close(self) -> None:
        self._worker.stop()


class GuardedTarget:
    """A foreign target whose every member runs through the guard's :class:`_Worker`."""

    def __init__(self, inner: Any, worker: _Worker) -> None:
        self._inner, self._worker = inner, worker
        #: the adapter's class name, for messages about it
        self.adapter_class = type(inner).__name__
        self.name = getattr(inner, "name", self.adapter_class)
        capabilities = getattr(inner, "capabilities", None)
        if capabilities is not None and not isinstance(capabilities, Capabilities):
            raise AdapterError(f"{self.adapter_class}.capabilities is {type(capabilities).__name__}, not a "
                               f"ckspec.conformance.Capabilities")
        for member in ("call", "environment", "wait"):
            if hasattr(inner, member):
                setattr(self, member, self._guarded(member))
        if capabilities is not None:
            self.capabilities = capabilities

    def __getattr__(self, attribute: str) -> Any:  # optional members the engine reads: faked, isolation, ...
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self._inner, attribute)

    def _guarded(self, member: str) -> Callable[..., Any]:
        method = getattr(self._inner, member)

        def run(*args: Any) -> Any:
            what = f"{self.adapter_class}.{member}({_first(args)})"
            if member == "environment":
                return self._worker.run(what, lambda: _environment(method, what, args))
            return self._worker.run(what, lambda: method(*args))
        return run

    def close(self) -> None:
        """Close the adapter's target; nothing is tried once a call has hung (the run is ending)."""
        close = getattr(self._inner, "close", None)
        if callable(close) and not self._worker.hung:
            self._worker.run(f"{self.adapter_class}.close()", close)


def _environment(method: Callable[..., Any], what: str, args: tuple[Any, ...]) -> Any:
    try:
        return method(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - a set-up control is the adapter's own code
        raise AdapterError(f"{what} raised {type(exc).__name__}: {exc}") from None


def _first(args: tuple[Any, ...]) -> str:
    """The first argument, for naming the call: an operation, event or seconds (never a password)."""
    return repr(args[0]) if args and isinstance(args[0], (str, int, float)) else ""
