"""The fidelity suite checks itself: every case carries one evidence mark, every disagreement is a
strict xfail naming its fix, there are at least 60 cases, and the Fidelity page's figures are the ones
``scorecard.py`` computes from the suite (not typed by hand)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fidelity import scorecard

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PAGE = ROOT / "docs" / "fidelity.md"


@pytest.fixture(scope="module")
def collected(request) -> list[dict]:
    """The suite as scorecard.py sees it: from this session when it collected every case module whole,
    else collected by scorecard.py in a process of its own (a nested pytest session)."""
    from fidelity.support import DESELECTED

    items = list(request.session.items) + request.config.stash.get(DESELECTED, [])
    files = {Path(str(item.path)).name for item in items if Path(str(item.path)).parent == HERE}
    if scorecard.case_files() <= files and not any("::" in arg for arg in request.config.args):
        return [scorecard.case_of(item) for item in items
                if Path(str(item.path)).parent == HERE and Path(str(item.path)).name in scorecard.case_files()]
    done = subprocess.run([sys.executable, str(Path(scorecard.__file__)), "--json"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_case_has_one_evidence_mark_and_a_strict_named_disagreement(collected):
    assert scorecard.problems(collected) == []
    for case in collected:
        reason = case["disagreement"]
        assert reason is None or reason.startswith(("issue 11 §", "model: ")), case["id"]


def test_there_are_at_least_sixty_cases_across_every_kind(collected):
    from fidelity.support import KINDS

    assert len(collected) >= 60
    assert {c["evidence"][0]["kind"] for c in collected} == set(KINDS)
    assert all(c["evidence"][0]["source"] and c["evidence"][0]["shows"] for c in collected)


def test_the_fidelity_page_figures_are_the_suites(collected):
    block = scorecard.readme_block(PAGE.read_text(encoding="utf-8"))
    assert block is not None, "docs/fidelity.md lost its generated Fidelity block"
    assert block == scorecard.markdown(collected), "stale: run python tests/fidelity/scorecard.py --write docs/fidelity.md"


def test_the_scorecard_counts_what_it_is_given():
    """A hand-made suite of three cases: the table's rows and totals follow from the marks."""
    def case(kind, reason=None):
        return {"id": kind, "evidence": [{"kind": kind, "source": f"{kind} source", "shows": "x"}],
                "disagreement": reason, "strict": reason is not None, "outcome": None}

    made = [case("aws-cli"), case("aws-cli", "issue 11 §5: missing"), case("guide", "model: why")]
    text = scorecard.markdown(made)
    assert "**3 cases** from 2 public sources" in text and "**1 agree**" in text
    assert "| **all** | 3 | 1 | 2 |" in text
    assert "| model: why | 1 |" in text and "| issue 11 §5: " in text
    assert scorecard.problems([dict(made[1], strict=False)]) == ["aws-cli: an xfail that is not strict"]
