"""The conformance engine: holds any implementation of the custom key store APIs to the model.

An implementation is reached through an adapter (:class:`Target`); the engine drives it with
Hypothesis-generated step sequences, checks every observation against the set of model
worlds still possible (:mod:`.checker`), and reports failures with the rule IDs involved, a
minimal reproduction (a runnable program and a replayable JSON trace) and coverage.

Rooms: ``adapter`` (the interface), ``contract`` (what environment controls receive and answer;
``contract_doc`` writes it out), ``reference`` (the model as a target), ``mutants``
(seeded-bug targets), ``targets`` (naming targets), ``identity`` (ID mapping and reply
comparison), ``checker`` (possible worlds), ``session`` (one target, step by step),
``steps`` and ``traces`` (written forms), ``generator`` (drawing steps, swarm testing),
``engine`` (a run), ``coverage`` and ``reports`` (what a run shows), ``scorecard`` and
``scorecard_page`` (every rule judged over many examples, as a page), ``moto_targets``,
``pytest_plugin``; ``recording`` (with ``record_hook``), ``recorded``, ``observer`` (with ``unseen`` and
``reply_checks``): recording what a real program did, and checking it as an observer.
"""

from .adapter import (SETUP_CONTROLS, AdapterError, Capabilities, EnvironmentReply, Reply, Target, TargetUnreachable,
                      unsupported_signature)
from .checker import Inconclusive, Nonconformance
from .engine import CheckOptions, Failure, RunResult, check, replay
from .mutants import MUTANTS
from .reference import ReferenceTarget
from .session import Session, password
from .targets import TargetNameError, TargetSpec, load_target

__all__ = [
    "AdapterError", "Capabilities", "CheckOptions", "EnvironmentReply", "Failure", "Inconclusive", "MUTANTS",
    "Nonconformance",
    "ReferenceTarget", "Reply", "RunResult", "SETUP_CONTROLS", "Session", "Target", "TargetNameError", "TargetSpec",
    "TargetUnreachable", "check", "load_target", "password", "replay", "unsupported_signature",
]
