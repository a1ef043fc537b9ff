"""docs/adapters.md holds: its skeleton is examples/two_state_adapter.py and runs to a verdict, its
links resolve, and an emulator that offers the smallest /_ckspec extension it describes (a
description without events, a reset, a wait) is reset before each example; one whose
/_ckspec/environment breaks the protocol is a one-line usage error (exit 2)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from foreign_emulators import Kms, _handler
from stub_endpoint import loopback_server

from ckspec.main import main
from ckspec.model.catalog import rule_ids

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "adapters.md"
EXAMPLE = REPO / "examples" / "two_state_adapter.py"


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_pages_skeleton_is_the_runnable_example():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert EXAMPLE.read_text(encoding="utf-8") in blocks


def test_the_skeleton_runs_to_a_verdict(capsys, monkeypatch):
    """The page's command, as a maintainer types it: non-conformant (exit 1), the rule named."""
    monkeypatch.chdir(REPO)
    code, out, _ = _run(capsys, "check", "--target", "examples/two_state_adapter.py:MyEmulatorAdapter",
                        "--seed", "2", "--no-save", "--json", "-")
    doc = json.loads(out)
    assert code == 1 and doc["verdict"] == "non-conformant"
    assert doc["failures"][0]["rules"][0] in rule_ids()
    assert doc["unsupported"] == [] and doc["faked_setup"] == []
    assert doc["isolation"] == {"kind": "fresh", "how": "a new MyEmulatorAdapter per example"}  # the adapter, not ckspec's guard


def test_the_pages_links_resolve():
    text = PAGE.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert links and all((PAGE.parent / link).exists() for link in links), links


def _with_control(kms: Kms, events: tuple[str, ...] = (),
                  environment: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]] | None = None) -> type:
    """The foreign emulator's own handler, with /_ckspec as docs/adapters.md describes it."""
    class Handler(_handler(kms)):
        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/_ckspec":
                return self._send(404, {"__type": "UnknownOperationException", "message": self.path})
            return self._send(200, {"protocol": "ckspec-test-control", "version": 1, "events": list(events),
                                    "clock": "real", "time_travel": False})

        def do_POST(self) -> None:  # noqa: N802
            if not self.path.startswith("/_ckspec/"):
                return super().do_POST()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            route = self.path[len("/_ckspec/"):]
            if route == "reset":
                with kms.lock:
                    kms.reset()
                return self._send(200, {})
            if route == "wait":
                return self._send(200, {"now": 0.0})
            if route == "environment" and environment is not None:
                return self._send(*environment(body))
            return self._send(400, {"__type": "ValidationException", "message": f"no route {self.path}"})
    return Handler


def test_the_smallest_control_extension_resets_the_emulator(capsys):
    with loopback_server(_with_control(Kms(bugs=frozenset()))) as url:
        code, out, _ = _run(capsys, "check", "--target", url, "--examples", "10", "--steps", "40", "--seed", "1",
                            "--no-save", "--json", "-")
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "conformant"
    assert doc["isolation"]["kind"] == "reset" and "/_ckspec/reset" in doc["isolation"]["how"]


@pytest.mark.parametrize("answer, says", [
    ((200, {"applied": "yes"}), "/_ckspec/environment kmsuser_logs_in: the answer {'applied': str} is not"),
    ((400, {"__type": "ValidationException", "message": "args?"}),
     "/_ckspec/environment: HTTP 400 ValidationException: args? (event kmsuser_logs_in)"),
])
def test_a_control_endpoint_that_breaks_the_protocol_is_a_usage_error(capsys, answer, says):
    """Not an internal error, not a rule verdict: the endpoint's /_ckspec/environment answer is named."""
    with loopback_server(_with_control(Kms(bugs=frozenset()), ("kmsuser_logs_in",), lambda body: answer)) as url:
        code, _, err = _run(capsys, "check", "--target", url, "--examples", "30", "--seed", "1", "--no-save")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert says in err
