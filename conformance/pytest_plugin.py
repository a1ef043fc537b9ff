"""A pytest plugin: run the conformance suite inside a project's own test run.

``pytest --ckspec-target=reference`` (or ``mutant:NAME``, or ``package.module:ClassName``)
adds ``--ckspec-shards`` test items, each running its share of the examples with its own
seed against its own fresh targets, so ``pytest -n auto`` (pytest-xdist) spreads them over
cores. A shard fails with the minimal reproduction; an inconclusive shard is skipped with
the reason. Without ``--ckspec-target`` the plugin adds nothing.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("ckspec", "ckspec conformance suite")
    group.addoption("--ckspec-target", default=None, metavar="TARGET",
                    help="run the ckspec conformance suite against TARGET (reference, mutant:NAME, module:Class)")
    group.addoption("--ckspec-examples", type=int, default=300, metavar="N", help="examples in all (default 300)")
    group.addoption("--ckspec-steps", type=int, default=100, metavar="N", help="steps per example (default 100)")
    group.addoption("--ckspec-shards", type=int, default=4, metavar="N",
                    help="test items the examples are split into, for pytest-xdist (default 4)")
    group.addoption("--ckspec-seed", type=int, default=0, metavar="S", help="base seed (default 0)")


def pytest_configure(config: Any) -> None:
    target = config.getoption("ckspec_target", None)
    if not target:
        return
    from ckspec.conformance import TargetNameError, load_target

    try:
        load_target(target)  # a bad name is a usage error before anything runs
    except TargetNameError as exc:
        raise pytest.UsageError(f"--ckspec-target: {exc}") from None
    for name in ("ckspec_examples", "ckspec_steps", "ckspec_shards"):
        if config.getoption(name) < 1:
            raise pytest.UsageError(f"--{name.replace('_', '-')} must be at least 1")


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    target = config.getoption("ckspec_target")
    if not target:
        return
    shards = max(1, config.getoption("ckspec_shards"))
    examples = max(1, config.getoption("ckspec_examples"))
    for shard in range(shards):
        share = examples // shards + (1 if shard < examples % shards else 0)
        if share:
            items.append(ConformanceItem.from_parent(session, name=f"ckspec[{target}][shard {shard + 1}/{shards}]",
                                                     target=target, shard=shard, examples=share))


class ConformanceItem(pytest.Item):
    """One shard of the conformance suite."""

    def __init__(self, *, target: str, shard: int, examples: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target, self.shard, self.examples = target, shard, examples

    def runtest(self) -> None:
        from ckspec.conformance import load_target
        from ckspec.conformance.engine import CheckOptions, check

        config = self.config
        options = CheckOptions(examples=self.examples, steps=config.getoption("ckspec_steps"),
                               seed=config.getoption("ckspec_seed") * 1000 + self.shard)
        with load_target(self.target) as spec:  # a server the target started (moto-server) stops here
            result = check(spec, options)
        self.user_properties.append(("verdict", result.verdict))
        self.user_properties.append(("steps", result.steps))
        if result.failures:
            f = result.failures[0]
            pytest.fail(f"{f.message}\n\nminimal reproduction:\n{f.program}", pytrace=False)
        if result.inconclusive:
            pytest.skip(f"inconclusive: {result.inconclusive[0]}")

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name
