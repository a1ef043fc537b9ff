"""ckspec: a machine-checked reference for AWS KMS custom key stores backed by CloudHSM.

The model lives in :mod:`ckspec.model`; the command line in :mod:`ckspec.main`.
"""
