"""ckspec's verdict on look-alike emulators nobody here designed the checker around
(:mod:`foreign_emulators`): exactly the bugs each contains, each blamed on its rule, and no
false alarm from ckspec's own set-up (isolation on a plain endpoint, its account ID, the
clusters and kmsuser it fakes for a target without CloudHSM v2, paging by one entry)."""

from __future__ import annotations

import json

import pytest

from ckspec.main import main
from foreign_emulators import BUGS, Kms, serving


def check(tmp_path, kms: Kms, *extra: str, examples: int = 25, seed: int = 1) -> tuple[int, dict]:
    report = tmp_path / "report.json"
    with serving(kms) as url:
        args = [a.replace("{url}", url) for a in extra]
        code = main(["check", "--target", url, "--examples", str(examples), "--seed", str(seed), "--no-save",
                     "--steps", "40", "--poll-interval", "0.01", "--json", str(report), *args])
    return code, json.loads(report.read_text(encoding="utf-8"))


def test_a_conformant_emulator_isolated_by_prefix_is_conformant(tmp_path):
    """No reset: the examples share one account, kept apart by name prefix (issue 10 §1)."""
    code, report = check(tmp_path, Kms(bugs=frozenset()))
    assert (code, report["verdict"], report["failures"]) == (0, "conformant", [])
    assert report["isolation"]["kind"] == "prefix"
    assert report["examples"] >= 25
    # its 501 to ckspec's GET /_ckspec probe says "no test-control extension": an answer, not a fault
    assert report["transport_faults"]["total"] == 0, report["transport_faults"]["samples"][:1]


def test_the_user_s_reset_route_isolates_the_examples(tmp_path):
    kms = Kms(bugs=frozenset())
    code, report = check(tmp_path, kms, "--reset-url", "{url}/_reset")
    assert (code, report["verdict"]) == (0, "conformant")
    assert report["isolation"]["kind"] == "reset" and "/_reset" in report["isolation"]["how"]
    assert not any(s["CustomKeyStoreName"].startswith("ckspec-") for s in kms.stores.values())


def test_answers_only_faked_set_up_explains_are_counted_apart(tmp_path):
    """The emulator connects whatever password a store holds: the model, which holds the
    kmsuser password ckspec faked, would blame CEC-05; the answer depends on faked set-up."""
    code, report = check(tmp_path, Kms(bugs=frozenset()), "--reset-url", "{url}/_reset")
    assert code == 0
    assert report["faked_setup"], "the generator drew no answer that depends on the faked set-up"
    assert all("faked" in entry["reason"] for entry in report["faked_setup"])


def test_an_emulator_that_pages_one_store_at_a_time_is_conformant(tmp_path):
    """DESC-04 allows pages shorter than Limit."""
    code, report = check(tmp_path, Kms(bugs=frozenset(), page_size=1), "--reset-url", "{url}/_reset")
    assert (code, report["verdict"], report["inconclusive"]) == (0, "conformant", [])


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_bug_alone_is_found_and_blamed_on_its_rule(tmp_path, bug):
    code, report = check(tmp_path, Kms(bugs=frozenset({bug})), examples=100)
    assert (code, report["verdict"]) == (1, "non-conformant")
    (failure,) = report["failures"]
    assert failure["broken"] == failure["rules"][0] == BUGS[bug], failure["message"]


def test_both_bugs_together_are_found(tmp_path):
    code, report = check(tmp_path, Kms(), examples=100)
    assert code == 1
    (failure,) = report["failures"]
    assert set(failure["rules"]) & set(BUGS.values()), failure["message"]


def test_a_reset_url_is_refused_for_targets_that_are_not_endpoints(capsys):
    code = main(["check", "--target", "reference", "--reset-url", "http://127.0.0.1:9/_reset", "--no-save"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--reset-url" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_malformed_reset_url_is_a_usage_error(capsys):
    code = main(["check", "--target", "http://127.0.0.1:9", "--reset-url", "not a url", "--no-save"])
    assert code == 2
    assert "--reset-url" in capsys.readouterr().err


def test_a_scorecard_of_the_emulator_says_how_it_was_isolated(tmp_path, capsys):
    with serving(Kms(bugs=frozenset())) as url:
        code = main(["scorecard", "--target", url, "--reset-url", f"{url}/_reset", "--examples", "8",
                     "--steps", "20", "--poll-interval", "0.01", "--json"])
    (card,) = json.loads(capsys.readouterr().out)["scorecards"]
    assert code == 0, card["failures"]
    assert card["isolation"]["kind"] == "reset"
    assert "faked_setup" in card


def test_one_reset_url_for_two_endpoints_is_a_usage_error(capsys):
    code = main(["scorecard", "--target", "http://127.0.0.1:9", "--target", "http://127.0.0.1:10",
                 "--reset-url", "http://127.0.0.1:9/_reset"])
    assert code == 2
    assert "--reset-url" in capsys.readouterr().err
