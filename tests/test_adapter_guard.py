"""Adapters that misbehave (issue 14, exit codes and adapter misbehaviour): each gets one line
that names the adapter and what it did, and the documented exit code; a hung call is bounded
by ``--call-timeout``; an internal error has a code of its own, apart from "unreachable"."""

from __future__ import annotations

import textwrap
import threading
import time

import pytest

from ckspec import exit_codes
from ckspec.check_command import DEFAULT_CALL_TIMEOUT
from ckspec.conformance import guard
from ckspec.main import main

ADAPTER = textwrap.dedent('''
    import threading, time
    import attrs
    from ckspec.conformance.reference import ReferenceTarget

    MODE = {mode!r}
    if MODE == "import-exit":
        raise SystemExit(7)

    class Adapter(ReferenceTarget):
        def __init__(self, seed=0):
            if MODE == "constructor":
                raise RuntimeError("no licence file")
            super().__init__(seed)
            self.owner = threading.get_ident()
            if MODE == "capabilities":
                self.capabilities = {{"operations": ["CreateCustomKeyStore"]}}

        def call(self, operation, params):
            if MODE == "affinity":
                assert threading.get_ident() == self.owner, "called from another thread"
            if MODE == "call-exit" and operation == "CreateCustomKeyStore":
                raise SystemExit(5)
            if MODE == "hang" and operation == "CreateCustomKeyStore":
                time.sleep(600)
            reply = super().call(operation, params)
            if MODE == "status":
                return attrs.evolve(reply, status="200")
            if MODE == "bool-status":
                return attrs.evolve(reply, status=True)
            if MODE == "body":
                return attrs.evolve(reply, body=[reply.body])
            return reply

        def environment(self, event, args):
            if MODE == "environment":
                raise KeyError(event)
            return super().environment(event, args)
''')


def run(tmp_path, capsys, mode: str, *extra: str) -> tuple[int, str]:
    (tmp_path / "adapter.py").write_text(ADAPTER.format(mode=mode), encoding="utf-8")
    code = main(["check", "--target", f"{tmp_path / 'adapter.py'}:Adapter", "--examples", "5", "--steps", "20",
                 "--seed", "3", "--no-save", "--json", str(tmp_path / "report.json"), *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(("mode", "says"), [
    ("import-exit", "importing {path} raised SystemExit(7)"),
    ("constructor", "Adapter(): the constructor raised RuntimeError: no licence file"),
    ("call-exit", "Adapter.call('CreateCustomKeyStore') raised SystemExit(5)"),
    ("status", "returned a Reply whose status is str '200', not an int HTTP status"),
    ("bool-status", "returned a Reply whose status is bool True"),
    ("body", "returned a Reply whose body is list, not a mapping or None"),
    ("environment", "Adapter.environment('create_cluster') raised KeyError"),
    ("capabilities", "Adapter.capabilities is dict, not a ckspec.conformance.Capabilities"),
])
def test_an_adapter_that_breaks_the_interface_is_a_usage_error_naming_it(tmp_path, capsys, mode, says):
    code, err = run(tmp_path, capsys, mode)
    assert code == exit_codes.USAGE, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error: ")
    assert says.format(path=tmp_path / "adapter.py") in err
    assert "adapter.py:Adapter" in err


def test_a_call_that_never_returns_is_unreachable_after_the_call_timeout(tmp_path, capsys):
    started = time.monotonic()
    code, err = run(tmp_path, capsys, "hang", "--call-timeout", "1")
    took = time.monotonic() - started
    assert code == exit_codes.UNREACHABLE, err
    assert err.strip() == (f"ckspec: target unreachable: target {tmp_path / 'adapter.py'}:Adapter: "
                           f"Adapter.call('CreateCustomKeyStore') did not return within 1 s (--call-timeout)")
    assert took < 30, f"the hung call held check for {took:.1f} s"


def test_every_member_of_a_guarded_adapter_runs_on_the_thread_that_made_it(tmp_path, capsys):
    """An adapter holding thread-bound resources (a SQLite connection) is not broken by the guard."""
    code, err = run(tmp_path, capsys, "affinity")
    assert code == exit_codes.OK, err


def test_the_worker_thread_ends_with_the_run(tmp_path, capsys):
    before = {t.name for t in threading.enumerate()}
    run(tmp_path, capsys, "affinity")
    time.sleep(0.2)
    left = {t.name for t in threading.enumerate()} - before
    assert not any(name.startswith("ckspec-adapter") for name in left), left


def test_an_internal_error_exits_70_not_3(monkeypatch, capsys):
    from ckspec import rules_command

    def broken(_args):
        raise ZeroDivisionError("a bug in ckspec")

    monkeypatch.setattr(rules_command, "run", broken)
    monkeypatch.delenv("CKSPEC_DEBUG", raising=False)
    code = main(["rules"])
    err = capsys.readouterr().err
    assert code == exit_codes.INTERNAL == 70 and code != exit_codes.UNREACHABLE
    assert err.startswith("ckspec: internal error (a bug in ckspec): ZeroDivisionError") and "Traceback" not in err


def test_the_cli_default_call_timeout_is_the_guard_s():
    assert DEFAULT_CALL_TIMEOUT == guard.DEFAULT_CALL_TIMEOUT


@pytest.mark.parametrize("argv", [["explore", "--jobs", "0"], ["check", "--call-timeout", "0"],
                                  ["check", "--call-timeout", "nan"]])
def test_values_that_cannot_work_are_refused(capsys, argv):
    assert main(argv) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error: argument")


def test_the_commands_page_lists_every_exit_code():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "commands.md").read_text(encoding="utf-8")
    section = page.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    listed = {int(line.split("|")[1]) for line in section.splitlines() if line.startswith("| ") and
              line.split("|")[1].strip().isdigit()}
    assert listed == set(exit_codes.CODES.values())


class _Sleeper:
    """An adapter whose call sleeps, swallowing whatever interrupts it (the worst case)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def call(self, operation, params):
        for _ in range(3):
            try:
                time.sleep(30)
            except BaseException:  # noqa: BLE001 - a careless adapter
                pass
        return None

    def environment(self, event, args):
        return threading.get_ident() == self.thread

    def wait(self, seconds):
        pass


def test_an_adapter_that_swallows_the_interruption_is_still_stopped():
    factory = guard.GuardedFactory("sleeper", _Sleeper, False, 0.3)
    target = factory()
    started = time.monotonic()
    with pytest.raises(guard.TargetUnreachable, match=r"_Sleeper.call\('Encrypt'\) did not return within 0.3 s"):
        target.call("Encrypt", {})
    assert time.monotonic() - started < 5
    with pytest.raises(guard.TargetUnreachable, match="never returned; no further call is made"):
        target.wait(1)
    factory.close()


def test_off_the_main_thread_the_guard_uses_a_thread_of_its_own_and_keeps_to_it():
    seen: dict[str, object] = {}

    def body() -> None:
        factory = guard.GuardedFactory("sleeper", _Sleeper, False, 0.3)
        target = factory()
        seen["same thread"] = target.environment("create_cluster", ())
        started = time.monotonic()
        try:
            target.call("Encrypt", {})
        except guard.TargetUnreachable as exc:
            seen["error"], seen["took"] = str(exc), time.monotonic() - started
        factory.close()

    runner = threading.Thread(target=body)
    runner.start()
    runner.join(10)
    assert seen["same thread"] is True
    assert "did not return within 0.3 s" in seen["error"] and seen["took"] < 5
