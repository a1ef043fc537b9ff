"""A guard around an adapter someone else wrote (``--target module.path:ClassName``).

ckspec cannot trust a foreign adapter to return, to keep to the interface, or to leave the
process alone. The guard runs the adapter's constructor and every member the engine uses on
one worker thread of its own (so an adapter that keeps thread-bound resources, a SQLite
connection say, sees a single thread throughout), waits for each at most ``call_timeout``
seconds, and turns misbehaviour into the two errors the CLI reports in one line:

* :class:`~.adapter.TargetUnreachable` (exit 3) when a call does not return in time: the
  call is named; the worker is abandoned (a daemon thread) and no later call is tried;
* :class:`~.adapter.AdapterError` (exit 2) when the constructor or an environment control
  raises, when anything raises ``SystemExit``, or when ``capabilities`` is not a
  :class:`~.adapter.Capabilities`.

An exception from :meth:`Target.call` passes through unchanged: the session judges a crash of
the implementation as an answer no world explains (ERR-01).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from .adapter import AdapterError, Capabilities, TargetUnreachable

#: seconds one adapter call may take before the target is reported unreachable
DEFAULT_CALL_TIMEOUT = 60.0


class _Worker:
    """One daemon thread that runs submitted functions in order, each waited for with a deadline."""

    def __init__(self, name: str, timeout: float) -> None:
        self.name, self.timeout = name, timeout
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[tuple[bool, Any]]] | None] = \
            queue.SimpleQueue()
        self._hung: str | None = None
        self._thread: threading.Thread | None = None  # started by the first call

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[Any]) -> None:
        while (job := jobs.get()) is not None:
            fn, answer = job
            try:
                answer.put((True, fn()))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller as is
                answer.put((False, exc))

    @property
    def hung(self) -> bool:
        return self._hung is not None

    def run(self, what: str, fn: Callable[[], Any]) -> Any:
        if self._hung is not None:
            raise TargetUnreachable(f"target {self.name}: {self._hung} never returned; no further call is made")
        if self._thread is None:
            self._jobs = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._serve, args=(self._jobs,), name=f"ckspec-adapter {self.name}",
                                            daemon=True)
            self._thread.start()
        answer: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._jobs.put((fn, answer))
        try:
            ok, value = answer.get(timeout=self.timeout)
        except queue.Empty:
            self._hung = what
            raise TargetUnreachable(f"target {self.name}: {what} did not return within {self.timeout:g} s "
                                    f"(--call-timeout)") from None
        if ok:
            return value
        if isinstance(value, SystemExit):
            raise AdapterError(f"{what} raised SystemExit({value.code!r}); an adapter must not end the process") \
                from None
        raise value

    def stop(self) -> None:
        """End the thread once its work is done; a later call starts a new one."""
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
    """A foreign target whose every member runs on the guard's worker thread."""

    def __init__(self, inner: Any, worker: _Worker) -> None:
        self._inner, self._worker = inner, worker
        self._class = type(inner).__name__
        #: the adapter's class name, for messages about it
        self.adapter_class = self._class
        self.name = getattr(inner, "name", self._class)
        capabilities = getattr(inner, "capabilities", None)
        if capabilities is not None and not isinstance(capabilities, Capabilities):
            raise AdapterError(f"{self._class}.capabilities is {type(capabilities).__name__}, not a "
                               f"ckspec.conformance.Capabilities")
        for member in ("call", "environment", "wait", "capabilities"):
            if hasattr(inner, member) and member != "capabilities":
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
            what = f"{self._class}.{member}({_first(args)})"
            if member == "environment":
                return self._worker.run(what, lambda: _environment(method, what, args))
            return self._worker.run(what, lambda: method(*args))
        return run

    def close(self) -> None:
        """Close the adapter's target; nothing is tried once a call has hung (the run is ending)."""
        close = getattr(self._inner, "close", None)
        if callable(close) and not self._worker.hung:
            self._worker.run(f"{self._class}.close()", close)


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
