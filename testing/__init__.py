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

from __future__ import annotations

import importlib
from typing import Any

#: what the package offers, and the module each comes from: imported on first use, so that the
#: pytest plugin (loaded in every pytest run where ckspec is installed) costs nothing until a
#: test uses the kit
_EXPORTS = {
    "FAULTS": "connect_faults", "ConnectFault": "connect_faults", "FaultKind": "connect_faults",
    "Repaired": "connect_faults", "EventNotPossible": "errors", "KitError": "errors",
    "EnvironmentEvents": "events", "typed_methods": "events", "ReadyAccount": "ready",
    "KIT_DEFAULTS": "serving", "Emulator": "serving", "current": "serving", "emulated_aws": "serving",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ckspec.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
