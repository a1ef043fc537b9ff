"""ckspec: a machine-checked reference for AWS KMS custom key stores backed by CloudHSM."""

from .main import main

__all__ = ["main"]
