"""A pytest plugin: run the conformance suite inside a project's own test run.

``pytest --ckspec-target=reference`` (or ``mutant:NAME``, or ``package.module:ClassName``)
adds test items like ``ckspec check`` runs:

* first, one item per failure saved for that target in the failures folder
  (``--ckspec-failures-dir``, default ``.ckspec/failures`` under pytest's rootdir, the folder
  ``ckspec check`` uses when run from there): ``ckspec[saved-<file>]`` replays it and fails while
  it still fails (it passes once the bug is fixed; ``ckspec failures prune`` then removes it);
* then ``--ckspec-shards`` items ``ckspec[shard-K-of-N]``, each running its share of the examples
  with its own seed against its own fresh targets, so ``pytest -n auto`` (pytest-xdist) spreads
  them over cores. A shard that finds a failure saves it in the failures folder (unless
  ``--ckspec-no-save``) and fails with the broken rule, its documentation and the minimal
  reproduction; an inconclusive shard is skipped with the reason.

The item names are stable (the same options give the same names), so one item can be chosen:
``pytest -k shard-2-of-4 --ckspec-target=...``, or by its node ID,
``pytest "ckspec[shard-2-of-4]" --ckspec-target=...`` (then only the ckspec items named run:
the plugin takes those arguments off the paths pytest would collect). Without
``--ckspec-target`` the plugin adds nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

#: a command-line argument naming ckspec items: ``ckspec[shard-2-of-4]``, ``ckspec[saved-...]``
#: (optionally after ``...::``, the way pytest prints node IDs)
_NODE_ID = re.compile(r"^(?:.*::)?(ckspec\[(?:shard-\d+-of-\d+|saved-[^\]]+)\])$")
DEFAULT_FAILURES_DIR = ".ckspec/failures"


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("ckspec", "ckspec conformance suite")
    group.addoption("--ckspec-target", default=None, metavar="TARGET",
                    help="run the ckspec conformance suite against TARGET (reference, mutant:NAME, module:Class)")
    group.addoption("--ckspec-examples", type=int, default=300, metavar="N", help="examples in all (default 300)")
    group.addoption("--ckspec-steps", type=int, default=100, metavar="N", help="steps per example (default 100)")
    group.addoption("--ckspec-shards", type=int, default=4, metavar="N",
                    help="test items the examples are split into, for pytest-xdist (default 4)")
    group.addoption("--ckspec-seed", type=int, default=0, metavar="S", help="base seed (default 0)")
    group.addoption("--ckspec-failures-dir", default=DEFAULT_FAILURES_DIR, metavar="DIR",
                    help="where failures are saved, and replayed from first (relative to the rootdir; default "
                         "%(default)s, as ckspec check)")
    group.addoption("--ckspec-no-save", action="store_true", help="neither replay nor save failures")
    group.addoption("--ckspec-select", action="append", default=[], metavar="NAME",
                    help="run only these ckspec items (set for you from ckspec[...] node IDs given as arguments)")
    group.addoption("--ckspec-only", action="store_true",
                    help="collect nothing but the ckspec items (set for you when only ckspec node IDs are given)")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> None:
    """Node IDs of ckspec items given as arguments are not paths: take them off the arguments
    (pytest would not find such a file) and select those items instead."""
    chosen = [(i, m.group(1)) for i, a in enumerate(args) if (m := _NODE_ID.match(a))]
    if not chosen:
        return
    named = {name for _, name in chosen}
    positional = [a for a in getattr(early_config.known_args_namespace, "file_or_dir", []) or []
                  if not _NODE_ID.match(a)]
    for i, name in reversed(chosen):
        args[i:i + 1] = [f"--ckspec-select={name}"]
    if not positional and named:
        args.append("--ckspec-only")


def pytest_configure(config: Any) -> None:
    target = config.getoption("ckspec_target", None)
    if not target:
        if config.getoption("ckspec_select", None):
            raise pytest.UsageError("ckspec[...] items need --ckspec-target")
        return
    from ckspec.conformance import TargetNameError, load_target

    try:
        spec = load_target(target)  # a bad name is a usage error before anything runs
    except TargetNameError as exc:
        raise pytest.UsageError(f"--ckspec-target: {exc}") from None
    config.stash[_TARGET_NAME] = spec.name
    for name in ("ckspec_examples", "ckspec_steps", "ckspec_shards"):
        if config.getoption(name) < 1:
            raise pytest.UsageError(f"--{name.replace('_', '-')} must be at least 1")
    folder = failures_folder(config)
    if folder is not None and folder.exists() and not folder.is_dir():
        raise pytest.UsageError(f"--ckspec-failures-dir {str(folder)!r} exists and is not a folder")


_TARGET_NAME = pytest.StashKey[str]()


def failures_folder(config: Any) -> Path | None:
    """The failures folder (None with --ckspec-no-save)."""
    if config.getoption("ckspec_no_save"):
        return None
    return config.rootpath / config.getoption("ckspec_failures_dir")


def pytest_ignore_collect(collection_path: Path, config: Any) -> bool | None:
    """With only ckspec node IDs as arguments, the project's own tests are not collected."""
    return True if config.getoption("ckspec_only", False) else None


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect, so they apply to these items too
def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    target = config.getoption("ckspec_target")
    if not target:
        return
    added = _saved_items(session, config, target) + _shard_items(session, config, target)
    # counted as collected, like the items of a file (the summary line then adds up)
    config.hook.pytest_collectreport(report=pytest.CollectReport("", "passed", None, list(added)))
    selected = set(config.getoption("ckspec_select"))
    if selected:
        unknown = selected - {item.name for item in added}
        if unknown:
            raise pytest.UsageError(f"no ckspec item named {', '.join(sorted(unknown))}; the items are "
                                    f"{', '.join(item.name for item in added)}")
        dropped = [item for item in added if item.name not in selected]
        added = [item for item in added if item.name in selected]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
    items.extend(added)


def _saved_items(session: Any, config: Any, target: str) -> list[Any]:
    from .saved_failures import listing

    folder = failures_folder(config)
    if folder is None or not folder.is_dir():
        return []
    saved, _ = listing(folder, config.stash[_TARGET_NAME])
    return [SavedFailureItem.from_parent(session, name=f"ckspec[saved-{f.path.stem}]", target=target, saved=f)
            for f in saved]


def _shard_items(session: Any, config: Any, target: str) -> list[Any]:
    shards = max(1, config.getoption("ckspec_shards"))
    examples = max(1, config.getoption("ckspec_examples"))
    out = []
    for shard in range(shards):
        share = examples // shards + (1 if shard < examples % shards else 0)
        if share:
            out.append(ConformanceItem.from_parent(session, name=f"ckspec[shard-{shard + 1}-of-{shards}]",
                                                   target=target, shard=shard, examples=share))
    return out


def _failure_text(f: Any) -> str:
    from .reports import failure_lines

    return "\n".join([f.message, "", *failure_lines(f), "", "minimal reproduction:", f.program])


class SavedFailureItem(pytest.Item):
    """A saved failure of the target, replayed (the regression gate)."""

    def __init__(self, *, target: str, saved: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target, self.saved = target, saved

    def runtest(self) -> None:
        from ckspec.conformance import load_target

        from .engine import failure_from, replay
        from .session import program

        trace = self.saved.trace
        with load_target(self.target) as spec:
            outcome = replay(spec, trace.steps, trace.seed)
        self.user_properties.append(("verdict", outcome.verdict))
        if outcome.verdict == "non-conformant":
            exc = outcome.error
            steps = tuple(getattr(exc, "steps", trace.steps))
            failure = failure_from(exc, steps, trace.seed, program(spec.name, steps, exc.failure.message, trace.seed))
            pytest.fail(f"saved failure {self.saved.path} still fails:\n{_failure_text(failure)}", pytrace=False)
        if outcome.verdict == "inconclusive":
            pytest.skip(f"inconclusive: {outcome.error}")

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.saved.path, None, f"{self.name} ({self.target})"


class ConformanceItem(pytest.Item):
    """One shard of the conformance suite."""

    def __init__(self, *, target: str, shard: int, examples: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target, self.shard, self.examples = target, shard, examples

    def runtest(self) -> None:
        from ckspec.conformance import load_target
        from ckspec.conformance.engine import CheckOptions, check

        from .traces import save_trace

        config = self.config
        options = CheckOptions(examples=self.examples, steps=config.getoption("ckspec_steps"),
                               seed=config.getoption("ckspec_seed") * 1000 + self.shard)
        with load_target(self.target) as spec:  # a server the target started (moto-server) stops here
            result = check(spec, options)  # saved failures are their own items: not replayed by each shard
        self.user_properties.append(("verdict", result.verdict))
        self.user_properties.append(("steps", result.steps))
        if result.failures:
            f = result.failures[0]
            folder = failures_folder(config)
            saved = f"\n\nsaved: {save_trace(folder, spec.name, f)}" if folder is not None else ""
            pytest.fail(_failure_text(f) + saved, pytrace=False)
        if result.inconclusive:
            pytest.skip(f"inconclusive: {result.inconclusive[0]}")

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.name} ({self.target})"
