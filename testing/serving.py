"""``emulated_aws``: ``ckspec serve`` for the length of a test, with unmodified boto3 code
pointed at it (as moto's ``mock_aws`` does for moto).

As a context manager it yields the :class:`Emulator`; as a decorator it wraps the function
in the same block (the function reaches the emulator with :func:`current`)::

    with emulated_aws() as kit:
        account = kit.ready_account()
        boto3.client("kms").create_custom_key_store(**account.create_request())

    @emulated_aws(connect_delay=0.5)
    def test_app():
        app.run()              # plain boto3.client("kms") calls reach the emulator
        current().log_in_kmsuser(...)

On entry a fresh server binds 127.0.0.1 on a free port and serves in a daemon thread, and the
environment variables botocore reads are set for the block: ``AWS_ENDPOINT_URL`` (every
service, so nothing reaches real AWS with the fake credentials) and the per-service
``AWS_ENDPOINT_URL_KMS`` and ``AWS_ENDPOINT_URL_CLOUDHSM_V2`` (they win over the global one,
so a value the user had set cannot send these calls elsewhere), fake credentials, the Region,
and 127.0.0.1 in ``NO_PROXY``; a profile, a session token and
``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` are removed, and boto3's default session is dropped
so that clients made inside the block see all this. On exit, also when the block raises, the
server stops and the environment and boto3's default session are restored exactly.

Nesting: blocks nest. An inner block starts its own server (a separate, empty account) and
points the environment at it; when it ends, the outer block's endpoint is back. Clients made
before the inner block keep their endpoint. The environment is the process's, so do not run
blocks in several threads at once (pytest-xdist runs tests in processes: that is fine).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import attrs
from ckspec.emulator import EmulatorServer, ServeOptions
from ckspec.emulator.regions import zone_name

from .connect_faults import ConnectFault, fail_next_connect
from .errors import EventNotPossible, KitError
from .events import EnvironmentEvents
from .ready import ReadyAccount, replay_ready_account

F = TypeVar("F", bound=Callable[..., Any])

#: the testing kit's defaults: a real clock with short delays, so that an application that
#: polls DescribeCustomKeyStores sees a connect complete in a tenth of a second
KIT_DEFAULTS = {"clock": "real", "connect_delay": 0.1, "lag": 0.05}
FAKE_ACCESS_KEY, FAKE_SECRET_KEY = "testing", "testing"
#: what emulated_aws sets, and what it removes, for the length of the block
SET_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_CLOUDHSM_V2", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "NO_PROXY", "no_proxy")
REMOVED_VARIABLES = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                     "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")

_ACTIVE: list[Emulator] = []


class Emulator(EnvironmentEvents):
    """A running ``ckspec serve`` and what a test does with it: clients, the environment
    events (one typed method each, :class:`~.events.EnvironmentEvents`), ready accounts, fault
    injection, time."""

    def __init__(self, server: EmulatorServer) -> None:
        super().__init__(server.url)
        self.server = server
        self.options = server.options
        self.region = server.options.region
        self._cloudhsm: Any = None

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for this endpoint (fake credentials, the emulator's Region)."""
        import boto3

        settings = {"endpoint_url": self.endpoint, "region_name": self.region,
                    "aws_access_key_id": FAKE_ACCESS_KEY, "aws_secret_access_key": FAKE_SECRET_KEY, **kwargs}
        return boto3.client(service, **settings)

    def zone(self, model_zone: str) -> str:
        """The name of one of the model's Availability Zones (``us-east-1a`` ...) in this Region."""
        return zone_name(model_zone, self.region)

    def ready_account(self, password: str | None = None) -> ReadyAccount:
        """A ready cluster (ACTIVE, two HSMs in two Availability Zones, trust anchor, kmsuser
        with ``password``, a fresh random one if not given) and clients for it."""
        return replay_ready_account(self, password)

    def fail_next_connect(self, code: str, cluster: str) -> ConnectFault:
        """Make the next connection attempt of a store on ``cluster`` end FAILED with the
        ConnectionErrorCode ``code``, by putting the condition behind it in place (the CEC-*
        rule of :data:`~.connect_faults.FAULTS`). It stays until repaired
        (:meth:`ConnectFault.repair`)."""
        return fail_next_connect(self, code, cluster)

    def hsms(self, cluster: str) -> list[dict[str, Any]]:
        """The cluster's HSMs as CloudHSM's DescribeClusters shows them."""
        if self._cloudhsm is None:
            self._cloudhsm = self.client("cloudhsmv2")
        found = self._cloudhsm.describe_clusters(Filters={"clusterIds": [cluster]})["Clusters"]
        if not found:
            raise KitError(f"no cluster {cluster} in this account")
        return list(found[0].get("Hsms", []))

    def delete_hsms(self, cluster: str) -> None:
        """Delete every HSM of the cluster (a connect then fails INSUFFICIENT_CLOUDHSM_HSMS, CEC-02)."""
        hsms = self.hsms(cluster)
        if not hsms:
            raise EventNotPossible(f"delete_hsms: cluster {cluster} has no HSM to delete (CRYPTO-02, TR-08, CEC-02)")
        for hsm in hsms:
            self.delete_hsm(cluster, hsm["HsmId"])

    def wait(self, seconds: float) -> float:
        """Let ``seconds`` pass at once (both clocks); the emulator's time after it."""
        return self._control.wait(seconds)

    def reset(self, seed: int | None = None) -> None:
        """A fresh, empty account (faults armed by :meth:`fail_next_connect` are disarmed)."""
        with self.server.account.lock:
            self.server.account.call_observers.clear()
        self._control.reset((self.options.seed or 0) if seed is None else seed)


def current() -> Emulator:
    """The emulator of the innermost :func:`emulated_aws` block running now."""
    if not _ACTIVE:
        raise KitError("no emulated_aws block is running")
    return _ACTIVE[-1]


class emulated_aws:  # noqa: N801 - used like a function, as moto's mock_aws is
    """``ckspec serve`` on 127.0.0.1 for a block or a function; see the module docstring.

    Options are :class:`~ckspec.emulator.ServeOptions` fields, with the kit's defaults
    (:data:`KIT_DEFAULTS`: ``clock="real"``, ``connect_delay=0.1``, ``lag=0.05``)::

        emulated_aws(clock="manual")          # only kit.wait(seconds) moves time
        emulated_aws(connect_delay=2, lag=0.5)  # ckspec serve's own defaults
    """

    def __init__(self, options: ServeOptions | None = None, **changes: Any) -> None:
        try:
            base = options or ServeOptions(**KIT_DEFAULTS)
            self.options = attrs.evolve(base, **changes)
        except (TypeError, ValueError) as exc:
            raise KitError(f"emulated_aws: {exc}") from None
        self._blocks: list[contextlib.ExitStack] = []

    def __enter__(self) -> Emulator:
        stack = contextlib.ExitStack()
        try:
            server = stack.enter_context(EmulatorServer(self.options))
            emulator = Emulator(server)
            stack.enter_context(_pointed_at(emulator))
        except BaseException:
            stack.close()
            raise
        self._blocks.append(stack)
        return emulator

    def __exit__(self, *exc_info: object) -> None:
        self._blocks.pop().close()

    def __call__(self, function: F) -> F:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return function(*args, **kwargs)
        return run  # type: ignore[return-value]


@contextlib.contextmanager
def _pointed_at(emulator: Emulator) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in SET_VARIABLES + REMOVED_VARIABLES}
    boto3 = _boto3()
    saved_session = boto3.DEFAULT_SESSION if boto3 else None
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY") or os.environ.get("no_proxy"), "127.0.0.1"]))
    values = {"AWS_ENDPOINT_URL": emulator.endpoint, "AWS_ENDPOINT_URL_KMS": emulator.endpoint,
              "AWS_ENDPOINT_URL_CLOUDHSM_V2": emulator.endpoint, "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
              "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY, "AWS_DEFAULT_REGION": emulator.region,
              "AWS_REGION": emulator.region, "NO_PROXY": no_proxy, "no_proxy": no_proxy}
    try:
        for name in REMOVED_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(values)
        if boto3:
            boto3.DEFAULT_SESSION = None
        _ACTIVE.append(emulator)
        yield
    finally:
        if emulator in _ACTIVE:
            _ACTIVE.remove(emulator)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if boto3:
            boto3.DEFAULT_SESSION = saved_session


def _boto3() -> Any:
    import sys

    return sys.modules.get("boto3")
