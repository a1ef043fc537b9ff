"""Test-wide settings: Hypothesis keeps no example database in the repository, and the
shared, noisy machines CI runs on get no deadline and no too-slow health check."""

from hypothesis import HealthCheck, settings

settings.register_profile("ckspec", database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ckspec")
