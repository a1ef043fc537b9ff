"""The committed moto scorecard (conformance/scorecards/moto.md) still says what the code and moto
do today: its failures still fail with its reproductions, a short run of the same scorecard finds
no failure the page does not list, and every reproduction in the hand-written findings still shows
the deviation it describes. Nothing here depends on timing."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from ckspec.conformance import Nonconformance, load_target
from ckspec.conformance.scorecard import ScorecardOptions, blamed, scorecard
from ckspec.conformance.scorecard_page import HAND_WRITTEN

PAGE = Path(__file__).resolve().parents[1] / "conformance" / "scorecards" / "moto.md"
TEXT = PAGE.read_text(encoding="utf-8")
GENERATED, FINDINGS = TEXT.split(HAND_WRITTEN, 1)


def _column(target: str) -> dict[str, str]:
    """Rule -> status in the page's rule table, for ``target``."""
    lines = GENERATED.split("## Rules", 1)[1].strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    column = header.index(target)
    statuses = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        statuses[cells[0]] = cells[column].split(" (")[0]
    return statuses


def _failures() -> list[tuple[str, str]]:
    """(headline rule, reproduction program) of each failure written up on the page."""
    section = GENERATED.split("## Failures", 1)[1].split("## Rules", 1)[0]
    return re.findall(r"^### \d+\. ([A-Z]+-\d+): .*?```python\n(.*?)```", section, re.MULTILINE | re.DOTALL)


def _command_value(flag: str) -> int:
    return int(re.search(rf"\| command \| `ckspec scorecard .*{flag} (\d+)", GENERATED).group(1))


def test_the_page_says_what_was_run():
    assert re.search(r"^\| command \| `ckspec scorecard --target moto --target moto-server .*--seed \d+", GENERATED,
                     re.MULTILINE)
    assert re.search(r"^\| moto \| \d+\.\d+", GENERATED, re.MULTILINE) and re.search(r"^\| date \| \d{4}-\d\d-\d\d", GENERATED,
                                                                           re.MULTILINE)
    page_moto = re.search(r"^\| moto \| (\S+) \|", GENERATED, re.MULTILINE).group(1)
    assert page_moto == importlib.metadata.version("moto"), "the page is about the moto the tests run on"
    assert f"against moto {page_moto} (the version above)" in FINDINGS
    for rule in ("KEY-04", "CREATE-01", "CL-01"):  # the findings a moto maintainer must see, at least
        assert re.search(rf"^### \d+\. .*{rule}", FINDINGS, re.MULTILINE), rule


def test_the_failing_rules_are_the_written_up_failures():
    """The table's failing rules are exactly the failures the page writes up, on both targets."""
    headlines = {rule for rule, _ in _failures()}
    assert headlines >= {"KEY-04", "RAND-03"}
    for target in ("moto", "moto-server"):
        assert {r for r, s in _column(target).items() if s == "fail"} == headlines


@pytest.mark.parametrize("rule, program", _failures(), ids=[rule for rule, _ in _failures()])
def test_each_failure_on_the_page_still_fails(rule, program):
    """Each reproduction, run as printed, still raises Nonconformance with the page's rule first."""
    assert "Session.open('moto'," in program
    namespace: dict = {}
    try:
        with pytest.raises(Nonconformance) as raised:
            exec(compile(program, f"moto-{rule}.py", "exec"), namespace)  # noqa: S102 - a program this repository wrote
    finally:  # the program ends by raising: stop its moto (mock_aws) as its process exit would
        namespace["s"].close()
    assert raised.value.failure.rules[0] == rule


def test_a_short_run_of_the_same_scorecard_finds_nothing_the_page_does_not_list():
    """The page's seed and step budget, fewer examples (the same first examples): every rule this
    run fails, and every operation it finds unimplemented, the page lists."""
    card = scorecard(load_target("moto"), ScorecardOptions(examples=10, steps=_command_value("--steps"),
                                                           seed=_command_value("--seed"), minimise=False))
    page = _column("moto")
    assert {blamed(f) for f in card.failures} <= {r for r, s in page.items() if s == "fail"}
    assert card.failures, "the short run reaches at least one of the page's failures"
    for operation in card.unsupported:
        assert f"`{operation}`" in GENERATED, operation


FINDING_BLOCKS = re.findall(r"```python\n(.*?)```", FINDINGS, re.DOTALL)


@pytest.mark.parametrize("number", range(len(FINDING_BLOCKS)))
def test_each_finding_still_reproduces_with_the_installed_moto(number):
    """Each boto3 reproduction in the findings asserts what moto does today: when moto fixes one, this
    fails, and the page is updated."""
    assert len(FINDING_BLOCKS) >= 6
    exec(compile(FINDING_BLOCKS[number], f"finding-{number + 1}.py", "exec"), {})  # noqa: S102
