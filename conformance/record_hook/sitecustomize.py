# ruff: noqa: UP031  (this file also runs on old Pythons)
"""Loaded at start-up by every Python that ``ckspec record`` runs (this folder is first on its
PYTHONPATH): start recording botocore's KMS and CloudHSM v2 calls, then load the
``sitecustomize`` this one shadows, if there is one."""

import os
import sys


def _start():
    try:
        import ckspec_record_hook

        ckspec_record_hook.start_from_environment()
    except Exception as exc:  # noqa: BLE001 - never stop the program from starting
        sys.stderr.write("ckspec record: not recording in this process (%s)\n" % type(exc).__name__)


def _load_the_shadowed_sitecustomize():
    here = os.path.dirname(os.path.abspath(__file__))
    ours = sys.modules.pop("sitecustomize", None)
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    try:
        import importlib

        importlib.import_module("sitecustomize")
    except ImportError:
        if ours is not None:
            sys.modules["sitecustomize"] = ours
    finally:
        sys.path[:] = saved


_start()
_load_the_shadowed_sitecustomize()
