"""The example application (examples/keystore_app) and its tests: they run as an application
team runs them, with pytest in the example's folder and the kit's fixtures from the installed
plugin, and pass (every ConnectionErrorCode's documented recovery included, CEC-01..CEC-10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "keystore_app"


def test_the_example_applications_tests_pass():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "."],
                          cwd=EXAMPLE, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "14 passed" in done.stdout, done.stdout[-500:]


def test_the_example_application_does_not_depend_on_ckspec():
    """It is the code a team ships: plain boto3 (only its tests use the kit)."""
    source = (EXAMPLE / "keystore_app.py").read_text()
    assert "ckspec" not in "\n".join(line for line in source.splitlines() if line.startswith(("import", "from")))
