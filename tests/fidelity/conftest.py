"""The fidelity suite's fixtures: one ``ckspec serve`` for the whole session, a fresh account per case.

The server runs a manual clock (time moves only by ``POST /_ckspec/wait``), reads never lag
and identifiers come from a fixed seed, so every case is deterministic and fast.
"""

from __future__ import annotations

import pytest
from ckspec.emulator import EmulatorServer, ServeOptions

from fidelity.support import DESELECTED, Account


def pytest_configure(config):
    config.addinivalue_line("markers", "evidence(kind, source, shows): the public source a fidelity case is drawn "
                                       "from (tests/fidelity/support.py)")


def pytest_deselected(items):
    """Keep what ``-k``/``-m`` left out: the scorecard test counts the whole suite from this session."""
    for item in items:
        item.config.stash.setdefault(DESELECTED, []).append(item)


@pytest.fixture(scope="session")
def fidelity_server():
    options = ServeOptions(clock="manual", connect_delay=2.0, lag=0.0, seed=11)
    with EmulatorServer(options, idle_timeout=600) as running:
        yield running


@pytest.fixture
def aws(fidelity_server) -> Account:
    """An empty account on the session's server (reset before the case)."""
    return Account(fidelity_server.url)
