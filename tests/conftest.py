"""Test-wide settings: Hypothesis keeps no example database in the repository."""

from hypothesis import settings

settings.register_profile("ckspec", database=None)
settings.load_profile("ckspec")
