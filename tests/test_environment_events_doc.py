"""docs/reference/environment-events.md is generated from the code (conformance/contract_doc.py):
the committed file is what the generator writes, and it says what the code says."""

from __future__ import annotations

import re
from pathlib import Path

from ckspec.conformance import SETUP_CONTROLS
from ckspec.conformance.contract_doc import COMMAND, main, render
from ckspec.conformance.steps import ENVIRONMENT_ARGUMENTS
from ckspec.model.environment import EVENTS

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "reference" / "environment-events.md"


def test_the_committed_reference_is_the_generated_one():
    assert PAGE.read_text(encoding="utf-8") == render(), f"stale: run {COMMAND}"


def test_the_generator_writes_the_file_and_refuses_a_bad_path(tmp_path, capsys):
    out = tmp_path / "events.md"
    assert main(["--write", str(out)]) == 0 and out.read_text(encoding="utf-8") == render()
    assert main(["--write", str(tmp_path / "no-such-folder" / "events.md")]) == 2
    assert "cannot write" in capsys.readouterr().err


def _section(text: str, event: str) -> str:
    return text.split(f"\n### {event}\n", 1)[1].split("\n### ", 1)[0]


def test_every_event_is_described_with_its_arguments_in_order_and_its_rules():
    text = render()
    for name, event in EVENTS.items():
        section = _section(text, name)
        positions = re.findall(r"- `args\[(\d)\]`, (\w+) ", section)
        assert [kind for _, kind in positions] == list(ENVIRONMENT_ARGUMENTS[name])
        assert f"- rules: {', '.join(event.rules)}" in section
        assert ("set-up-only unless in `Capabilities.real_setup`" in section) == (name in SETUP_CONTROLS)


def test_what_created_must_hold_is_spelled_out():
    """CREATE-07: a user found the trust anchor only after a failure; the page says it."""
    text = render()
    assert "trust anchor certificate" in _section(text, "initialize_cluster")
    assert "the new cluster's ID" in _section(text, "restore_backup")
    assert "`EnvironmentReply.created`: nothing (None)" in _section(text, "kmsuser_logs_in")
    assert "never echo it back" in _section(text, "create_kmsuser")
