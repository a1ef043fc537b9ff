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
which no starting account can be built. BotoTarget's thin fakes stand in for them while the
starting account is built, as for activation and kmsuser (no API performs those, here or on
AWS), and answer them as not implemented afterwards (see :mod:`ckspec.conformance.wire`);
the targets list what they faked in ``faked``, and the scorecard counts no rule as passed on
the strength of a fake.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import urllib.request
from typing import Any
from unittest import mock


from .adapter import TargetUnreachable
from .isolation import Isolation
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
    except ImportError as exc:  # load_target checked the extra first (conformance/extras.py)
        raise TargetUnreachable(f"moto cannot be imported ({exc}); pip install 'ckspec[moto]'") from None
    return moto


class MotoTarget(BotoTarget):
    """moto in this process: a fresh ``mock_aws`` account per instance (one per example)."""

    def __init__(self, seed: int = 0) -> None:
        self._environ = mock.patch.dict(os.environ, QUIET_EC2)
        self._mock = _moto().mock_aws()
        self._environ.start()
        self._mock.start()  # before the clients exist, so that they are intercepted
        try:
            super().__init__(seed, credentials=CREDENTIALS, region=REGION, control=False, sleep=_no_sleep,
                             name="moto", isolated=True,
                             isolation=Isolation("fresh", "a new moto mock_aws account per example"))
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
        return BotoTarget(seed, endpoint_url=endpoint, credentials=CREDENTIALS, region=REGION, control=False,
                          sleep=_no_sleep, name="moto-server", isolated=True,
                          isolation=Isolation("reset", "moto's POST /moto-api/reset before each example"),
                          html_500_is_not_implemented=True)  # moto's own signature, no proxy between

    def close(self) -> None:
        self.server.stop()
