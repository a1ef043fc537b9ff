"""The README's commands are the CI's, and the documentation's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: the pages whose ```python blocks are complete programs (```py marks an illustration)
RUNNABLE = {
    # TR-06, CEC-05, AMB-02: a password changed behind KMS's back, then repaired
    "docs/model.md": 1,
    # CONNECT-09: a failing trace's reproduction, as a program
    "docs/conformance.md": 1,
    # CEC-09: serve, boto3 and the test-control extension: kmsuser logged in fails the connect
    "docs/serve.md": 1,
}


@pytest.mark.parametrize("page", sorted(RUNNABLE))
def test_documented_python_examples_run(page):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(encoding="utf-8"), re.S)
    assert len(blocks) == RUNNABLE[page]
    for block in blocks:
        exec(compile(block, page, "exec"), {})


def test_readme_commands_are_the_ci_commands():
    """The README's test command is the one .ci/run runs."""
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    assert "bash .ci/setup && .venv/bin/python -m pytest -q -n 2" in text
    assert "bash .ci/setup && .venv/bin/python -m pytest -q -n 2" in ci
    assert "bash .ci/setup && .venv/bin/ckspec run" in text
