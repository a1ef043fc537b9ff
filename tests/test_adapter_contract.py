"""The adapter contract (docs/adapters.md): set-up controls are set-up-only unless an adapter
declares them real (Capabilities.real_setup), so a newcomer's fakes are never judged; a broken
environment() is reported as the adapter's fault (exit 2), naming the control, its arguments
(never a password) and what EnvironmentReply.created must hold; and the toy example's first
failure is one of its own bugs on every seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckspec.conformance import (SETUP_CONTROLS, AdapterError, Capabilities, CheckOptions, EnvironmentReply,
                                ReferenceTarget, Session, TargetSpec, check)
from ckspec.conformance.steps import from_json
from ckspec.main import main
from ckspec.model.catalog import rule_ids

REPO = Path(__file__).resolve().parents[1]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- set-up controls are set-up-only by default ------------------------------------------------------


def test_set_up_controls_are_set_up_only_unless_declared_real():
    """Listing the set-up controls (the README's way) makes them set-up-only; real_setup names those the
    target really performs, which may then be drawn as steps; real_setup holds set-up controls only."""
    listed = Capabilities(operations=frozenset({"CreateCustomKeyStore"}),
                          environment=SETUP_CONTROLS | {"kmsuser_logs_in"})
    assert listed.setup_only == SETUP_CONTROLS and listed.generated_environment == {"kmsuser_logs_in"}
    real = Capabilities(operations=frozenset(), environment=SETUP_CONTROLS, real_setup={"create_hsm"})
    assert real.generated_environment == {"create_hsm"} and "create_hsm" not in real.setup_only
    with pytest.raises(ValueError, match="real_setup names only set-up controls.*kmsuser_logs_in"):
        Capabilities(operations=frozenset(), environment=SETUP_CONTROLS | {"kmsuser_logs_in"},
                     real_setup={"kmsuser_logs_in"})


class _Counting(ReferenceTarget):
    """The model as a target (every control really performed), declaring its set-up controls as
    ``REAL``; it counts the set-up controls it is asked for after the starting account."""

    REAL: frozenset[str] = frozenset()
    drawn: list[str] = []

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.capabilities = Capabilities(operations=self.capabilities.operations,
                                         environment=self.capabilities.environment, controlled_clock=True,
                                         time_travel=True, real_setup=self.REAL)
        self._setup_left = 18  # three clusters, six controls each (session.setup_steps)

    def environment(self, event, args):
        if self._setup_left:
            self._setup_left -= 1
        elif event in SETUP_CONTROLS:
            type(self).drawn.append(event)
        return super().environment(event, args)


@pytest.mark.parametrize("real", [frozenset(), SETUP_CONTROLS])
def test_a_fake_listed_the_default_way_is_never_drawn_as_a_step(real):
    """With no real_setup, no set-up control is ever a generated step (the toy's KU-01 on a faked
    create_kmsuser); declared real, they are drawn (so the count can fail)."""
    counting = type("Counting", (_Counting,), {"REAL": real, "drawn": []})
    result = check(TargetSpec("counting", counting), CheckOptions(examples=60, steps=40, seed=3))
    assert result.verdict == "conformant", result.failures
    if real:
        assert {"create_cluster", "create_hsm"} & set(counting.drawn)
    else:
        assert counting.drawn == []


@pytest.mark.parametrize("seed", range(10))
def test_the_toys_first_failure_is_one_of_its_own_bugs(capsys, monkeypatch, seed):
    """examples/toy_kms.py as the README runs it, on ten seeds: the failure is a rule the toy breaks
    on purpose (KNOWN_BUGS), never one about its faked set-up (KU-01 on create_kmsuser, ...)."""
    import examples.toy_kms as toy

    monkeypatch.chdir(REPO)
    code, out, _ = _run(capsys, "check", "--target", "examples/toy_kms.py:ToyKms", "--seed", str(seed),
                        "--no-save", "--json", "-")
    doc = json.loads(out)
    assert code == 1 and doc["verdict"] == "non-conformant"
    failure = doc["failures"][0]
    assert failure["rules"][0] in toy.KNOWN_BUGS, failure["message"]
    steps = [from_json(s) for s in failure["steps"]]
    assert not [s for s in steps if getattr(s, "event", None)], "a generated environment step on the toy"


def test_the_toys_known_bugs_are_catalog_rules():
    import examples.toy_kms as toy

    assert set(toy.KNOWN_BUGS) <= rule_ids()


# --- a broken environment() is the adapter's fault ----------------------------------------------------


class _Toy(ReferenceTarget):
    """The model as a target with set-up controls that are fakes (the default), and one broken answer."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.capabilities = Capabilities(operations=self.capabilities.operations,
                                         environment=self.capabilities.environment, controlled_clock=True)
        self.passwords: list[str] = []

    def environment(self, event, args):
        if event in ("create_kmsuser", "change_kmsuser_password"):
            self.passwords.append(args[1])
        reply = super().environment(event, args)
        return self.broken(event, reply) or reply

    def broken(self, event, reply):
        return None


class _NoTrustAnchor(_Toy):
    def broken(self, event, reply):
        return EnvironmentReply(True) if event == "initialize_cluster" else None


class _RefusesKmsuser(_Toy):
    def broken(self, event, reply):
        return EnvironmentReply(False) if event == "create_kmsuser" else None


class _SameHsmTwice(_Toy):
    def broken(self, event, reply):
        return EnvironmentReply(True, "hsm-same") if event == "create_hsm" else None


class _NumberForCluster(_Toy):
    def broken(self, event, reply):
        return EnvironmentReply(True, 7) if event == "create_cluster" else None


@pytest.mark.parametrize("adapter, control, says", [
    (_NoTrustAnchor, "initialize_cluster", "created=None: EnvironmentReply.created must hold the cluster's trust "
                                           "anchor certificate"),
    (_RefusesKmsuser, "create_kmsuser", "returned applied=False while ckspec built its starting account"),
    (_SameHsmTwice, "create_hsm", "created='hsm-same', which the target already gave for something else"),
    (_NumberForCluster, "create_cluster", "created=7: EnvironmentReply.created must hold the new cluster's ID"),
])
def test_a_broken_environment_reply_names_the_adapter_not_a_rule(adapter, control, says):
    """CREATE-07 used to be the only sign of a missing trust anchor: now the set-up fails as the
    adapter's own error, naming the control, its arguments and what created must hold."""
    target = adapter()
    session = Session(target)
    with pytest.raises(AdapterError) as caught:
        session.setup()
    message = str(caught.value)
    assert f"{adapter.__name__}.environment({control!r}, (" in message and says in message
    assert "environment-events.md" in message
    assert not any(p in message for p in target.passwords)
    if control == "create_kmsuser":
        assert target.passwords and "password=(hidden)" in message and "answer EnvironmentReply(True)" in message


def test_a_broken_environment_reply_exits_2_on_the_command_line(capsys, tmp_path, monkeypatch):
    """The CLI's convention for a broken adapter (conformance/guard.py): one line, exit 2 (USAGE)."""
    (tmp_path / "broken_adapter.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from examples.toy_kms import ToyKms\n"
        "from ckspec.conformance import EnvironmentReply\n\n"
        "class NoAnchor(ToyKms):\n"
        "    def environment(self, event, args):\n"
        "        if event == 'initialize_cluster':\n"
        "            return EnvironmentReply(True)\n"
        "        return super().environment(event, args)\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "check", "--target", "broken_adapter.py:NoAnchor", "--no-save")
    assert code == 2 and "Traceback" not in err
    assert "NoAnchor.environment('initialize_cluster', (cluster='cluster-" in err
    assert "trust anchor certificate" in err and "CREATE-07" in err and err.count("\n") == 1


def test_a_generated_creation_without_its_identifier_is_the_adapters_fault():
    """Outside the starting account too: an applied create_cluster whose created is missing would make
    later steps send the model's IDs; it is an AdapterError, not a verdict."""
    class Forgets(ReferenceTarget):
        def __init__(self, seed: int = 0) -> None:
            super().__init__(seed)
            self.made = 0

        def environment(self, event, args):
            reply = super().environment(event, args)
            if event == "create_cluster":
                self.made += 1
                if self.made > 3:
                    return EnvironmentReply(reply.applied)
            return reply

    session = Session(Forgets())
    session.setup()
    with pytest.raises(AdapterError, match=r"create_cluster', \(count=2\)\) returned applied=True with created=None"):
        session.env("create_cluster", 2)
