"""ckspec scorecard: every rule judged over many examples, against the reference (nothing fails),
seeded-bug targets (the broken rule fails, the others pass), and a target without custom key
stores (their rules are unsupported, not failed); the Markdown page; the command line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from ckspec.conformance import Nonconformance, ReferenceTarget, load_target, replay
from ckspec.conformance.scorecard import ScorecardOptions, blamed, rule_needs, scorecard
from ckspec.conformance.scorecard_page import HAND_WRITTEN, markdown, write_page
from ckspec.conformance.session import _PASSWORDS
from ckspec.conformance.targets import TargetSpec
from ckspec.main import main
from ckspec.model.catalog import rules as catalog_rules

STORE_OPERATIONS = frozenset({"CreateCustomKeyStore", "ConnectCustomKeyStore", "DisconnectCustomKeyStore",
                              "UpdateCustomKeyStore", "DeleteCustomKeyStore", "DescribeCustomKeyStores"})


def _card(target: str, examples: int = 150, steps: int = 50, seed: int = 0, **options):
    return scorecard(load_target(target), ScorecardOptions(examples=examples, steps=steps, seed=seed, **options))


def _statuses(card) -> dict[str, str]:
    return {r.id: r.status for r in card.rules()}


def test_the_reference_passes_and_fails_nothing():
    """Every catalogued rule gets a verdict; the model held to itself never fails, and most rules
    are exercised (the rest are not applicable or not reached in this budget)."""
    card = _card("reference")
    statuses = _statuses(card)
    assert set(statuses) == {r.id for r in catalog_rules()}
    assert card.counts()["fail"] == 0 and not card.failures
    assert card.counts()["pass"] >= 150 and card.counts()["unsupported"] == 0
    assert card.examples == 150 and card.steps > 1000
    for rule in catalog_rules():
        if rule.not_applicable_reason:
            assert statuses[rule.id] == "not applicable"


def test_a_scorecard_is_repeatable():
    """The same seed, target and budget give the same examples: the same verdicts and failures."""
    first, second = _card("mutant:KEY-02", 60, 30, seed=7), _card("mutant:KEY-02", 60, 30, seed=7)
    assert first.as_json()["rules"] == second.as_json()["rules"]
    assert [f.steps for f in first.failures] == [f.steps for f in second.failures]
    assert first.steps == second.steps


@pytest.mark.parametrize("mutant", ["CONNECT-03-connect-accepted-on-failed", "DELETE-02", "KEY-02", "CREATE-03",
                                    "DISC-02", "DELETE-01-delete-while-connected-wrong-error"])
def test_a_seeded_bug_fails_its_rule_and_the_others_pass(mutant):
    """The broken rule is a fail, with a reproduction; nearly every other rule still passes
    (examples go on after a failure, and what they observed before it counts). Examples of up to 80
    steps: with kmsuser on every HSM (KU-11..KU-14) the generator draws more environment events,
    and 50 steps no longer reach a store with keys to delete (DELETE-02) on this seed."""
    card = _card(f"mutant:{mutant}", steps=80)
    statuses = _statuses(card)
    rule = "-".join(mutant.split("-")[:2])
    assert statuses[rule] == "fail"
    assert card.counts()["fail"] <= 2, [r for r, s in statuses.items() if s == "fail"]
    assert card.counts()["pass"] >= 150
    failing = [f for f in card.failures if blamed(f) == rule]
    assert failing and all(f.steps and f.program for f in failing)
    assert card.examples == 150  # a failure ends its example, not the run


def test_a_bug_seen_only_at_a_later_read_is_blamed_on_the_broken_rule():
    """TR-01 broken (Connect completes at once): every Connect answer agrees with the model, and the
    bug shows when a read shows the store connected too early. The diagnosis sees the target ahead
    of the model and blames TR-01, which reads fail; the rules of the transition it jumped to
    (TR-02) are context, not failed."""
    card = _card("mutant:TR-01", 100, 40, minimise=False)
    assert card.failures
    on_tr01 = [f for f in card.failures if blamed(f) == "TR-01"]
    # most failures are blamed on TR-01 (a read in scorecard mode cannot always tell a connection
    # that ended too early from one that ended with another code: issue 10 notes; since kmsuser
    # lives on every HSM, an environment event the early connection made impossible is blamed on
    # KU-01 too: issue 11 notes)
    assert len(on_tr01) >= 0.7 * len(card.failures) and all("TR-01" in f.path_rules for f in on_tr01)
    statuses = _statuses(card)
    assert statuses["TR-01"] == "fail" and statuses["TR-02"] == "pass"


def test_failures_are_deduplicated_and_each_reproduction_is_minimal():
    """One failure per (rules, operation, observed); its steps fail the same way when replayed,
    and no single step can be removed (1-minimal)."""
    card = _card("mutant:DELETE-02", 200, 60)
    keys = [(f.rules, f.operation, f.observed) for f in card.failures]
    assert len(keys) == len(set(keys)) and sum(card.occurrences) >= len(keys)
    spec = load_target("mutant:DELETE-02")
    for f in card.failures:
        again = replay(spec, f.steps, f.target_seed)
        assert again.verdict == "non-conformant" and again.error.failure.rules == f.rules
        for i in range(len(f.steps)):
            shorter = replay(spec, f.steps[:i] + f.steps[i + 1:], f.target_seed)
            assert shorter.verdict != "non-conformant" or shorter.error.failure.rules != f.rules
        with pytest.raises(Nonconformance):
            exec(compile(f.program, "reproduction.py", "exec"), {})  # noqa: S102 - our own program


class NoCustomKeyStores(ReferenceTarget):
    """The reference without the custom key store APIs (like moto): keys only."""

    def call(self, operation, params):
        if operation in STORE_OPERATIONS:
            raise NotImplementedError(operation)
        return super().call(operation, params)


def test_rules_of_operations_the_target_lacks_are_unsupported_not_failed():
    """CONNECT-03 needs ConnectCustomKeyStore (and a store): unsupported. KEY-04 (CreateKey in a store
    that does not exist) is still exercised and passes; the operations no example reached are probed
    once, so ConnectCustomKeyStore is known to be missing although no store ever existed."""
    card = scorecard(TargetSpec("no-stores", NoCustomKeyStores), ScorecardOptions(examples=40, steps=30))
    statuses = _statuses(card)
    assert card.counts()["fail"] == 0
    assert set(card.unsupported) >= STORE_OPERATIONS
    assert statuses["CONNECT-03"] == statuses["CONNECT-01"] == statuses["DELETE-02"] == "unsupported"
    assert statuses["KEY-04"] == statuses["RAND-03"] == "pass"
    assert card.probes >= 1


def test_rule_needs_follow_the_table():
    """A rule about a store that exists needs CreateCustomKeyStore too; one about a missing store
    does not; internal fault rows need the fault (CEC-04); restoring needs a backup first."""
    needs = rule_needs()
    assert frozenset({"ConnectCustomKeyStore"}) in needs["CONNECT-01"]
    assert all("CreateCustomKeyStore" in way for way in needs["CONNECT-03"])
    assert needs["KEY-04"] == (frozenset({"CreateKey"}),)
    assert all("internal_fault_begins" in way for way in needs["CEC-04"])
    assert frozenset({"backup_cluster", "restore_backup"}) in needs["CEC-11"]


class FakesItsHsms(ReferenceTarget):
    """Says it faked every HSM it created (as the moto targets do)."""

    def __init__(self, seed=0, **options):
        super().__init__(seed, **options)
        self.faked = Counter()

    def environment(self, event, args):
        if event == "create_hsm":
            self.faked[event] += 1
        return super().environment(event, args)


def test_rules_are_not_passed_on_fakes():
    """CL-02 (an HSM is active when its state is ACTIVE) is cited only by creating an HSM: when every
    HSM was faked, it has no evidence and is not a pass."""
    real = scorecard(TargetSpec("reference", ReferenceTarget), ScorecardOptions(examples=20, steps=10))
    faked = scorecard(TargetSpec("fakes", FakesItsHsms), ScorecardOptions(examples=20, steps=10))
    assert _statuses(real)["CL-02"] == "pass"
    assert real.coverage.rules["CL-02"] >= faked.faked["create_hsm"] > 0
    assert faked.coverage.rules["CL-02"] == real.coverage.rules["CL-02"] - faked.faked["create_hsm"]


def test_the_page_keeps_what_was_written_by_hand(tmp_path):
    """The Markdown page: command, versions, seed, summary, failures with reproductions, one row per
    rule; regenerating it keeps the hand-written findings after the marker line."""
    card = _card("mutant:KEY-02", 60, 30)
    page = markdown([card], "ckspec scorecard --target mutant:KEY-02", "2026-11-29")
    for part in ("# ckspec scorecard: mutant:KEY-02", "`ckspec scorecard --target mutant:KEY-02`", "| ckspec |",
                 "| python |", "| seed | 0 |", "## Summary", "## Failures", "### 1. KEY-02:", "```python",
                 "Session.open('mutant:KEY-02", "## Rules", "| KEY-02 | fail"):
        assert part in page, part
    assert page.rstrip().endswith(HAND_WRITTEN)
    path = tmp_path / "page.md"
    write_page(path, page)
    path.write_text(path.read_text() + "\n## Findings\n\nWritten by hand.\n")
    write_page(path, page.replace("2026-11-29", "2026-11-30"))
    text = path.read_text()
    assert "2026-11-30" in text and "2026-11-29" not in text
    assert text.count(HAND_WRITTEN) == 1 and text.endswith("## Findings\n\nWritten by hand.\n")


def test_no_password_in_the_page_the_json_or_the_console(tmp_path, capsys):
    """Passwords are secrets (KU-04): the page, the JSON and the console show aliases only, even for a
    failure at a step that carries one (UPDATE-03: a password update while connected)."""
    page = tmp_path / "page.md"
    code = main(["scorecard", "--target", "mutant:UPDATE-03-password-update-while-connected", "--examples", "80", "--steps", "40",
                 "--markdown", str(page)])
    console = capsys.readouterr().out
    assert main(["scorecard", "--target", "mutant:UPDATE-03-password-update-while-connected", "--examples", "80", "--steps", "40", "--json"]) == 1
    document = capsys.readouterr().out
    assert code == 1 and "password(" in page.read_text()
    assert _PASSWORDS, "the run used passwords"
    for secret in _PASSWORDS.values():
        for text in (page.read_text(), console, document):
            assert secret not in text


def test_command_line_exit_codes_json_and_page(tmp_path, capsys):
    """0 when no rule fails, 1 when one does; --json prints every scorecard; --target repeats onto one page."""
    assert main(["scorecard", "--examples", "30", "--steps", "20"]) == 0
    assert "rerun: ckspec scorecard --target reference --examples 30 --steps 20 --seed 0" in capsys.readouterr().out
    page = tmp_path / "two.md"
    code = main(["scorecard", "--target", "reference", "--target", "mutant:DELETE-01-delete-while-connected-wrong-error", "--examples", "80",
                 "--json", "--markdown", str(page)])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    deleting = "mutant:DELETE-01-delete-while-connected-wrong-error"
    assert [c["target"] for c in document["scorecards"]] == ["reference", deleting]
    assert document["scorecards"][0]["counts"]["fail"] == 0 and document["scorecards"][1]["counts"]["fail"] >= 1
    assert "| rule | reference | mutant:DELETE-01-delete-while-connected-wrong-error" in page.read_text()


@pytest.mark.parametrize("argv", [
    ["scorecard", "--examples", "0"],
    ["scorecard", "--steps", "many"],
    ["scorecard", "--seed", "-1"],
    ["scorecard", "--target", "nonsense"],
    ["scorecard", "--target", "mutant:NO-SUCH-RULE"],
    ["scorecard", "--target", "reference", "--target", "reference"],
    ["scorecard", "--markdown", "/nonexistent-ckspec-folder/page.md"],
    ["scorecard", "--poll-interval", "0"],
    ["scorecard", "--json", "extra"],
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error:"), err


def test_an_unreachable_target_is_exit_3(capsys):
    """Nothing listens on port 1 of the loopback: exit 3, one line."""
    code = main(["scorecard", "--target", "http://127.0.0.1:1", "--examples", "1"])
    _, err = capsys.readouterr()
    assert code == 3 and err.startswith("ckspec: target unreachable") and len(err.strip().splitlines()) == 1


def test_the_docs_document_the_command():
    page = (Path(__file__).resolve().parents[1] / "docs" / "conformance.md").read_text()
    assert "ckspec scorecard" in page and "](../conformance/scorecards/moto.md)" in page
