"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    """TR-06, CEC-05, AMB-02: the README's example (a password changed behind KMS's back, then repaired)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_commands_are_the_ci_commands():
    """The README's test command is the one .ci/run runs."""
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    assert "bash .ci/setup && .venv/bin/python -m pytest -q -n 2" in text
    assert "bash .ci/setup && .venv/bin/python -m pytest -q -n 2" in ci
    assert "bash .ci/setup && .venv/bin/ckspec run" in text
