"""pytest fixtures of the testing kit (registered by the ``ckspec_testing`` pytest11 entry
point, so any project that installs ckspec has them):

``ckspec_emulator``
    a fresh ``ckspec serve`` for the test (:class:`~.serving.Emulator`), with boto3 pointed
    at it through the environment (:class:`~.serving.emulated_aws`), stopped afterwards.
``ckspec_endpoint``
    its endpoint URL.
``ckspec_account``
    a ready account on it (:class:`~.ready.ReadyAccount`: cluster ID, trust anchor, kmsuser
    password, kms and cloudhsmv2 clients).

The server's options come from the ``ckspec_serve_options`` fixture (a dict of
:class:`~ckspec.emulator.ServeOptions` fields, the kit's defaults when empty): override it
in a conftest.py or a test module, e.g. ``{"clock": "manual"}``, or mark a test
``@pytest.mark.ckspec_serve(connect_delay=0.5)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported when a fixture is first used: the plugin loads in every pytest run
    from .ready import ReadyAccount
    from .serving import Emulator


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "ckspec_serve(**options): ServeOptions fields for the ckspec_emulator fixture")


@pytest.fixture
def ckspec_serve_options() -> dict[str, Any]:
    """ServeOptions fields for ``ckspec_emulator`` (override it; empty: the kit's defaults)."""
    return {}


@pytest.fixture
def ckspec_emulator(request: Any, ckspec_serve_options: dict[str, Any]) -> Iterator[Emulator]:
    marker = request.node.get_closest_marker("ckspec_serve")
    options = {**ckspec_serve_options, **(marker.kwargs if marker else {})}
    from .serving import emulated_aws

    with emulated_aws(**options) as emulator:
        yield emulator


@pytest.fixture
def ckspec_endpoint(ckspec_emulator: Emulator) -> str:
    return ckspec_emulator.endpoint


@pytest.fixture
def ckspec_account(ckspec_emulator: Emulator) -> ReadyAccount:
    return ckspec_emulator.ready_account()
