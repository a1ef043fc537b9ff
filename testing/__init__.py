"""ckspec's testing kit for application teams: test your own boto3 code against ``ckspec serve``.

* :class:`emulated_aws`: a context manager and decorator that serves the reference model on
  127.0.0.1 and points unmodified boto3 code at it (as moto's ``mock_aws`` does);
* pytest fixtures ``ckspec_emulator``, ``ckspec_endpoint``, ``ckspec_account``
  (:mod:`.fixtures`, registered as a pytest plugin when ckspec is installed);
* fault injection in the words of the documentation: one typed method per environment event
  (:class:`~.events.EnvironmentEvents`) and :meth:`Emulator.fail_next_connect` for each
  ConnectionErrorCode (:data:`FAULTS`);
* a real clock with short delays by default (:data:`KIT_DEFAULTS`).

The user guide is docs/testing-kit.md. This package uses the emulator and the model; neither
of them uses it.
"""

from .connect_faults import FAULTS, ConnectFault, FaultKind, Repaired
from .errors import EventNotPossible, KitError
from .events import EnvironmentEvents, typed_methods
from .ready import ReadyAccount
from .serving import KIT_DEFAULTS, Emulator, current, emulated_aws

__all__ = ["FAULTS", "KIT_DEFAULTS", "ConnectFault", "Emulator", "EnvironmentEvents", "EventNotPossible",
           "FaultKind", "KitError", "ReadyAccount", "Repaired", "current", "emulated_aws", "typed_methods"]
