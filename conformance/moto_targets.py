"""moto as a conformance target: in-process (``--target moto``) and as a server (``moto-server``).

Both reach moto through :class:`~ckspec.conformance.wire.BotoTarget`, so moto is tested
through boto3 like any endpoint; only starting, resetting and stopping moto lives here.

* ``moto``: each example starts ``moto.mock_aws`` (a fresh, empty account) before its boto3
  clients are made, and stops it in :meth:`MotoTarget.close`. Operations moto lacks raise
  a Python ``NotImplementedError`` out of the boto3 call: reported as unsupported.
* ``moto-server``: moto's HTTP server runs in a thread of this process, bound to 127.0.0.1 on
  a free port, started by the first example of a run and reset (``POST /moto-api/reset``)
  before each one. :meth:`MotoServer.stop` stops it; the run's owner calls it through
  :meth:`~ckspec.conformance.targets.TargetSpec.close`, an ``atexit`` hook stops it if
  nobody did, and being a daemon thread it cannot outlive the process (an interrupted run
  included). Operations moto lacks answer HTTP 500 with an HTML body: unsupported.

moto has no asynchronous work (no CONNECTING, no DISCONNECTING), so letting time pass is
free: waits do not sleep.

moto (5.2) implements CreateCluster but neither CreateHsm nor InitializeCluster, without
which no starting account can be built. While it lacks them, both are *thin fakes* while the
starting account is built, as activation and kmsuser are (no API performs those, here or on
AWS): reported as applied (with a made-up HSM ID, a placeholder trust anchor), the target
trusted to behave as if they had happened. After the starting account the four are answered
as not implemented, so they are never generated as steps: a fake cannot know when AWS would
refuse them (a second activation, kmsuser on a cluster that is not active). The targets list
what they faked in ``faked`` (control -> times), and the scorecard counts no rule as passed
on the strength of a fake. A cluster with a faked HSM is not deleted (AWS refuses to delete
a cluster that has HSMs, CL-07), so that moto is not held to a check about HSMs it does not
have.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import urllib.request
from collections import Counter
from typing import Any
from unittest import mock

import boto3
import botocore.session

from .adapter import EnvironmentReply, TargetUnreachable
from .credentials import placeholder_anchor
from .session import setup_steps
from .wire import BotoTarget

#: moto accepts any credentials; these make sure no real ones are ever sent
CREDENTIALS = ("testing", "testing")
REGION = "us-east-1"
#: the packages whose versions a report about moto names
PACKAGES = ("moto", "boto3", "botocore")
#: moto's EC2 loads thousands of default AMIs into every new account (a quarter of a second
#: each time); subnets need none of them
QUIET_EC2 = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}


def _no_sleep(_seconds: float) -> None:
    """moto does nothing asynchronously: nothing to wait for."""


def _moto() -> Any:
    try:
        import moto
    except ImportError as exc:  # pragma: no cover - moto is a dependency of ckspec
        raise TargetUnreachable(f"moto is not installed ({exc}); pip install 'moto[server]'") from None
    return moto


def _hsm_id(serial: int) -> str:
    """An HSM ID in CloudHSM's format (``hsm-`` and 11 base32 characters)."""
    digits = "".join("abcdefghijklmnopqrstuvwxyz234567"[(serial >> (5 * i)) & 31] for i in range(11))
    return "hsm-" + digits[::-1]


@functools.cache
def _botocore_session() -> botocore.session.Session:
    """One botocore session for every example: its loader reads each service model once
    (a fresh session per example spends most of a short example loading JSON). Endpoints
    configured in the environment (``AWS_ENDPOINT_URL``) are ignored: requests go to moto only."""
    session = botocore.session.Session()
    session.set_config_variable("ignore_configured_endpoint_urls", True)
    return session


class _FakesMissingSetup(BotoTarget):
    """A BotoTarget on moto: the set-up controls moto cannot perform are thin fakes while the
    starting account is built, and unsupported afterwards."""

    @staticmethod
    def _session(endpoint_url: str | None, region: str, credentials: tuple[str, ...] | None,
                 profile: str | None) -> boto3.session.Session:
        key, secret = CREDENTIALS
        return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region,
                                     botocore_session=_botocore_session())

    #: set-up controls no API performs (activation and kmsuser happen in the CloudHSM CLI):
    #: BotoTarget fakes them; here only while the starting account is built
    NO_API = frozenset({"activate_cluster", "create_kmsuser"})
    #: set-up controls AWS has an API for and moto (5.2) does not implement
    MOTO_LACKS = frozenset({"create_hsm", "initialize_cluster"})

    def __init__(self, *args: Any, **options: Any) -> None:
        #: control -> times it was faked (read by the scorecard: no rule passes on a fake)
        self.faked: Counter[str] = Counter()
        self._setup_left = len(setup_steps())
        self._faked_hsms: Counter[str] = Counter()
        super().__init__(*args, **options)

    def environment(self, event: str, args: tuple[Any, ...]) -> EnvironmentReply:
        in_setup = self._setup_left > 0
        self._setup_left -= 1
        if event == "delete_cluster" and self._faked_hsms[args[0]]:
            return EnvironmentReply(False)  # CL-07: a cluster with HSMs cannot be deleted
        if event in self.NO_API:
            if not in_setup:
                raise NotImplementedError(f"{self.name}: {event} has no API; faked only for the starting account")
            self.faked[event] += 1
            return super().environment(event, args)
        try:
            return super().environment(event, args)
        except NotImplementedError:
            if not in_setup or event not in self.MOTO_LACKS:
                raise
        self.faked[event] += 1
        cluster = args[0]
        if event == "create_hsm":
            self._faked_hsms[cluster] += 1
            return EnvironmentReply(True, _hsm_id(sum(self._faked_hsms.values())))
        return EnvironmentReply(True, placeholder_anchor(cluster, self.seed)[1])


class MotoTarget(_FakesMissingSetup):
    """moto in this process: a fresh ``mock_aws`` account per instance (one per example)."""

    def __init__(self, seed: int = 0) -> None:
        self._environ = mock.patch.dict(os.environ, QUIET_EC2)
        self._mock = _moto().mock_aws()
        self._environ.start()
        self._mock.start()  # before the clients exist, so that they are intercepted
        try:
            super().__init__(seed, credentials=CREDENTIALS, region=REGION, control=False, sleep=_no_sleep,
                             name="moto")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        moto_mock, self._mock = self._mock, None
        if moto_mock is not None:
            moto_mock.stop()
            self._environ.stop()


class MotoServer:
    """moto's server in a daemon thread of this process, on 127.0.0.1 and a free port."""

    HOST = "127.0.0.1"

    def __init__(self) -> None:
        self._server: Any = None
        self._lock = threading.Lock()
        self.endpoint: str | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Start the server unless it runs already; its endpoint URL."""
        with self._lock:
            if self._server is None:
                from moto.server import ThreadedMotoServer

                # werkzeug logs every request on stderr, and the traceback of every operation moto
                # lacks: the run's own report says all that
                werkzeug = logging.getLogger("werkzeug")
                self._log_level = werkzeug.level
                werkzeug.setLevel(logging.CRITICAL)
                server = ThreadedMotoServer(ip_address=self.HOST, port=0, verbose=False)
                self._environ = mock.patch.dict(os.environ, QUIET_EC2)
                self._environ.start()
                server.start()
                host, port = server.get_host_and_port()
                self._server, self.endpoint = server, f"http://{host}:{port}"
                atexit.register(self.stop)
            return self.endpoint

    def reset(self) -> None:
        """Forget every resource in every account (moto's own reset API)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except OSError as exc:
            raise TargetUnreachable(f"moto server at {self.endpoint}: reset failed: {exc}") from None

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            if server is not None:
                server.stop()
                self._environ.stop()
                logging.getLogger("werkzeug").setLevel(self._log_level)
                atexit.unregister(self.stop)


class MotoServerTargets:
    """The factory of ``--target moto-server``: one server per run, reset before each example."""

    def __init__(self) -> None:
        self.server = MotoServer()

    def __call__(self, seed: int = 0) -> BotoTarget:
        endpoint = self.server.start()
        self.server.reset()
        return _FakesMissingSetup(seed, endpoint_url=endpoint, credentials=CREDENTIALS, region=REGION, control=False,
                                  sleep=_no_sleep, name="moto-server")

    def close(self) -> None:
        self.server.stop()
