"""Naming targets: ``reference``, ``mutant:NAME``, or a class of your own.

``--target`` accepts:

* ``reference``: the model, asynchronous work after fixed delays, reads that lag;
* ``reference:random``: random delays, and any documented outcome at random;
* ``reference:free``: as ``reference:random``, with a clock the engine does not control
  (work may complete between any two calls, as with a real service);
* ``mutant:NAME``: a seeded-bug target (``ckspec mutants`` lists them; a unique prefix such
  as ``mutant:CONNECT-03`` is enough);
* ``serve`` (``serve:random``: any documented outcome at random): ``ckspec serve`` on 127.0.0.1
  and a free port, started in this process for the run (manual clock), reached over the AWS
  wire protocol through boto3, reset before each example, stopped by :meth:`TargetSpec.close`;
* ``http://HOST:PORT`` (or ``https://``): any AWS-compatible endpoint, through boto3 and the
  real wire protocol (:class:`ckspec.conformance.wire.BotoTarget`); ``region`` and
  ``profile`` choose the region and the credentials (default: the usual AWS environment
  variables, else ``us-east-1`` and placeholder credentials);
* ``moto``: moto in this process (``mock_aws``, a fresh account per example), through boto3;
* ``moto-server``: moto's server on 127.0.0.1 and a free port, started once per run, reset
  before each example and stopped by :meth:`TargetSpec.close` (:mod:`.moto_targets`);
* ``aws``: a real AWS account, only with ``accept_aws_costs`` and ready clusters of your own
  (:mod:`ckspec.conformance.aws_target`; never in CI);
* ``package.module:ClassName`` or ``path/to/file.py:ClassName``: your own adapter class
  (see docs/adapters.md). It is instantiated once per example, with ``seed=`` when its
  constructor takes that keyword.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from typing import Any, Callable, Self

import attrs

from .adapter import Target, TargetUnreachable
from .guard import DEFAULT_CALL_TIMEOUT, GuardedFactory


class TargetNameError(ValueError):
    """The target name is not one ckspec knows (a usage error)."""


@attrs.frozen
class TargetSpec:
    """A named way to make fresh, isolated targets (one per example)."""

    name: str
    factory: Callable[..., Any]
    takes_seed: bool = True
    #: Python packages whose versions a report on this target names (``moto``, ``boto3``)
    packages: tuple[str, ...] = ()

    def make(self, seed: int = 0) -> Target:
        try:
            target = self.factory(seed=seed) if self.takes_seed else self.factory()
        except (ConnectionError, TimeoutError, TargetUnreachable) as exc:
            raise TargetUnreachable(f"target {self.name}: {exc}") from None
        _check_adapter(self.name, target)
        return target

    def close(self) -> None:
        """Release what the factory holds for the whole run (a server it started); the owner
        of a run calls it when the run ends, however it ends."""
        if isinstance(self.factory, type):  # a class: its close() is each target's, not the run's
            return
        release = getattr(self.factory, "close", None)
        if callable(release):
            release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _check_adapter(name: str, target: Any) -> None:
    missing = [m for m in ("call", "environment", "wait", "capabilities") if not hasattr(target, m)]
    if missing:
        raise TargetNameError(
            f"target {name}: {type(target).__name__} is not an adapter (missing {', '.join(missing)})")


def load_target(name: str, *, region: str | None = None, profile: str | None = None, accept_aws_costs: bool = False,
                aws_clusters: tuple[str, ...] = (), reset_url: str | None = None,
                request_timeout: float = 15.0, call_timeout: float = DEFAULT_CALL_TIMEOUT) -> TargetSpec:
    """The target a ``--target`` value names; TargetNameError if there is none. ``region`` and
    ``profile`` apply to targets reached over the wire, ``request_timeout`` (the connect and
    read timeout of each request, seconds) to ``http://`` and ``serve``; ``accept_aws_costs``
    and ``aws_clusters`` to ``aws`` (:mod:`ckspec.conformance.aws_target`); ``reset_url`` (a
    route POSTed before each example) to endpoint URLs, which are otherwise isolated by name
    prefix (:mod:`ckspec.conformance.isolation`); ``call_timeout`` (seconds) bounds each call
    of an adapter class (``module.path:ClassName``, :mod:`ckspec.conformance.guard`)."""
    if reset_url is not None and not name.startswith(("http://", "https://")):
        raise TargetNameError(f"--reset-url applies to endpoint targets (http://HOST:PORT), not to {name!r}")
    from .mutants import MUTANTS
    from .reference import ReferenceTarget

    if name == "reference":
        return TargetSpec(name, ReferenceTarget)
    if name == "reference:random":
        return TargetSpec(name, lambda seed: ReferenceTarget(seed, delays="random", choices="random"))
    if name == "reference:free":
        return TargetSpec(name, lambda seed: ReferenceTarget(seed, delays="random", choices="random",
                                                             controlled_clock=False))
    if name.startswith("mutant:"):
        wanted = name[len("mutant:"):]
        found = [m for m in MUTANTS if m == wanted] or [m for m in MUTANTS if wanted and m.startswith(wanted)]
        if len(found) != 1:
            raise TargetNameError(f"no single mutant named {wanted!r}; 'ckspec mutants --list' shows the "
                                  f"{len(MUTANTS)} names" if not found else
                                  f"mutant prefix {wanted!r} is ambiguous: {', '.join(found)}")
        cls = MUTANTS[found[0]]
        return TargetSpec(f"mutant:{found[0]}", cls)
    if name.startswith("variant:"):
        from .mutants import VARIANTS

        variant = VARIANTS.get(name[len("variant:"):])
        if variant is None:
            raise TargetNameError(f"no conformant variant {name[len('variant:'):]!r}; known: {', '.join(VARIANTS)}")
        return TargetSpec(name, variant.factory)
    if name in ("serve", "serve:random"):
        return TargetSpec(name, _ServedTargets(choices="random" if name == "serve:random" else "reference",
                                               timeout=request_timeout),
                          packages=("boto3", "botocore"))
    if name in ("moto", "moto-server"):
        from .extras import require

        require("moto", f"--target {name}")
        from .moto_targets import PACKAGES, MotoServerTargets, MotoTarget

        return TargetSpec(name, MotoTarget if name == "moto" else MotoServerTargets(), packages=PACKAGES)
    if name == "aws":
        from .aws_target import AwsConfigurationError, aws_target_factory

        try:
            return TargetSpec(name, aws_target_factory(accepted=accept_aws_costs, clusters=list(aws_clusters),
                                                       region=region, profile=profile))
        except AwsConfigurationError as exc:
            raise TargetNameError(str(exc)) from None
    if name.startswith(("http://", "https://")):
        return _endpoint_target(name, region, profile, reset_url, request_timeout)
    if ":" in name:
        return _user_target(name, call_timeout)
    raise TargetNameError(f"unknown target {name!r}: use reference, reference:random, reference:free, "
                          f"mutant:NAME, serve, serve:random, moto, moto-server, http://HOST:PORT or "
                          f"module.path:ClassName")


class _ServedTargets:
    """The factory of ``--target serve``: one ckspec serve per run, started by the first example."""

    def __init__(self, choices: str, timeout: float = 15.0) -> None:
        self.choices, self.timeout = choices, timeout
        self.server: Any = None

    def __call__(self, seed: int = 0) -> Target:
        from ckspec.emulator import EmulatorServer, ServeOptions

        from .wire import BotoTarget

        if self.server is None:
            self.server = EmulatorServer(ServeOptions(clock="manual", choices=self.choices)).start()
        return BotoTarget(seed, endpoint_url=self.server.url, name=f"serve ({self.server.url})", timeout=self.timeout)

    def close(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


def _endpoint_target(url: str, region: str | None, profile: str | None, reset_url: str | None,
                     timeout: float = 15.0) -> TargetSpec:
    _check_url(url, "target", "an endpoint URL such as http://127.0.0.1:4566")
    if reset_url is not None:
        _check_url(reset_url, "--reset-url", "a URL such as http://127.0.0.1:4566/_reset", path=True)
    from .wire import BotoTarget

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return TargetSpec(url, lambda seed: BotoTarget(seed, endpoint_url=url, region=region, profile=profile,
                                                   reset_url=reset_url, timeout=timeout))


def _check_url(url: str, what: str, example: str, path: bool = False) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or parts.fragment
            or (parts.query and not path)):
        raise TargetNameError(f"{what} {url!r}: expected {example}")


def _user_target(name: str, call_timeout: float) -> TargetSpec:
    module_name, _, attr = name.rpartition(":")
    if not module_name or not attr.isidentifier():
        raise TargetNameError(f"target {name!r}: expected module.path:ClassName or file.py:ClassName")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise TargetNameError(f"target {name!r}: no file {module_name}")
            spec = importlib.util.spec_from_file_location(f"ckspec_user_target_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())  # like `python -m`: modules beside the caller are found
            module = importlib.import_module(module_name)
    except TargetNameError:
        raise
    except (ConnectionError, TimeoutError) as exc:
        raise TargetUnreachable(f"target {name}: {exc}") from None
    except SystemExit as exc:
        raise TargetNameError(f"target {name!r}: importing {module_name} raised SystemExit({exc.code!r}); an "
                              f"adapter module must not end the process") from None
    except Exception as exc:  # ImportError, a SyntaxError in the user's file, ...
        raise TargetNameError(f"target {name!r}: cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, attr, None)
    if cls is None or not callable(cls):
        raise TargetNameError(f"target {name!r}: {module_name} has no class {attr}")
    try:
        takes_seed = "seed" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        takes_seed = False
    return TargetSpec(name, GuardedFactory(name, cls, takes_seed, call_timeout))
